// ScanBackwardTests.swift — the selective-scan backward (mk_scan_bwd) against its spec (mk_scan_bwd_ref),
// and the spec against central finite differences of a Double-precision forward.
//
// Forward (mk_scan_fwd), per channel e and state n:
//   dt[t,e] = softplus(delta[t,e] + delta_bias[e]);  h[e,n] = exp(dt A[e,n]) h[e,n] + dt Bm[t,n] u[t,e]
//   out[t,e] = (sum_n Cm[t,n] h[e,n] + D[e] u[t,e]) * silu(z[t,e])
// Backward: given dy = dLoss/d out, du, ddelta, dz (=), dA, dD, ddelta_bias, dBm, dCm (+=), dh0 (=).
//   u, delta, z, dy, du, ddelta, dz (Bsz, L, E) with row strides ld;  A, dA (E, N);
//   Bm, Cm (Bsz, L, N) ld_bc;  dBm, dCm (Bsz, L, N) ld_dbc;  h0, dh0 (Bsz, E, N)
//
// Every random number comes from a seeded generator, so failures reproduce.
import XCTest
import _MambaKernels
import MambaKit

// MARK: - Helpers (fileprivate: other test files share the module)

/// A Float buffer with a stable address (the C calls take many pointers at once).
private final class FloatBuf {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        p = .allocate(capacity: max(count, 1))
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.initialize(from: base, count: count) }
        }
    }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

private func constPtr(_ b: FloatBuf?) -> UnsafePointer<Float>? { b.map { UnsafePointer($0.p) } }

/// One backward problem: inputs with their strides, optional inputs, the channel range, and the starting
/// values of the accumulated outputs (dA, dD, ddelta_bias, dBm, dCm: the kernels add to them).
private struct BwdProblem {
    var Bsz: Int, L: Int, E: Int, N: Int
    var ldU: Int, ldDelta: Int, ldZ: Int, ldDy: Int, ldOut: Int, ldBC: Int, ldDBC: Int
    var u: [Float]              // (Bsz, L, ldU)
    var delta: [Float]          // (Bsz, L, ldDelta)
    var A: [Float]              // (E, N)
    var bc: [Float]             // (Bsz, L, ldBC): Bm at column 1, Cm at column 1 + N (like x_proj's output)
    var D: [Float]?             // (E)
    var deltaBias: [Float]?     // (E)
    var softplus: Bool
    var z: [Float]?             // (Bsz, L, ldZ)
    var h0: [Float]?            // (Bsz, E, N)
    var dy: [Float]             // (Bsz, L, ldDy)
    var wantDh0: Bool
    var eBegin: Int, eEnd: Int
    // starting values of the accumulated outputs
    var dA0: [Float]            // (E, N)
    var dD0: [Float]            // (E)
    var dBias0: [Float]         // (E)
    var dBC0: [Float]           // (Bsz, L, ldDBC) for dBm and for dCm

    var bmOffset: Int { 1 }
    var cmOffset: Int { 1 + N }

