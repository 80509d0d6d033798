// BenchComplexScan.swift — `mambakit bench complex-scan`: the complex selective scan (ssm_mixer complex,
// complex_scan.c) forward and backward at the `bench scan` shape (B=1, E=1536, L=2048, N=16 complex states).
import MambaKit
import _MambaKernels

extension BenchCommand {
    /// Forward (fused: discretise, recur, D skip, gate; final state written) and backward (states recomputed in
    /// chunks; du, dΔ, dz, dA, dD, dΔ-bias, dB, dC with per-thread dB/dC buffers), in (B·E·L·N)/s.
    func benchComplexScan() {
        let B = 1, E = 1536, L = 2048, N = 16
        var rng = SeededRandom(seed: 2)
        let u = FloatBuffer(count: B * L * E), dt = FloatBuffer(count: B * L * E), z = FloatBuffer(count: B * L * E)
        let y = FloatBuffer(count: B * L * E), bc = FloatBuffer(count: B * L * 4 * N)   // (B, L, B re/im | C re/im)
        let Are = FloatBuffer(count: E * N), Aim = FloatBuffer(count: E * N), Dp = FloatBuffer(count: E), bias = FloatBuffer(count: E)
        let h = FloatBuffer(count: B * E * 2 * N)
        for i in 0..<u.count { u[i] = rng.normal(); dt[i] = rng.normal() - 2; z[i] = rng.normal() }
        for i in 0..<bc.count { bc[i] = rng.normal() }
        for e in 0..<E {   // S4D-Lin: A_n = −1/2 + iπn
            Dp[e] = 1; bias[e] = rng.uniform(-4, -1)
            for n in 0..<N { Are[e * N + n] = -0.5; Aim[e * N + n] = Float.pi * Float(n) }
        }
        func params(y: UnsafeMutablePointer<Float>?, hLast: UnsafeMutablePointer<Float>?) -> mk_cscan_params {
            mk_cscan_params(u: u.pointer, ld_u: Int32(E), delta: dt.pointer, ld_delta: Int32(E), A_re: Are.pointer, A_im: Aim.pointer,
                            Bm: bc.pointer, Cm: bc.pointer + 2 * N, ld_bc: Int32(4 * N),
                            D: Dp.pointer, delta_bias: bias.pointer, delta_softplus: 1, z: z.pointer, ld_z: Int32(E),
                            y: y, ld_y: Int32(E), h0: nil, h_last: hLast, Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N))
        }
        let elems = Double(B * E * L * N)
        for t in threadList {
            let s = bestTime {
                Parallel.forRanges(E, threads: t, align: 16, costPerItem: 1 << 20) { r in
                    var scan = params(y: y.pointer, hLast: h.pointer)
                    mk_cscan_fwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
                }
            }
            emit([("bench", "\"complex_scan\""), ("threads", "\(t)"), ("elements_per_second", String(format: "%.4g", elems / s)),
                  ("batch", "\(B)"), ("d_inner", "\(E)"), ("length", "\(L)"), ("d_state", "\(N)"), ("isa", jsonString(MambaRuntime.isa))])
        }
        let dy = FloatBuffer(count: B * L * E), du = FloatBuffer(count: B * L * E), ddt = FloatBuffer(count: B * L * E)
        let dz = FloatBuffer(count: B * L * E), dAre = FloatBuffer(count: E * N), dAim = FloatBuffer(count: E * N)
        let dD = FloatBuffer(count: E), dBias = FloatBuffer(count: E)
        for i in 0..<dy.count { dy[i] = rng.normal() }
        for t in threadList {
            let dbc = FloatBuffer(count: t * B * L * 4 * N)
            let s = bestTime {
                Parallel.forParts(E, threads: t, align: 16) { part, r in
                    let mine = dbc.pointer + part * B * L * 4 * N
                    var scan = mk_cscan_bwd_params(
                        fwd: params(y: nil, hLast: nil),
                        dy: dy.pointer, ld_dy: Int32(E), du: du.pointer, ld_du: Int32(E), ddelta: ddt.pointer, ld_ddelta: Int32(E),
                        dz: dz.pointer, ld_dz: Int32(E), dA_re: dAre.pointer, dA_im: dAim.pointer, dD: dD.pointer, ddelta_bias: dBias.pointer,
                        dBm: mine, dCm: mine + 2 * N, ld_dbc: Int32(4 * N), dh0: nil)
                    mk_cscan_bwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
                }
            }
            emit([("bench", "\"complex_scan_backward\""), ("threads", "\(t)"), ("elements_per_second", String(format: "%.4g", elems / s)),
                  ("batch", "\(B)"), ("d_inner", "\(E)"), ("length", "\(L)"), ("d_state", "\(N)"), ("isa", jsonString(MambaRuntime.isa))])
        }
    }
}
