// KernelTests.swift — conv1d, RMSNorm, log-sum-exp and BLAS against Double references, on every ISA level.
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class KernelTests: XCTestCase {
    var levels: [Int32] { (0...mk_cpu_isa_detected()).map { $0 } }

    override func tearDown() { mk_force_isa(-1) }

    func randoms(_ n: Int, _ rng: inout SeededRandom, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in scale * rng.normal() }
    }

    /// conv1d (+ SiLU) against the formula in Double, with state in/out, strides and channel ranges.
    func testConv1dMatchesDoubleReference() {
        var rng = SeededRandom(seed: 11)
        for (B, L, E, K) in [(1, 1, 5, 4), (2, 9, 37, 4), (1, 33, 16, 3), (3, 2, 70, 5), (1, 20, 1, 2)] {
            let ldX = 2 * E + 3, S = K - 1
            let x = randoms(B * L * ldX, &rng), w = randoms(E * K, &rng), bias = randoms(E, &rng)
            let st = randoms(B * S * E, &rng)
            // Reference in Double.
            var ref = [Double](repeating: 0, count: B * L * E)
            var refState = [Float](repeating: 0, count: B * S * E)
            for b in 0..<B {
                func input(_ row: Int, _ e: Int) -> Double {
                    row >= 0 ? Double(x[(b * L + row) * ldX + e]) : Double(st[(b * S + S + row) * E + e])
                }
                for t in 0..<L { for e in 0..<E {
                    var acc = Double(bias[e])
                    for k in 0..<K { acc += Double(w[e * K + k]) * input(t - S + k, e) }
                    ref[(b * L + t) * E + e] = acc / (1 + Foundation.exp(-acc))
                } }
                for j in 0..<S { for e in 0..<E { refState[(b * S + j) * E + e] = Float(input(L - S + j, e)) } }
            }
            for isa in levels {
                mk_force_isa(isa)
                var out = [Float](repeating: 0, count: B * L * E)
                var state = st
                let split = E / 2 + 1
                for r in [0..<min(split, E), min(split, E)..<E] where !r.isEmpty {
                    x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                    state.withUnsafeMutableBufferPointer { sp in out.withUnsafeMutableBufferPointer { op in
                        var conv = mk_conv1d_params(x: xp.baseAddress, ld_x: Int32(ldX), w: wp.baseAddress, bias: bp.baseAddress,
                                                    state_in: sp.baseAddress, state_out: sp.baseAddress,
                                                    out: op.baseAddress, ld_out: Int32(E),
                                                    Bsz: Int32(B), L: Int32(L), E: Int32(E), K: Int32(K), act: 1)
                        mk_conv1d_fwd(&conv, Int32(r.lowerBound), Int32(r.upperBound))
                    }}}}}
                }
                let d = zip(out, ref).map { abs(Double($0) - $1) }.max()!
                print("conv1d B=\(B) L=\(L) E=\(E) K=\(K) \(String(cString: mk_isa_name(isa))): max diff \(d)")
                XCTAssertLessThan(d, 2e-5)
                XCTAssertEqual(state, refState)
            }
        }
    }

    /// Two conv calls passing the state equal one call.
    func testConv1dStateCarriesAcrossChunks() {
        var rng = SeededRandom(seed: 12)
        let L = 11, E = 24, K = 4
        let x = randoms(L * E, &rng), w = randoms(E * K, &rng)
        var whole = [Float](repeating: 0, count: L * E)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in whole.withUnsafeMutableBufferPointer { op in
            var conv = mk_conv1d_params(x: xp.baseAddress, ld_x: Int32(E), w: wp.baseAddress, bias: nil, state_in: nil,
                                        state_out: nil, out: op.baseAddress, ld_out: Int32(E),
                                        Bsz: 1, L: Int32(L), E: Int32(E), K: Int32(K), act: 0)
            mk_conv1d_fwd(&conv, 0, Int32(E))
        }}}
        var state = [Float](repeating: 0, count: (K - 1) * E)
        var parts = [Float](repeating: 0, count: L * E)
        var t = 0
        for len in [1, 2, 5, 3] {
            x.withUnsafeBufferPointer { xp in
                parts.withUnsafeMutableBufferPointer { op in
                w.withUnsafeBufferPointer { wp in state.withUnsafeMutableBufferPointer { sp in
                    var conv = mk_conv1d_params(x: xp.baseAddress! + t * E, ld_x: Int32(E), w: wp.baseAddress, bias: nil,
                                                state_in: sp.baseAddress, state_out: sp.baseAddress,
                                                out: op.baseAddress! + t * E, ld_out: Int32(E),
                                                Bsz: 1, L: Int32(len), E: Int32(E), K: Int32(K), act: 0)
                    mk_conv1d_fwd(&conv, 0, Int32(E))
                }}
                }
            }
            t += len
        }
        XCTAssertLessThanOrEqual(maxAbsDiff(whole, parts), 1e-6)
    }

    func testRMSNormMatchesDoubleReference() {
        var rng = SeededRandom(seed: 13)
        for (rows, D) in [(1, 1), (3, 17), (5, 768), (2, 33)] {
            let x0 = randoms(rows * D, &rng, scale: 3), add = randoms(rows * D, &rng), w = randoms(D, &rng)
            let eps: Float = 1e-5
            for isa in levels {
                mk_force_isa(isa)
                var x = x0
                var out = [Float](repeating: 0, count: rows * D)
                mk_rmsnorm_fwd(&x, add, w, &out, Int32(rows), Int32(D), eps)
                var maxd = 0.0
                for r in 0..<rows {
                    let v = (0..<D).map { Double(x0[r * D + $0]) + Double(add[r * D + $0]) }
                    let ms = v.map { $0 * $0 }.reduce(0, +) / Double(D)
                    for i in 0..<D {
                        XCTAssertEqual(x[r * D + i], Float(v[i]), accuracy: 1e-6)
                        maxd = max(maxd, abs(Double(out[r * D + i]) - v[i] / (ms + Double(eps)).squareRoot() * Double(w[i])))
                    }
                }
                XCTAssertLessThan(maxd, 1e-5, "rows=\(rows) D=\(D)")
            }
        }
    }

    func testLogSumExpMatchesDoubleReference() {
        var rng = SeededRandom(seed: 14)
        for (rows, V) in [(1, 1), (2, 15), (3, 50280), (4, 100)] {
            let ld = V + 2
            let x = randoms(rows * ld, &rng, scale: 8)
            for isa in levels {
                mk_force_isa(isa)
                var lse = [Float](repeating: 0, count: rows)
                mk_logsumexp_rows(x, Int32(rows), Int32(V), Int32(ld), &lse)
                for r in 0..<rows {
                    let row = (0..<V).map { Double(x[r * ld + $0]) }
                    let m = row.max()!
                    let ref = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
                    XCTAssertEqual(Double(lse[r]), ref, accuracy: 1e-5 * max(1, abs(ref)))
                }
            }
        }
    }

    /// sgemm / sgemv (all transpose combinations) against a Double triple loop.
    func testBLASMatchesDoubleReference() {
        var rng = SeededRandom(seed: 15)
        let M = 7, N = 13, K = 29
        for tA in [Int32(0), 1] { for tB in [Int32(0), 1] {
            let A = randoms(M * K, &rng), B = randoms(K * N, &rng)
            var C = randoms(M * N, &rng)
            let C0 = C
            let lda = tA == 0 ? K : M, ldb = tB == 0 ? N : K
            mk_sgemm(tA, tB, Int32(M), Int32(N), Int32(K), 0.5, A, Int32(lda), B, Int32(ldb), 2, &C, Int32(N))
            for i in 0..<M { for j in 0..<N {
                var acc = 0.0
                for k in 0..<K {
                    let a = tA == 0 ? A[i * K + k] : A[k * M + i]
                    let b = tB == 0 ? B[k * N + j] : B[j * K + k]
                    acc += Double(a) * Double(b)
                }
                XCTAssertEqual(Double(C[i * N + j]), 0.5 * acc + 2 * Double(C0[i * N + j]), accuracy: 1e-4)
            } }
        } }
        let A = randoms(M * N, &rng), x = randoms(N, &rng), xt = randoms(M, &rng)
        var y = [Float](repeating: 0, count: M), yt = [Float](repeating: 0, count: N)
        mk_sgemv(0, Int32(M), Int32(N), 1, A, Int32(N), x, 0, &y)
        mk_sgemv(1, Int32(M), Int32(N), 1, A, Int32(N), xt, 0, &yt)
        for i in 0..<M { XCTAssertEqual(Double(y[i]), (0..<N).map { Double(A[i * N + $0]) * Double(x[$0]) }.reduce(0, +), accuracy: 1e-4) }
        for j in 0..<N { XCTAssertEqual(Double(yt[j]), (0..<M).map { Double(A[$0 * N + j]) * Double(xt[$0]) }.reduce(0, +), accuracy: 1e-4) }
    }

    /// The few-row linear kernel (generation) against a Double reference: every batch size up to 11,
    /// K with and without a SIMD tail, odd output ranges, strided x.
    func testLinearSmallMatchesDoubleReference() {
        var rng = SeededRandom(seed: 16)
        for (M, K) in [(1, 1), (7, 15), (19, 16), (33, 33), (40, 768)] {
            let W = randoms(M * K, &rng), bias = randoms(M, &rng)
            for Bsz in 1...11 {
                let ldX = K + 5, ldOut = M + 3
                let x = randoms(Bsz * ldX, &rng)
                for isa in levels {
                    mk_force_isa(isa)
                    var out = [Float](repeating: .nan, count: Bsz * ldOut)
                    let cut = M / 3
                    for r in [0..<cut, cut..<M] where !r.isEmpty {
                        x.withUnsafeBufferPointer { xp in W.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                        out.withUnsafeMutableBufferPointer { op in
                            var lin = mk_linear_small_params(x: xp.baseAddress, ld_x: Int32(ldX), W: wp.baseAddress,
                                                             bias: bp.baseAddress, out: op.baseAddress, ld_out: Int32(ldOut),
                                                             Bsz: Int32(Bsz), K: Int32(K))
                            mk_linear_small(&lin, Int32(r.lowerBound), Int32(r.upperBound))
                        }}}}
                    }
                    for b in 0..<Bsz { for j in 0..<M {
                        let ref = Double(bias[j]) + (0..<K).map { Double(W[j * K + $0]) * Double(x[b * ldX + $0]) }.reduce(0, +)
                        XCTAssertEqual(Double(out[b * ldOut + j]), ref, accuracy: 1e-4 * max(1, Double(K).squareRoot()),
                                       "M=\(M) K=\(K) B=\(Bsz) isa=\(isa)")
                    } }
                }
            }
        }
    }
}
