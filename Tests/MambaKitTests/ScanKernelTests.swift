// ScanKernelTests.swift — the fused selective scan (mk_scan_fwd) against its spec (mk_scan_fwd_ref),
// a closed form, and the two ways callers cut the work: in time (h_last -> h0) and over channels.
//
//   dt[t,e] = softplus(delta[t,e] + delta_bias[e]);  h[e,n] = exp(dt A[e,n]) h[e,n] + dt Bm[t,n] u[t,e]
//   y[t,e]  = (sum_n Cm[t,n] h[e,n] + D[e] u[t,e]) * silu(z[t,e])
//   u, delta, z, y (Bsz, L, E) with row strides ld;  A (E, N);  Bm, Cm (Bsz, L, N) ld_bc;  h0, h_last (Bsz, E, N)
//
// Every random number comes from a seeded SplitMix64, so failures reproduce.
import XCTest
import _MambaKernels

// MARK: - Helpers (fileprivate: other test files share the module)

/// SplitMix64 (Steele, Lea, Flood 2014): small, seeded, good enough for test data.
private struct ScanTestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
    /// Uniform integer in range.
    mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
    mutating func bool() -> Bool { next() & 1 == 1 }
    /// Standard normal (Box-Muller).
    mutating func normal() -> Float {
        let a = max(uniform(), 1e-300), b = uniform()
        return Float((-2 * log(a)).squareRoot() * cos(2 * Double.pi * b))
    }
    mutating func normals(_ n: Int, scale: Float = 1, shift: Float = 0) -> [Float] {
        (0..<n).map { _ in normal() * scale + shift }
    }
}

/// One scan problem: inputs with their strides, which optional inputs are given, and the channel range.
private struct ScanProblem {
    var Bsz: Int, L: Int, E: Int, N: Int
    var ldU: Int, ldDelta: Int, ldZ: Int, ldY: Int, ldBC: Int
    var u: [Float]              // (Bsz, L, ldU)
    var delta: [Float]          // (Bsz, L, ldDelta)
    var A: [Float]              // (E, N)
    var bc: [Float]             // (Bsz, L, ldBC): Bm at column 1, Cm at column 1 + N (like x_proj's output)
    var D: [Float]?             // (E)
    var deltaBias: [Float]?     // (E)
    var softplus: Bool
    var z: [Float]?             // (Bsz, L, ldZ)
    var h0: [Float]?            // (Bsz, E, N)
    var eBegin: Int, eEnd: Int

    var bmOffset: Int { 1 }
    var cmOffset: Int { 1 + N }

    static func random(_ rng: inout ScanTestRNG, Bsz: Int, L: Int, E: Int, N: Int,
                       useD: Bool, useZ: Bool, useBias: Bool, softplus: Bool, useH0: Bool,
                       padded: Bool, eBegin: Int, eEnd: Int) -> ScanProblem {
        func ld() -> Int { padded ? E + rng.int(1...9) : E }
        let ldU = ld(), ldDelta = ld(), ldZ = ld(), ldY = ld()
        let ldBC = 1 + 2 * N + (padded ? rng.int(0...5) : 0)
        let rows = Bsz * L
        // delta ~ N(0, 1) - 1 so that dt spans small and O(1) values after softplus; without softplus
        // dt = delta + bias must stay positive, as after a real softplus (else the state grows to inf).
        let delta = softplus ? rng.normals(rows * ldDelta, shift: -1)
                             : (0..<(rows * ldDelta)).map { _ in Float(0.01 + 0.5 * rng.uniform()) }
        return ScanProblem(
            Bsz: Bsz, L: L, E: E, N: N, ldU: ldU, ldDelta: ldDelta, ldZ: ldZ, ldY: ldY, ldBC: ldBC,
            u: rng.normals(rows * ldU), delta: delta,
            A: (0..<(E * N)).map { _ in -exp(rng.normal() * 0.5) },
            bc: rng.normals(rows * ldBC),
            D: useD ? rng.normals(E) : nil,
            deltaBias: !useBias ? nil
                : softplus ? rng.normals(E, scale: 0.5) : (0..<E).map { _ in Float(0.1 * rng.uniform()) },
            softplus: softplus,
            z: useZ ? rng.normals(rows * ldZ) : nil,
            h0: useH0 ? rng.normals(Bsz * E * N) : nil,
            eBegin: eBegin, eEnd: eEnd)
    }
}


