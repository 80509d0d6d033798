// SSDMixer.swift — the Mamba-2 (SSD) mixer: everything between the block's in_proj and out_proj.
// Forward and backward side by side. Letters: H heads of P channels (E = H·P), G groups, N states, Q chunk.
//
//   forward (from the in_proj output zxbcdt = z | x B C | Δraw, (T, 2E + 2GN + H)):
//     xBC      = SiLU(causal_conv1d(x B C))                   (T, E + 2GN)   conv state (B, K-1, E + 2GN) carried
//     Δ        = clamp(softplus(Δraw + dt_bias), time_step_limit)           (T, H)
//     y_ssd    = SSD(x, Δ, A = −exp(A_log), B, C) + D·x        (T, E)         state (B, H, P, N) carried
//     y        = RMSNormGated(y_ssd, z)  (per group of E/G channels; norm after the gate unless norm_before_gate)
//   SSD, two algorithms that agree:
//     recurrent (mk_ssd_scan): S_t = exp(Δ_t A) S_t−1 + Δ_t x_t ⊗ B_t;  y_t = S_t C_t
//     chunked (chunks of Q steps, matrix products through BLAS, as transformers' torch_forward and the paper's §6):
//       a_i  = Σ_{k≤i} Δ_k A  within the chunk                                  (H, Q)
//       Y    = (C Bᵀ ∘ exp(a_i − a_j) Δ_j [j ≤ i]) · X                          intra-chunk, per head
//            + exp(a_i) · C · Sᵀ                                                 from the state before the chunk
//       S   ← exp(a_Q) S + (exp(a_Q − a_j) Δ_j X_j)ᵀ · B                         state passed to the next chunk
//   backward (from dy, (T, E)): gated norm → SSD (the recurrence in reverse, states recomputed) → Δ → conv1d,
//   writing dzxbcdt (T, 2E + 2GN + H) and adding the mixer's parameter gradients.
import Foundation
import _MambaKernels

/// How Mamba-2 mixers compute the SSD of a chunk: ``automatic`` (the chunked algorithm from
/// ``SSDMixer/chunkedMinimumLength`` steps, else the recurrence), or either one always.
public enum SSDEvaluation: String, Sendable, CaseIterable { case automatic, chunked, recurrent }

/// The tensors of a Mamba-2 mixer (keys `<prefix>conv1d.weight` (E+2GN, 1, K), `conv1d.bias`, `dt_bias` (H),
/// `A_log` (H), `D` (H), `norm.weight` (E)) and its A = −exp(A_log) in the derived block.
public struct SSDMixer: Sendable {
    public let conv: CausalConv1d
    public let dtBias: Int      // (H)
    public let aLog: Int        // (H)
    public let D: Int           // (H)
    public let normWeight: Int  // (E)
    /// Offset of A = −exp(A_log) (H) in the derived block.
    public let negA: Int
    public let E: Int, N: Int, H: Int, P: Int, G: Int, Q: Int
    /// conv1d channels (E + 2GN) and in_proj outputs (2E + 2GN + H).
    public let channels: Int, width: Int
    let eps: Float, limit: (lo: Float, hi: Float), normBeforeGate: Bool

    /// Chunks shorter than this run the recurrence under ``SSDEvaluation/automatic`` (generation, short chunks).
    public static let chunkedMinimumLength = 64
    /// Rows of the intra-chunk matrix built and multiplied at a time: a chunk's product then skips most of the
    /// zeros above the diagonal (10/16 of the work of the full (Q, Q) product at Q = 256) and M stays in cache.
    static let maskRowBlock = 64

    /// Runs `body` with OpenBLAS on one thread when `single` (heads then run in parallel, one product each).
    static func withSingleThreadedBLAS(_ single: Bool, _ body: () -> Void) {
        guard single else { body(); return }
        let saved = mk_blas_get_threads()
        mk_blas_set_threads(1)
        body()
        mk_blas_set_threads(saved)
    }

    public init(prefix p: String, config c: MambaConfig, layout: inout ParameterLayout, derived: inout Int) {
        guard let s = c.ssd else { preconditionFailure("an SSD mixer needs config.ssd") }
        E = c.dInner; N = c.dState; H = s.numHeads; P = s.headDim; G = s.nGroups; Q = s.chunkSize
        channels = c.convChannels; width = c.inProjWidth
        eps = c.layerNormEpsilon; limit = (s.timeStepLimit[0], s.timeStepLimit[1]); normBeforeGate = s.normBeforeGate
        conv = CausalConv1d(prefix: p, channels: channels, width: c.dConv, bias: c.useConvBias, layout: &layout)
        dtBias = layout.add(p + "dt_bias", [H])
        aLog = layout.add(p + "A_log", [H])
        D = layout.add(p + "D", [H])
        normWeight = layout.add(p + "norm.weight", [E])
        negA = derived; derived += H
    }

