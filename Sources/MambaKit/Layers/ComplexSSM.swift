// ComplexSSM.swift — the complex-valued selective SSM mixer (config `ssm_mixer: "complex"`): the Mamba paper's
// §3.6 parameterisation for audio, with mamba_ssm's `selective_scan_ref` semantics for complex A. Everything
// between the shared in_proj and out_proj, as SelectiveSSM; forward and backward side by side.
//
//   forward (from the in_proj output xz = x | z, (T, 2E)):
//     xc       = SiLU(causal_conv1d(x))                          (T, E)      conv state (B, K-1, E) carried
//     dt, B, C = split(x_proj(xc))                               (T, R), (T, 2N), (T, 2N)  B, C as (re, im) pairs
//     dt       = dt_proj(dt)                                     (T, E)      bias + softplus fused into the scan
//     A        = −exp(A_log) + i·A_imag                          (E, N) complex
//     h_t      = exp(Δ_t A) h_t−1 + Δ_t B_t u_t,  Δ = softplus(dt + dt_bias)   SSM state (B, E, N, 2) carried
//     y        = (2·Re(Σ_n C_t,n h_t,n) + D·xc) ⊙ SiLU(z)       (T, E)
//   backward (from dy, (T, E)): complex scan → dt_proj → x_proj → conv1d, writing dXz (T, 2E) and adding the
//   parameter gradients (dA_log = dRe A ⊙ Re A, dA_imag = dIm A). States recomputed by the scan kernel.
import _MambaKernels

/// The tensors of the complex mixer (keys `<prefix>conv1d.weight`, `conv1d.bias`, `x_proj.weight` (R+4N, E),
/// `dt_proj.weight`, `dt_proj.bias`, `A_log` (E, N), `A_imag` (E, N), `D`) and Re A = −exp(A_log) in the
/// derived block. x_proj rows: `[dt (R); B (re_0, im_0, …, re_N−1, im_N−1); C (likewise)]`.
public struct ComplexSSM: Sendable {
    /// `conv1d.weight` (E, 1, K), `conv1d.bias` (E)
    public let conv: CausalConv1d
    public let xProj: Int       // (R + 4N, E)
    public let dtProj: Int      // (E, R)
    public let dtProjBias: Int  // (E)
    public let aLog: Int        // (E, N): Re A = −exp(A_log)
    public let aImag: Int       // (E, N): Im A
    public let D: Int           // (E)
    /// Offset of Re A = −exp(A_log) (E, N) in the derived block.
    public let negA: Int
    public let E: Int, N: Int, R: Int, K: Int
    /// conv1d → x_proj → dt_proj and their backward.
    var inputs: SelectiveInputs { SelectiveInputs(conv: conv, xProj: xProj, dtProj: dtProj, aLog: aLog, E: E, N: N, R: R, width: R + 4 * N) }

    /// Registers the mixer's tensors under `prefix` and reserves E·N derived floats at `derived`.
    public init(prefix p: String, config c: MambaConfig, layout: inout ParameterLayout, derived: inout Int) {
        E = c.dInner; N = c.dState; R = c.dtRank; K = c.dConv
        conv = CausalConv1d(prefix: p, channels: E, width: K, bias: c.useConvBias, layout: &layout)
        xProj = layout.add(p + "x_proj.weight", [R + 4 * N, E])
        dtProj = layout.add(p + "dt_proj.weight", [E, R])
        dtProjBias = layout.add(p + "dt_proj.bias", [E])
        aLog = layout.add(p + "A_log", [E, N])
        aImag = layout.add(p + "A_imag", [E, N])
        D = layout.add(p + "D", [E])
        negA = derived; derived += E * N
    }

    /// Recomputes Re A = −exp(A_log) into the derived block.
    func refreshDerived(_ ctx: LayerContext) { mk_neg_exp(ctx.parameters + aLog, ctx.derived + negA, E * N) }