/// Runs the fast kernel (or the reference) on p. y starts as the sentinel everywhere.
/// Returns y (Bsz, L, ldY) and h_last (Bsz, E, N), or nil when withHLast is false.
private func runScan(_ p: ScanProblem, reference: Bool, withHLast: Bool = true) -> (y: [Float], hLast: [Float]?) {
    var y = [Float](repeating: untouched, count: p.Bsz * p.L * p.ldY)
    var hLast: [Float]? = withHLast ? [Float](repeating: untouched, count: p.Bsz * p.E * p.N) : nil
    p.u.withUnsafeBufferPointer { u in
    p.delta.withUnsafeBufferPointer { delta in
    p.A.withUnsafeBufferPointer { A in
    p.bc.withUnsafeBufferPointer { bc in
    withOptionalPointer(p.D) { D in
    withOptionalPointer(p.deltaBias) { bias in
    withOptionalPointer(p.z) { z in
    withOptionalPointer(p.h0) { h0 in
    y.withUnsafeMutableBufferPointer { yp in
    withOptionalMutablePointer(&hLast) { hl in
        let f = reference ? mk_scan_fwd_ref : mk_scan_fwd
        var params = mk_scan_params(u: u.baseAddress, ld_u: Int32(p.ldU), delta: delta.baseAddress, ld_delta: Int32(p.ldDelta),
                                    A: A.baseAddress, Bm: bc.baseAddress! + p.bmOffset, Cm: bc.baseAddress! + p.cmOffset,
                                    ld_bc: Int32(p.ldBC), D: D, delta_bias: bias, delta_softplus: p.softplus ? 1 : 0,
                                    z: z, ld_z: Int32(p.ldZ), y: yp.baseAddress, ld_y: Int32(p.ldY), h0: h0, h_last: hl,
                                    Bsz: Int32(p.Bsz), L: Int32(p.L), E: Int32(p.E), N: Int32(p.N))
        f(&params, Int32(p.eBegin), Int32(p.eEnd))
    }}}}}}}}}}
    return (y, hLast)
}

private func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