    static func random(_ rng: inout SeededRandom, Bsz: Int, L: Int, E: Int, N: Int,
                       useD: Bool, useZ: Bool, useBias: Bool, softplus: Bool, useH0: Bool, wantDh0: Bool,
                       padded: Bool, eBegin: Int, eEnd: Int, zeroAccumulators: Bool = false) -> BwdProblem {
        func ld() -> Int { padded ? E + 1 + rng.below(9) : E }
        func normals(_ n: Int, _ scale: Float = 1, _ shift: Float = 0) -> [Float] {
            (0..<n).map { _ in rng.normal() * scale + shift }
        }
        let ldU = ld(), ldDelta = ld(), ldZ = ld(), ldDy = ld(), ldOut = ld()
        let ldBC = 1 + 2 * N + (padded ? rng.below(6) : 0), ldDBC = N + (padded ? 1 + rng.below(3) : 0)
        let rows = Bsz * L
        // With softplus, delta ~ N(-1, 1) spans small and O(1) steps; without, dt = delta + bias must stay
        // positive (as after a real softplus), else the state grows without bound.
        let delta = softplus ? normals(rows * ldDelta, 1, -1) : (0..<(rows * ldDelta)).map { _ in rng.uniform(0.01, 0.5) }
        func acc(_ n: Int) -> [Float] { zeroAccumulators ? [Float](repeating: 0, count: n) : normals(n) }
        return BwdProblem(
            Bsz: Bsz, L: L, E: E, N: N, ldU: ldU, ldDelta: ldDelta, ldZ: ldZ, ldDy: ldDy, ldOut: ldOut,
            ldBC: ldBC, ldDBC: ldDBC,
            u: normals(rows * ldU), delta: delta,
            A: (0..<(E * N)).map { _ in -exp(rng.normal() * 0.5) },
            bc: normals(rows * ldBC),
            D: useD ? normals(E) : nil,
            deltaBias: !useBias ? nil : softplus ? normals(E, 0.5) : (0..<E).map { _ in rng.uniform(0, 0.1) },
            softplus: softplus,
            z: useZ ? normals(rows * ldZ) : nil,
            h0: useH0 ? normals(Bsz * E * N) : nil,
            dy: normals(rows * ldDy),
            wantDh0: wantDh0, eBegin: eBegin, eEnd: eEnd,
            dA0: acc(E * N), dD0: acc(E), dBias0: acc(E), dBC0: acc(rows * ldDBC))
    }
}


/// The outputs of one backward call.
private struct BwdGrads {
    var du: [Float], ddelta: [Float]            // (Bsz, L, ldOut)
    var dz: [Float]?                            // (Bsz, L, ldOut), when z is given
    var dA: [Float]                             // (E, N)
    var dD: [Float], dBias: [Float]             // (E)
    var dB: [Float], dC: [Float]                // (Bsz, L, ldDBC)
    var dh0: [Float]?                           // (Bsz, E, N), when asked for
}

/// Runs mk_scan_bwd (or the reference) on p, over channels [eBegin, eEnd) unless a range is given.
private func runBackward(_ p: BwdProblem, reference: Bool, range: Range<Int>? = nil,
                         dBC0: [Float]? = nil) -> BwdGrads {
    let rows = p.Bsz * p.L
    let u = FloatBuf(p.u), delta = FloatBuf(p.delta), A = FloatBuf(p.A), bc = FloatBuf(p.bc), dy = FloatBuf(p.dy)
    let D = p.D.map(FloatBuf.init), bias = p.deltaBias.map(FloatBuf.init)
    let z = p.z.map(FloatBuf.init), h0 = p.h0.map(FloatBuf.init)
    let sentinel = [Float](repeating: untouched, count: rows * p.ldOut)
    let du = FloatBuf(sentinel), ddelta = FloatBuf(sentinel), dz = p.z != nil ? FloatBuf(sentinel) : nil
    let dA = FloatBuf(p.dA0), dD = FloatBuf(p.dD0), dBias = FloatBuf(p.dBias0)
    let dB = FloatBuf(dBC0 ?? p.dBC0), dC = FloatBuf(dBC0 ?? p.dBC0)
    let dh0 = p.wantDh0 ? FloatBuf([Float](repeating: untouched, count: p.Bsz * p.E * p.N)) : nil
    let r = range ?? (p.eBegin..<p.eEnd)
    let f = reference ? mk_scan_bwd_ref : mk_scan_bwd
    var params = mk_scan_bwd_params(
        fwd: mk_scan_params(u: u.p, ld_u: Int32(p.ldU), delta: delta.p, ld_delta: Int32(p.ldDelta), A: A.p,
                            Bm: bc.p + p.bmOffset, Cm: bc.p + p.cmOffset, ld_bc: Int32(p.ldBC),
                            D: constPtr(D), delta_bias: constPtr(bias), delta_softplus: p.softplus ? 1 : 0,
                            z: constPtr(z), ld_z: Int32(p.ldZ), y: nil, ld_y: 0, h0: constPtr(h0), h_last: nil,
                            Bsz: Int32(p.Bsz), L: Int32(p.L), E: Int32(p.E), N: Int32(p.N)),
        dy: dy.p, ld_dy: Int32(p.ldDy),
        du: du.p, ld_du: Int32(p.ldOut), ddelta: ddelta.p, ld_ddelta: Int32(p.ldOut), dz: dz?.p, ld_dz: Int32(p.ldOut),
        dA: dA.p, dD: dD.p, ddelta_bias: dBias.p, dBm: dB.p, dCm: dC.p, ld_dbc: Int32(p.ldDBC), dh0: dh0?.p)
    f(&params, Int32(r.lowerBound), Int32(r.upperBound))
    return BwdGrads(du: du.array, ddelta: ddelta.array, dz: dz?.array, dA: dA.array, dD: dD.array,
                    dBias: dBias.array, dB: dB.array, dC: dC.array, dh0: dh0?.array)
}