    /// Recomputes A = −exp(A_log) into the derived block.
    func refreshDerived(_ ctx: LayerContext) { mk_neg_exp(ctx.parameters + aLog, ctx.derived + negA, H) }

    /// The SSD kernel's arguments over the conv output xc (T, E + 2GN) = x | B | C and Δ (T, H).
    private func params(_ ctx: LayerContext, xc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                        y: UnsafeMutablePointer<Float>?, state: UnsafeMutablePointer<Float>?, batch B: Int, length L: Int) -> mk_ssd_params {
        mk_ssd_params(x: xc, Bm: xc + E, Cm: xc + E + G * N, dt: dt, A: ctx.derived + negA, D: ctx.parameters + D,
                      y: y, state: state, ld_x: Int32(channels), ld_bc: Int32(channels), ld_dt: Int32(H), ld_y: Int32(E),
                      Bsz: Int32(B), L: Int32(L), H: Int32(H), P: Int32(P), G: Int32(G), N: Int32(N))
    }

    /// zxbcdt (T, 2E+2GN+H) → y (T, E); `convState` (B, K-1, E+2GN) and `ssm` (B, H, P, N) are read as the initial
    /// states and overwritten with the final ones. xc (T, E+2GN), ySSD (T, E) and dt (T, H) are kept for backward.
    func forward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                 ySSD: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                 convState: UnsafeMutablePointer<Float>, ssm: UnsafeMutablePointer<Float>, batch B: Int, length L: Int,
                 workspace ws: inout ForwardWorkspace) {
        let T = B * L, p = ctx.parameters
        conv.forward(ctx, x: xz + E, ldX: width, out: xc, state: convState, batch: B, length: L)
        mk_ssd_dt_fwd(xz + E + channels, Int32(width), p + dtBias, limit.lo, limit.hi, dt, Int32(H), Int32(T), Int32(H))
        let chunked: Bool
        switch ctx.ssdEvaluation {
        case .automatic: chunked = L >= Self.chunkedMinimumLength
        case .chunked: chunked = true
        case .recurrent: chunked = false
        }
        if chunked {
            chunkedSSD(ctx, xc: xc, dt: dt, y: ySSD, state: ssm, batch: B, length: L, workspace: &ws)
        } else {
            let s = params(ctx, xc: xc, dt: dt, y: ySSD, state: ssm, batch: B, length: L)
            Parallel.forRanges(B * H, threads: ctx.threads, costPerItem: L * P * N * 4) { r in
                var mine = s
                mk_ssd_scan(&mine, Int32(r.lowerBound), Int32(r.upperBound))
            }
        }
        let (E, G, W, eps, before) = (E, G, width, eps, normBeforeGate ? Int32(1) : 0)
        Parallel.forRanges(T, threads: ctx.threads, costPerItem: E * 4, minWork: 1 << 16) { r in
            let o = r.lowerBound
            mk_gated_rmsnorm_fwd(ySSD + o * E, Int32(E), xz + o * W, Int32(W), p + normWeight, y + o * E, Int32(E),
                                 Int32(r.count), Int32(E), Int32(G), eps, before)
        }
    }

    /// The chunked SSD (see the file header): y (T, E) = SSD(x, Δ, A, B, C) + D·x, `state` (B, H, P, N) advanced.
    /// Threads split the heads: each part runs its heads through every chunk with single-threaded matrix products
    /// (one parallel section per call; a head's work never waits for another's), computing C_g·B_gᵀ of the groups
    /// its heads belong to itself.
    func chunkedSSD(_ ctx: LayerContext, xc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                    y: UnsafeMutablePointer<Float>, state: UnsafeMutablePointer<Float>, batch B: Int, length L: Int,
                    workspace ws: inout ForwardWorkspace) {
        let (E, N, H, P, G, Cc, Q) = (E, N, H, P, G, channels, Q), Hg = H / G, Qm = min(Q, L), rb = Self.maskRowBlock
        let A = ctx.derived + negA, Dskip = ctx.parameters + D
        let parts = max(1, min(ctx.threads, H))
        // scratch: per part G_g (Q, Q) | M (rb, Q);  shared, each part its own columns or rows:
        //          X̃ (Q, E) | C·Sᵀ (Q, E) | a (H, Q) | Δ (H, Q)
        let perPart = Qm * Qm + rb * Qm
        let scratch = ws.scratch(count: parts * perPart + 2 * Qm * E + 2 * H * Qm)
        let Xt = scratch + parts * perPart, CS = Xt + Qm * E, acum = CS + Qm * E, dth = acum + H * Qm
        let x = xc, Bp = xc + E, Cp = xc + E + G * N
        Self.withSingleThreadedBLAS(parts > 1) {
            Parallel.forParts(H, threads: parts) { part, hr in
                guard !hr.isEmpty else { return }
                let Gm = scratch + part * perPart, M = Gm + Qm * Qm
                for b in 0..<B {
                    let S = state + b * H * P * N   // (H, P, N): the heads h0 ..< h1 are rows h0·P ..< h1·P of (H·P, N)
                    var c0 = 0
                    while c0 < L {
                        let q = min(Q, L - c0), r0 = b * L + c0
                        // a (q) per head (at stride Qm: parts reach their last chunks at different times): within-chunk cumulative Σ Δ A; Δ (q) per head, contiguous
                        for h in hr {
                            var s: Float = 0
                            for i in 0..<q {
                                let d = dt[(r0 + i) * H + h]
                                s += d * A[h]; acum[h * Qm + i] = s; dth[h * Qm + i] = d
                            }
                        }
                        // the part's heads of group g: h0 ..< h1
                        for g in (hr.lowerBound / Hg)...((hr.upperBound - 1) / Hg) {
                            let h0 = max(hr.lowerBound, g * Hg), h1 = min(hr.upperBound, (g + 1) * Hg), np = (h1 - h0) * P
                            let Cg = Cp + r0 * Cc + g * N, Bg = Bp + r0 * Cc + g * N, Sg = S + h0 * P * N
                            // G_g (q, q) = C_g · B_gᵀ
                            mk_sgemm(0, 1, Int32(q), Int32(q), Int32(N), 1, Cg, Int32(Cc), Bg, Int32(Cc), 0, Gm, Int32(q))
                            for h in h0..<h1 {
                                // y_h = M_h · X_h, rb rows of the masked intra-chunk matrix M_h at a time (only its
                                // columns up to the block's last row: the rest is above the diagonal)
                                let a = acum + h * Qm, d = dth + h * Qm
                                var i0 = 0
                                while i0 < q {
                                    let i1 = min(q, i0 + rb)
                                    mk_ssd_mask(Gm, Int32(q), a, d, Int32(i0), Int32(i1), M, Int32(q))
                                    mk_sgemm(0, 0, Int32(i1 - i0), Int32(P), Int32(i1), 1, M, Int32(q), x + r0 * Cc + h * P, Int32(Cc),
                                             0, y + (r0 + i0) * E + h * P, Int32(E))
                                    i0 = i1
                                }
                                // the decayed inputs X̃_h = exp(a_q − a_j) Δ_j x_j
                                let last = a[q - 1]
                                for j in 0..<q {
                                    let w = Foundation.exp(last - a[j]) * d[j]
                                    let xs = x + (r0 + j) * Cc + h * P, xt = Xt + j * E + h * P
                                    for i in 0..<P { xt[i] = w * xs[i] }
                                }
                            }
                            // from the state before the chunk: C_g · S_hᵀ (q, np), then y += exp(a_i) · (C Sᵀ) + D x
                            mk_sgemm(0, 1, Int32(q), Int32(np), Int32(N), 1, Cg, Int32(Cc), Sg, Int32(N), 0, CS + h0 * P, Int32(E))
                            for i in 0..<q {
                                let yr = y + (r0 + i) * E, cs = CS + i * E, xr = x + (r0 + i) * Cc
                                for h in h0..<h1 {
                                    let decay = Foundation.exp(acum[h * Qm + i]), dh = Dskip[h]
                                    for j in (h * P)..<((h + 1) * P) { yr[j] += decay * cs[j] + dh * xr[j] }
                                }
                            }
                            // the state passed on: S_h ← exp(a_q) S_h + X̃_hᵀ · B_g
                            for h in h0..<h1 {
                                let decay = Foundation.exp(acum[h * Qm + q - 1]), sh = S + h * P * N
                                for i in 0..<(P * N) { sh[i] *= decay }
                            }
                            mk_sgemm(1, 0, Int32(np), Int32(N), Int32(q), 1, Xt + h0 * P, Int32(E), Bg, Int32(Cc), 1, Sg, Int32(N))
                        }
                        c0 += q
                    }
                }
            }
        }
    }

    /// Backward of ``forward(_:xz:xc:ySSD:dt:y:convState:ssm:batch:length:workspace:)``: from dY (T, E) writes
    /// dXz (T, 2E+2GN+H) and adds the mixer's parameter gradients. `convIn`/`ssmIn` are the states the forward
    /// started from. Uses the tape's dDbc (dy_ssd), dXc (dxBC), dDt (dΔ) and per-head dB, dC parts as scratch.
    func backward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                  ySSD: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                  convIn: UnsafeMutablePointer<Float>, ssmIn: UnsafeMutablePointer<Float>,
                  dY: UnsafeMutablePointer<Float>, dXz: UnsafeMutablePointer<Float>,
                  batch B: Int, length L: Int, tape: TrainingTape) {
        let T = B * L, p = ctx.parameters, g = ctx.grads
        let (E, N, H, G, Cc, W) = (E, N, H, G, channels, width), Hg = H / G
        let dYs = tape.dDbc.pointer, dXc = tape.dXc.pointer, dDt = tape.dDt.pointer
        // gated norm: dy_ssd (T, E) and dz → dXz[:, 0 ..< E]
        mk_gated_rmsnorm_bwd(ySSD, Int32(E), xz, Int32(W), p + normWeight, dY, Int32(E), dYs, Int32(E), dXz, Int32(W),
                             g + normWeight, Int32(T), Int32(E), Int32(G), eps, normBeforeGate ? 1 : 0)
        // SSD: dx into dXc[:, 0 ..< E], dΔ, per-head dB and dC, per-(b, h) dA and dD
        let parts = tape.ssdParts(count: 2 * T * H * N + 2 * B * H)
        let dBp = parts.pointer, dCp = dBp + T * H * N, dAp = dCp + T * H * N, dDp = dAp + B * H
        let q = mk_ssd_bwd_params(fwd: params(ctx, xc: xc, dt: dt, y: nil, state: nil, batch: B, length: L),
                                  state_in: ssmIn, dy: dYs, ld_dy: Int32(E), dx: dXc, ld_dx: Int32(Cc), ddt: dDt, ld_ddt: Int32(H),
                                  dB_part: dBp, dC_part: dCp, dA_part: dAp, dD_part: dDp)
        Parallel.forRanges(B * H, threads: ctx.threads, costPerItem: L * P * N * 12) { r in
            var mine = q
            mk_ssd_scan_bwd(&mine, Int32(r.lowerBound), Int32(r.upperBound))
        }
        // dB, dC of a group = Σ of its heads' parts, into dXc[:, E ..< E + 2GN]
        Parallel.forRanges(T, threads: ctx.threads, costPerItem: H * N * 2) { rr in
            for r in rr {
                let out = dXc + r * Cc + E
                for gi in 0..<G {
                    let ob = out + gi * N, oc = out + G * N + gi * N
                    for n in 0..<N { ob[n] = 0; oc[n] = 0 }
                    for h in (gi * Hg)..<((gi + 1) * Hg) {
                        let pb = dBp + (r * H + h) * N, pc = dCp + (r * H + h) * N
                        for n in 0..<N { ob[n] += pb[n]; oc[n] += pc[n] }
                    }
                }
            }
        }
        // A = −exp(A_log): dA_log = dA · A;  D
        let A = ctx.derived + negA
        for b in 0..<B {
            for h in 0..<H {
                g[aLog + h] += dAp[b * H + h] * A[h]
                g[D + h] += dDp[b * H + h]
            }
        }
        // Δ = clamp(softplus(Δraw + dt_bias)) → dXz[:, E + Cc ..< W], d dt_bias
        mk_ssd_dt_bwd(xz + E + Cc, Int32(W), p + dtBias, limit.lo, limit.hi, dDt, Int32(H), dXz + E + Cc, Int32(W),
                      g + dtBias, Int32(T), Int32(H))
        // conv1d + SiLU → dXz[:, E ..< E + Cc]
        conv.backward(ctx, x: xz + E, ldX: W, stateIn: convIn, dOut: dXc, dX: dXz + E, ldDX: W, batch: B, length: L)
    }
}
