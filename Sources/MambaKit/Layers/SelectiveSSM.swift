// SelectiveSSM.swift — one scan direction of the Mamba-1 (S6) mixer: everything between the shared
// in_proj and out_proj. Forward and backward side by side.
//
//   forward (from the in_proj output xz = x | z, (T, 2E)):
//     xc       = SiLU(causal_conv1d(x))                         (T, E)     conv state (B, K-1, E) carried
//     dt, B, C = split(x_proj(xc))                              (T, R), (T, N), (T, N)
//     dt       = dt_proj(dt)                                    (T, E)     bias + softplus fused into the scan
//     y        = selective_scan(xc, softplus(dt + dt_bias), A, B, C, D) ⊙ SiLU(z)   (T, E)
//                                                                          SSM state (B, E, N) carried
//   backward (from dy, (T, E)): scan → dt_proj → x_proj → conv1d, writing dXz (T, 2E) and adding the
//   direction's parameter gradients. The (B, L, E, N) states are recomputed by the scan kernel.
import _MambaKernels

/// The tensors of one scan direction (keys `<prefix>conv1d.weight`, `conv1d.bias`, `x_proj.weight`,
/// `dt_proj.weight`, `dt_proj.bias`, `A_log`, `D`) and its A = −exp(A_log) in the derived block.
public struct SelectiveSSM: Sendable {
    /// `conv1d.weight` (E, 1, K), `conv1d.bias` (E)
    public let conv: CausalConv1d
    public let xProj: Int       // (R + 2N, E)
    public let dtProj: Int      // (E, R)
    public let dtProjBias: Int  // (E)
    public let aLog: Int        // (E, N)
    public let D: Int           // (E)
    /// Offset of A = −exp(A_log) (E, N) in the derived block.
    public let negA: Int
    public let E: Int, N: Int, R: Int, K: Int
    /// conv1d → x_proj → dt_proj and their backward.
    var inputs: SelectiveInputs { SelectiveInputs(conv: conv, xProj: xProj, dtProj: dtProj, aLog: aLog, E: E, N: N, R: R, width: R + 2 * N) }

    /// Registers the direction's tensors under `prefix` and reserves E·N derived floats at `derived`.
    public init(prefix p: String, config c: MambaConfig, layout: inout ParameterLayout, derived: inout Int) {
        E = c.dInner; N = c.dState; R = c.dtRank; K = c.dConv
        conv = CausalConv1d(prefix: p, channels: E, width: K, bias: c.useConvBias, layout: &layout)
        xProj = layout.add(p + "x_proj.weight", [R + 2 * N, E])
        dtProj = layout.add(p + "dt_proj.weight", [E, R])
        dtProjBias = layout.add(p + "dt_proj.bias", [E])
        aLog = layout.add(p + "A_log", [E, N])
        D = layout.add(p + "D", [E])
        negA = derived; derived += E * N
    }

    /// Recomputes A = −exp(A_log) into the derived block.
    func refreshDerived(_ ctx: LayerContext) { mk_neg_exp(ctx.parameters + aLog, ctx.derived + negA, E * N) }