/// Max |got - want| and the gradient magnitude (max |want|, or max |want - start| for accumulated outputs)
/// over the elements where `inside` holds; every other element must equal `start` bitwise (untouched).
private func compare(_ got: [Float], _ want: [Float], accumulated: Bool, start: (Int) -> Float,
                     inside: (Int) -> Bool) -> (diff: Float, scale: Float, outside: Int) {
    var diff: Float = 0, scale: Float = 0, outside = 0
    for i in 0..<min(got.count, want.count) {
        if inside(i) {
            let d = abs(got[i] - want[i])
            if !(d <= diff) { diff = d.isNaN ? .infinity : d }
            scale = max(scale, abs(accumulated ? want[i] - start(i) : want[i]))
        } else if got[i].bitPattern != start(i).bitPattern {
            outside += 1
        }
    }
    if got.count != want.count { outside += 1 }
    return (diff, scale, outside)
}


// MARK: - Double-precision forward (for finite differences)

/// The tensors of a small scan problem in Double, contiguous (every ld = its row length):
/// u, delta, z (Bsz, L, E); A (E, N); Bm, Cm (Bsz, L, N); D, bias (E); h0 (Bsz, E, N).
private struct DoubleScan {
    var Bsz: Int, L: Int, E: Int, N: Int
    var softplus: Bool, hasD: Bool, hasBias: Bool, hasZ: Bool
    var t: [String: [Double]]

    /// out (Bsz, L, E) of mk_scan_fwd's contract, in Double.
    func output(_ t: [String: [Double]]) -> [Double] {
        let u = t["u"]!, delta = t["delta"]!, A = t["A"]!, Bm = t["Bm"]!, Cm = t["Cm"]!, h0 = t["h0"]!
        let D = t["D"]!, bias = t["bias"]!, z = t["z"]!
        var out = [Double](repeating: 0, count: Bsz * L * E)
        var h = [Double](repeating: 0, count: N)
        for b in 0..<Bsz {
            for e in 0..<E {
                for n in 0..<N { h[n] = h0[(b * E + e) * N + n] }
                for s in 0..<L {
                    let r = b * L + s
                    let x = delta[r * E + e] + (hasBias ? bias[e] : 0)
                    let dt = softplus ? (x > 20 ? x : log1p(exp(x))) : x
                    var y = hasD ? D[e] * u[r * E + e] : 0
                    for n in 0..<N {
                        h[n] = exp(dt * A[e * N + n]) * h[n] + dt * Bm[r * N + n] * u[r * E + e]
                        y += Cm[r * N + n] * h[n]
                    }
                    if hasZ {
                        let zz = z[r * E + e]
                        y *= zz / (1 + exp(-zz))
                    }
                    out[r * E + e] = y
                }
            }
        }
        return out
    }
}

// MARK: - Tests

final class ScanBackwardTests: XCTestCase {
    /// Fast vs reference: max |diff| relative to the gradient's magnitude.
    let tolerance: Float = 1e-4

