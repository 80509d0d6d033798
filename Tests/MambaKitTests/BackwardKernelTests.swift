// BackwardKernelTests.swift — conv1d, RMSNorm and cross-entropy backward kernels against central
// finite differences of Double-precision forwards, on tiny shapes, at every ISA level.
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class BackwardKernelTests: XCTestCase {
    var levels: [Int32] { (0...mk_cpu_isa_detected()).map { $0 } }
    /// Largest relative error seen by assertClose in the current test, printed at its end.
    var worst = 0.0
    override func tearDown() {
        mk_force_isa(-1)
        print("\(name): max error vs its independent reference (finite differences or the formula in Double) \(worst)")
        worst = 0
    }

    func randoms(_ n: Int, _ rng: inout SeededRandom, scale: Float = 1) -> [Float] { (0..<n).map { _ in scale * rng.normal() } }

    /// Central difference of f at x[i] in Double.
    func fd(_ x: [Double], _ i: Int, h: Double = 1e-6, _ f: ([Double]) -> Double) -> Double {
        var a = x, b = x
        a[i] += h; b[i] -= h
        return (f(a) - f(b)) / (2 * h)
    }

    func assertClose(_ got: Float, _ want: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let err = abs(Double(got) - want) / max(abs(want), 1e-2)
        worst = max(worst, err)
        XCTAssertLessThanOrEqual(err, 1e-3, "\(what): got \(got), finite difference \(want)", file: file, line: line)
    }

    func testConv1dBackward() {
        var rng = SeededRandom(seed: 21)
        let B = 2, L = 6, E = 5, K = 3, S = K - 1
        let x = randoms(B * L * E, &rng), w = randoms(E * K, &rng), bias = randoms(E, &rng)
        let st = randoms(B * S * E, &rng), dout = randoms(B * L * E, &rng)
        // loss = Σ dout · silu(conv(x))
        func loss(_ xd: [Double], _ wd: [Double], _ bd: [Double]) -> Double {
            var total = 0.0
            for b in 0..<B { for t in 0..<L { for e in 0..<E {
                var acc = bd[e]
                for k in 0..<K {
                    let row = t - S + k
                    let v = row >= 0 ? xd[(b * L + row) * E + e] : Double(st[(b * S + S + row) * E + e])
                    acc += wd[e * K + k] * v
                }
                total += Double(dout[(b * L + t) * E + e]) * acc / (1 + Foundation.exp(-acc))
            } } }
            return total
        }
        let xd = x.map(Double.init), wd = w.map(Double.init), bd = bias.map(Double.init)
        for isa in levels {
            mk_force_isa(isa)
            var dx = [Float](repeating: .nan, count: B * L * E), dw = [Float](repeating: 0, count: E * K), db = [Float](repeating: 0, count: E)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
            st.withUnsafeBufferPointer { sp in dout.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
                var conv = mk_conv1d_bwd_params(
                    fwd: mk_conv1d_params(x: xp.baseAddress, ld_x: Int32(E), w: wp.baseAddress, bias: bp.baseAddress,
                                          state_in: sp.baseAddress, state_out: nil, out: nil, ld_out: 0,
                                          Bsz: Int32(B), L: Int32(L), E: Int32(E), K: Int32(K), act: 1),
                    dout: gp.baseAddress, ld_dout: Int32(E), dx: dxp.baseAddress, ld_dx: Int32(E),
                    dw: dwp.baseAddress, dbias: dbp.baseAddress)
                mk_conv1d_bwd(&conv, 0, 2)
                mk_conv1d_bwd(&conv, 2, Int32(E))
            }}}}}}}}
            for i in 0..<x.count { assertClose(dx[i], fd(xd, i) { loss($0, wd, bd) }, "dx[\(i)]") }
            for i in 0..<w.count { assertClose(dw[i], fd(wd, i) { loss(xd, $0, bd) }, "dw[\(i)]") }
            for i in 0..<E { assertClose(db[i], fd(bd, i) { loss(xd, wd, $0) }, "dbias[\(i)]") }
        }
    }

    func testRMSNormBackward() {
        var rng = SeededRandom(seed: 22)
        let rows = 3, D = 19
        let x = randoms(rows * D, &rng, scale: 2), w = randoms(D, &rng), dout = randoms(rows * D, &rng)
        let eps: Float = 1e-5
        func loss(_ xd: [Double], _ wd: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                let ms = (0..<D).map { xd[r * D + $0] * xd[r * D + $0] }.reduce(0, +) / Double(D)
                let rs = 1 / (ms + Double(eps)).squareRoot()
                for i in 0..<D { total += Double(dout[r * D + i]) * xd[r * D + i] * rs * wd[i] }
            }
            return total
        }
        let xd = x.map(Double.init), wd = w.map(Double.init)
        for isa in levels {
            mk_force_isa(isa)
            var dx = [Float](repeating: 0.25, count: rows * D), dw = [Float](repeating: 0, count: D)
            mk_rmsnorm_bwd(x, w, dout, &dx, &dw, Int32(rows), Int32(D), eps)
            for i in 0..<x.count { assertClose(dx[i] - 0.25, fd(xd, i) { loss($0, wd) }, "dx[\(i)]") }   // accumulates
            for i in 0..<D { assertClose(dw[i], fd(wd, i) { loss(xd, $0) }, "dw[\(i)]") }
        }
    }

    func testCrossEntropyForwardBackward() {
        var rng = SeededRandom(seed: 23)
        let rows = 4, V = 37, ld = 40
        let logits = randoms(rows * ld, &rng, scale: 3)
        let targets: [Int32] = [3, -1, 36, 0]
        let scale: Float = 0.25
        func loss(_ l: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows where targets[r] >= 0 {
                let row = (0..<V).map { l[r * ld + $0] }
                let m = row.max()!
                total += m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +)) - row[Int(targets[r])]
            }
            return total
        }
        let ld64 = logits.map(Double.init)
        for isa in levels {
            mk_force_isa(isa)
            var g = logits
            let total = mk_xent_fwd_bwd(&g, Int32(rows), Int32(V), Int32(ld), targets, scale)
            XCTAssertEqual(total, loss(ld64), accuracy: 1e-4)
            for r in 0..<rows { for v in 0..<V {
                let i = r * ld + v
                if targets[r] < 0 { XCTAssertEqual(g[i], 0); continue }
                let want = Double(scale) * fd(ld64, i, loss)
                worst = max(worst, abs(Double(g[i]) - want))
                XCTAssertEqual(Double(g[i]), want, accuracy: 1e-6)
            } }
        }
    }

    /// AdamW kernel against the PyTorch formulas written out in Double.
    func testAdamWKernelMatchesFormula() {
        var rng = SeededRandom(seed: 24)
        let n = 37
        var p = randoms(n, &rng), m = randoms(n, &rng, scale: 0.1), v = randoms(n, &rng, scale: 0.1).map { abs($0) }
        let g = randoms(n, &rng)
        let (lr, b1, b2, eps, wd, scale): (Float, Float, Float, Float, Float, Float) = (0.01, 0.9, 0.95, 1e-8, 0.1, 0.5)
        let t = 3.0
        let bc1 = 1 - pow(Double(b1), t), bc2 = 1 - pow(Double(b2), t)
        var want = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let gi = Double(g[i]) * Double(scale)
            var pi = Double(p[i]) * (1 - Double(lr) * Double(wd))
            let mi = Double(b1) * Double(m[i]) + (1 - Double(b1)) * gi
            let vi = Double(b2) * Double(v[i]) + (1 - Double(b2)) * gi * gi
            pi -= Double(lr) / bc1 * mi / ((vi / bc2).squareRoot() + Double(eps))
            want[i] = pi
        }
        p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { gp in
        m.withUnsafeMutableBufferPointer { mp in v.withUnsafeMutableBufferPointer { vp in
            var update = mk_adamw_params(p: pp.baseAddress, g: gp.baseAddress, m: mp.baseAddress, v: vp.baseAddress,
                                         lr: lr, beta1: b1, beta2: b2, eps: eps, wd: wd, bc1: Float(bc1), bc2: Float(bc2),
                                         grad_scale: scale)
            mk_adamw(&update, 0, n)
        }}}}
        for i in 0..<n { worst = max(worst, abs(Double(p[i]) - want[i])); XCTAssertEqual(Double(p[i]), want[i], accuracy: 1e-6) }
    }
}