private func withOptionalMutablePointer<R>(_ a: inout [Float]?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard a != nil else { return body(nil) }
    return a!.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

/// Max |a - b| and max |b| over the elements where `inside` holds; checks the rest are equal (untouched).
private func compare(_ a: [Float], _ b: [Float], inside: (Int) -> Bool,
                     file: StaticString = #filePath, line: UInt = #line) -> (diff: Float, scale: Float) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    var diff: Float = 0, scale: Float = 0, outsideMismatch = 0
    for i in 0..<min(a.count, b.count) {
        if inside(i) {
            if !(abs(a[i] - b[i]) <= diff) { diff = a[i].isNaN || b[i].isNaN ? .infinity : abs(a[i] - b[i]) }
            scale = max(scale, abs(b[i]))
        } else if a[i].bitPattern != b[i].bitPattern {
            outsideMismatch += 1
        }
    }
    XCTAssertEqual(outsideMismatch, 0, "elements outside the channel range differ", file: file, line: line)
    return (diff, scale)
}


// MARK: - Tests

final class ScanKernelTests: XCTestCase {
    /// Relative tolerance of fast vs reference (against max |y|, at least 1).
    let tolerance: Float = 2e-5

    /// (a) The dispatched kernel equals the reference at every ISA level, over odd shapes, optional
    /// inputs on and off, padded row strides, unaligned channel ranges; nothing outside the range is written.
    func testFastMatchesReferenceAtEveryISA() {
        let Ls = [1, 7, 33, 257], Es = [1, 5, 16, 17, 40, 72], Ns = [1, 4, 16, 17]
        var rng = ScanTestRNG(seed: 0x5CA7_0001)
        var problems: [ScanProblem] = []
        for i in 0..<48 {
            let L = Ls[i % Ls.count], E = Es[i % Es.count], N = Ns[(i / Es.count) % Ns.count]
            let Bsz = 1 + (i / 2) % 3
            // Channel range: whole, or starting and ending off any 16 / 8 boundary.
            var eBegin = 0, eEnd = E
            if i % 3 != 0 && E > 2 {
                eBegin = rng.int(0...(E / 3))
                eEnd = E - rng.int(0...(E / 3))
            }
            let flags = rng.next()
            problems.append(ScanProblem.random(
                &rng, Bsz: Bsz, L: L, E: E, N: N,
                useD: flags & 1 != 0, useZ: flags & 2 != 0, useBias: flags & 4 != 0,
                softplus: i % 4 != 3, useH0: flags & 8 != 0, padded: i % 2 == 0,
                eBegin: eBegin, eEnd: eEnd))
        }
        // And one long sequence with everything on.
        problems.append(ScanProblem.random(&rng, Bsz: 1, L: 1000, E: 72, N: 16, useD: true, useZ: true,
                                           useBias: true, softplus: true, useH0: true, padded: true,
                                           eBegin: 5, eEnd: 70))
        let refs = problems.map { runScan($0, reference: true) }
        forEachISA { isa in
            var worstY: Float = 0, worstH: Float = 0
            for (p, ref) in zip(problems, refs) {
                let fast = runScan(p, reference: false)
                let ldY = p.ldY, N = p.N, E = p.E
                let (dy, sy) = compare(fast.y, ref.y, inside: { i in
                    let e = i % ldY
                    return e >= p.eBegin && e < p.eEnd
                })
                let (dh, sh) = compare(fast.hLast!, ref.hLast!, inside: { i in
                    let e = (i / N) % E
                    return e >= p.eBegin && e < p.eEnd
                })
                let ry = dy / max(sy, 1), rh = dh / max(sh, 1)
                worstY = max(worstY, ry)
                worstH = max(worstH, rh)
                XCTAssertLessThanOrEqual(ry, tolerance,
                    "\(isaName(isa)) y: Bsz \(p.Bsz) L \(p.L) E \(p.E) N \(p.N) [\(p.eBegin), \(p.eEnd)) diff \(dy) scale \(sy)")
                XCTAssertLessThanOrEqual(rh, tolerance,
                    "\(isaName(isa)) h_last: Bsz \(p.Bsz) L \(p.L) E \(p.E) N \(p.N) diff \(dh) scale \(sh)")
            }
            print("ScanKernelTests: \(isaName(isa)) vs reference over \(problems.count) problems: "
                  + "max diff y \(worstY), h_last \(worstH) (relative to max(1, max|ref|))")
        }
    }

    /// h_last may alias h0 (continuing a sequence in place).
    func testStateInPlace() {
        var rng = ScanTestRNG(seed: 0x5CA7_0002)
        let p = ScanProblem.random(&rng, Bsz: 2, L: 33, E: 40, N: 16, useD: true, useZ: true, useBias: true,
                                   softplus: true, useH0: true, padded: true, eBegin: 3, eEnd: 37)
        let ref = runScan(p, reference: true)
        forEachISA { isa in
            var h = p.h0!
            var y = [Float](repeating: untouched, count: p.Bsz * p.L * p.ldY)
            p.u.withUnsafeBufferPointer { u in
            p.delta.withUnsafeBufferPointer { delta in
            p.A.withUnsafeBufferPointer { A in
            p.bc.withUnsafeBufferPointer { bc in
            p.D!.withUnsafeBufferPointer { D in
            p.deltaBias!.withUnsafeBufferPointer { bias in
            p.z!.withUnsafeBufferPointer { z in
            y.withUnsafeMutableBufferPointer { yp in
            h.withUnsafeMutableBufferPointer { hp in
                var params = mk_scan_params(u: u.baseAddress, ld_u: Int32(p.ldU), delta: delta.baseAddress,
                                            ld_delta: Int32(p.ldDelta), A: A.baseAddress,
                                            Bm: bc.baseAddress! + p.bmOffset, Cm: bc.baseAddress! + p.cmOffset, ld_bc: Int32(p.ldBC),
                                            D: D.baseAddress, delta_bias: bias.baseAddress, delta_softplus: 1,
                                            z: z.baseAddress, ld_z: Int32(p.ldZ), y: yp.baseAddress, ld_y: Int32(p.ldY),
                                            h0: hp.baseAddress, h_last: hp.baseAddress,
                                            Bsz: Int32(p.Bsz), L: Int32(p.L), E: Int32(p.E), N: Int32(p.N))
                mk_scan_fwd(&params, Int32(p.eBegin), Int32(p.eEnd))
            }}}}}}}}}
            let dy = compare(y, ref.y, inside: { i in (p.eBegin..<p.eEnd).contains(i % p.ldY) })
            XCTAssertLessThanOrEqual(dy.diff / max(dy.scale, 1), tolerance, isaName(isa))
            for b in 0..<p.Bsz {
                for e in 0..<p.E {
                    for n in 0..<p.N {
                        let i = (b * p.E + e) * p.N + n
                        let expected = (p.eBegin..<p.eEnd).contains(e) ? ref.hLast![i] : p.h0![i]
                        XCTAssertEqual(h[i], expected, accuracy: tolerance * max(1, abs(expected)), isaName(isa))
                    }
                }
            }
        }
    }

    /// (b) N = 1, constant dt, A, B, C, u, h0 = 0: h_t = dt B u (1 + a + ... + a^t), so
    /// y_t = C B dt u (1 - a^(t+1)) / (1 - a) with a = exp(dt A), computed in Double.
    func testClosedForm() {
        let L = 300, E = 20
        let dts: [Float] = (0..<E).map { Float(0.02 + 0.01 * Double($0)) }
        let As: [Float] = (0..<E).map { -Float(0.3 + 0.15 * Double($0)) }
        let Bv: Float = 0.7, Cv: Float = -1.3, uv: Float = 0.9
        let delta = (0..<L).flatMap { _ in dts }                // (L, E)
        let u = [Float](repeating: uv, count: L * E)            // (L, E)
        let bc = (0..<L).flatMap { _ in [Bv, Cv] }              // (L, 2): Bm column 0, Cm column 1
        forEachISA { isa in
            var y = [Float](repeating: 0, count: L * E)
            u.withUnsafeBufferPointer { up in
            delta.withUnsafeBufferPointer { dp in
            As.withUnsafeBufferPointer { ap in
            bc.withUnsafeBufferPointer { bcp in
            y.withUnsafeMutableBufferPointer { yp in
                var params = mk_scan_params(u: up.baseAddress, ld_u: Int32(E), delta: dp.baseAddress, ld_delta: Int32(E),
                                            A: ap.baseAddress, Bm: bcp.baseAddress, Cm: bcp.baseAddress! + 1, ld_bc: 2,
                                            D: nil, delta_bias: nil, delta_softplus: 0, z: nil, ld_z: 0,
                                            y: yp.baseAddress, ld_y: Int32(E), h0: nil, h_last: nil,
                                            Bsz: 1, L: Int32(L), E: Int32(E), N: 1)
                mk_scan_fwd(&params, 0, Int32(E))
            }}}}}
            var worst = 0.0
            for e in 0..<E {
                let dt = Double(dts[e]), a = exp(dt * Double(As[e]))
                for t in 0..<L {
                    let expected = Double(Cv) * Double(Bv) * dt * Double(uv) * (1 - pow(a, Double(t + 1))) / (1 - a)
                    let rel = abs(Double(y[t * E + e]) - expected) / abs(expected)
                    worst = max(worst, rel)
                }
            }
            print("ScanKernelTests: \(isaName(isa)) closed form, max relative error \(worst)")
            XCTAssertLessThan(worst, 1e-5, isaName(isa))
        }
    }

    /// (c) Scanning [0, L1) then [L1, L) with h_last passed on as h0 equals one pass.
    func testChunkedInTimeEqualsOnePass() {
        var rng = ScanTestRNG(seed: 0x5CA7_0003)
        for (N, L, L1) in [(16, 257, 130), (5, 200, 77), (17, 40, 1)] {
            let p = ScanProblem.random(&rng, Bsz: 1, L: L, E: 37, N: N, useD: true, useZ: true, useBias: true,
                                       softplus: true, useH0: true, padded: true, eBegin: 0, eEnd: 37)
            forEachISA { isa in
                let whole = runScan(p, reference: false)
                // The two pieces: rows [0, L1) and [L1, L) of every (L, ld) input; Bsz = 1.
                func piece(_ from: Int, _ to: Int, h0: [Float]?) -> ScanProblem {
                    var q = p
                    q.L = to - from
                    q.u = Array(p.u[(from * p.ldU)..<(to * p.ldU)])
                    q.delta = Array(p.delta[(from * p.ldDelta)..<(to * p.ldDelta)])
                    q.bc = Array(p.bc[(from * p.ldBC)..<(to * p.ldBC)])
                    q.z = p.z.map { Array($0[(from * p.ldZ)..<(to * p.ldZ)]) }
                    q.h0 = h0
                    return q
                }
                let first = runScan(piece(0, L1, h0: p.h0), reference: false)
                let second = runScan(piece(L1, L, h0: first.hLast), reference: false)
                let joined = first.y + second.y
                let dy = compare(joined, whole.y, inside: { _ in true })
                let dh = compare(second.hLast!, whole.hLast!, inside: { _ in true })
                let bitwise = joined.elementsEqual(whole.y, by: { $0.bitPattern == $1.bitPattern })
                print("ScanKernelTests: \(isaName(isa)) N \(N) split at \(L1)/\(L): max diff y \(dy.diff), "
                      + "h_last \(dh.diff)\(bitwise ? " (bitwise equal)" : "")")
                XCTAssertLessThanOrEqual(dy.diff, 1e-6 * max(1, dy.scale), isaName(isa))
                XCTAssertLessThanOrEqual(dh.diff, 1e-6 * max(1, dh.scale), isaName(isa))
            }
        }
    }

    /// (d) Channels [0, e1) and [e1, E) in two calls equal all channels in one (how threads split work).
    func testChannelSplitEqualsWhole() {
        var rng = ScanTestRNG(seed: 0x5CA7_0004)
        for (N, E, e1) in [(16, 72, 21), (16, 48, 16), (4, 33, 8), (17, 40, 39)] {
            let p = ScanProblem.random(&rng, Bsz: 2, L: 33, E: E, N: N, useD: true, useZ: true, useBias: true,
                                       softplus: true, useH0: true, padded: true, eBegin: 0, eEnd: E)
            forEachISA { isa in
                let whole = runScan(p, reference: false)
                var left = p, right = p
                left.eEnd = e1
                right.eBegin = e1
                let l = runScan(left, reference: false), r = runScan(right, reference: false)
                // Merge: each half wrote only its own channels (checked against the sentinel).
                let y = zip(l.y, r.y).map { $0 == untouched ? $1 : $0 }
                let h = zip(l.hLast!, r.hLast!).map { $0 == untouched ? $1 : $0 }
                let dy = compare(y, whole.y, inside: { i in i % p.ldY < E })
                let dh = compare(h, whole.hLast!, inside: { _ in true })
                let bitwise = dy.diff == 0 && dh.diff == 0
                print("ScanKernelTests: \(isaName(isa)) N \(N) E \(E) split at \(e1): max diff y \(dy.diff), "
                      + "h_last \(dh.diff)\(bitwise ? " (bitwise equal)" : "")")
                XCTAssertLessThanOrEqual(dy.diff, 1e-6 * max(1, dy.scale), isaName(isa))
                XCTAssertLessThanOrEqual(dh.diff, 1e-6 * max(1, dh.scale), isaName(isa))
            }
        }
    }
}