    /// (1) The reference backward equals central finite differences of the Double forward, for every
    /// gradient (du, ddelta, dz, dA, dD, ddelta_bias, dBm, dCm, dh0), on tiny shapes, options on and off.
    func testReferenceMatchesFiniteDifferences() {
        var rng = SeededRandom(seed: 0x5CA7_B001)
        // (Bsz, L, E, N, D, bias, softplus, z, h0)
        let cases: [(Int, Int, Int, Int, Bool, Bool, Bool, Bool, Bool)] = [
            (2, 7, 4, 3, true, true, true, true, true),
            (2, 5, 3, 2, false, false, false, false, false),
            (2, 9, 5, 4, true, false, true, true, false),
            (2, 6, 3, 4, false, true, false, false, true),
        ]
        for (Bsz, L, E, N, useD, useBias, softplus, useZ, useH0) in cases {
            let p = BwdProblem.random(&rng, Bsz: Bsz, L: L, E: E, N: N, useD: useD, useZ: useZ, useBias: useBias,
                                      softplus: softplus, useH0: useH0, wantDh0: true, padded: false,
                                      eBegin: 0, eEnd: E, zeroAccumulators: true)
            let g = runBackward(p, reference: true)
            // The same inputs in Double, contiguous; Bm, Cm split out of bc; absent options are zeros.
            let rows = Bsz * L
            func cols(_ offset: Int) -> [Double] {
                (0..<rows).flatMap { r in (0..<N).map { Double(p.bc[r * p.ldBC + offset + $0]) } }
            }
            let zeros = { (n: Int) in [Double](repeating: 0, count: n) }
            let scan = DoubleScan(
                Bsz: Bsz, L: L, E: E, N: N, softplus: softplus, hasD: useD, hasBias: useBias, hasZ: useZ,
                t: ["u": p.u.map(Double.init), "delta": p.delta.map(Double.init), "A": p.A.map(Double.init),
                    "Bm": cols(p.bmOffset), "Cm": cols(p.cmOffset),
                    "D": p.D?.map(Double.init) ?? zeros(E), "bias": p.deltaBias?.map(Double.init) ?? zeros(E),
                    "z": p.z?.map(Double.init) ?? zeros(rows * E), "h0": p.h0?.map(Double.init) ?? zeros(Bsz * E * N)])
            let w = p.dy.map(Double.init)                                   // loss = sum w . out
            func loss(_ t: [String: [Double]]) -> Double { zip(scan.output(t), w).reduce(0) { $0 + $1.0 * $1.1 } }
            func dB(_ g: [Float]) -> [Float] { (0..<rows).flatMap { r in (0..<N).map { g[r * p.ldDBC + $0] } } }
            var checks: [(String, [Float])] = [("u", g.du), ("delta", g.ddelta), ("A", g.dA),
                                               ("Bm", dB(g.dB)), ("Cm", dB(g.dC)), ("h0", g.dh0!)]
            if useZ { checks.append(("z", g.dz!)) }
            if useD { checks.append(("D", g.dD)) }
            if useBias { checks.append(("bias", g.dBias)) }
            var worstAll = 0.0
            for (name, got) in checks {
                let x = scan.t[name]!
                XCTAssertEqual(got.count, x.count, name)
                var fd = [Double](repeating: 0, count: x.count)
                for i in 0..<x.count {
                    let step = 1e-5 * max(1, abs(x[i]))
                    var t = scan.t
                    t[name]![i] = x[i] + step
                    let up = loss(t)
                    t[name]![i] = x[i] - step
                    fd[i] = (up - loss(t)) / (2 * step)
                }
                let floor = max(1e-3 * (fd.map(abs).max() ?? 0), 1e-6)
                var worst = 0.0
                for i in 0..<x.count {
                    let err = abs(Double(got[i]) - fd[i]) / max(abs(fd[i]), floor)
                    worst = max(worst, err)
                    XCTAssertLessThanOrEqual(err, 1e-3, "\(name)[\(i)]: reference \(got[i]), finite difference \(fd[i]) "
                                             + "(Bsz \(Bsz) L \(L) E \(E) N \(N))")
                }
                worstAll = max(worstAll, worst)
            }
            print("ScanBackwardTests: reference vs finite differences, Bsz \(Bsz) L \(L) E \(E) N \(N) "
                  + "D \(useD) bias \(useBias) softplus \(softplus) z \(useZ) h0 \(useH0): max relative error \(worstAll)")
        }
    }