    /// xz (T, 2E) → y (T, E); `convState` (B, K-1, E) and `ssm` (B, E, N) are read as the initial
    /// states and overwritten with the final ones. xc (T, E), dbc (T, R+2N), dt (T, E) are kept for backward.
    func forward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                 dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                 convState: UnsafeMutablePointer<Float>, ssm: UnsafeMutablePointer<Float>, batch B: Int, length L: Int) {
        let T = B * L, E = E, N = N, R = R, ldBC = R + 2 * N
        let p = ctx.parameters
        let A = UnsafePointer(ctx.derived + negA)
        // conv1d + SiLU → x_proj → dt_proj: xc (T, E), dbc (T, R + 2N), dt (T, E) (bias + softplus in the scan)
        inputs.forward(ctx, xz: xz, xc: xc, dbc: dbc, dt: dt, convState: convState, batch: B, length: L)
        // fused selective scan with D skip and SiLU(z) gate: y (T, E)
        let dSkip = p + D, dtBias = p + dtProjBias
        Parallel.forRanges(E, threads: ctx.threads, align: 16, costPerItem: T * N * 4) { r in
            var scan = mk_scan_params(u: xc, ld_u: Int32(E), delta: dt, ld_delta: Int32(E), A: A,
                                      Bm: dbc + R, Cm: dbc + R + N, ld_bc: Int32(ldBC),
                                      D: dSkip, delta_bias: dtBias, delta_softplus: 1, z: xz + E, ld_z: Int32(2 * E),
                                      y: y, ld_y: Int32(E), h0: ssm, h_last: ssm,
                                      Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N))
            mk_scan_fwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// Backward of ``forward(_:xz:xc:dbc:dt:y:convState:ssm:batch:length:)``: from dY (T, E) writes dXz
    /// (T, 2E) (conv input and gate) and adds the direction's parameter gradients. `convIn`/`ssmIn` are
    /// the states the forward started from. Uses the tape's dXc, dDt, dDbc, dA and dB/dC parts as scratch.
    func backward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                  dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                  convIn: UnsafeMutablePointer<Float>, ssmIn: UnsafeMutablePointer<Float>,
                  dY: UnsafeMutablePointer<Float>, dXz: UnsafeMutablePointer<Float>,
                  batch B: Int, length L: Int, tape: TrainingTape) {
        let T = B * L, E = E, N = N, R = R, ldBC = R + 2 * N
        let p = ctx.parameters, g = ctx.grads
        let A = UnsafePointer(ctx.derived + negA)
        let nThreads = ctx.threads

        // scan: channels split over threads; dB, dC (shared by all channels) into per-thread buffers
        tape.dA.zero()
        let parts = tape.bcParts(threads: nThreads)
        let partSize = T * ldBC
        let dSkip = D, dtBias = dtProjBias
        let used = Parallel.forParts(E, threads: nThreads, align: 16) { part, r in
            let mine = parts.pointer + part * partSize
            mine.update(repeating: 0, count: partSize)
            var scan = mk_scan_bwd_params(
                fwd: mk_scan_params(u: xc, ld_u: Int32(E), delta: dt, ld_delta: Int32(E), A: A,
                                    Bm: dbc + R, Cm: dbc + R + N, ld_bc: Int32(ldBC),
                                    D: p + dSkip, delta_bias: p + dtBias, delta_softplus: 1, z: xz + E, ld_z: Int32(2 * E),
                                    y: nil, ld_y: 0, h0: ssmIn, h_last: nil,
                                    Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N)),
                dy: dY, ld_dy: Int32(E),
                du: tape.dXc.pointer, ld_du: Int32(E), ddelta: tape.dDt.pointer, ld_ddelta: Int32(E), dz: dXz + E, ld_dz: Int32(2 * E),
                dA: tape.dA.pointer, dD: g + dSkip, ddelta_bias: g + dtBias, dBm: mine + R, dCm: mine + R + N,
                ld_dbc: Int32(ldBC), dh0: nil)
            mk_scan_bwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
        }
        inputs.backward(ctx, xz: xz, xc: xc, dbc: dbc, convIn: convIn, dXz: dXz, parts: parts, used: used,
                        derivedA: A, batch: B, length: L, tape: tape)
    }

    /// Copies another direction's values into this one's (a reverse mixer starting as the forward one).
    func copyValues(from o: SelectiveSSM, _ p: UnsafeMutablePointer<Float>) {
        conv.copyValues(from: o.conv, p)
        (p + xProj).update(from: p + o.xProj, count: (R + 2 * N) * E)
        (p + dtProj).update(from: p + o.dtProj, count: E * R)
        (p + dtProjBias).update(from: p + o.dtProjBias, count: E)
        (p + aLog).update(from: p + o.aLog, count: E * N)
        (p + D).update(from: p + o.D, count: E)
    }
}