    func scanParams(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                    dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?,
                    h0: UnsafePointer<Float>?, hLast: UnsafeMutablePointer<Float>?, batch: Int, length: Int) -> mk_cscan_params {
        let p = ctx.parameters, ldBC = R + 4 * N
        return mk_cscan_params(u: xc, ld_u: Int32(E), delta: dt, ld_delta: Int32(E),
                               A_re: ctx.derived + negA, A_im: p + aImag,
                               Bm: dbc + R, Cm: dbc + R + 2 * N, ld_bc: Int32(ldBC),
                               D: p + D, delta_bias: p + dtProjBias, delta_softplus: 1, z: xz + E, ld_z: Int32(2 * E),
                               y: y, ld_y: Int32(E), h0: h0, h_last: hLast,
                               Bsz: Int32(batch), L: Int32(length), E: Int32(E), N: Int32(N))
    }

    /// xz (T, 2E) → y (T, E); `convState` (B, K-1, E) and `ssm` (B, E, N, 2) are read as the initial states
    /// and overwritten with the final ones. xc (T, E), dbc (T, R+4N), dt (T, E) are kept for backward.
    func forward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                 dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                 convState: UnsafeMutablePointer<Float>, ssm: UnsafeMutablePointer<Float>, batch B: Int, length L: Int) {
        let T = B * L, E = E, N = N, R = R, ldBC = R + 4 * N
        // conv1d + SiLU → x_proj → dt_proj: xc (T, E), dbc (T, R + 4N), dt (T, E) (bias + softplus in the scan)
        inputs.forward(ctx, xz: xz, xc: xc, dbc: dbc, dt: dt, convState: convState, batch: B, length: L)
        // fused complex scan with D skip and SiLU(z) gate: y (T, E)
        let prm = scanParams(ctx, xz: xz, xc: xc, dbc: dbc, dt: dt, y: y, h0: ssm, hLast: ssm, batch: B, length: L)
        Parallel.forRanges(E, threads: ctx.threads, align: 16, costPerItem: T * N * 12) { r in
            var prm = prm
            mk_cscan_fwd(&prm, Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// Backward of ``forward(_:xz:xc:dbc:dt:y:convState:ssm:batch:length:)``: from dY (T, E) writes dXz
    /// (T, 2E) (conv input and gate) and adds the mixer's parameter gradients. `convIn`/`ssmIn` are the
    /// states the forward started from. Uses the tape's dXc, dDt, dDbc, dA and dB/dC parts as scratch.
    func backward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                  dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                  convIn: UnsafeMutablePointer<Float>, ssmIn: UnsafeMutablePointer<Float>,
                  dY: UnsafeMutablePointer<Float>, dXz: UnsafeMutablePointer<Float>,
                  batch B: Int, length L: Int, tape: TrainingTape) {
        let T = B * L, E = E, N = N, R = R, ldBC = R + 4 * N
        let g = ctx.grads
        let A = UnsafePointer(ctx.derived + negA)
        let nThreads = ctx.threads

        // scan: channels split over threads; dB, dC (shared by all channels) into per-thread buffers;
        // dRe A into the tape's dA (E, N), dIm A straight into the A_imag gradient
        tape.dA.zero()
        let parts = tape.bcParts(threads: nThreads)
        let partSize = T * ldBC
        let fwd = scanParams(ctx, xz: xz, xc: xc, dbc: dbc, dt: dt, y: nil, h0: ssmIn, hLast: nil, batch: B, length: L)
        let dSkip = D, dtBias = dtProjBias, dAImag = aImag
        let used = Parallel.forParts(E, threads: nThreads, align: 16) { part, r in
            let mine = parts.pointer + part * partSize
            mine.update(repeating: 0, count: partSize)
            var scan = mk_cscan_bwd_params(
                fwd: fwd, dy: dY, ld_dy: Int32(E),
                du: tape.dXc.pointer, ld_du: Int32(E), ddelta: tape.dDt.pointer, ld_ddelta: Int32(E), dz: dXz + E, ld_dz: Int32(2 * E),
                dA_re: tape.dA.pointer, dA_im: g + dAImag, dD: g + dSkip, ddelta_bias: g + dtBias,
                dBm: mine + R, dCm: mine + R + 2 * N, ld_dbc: Int32(ldBC), dh0: nil)
            mk_cscan_bwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
        }
        inputs.backward(ctx, xz: xz, xc: xc, dbc: dbc, convIn: convIn, dXz: dXz, parts: parts, used: used,
                        derivedA: A, batch: B, length: L, tape: tape)
    }
}