    /// (2) The dispatched kernel equals the reference at every ISA level, over lengths around the chunk
    /// boundaries, odd channel counts and state sizes, options on and off, padded strides and unaligned
    /// channel ranges; the accumulated outputs are added to; nothing outside the range (or padding) is written.
    func testFastMatchesReferenceAtEveryISA() {
        let C = Int(MK_SCAN_BWD_CHUNK)
        let Ls = [1, 5, C - 1, C, C + 1, 200, 1000], Es = [1, 7, 16, 17, 40], Ns = [1, 4, 16, 17]
        var rng = SeededRandom(seed: 0x5CA7_B002)
        var problems: [BwdProblem] = []
        for i in 0..<28 {                                                   // every (L, N) pair once
            let L = Ls[i % Ls.count], N = Ns[i % Ns.count], E = Es[(i / 2) % Es.count]
            let Bsz = 1 + i % 2
            var eBegin = 0, eEnd = E
            if i % 3 != 0 && E > 2 {                                        // off any 16 / 8 boundary
                eBegin = rng.below(E / 3 + 1)
                eEnd = E - rng.below(E / 3 + 1)
            }
            let flags = rng.next()
            problems.append(BwdProblem.random(
                &rng, Bsz: Bsz, L: L, E: E, N: N,
                useD: flags & 1 != 0, useZ: flags & 2 != 0, useBias: flags & 4 != 0,
                softplus: i % 4 != 3, useH0: flags & 8 != 0, wantDh0: flags & 16 != 0, padded: i % 2 == 0,
                eBegin: eBegin, eEnd: eEnd))
        }
        // And two with everything on: many channel blocks; and a large N, whose blocks need two groups
        // (a group's chunk-boundary states are bounded in bytes), so dBm/dCm are added to twice per call.
        problems.append(BwdProblem.random(&rng, Bsz: 1, L: 300, E: 200, N: 16, useD: true, useZ: true, useBias: true,
                                          softplus: true, useH0: true, wantDh0: true, padded: true,
                                          eBegin: 3, eEnd: 197))
        problems.append(BwdProblem.random(&rng, Bsz: 1, L: 130, E: 160, N: 256, useD: true, useZ: true, useBias: true,
                                          softplus: true, useH0: true, wantDh0: true, padded: true,
                                          eBegin: 5, eEnd: 157))
        let refs = problems.map { runBackward($0, reference: true) }
        forEachISA { isa in
            var worst: [String: Float] = [:]
            for (p, ref) in zip(problems, refs) {
                let got = runBackward(p, reference: false)
                let inRange = { (e: Int) in e >= p.eBegin && e < p.eEnd }
                func check(_ name: String, _ a: [Float]?, _ b: [Float]?, accumulated: Bool = false,
                           start: (Int) -> Float, inside: (Int) -> Bool) {
                    guard let a, let b else {
                        XCTAssertTrue(a == nil && b == nil, "\(name) present in one result only")
                        return
                    }
                    let c = compare(a, b, accumulated: accumulated, start: start, inside: inside)
                    let rel = c.scale > 0 ? c.diff / c.scale : c.diff
                    worst[name] = max(worst[name] ?? 0, rel)
                    XCTAssertLessThanOrEqual(rel, tolerance, "\(isaName(isa)) \(name): Bsz \(p.Bsz) L \(p.L) E \(p.E) "
                        + "N \(p.N) [\(p.eBegin), \(p.eEnd)) diff \(c.diff) scale \(c.scale)")
                    XCTAssertEqual(c.outside, 0, "\(isaName(isa)) \(name): elements outside the range were written "
                        + "(Bsz \(p.Bsz) L \(p.L) E \(p.E) N \(p.N) [\(p.eBegin), \(p.eEnd)))")
                }
                let rowE = { (i: Int) in inRange(i % p.ldOut) }
                check("du", got.du, ref.du, start: { _ in untouched }, inside: rowE)
                check("ddelta", got.ddelta, ref.ddelta, start: { _ in untouched }, inside: rowE)
                check("dz", got.dz, ref.dz, start: { _ in untouched }, inside: rowE)
                check("dA", got.dA, ref.dA, accumulated: true, start: { p.dA0[$0] }, inside: { inRange($0 / p.N) })
                check("dD", got.dD, ref.dD, accumulated: true, start: { p.dD0[$0] },
                      inside: { p.D != nil && inRange($0) })
                check("ddelta_bias", got.dBias, ref.dBias, accumulated: true, start: { p.dBias0[$0] },
                      inside: { p.deltaBias != nil && inRange($0) })
                check("dBm", got.dB, ref.dB, accumulated: true, start: { p.dBC0[$0] }, inside: { $0 % p.ldDBC < p.N })
                check("dCm", got.dC, ref.dC, accumulated: true, start: { p.dBC0[$0] }, inside: { $0 % p.ldDBC < p.N })
                check("dh0", got.dh0, ref.dh0, start: { _ in untouched }, inside: { inRange(($0 / p.N) % p.E) })
            }
            let summary = worst.keys.sorted().map { "\($0) \(worst[$0]!)" }.joined(separator: ", ")
            print("ScanBackwardTests: \(isaName(isa)) vs reference over \(problems.count) problems, "
                  + "max |diff| / max |gradient|: \(summary)")
        }
    }

    /// (3) Channels [0, e1) and [e1, E) in two calls, each with its own dBm/dCm buffer, summed, equal one
    /// call over all channels (how threads split the work).
    func testChannelSplitEqualsWhole() {
        var rng = SeededRandom(seed: 0x5CA7_B003)
        for (N, E, e1, L) in [(16, 72, 21, 130), (5, 40, 16, 70), (17, 33, 8, 64)] {
            let p = BwdProblem.random(&rng, Bsz: 2, L: L, E: E, N: N, useD: true, useZ: true, useBias: true,
                                      softplus: true, useH0: true, wantDh0: true, padded: true,
                                      eBegin: 0, eEnd: E, zeroAccumulators: true)
            forEachISA { isa in
                let whole = runBackward(p, reference: false)
                let left = runBackward(p, reference: false, range: 0..<e1)
                let right = runBackward(p, reference: false, range: e1..<E)
                // Written outputs: each half wrote only its channels (the rest is the sentinel).
                func merge(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 == untouched ? $1 : $0 } }
                // Accumulated outputs started at zero: the halves' contributions add up.
                func add(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 + $1 } }
                let pairs: [(String, [Float], [Float])] = [
                    ("du", merge(left.du, right.du), whole.du),
                    ("ddelta", merge(left.ddelta, right.ddelta), whole.ddelta),
                    ("dz", merge(left.dz!, right.dz!), whole.dz!),
                    ("dh0", merge(left.dh0!, right.dh0!), whole.dh0!),
                    ("dA", add(left.dA, right.dA), whole.dA),
                    ("dD", add(left.dD, right.dD), whole.dD),
                    ("ddelta_bias", add(left.dBias, right.dBias), whole.dBias),
                    ("dBm", add(left.dB, right.dB), whole.dB),
                    ("dCm", add(left.dC, right.dC), whole.dC),
                ]
                var report: [String] = []
                for (name, split, one) in pairs {
                    let c = compare(split, one, accumulated: false, start: { _ in 0 }, inside: { _ in true })
                    report.append("\(name) \(c.diff)")
                    XCTAssertLessThanOrEqual(c.diff, 1e-5 * max(c.scale, 1), "\(isaName(isa)) \(name) N \(N) E \(E) split at \(e1)")
                }
                print("ScanBackwardTests: \(isaName(isa)) N \(N) E \(E) split at \(e1): max diff "
                      + report.joined(separator: ", "))
            }
        }
    }
}
