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
        // causal depthwise conv1d + SiLU over time: xc (T, E)
        conv.forward(ctx, x: xz, ldX: 2 * E, out: xc, state: convState, batch: B, length: L)
        // x_proj: dbc (T, R+2N); dt_proj: dt (T, E) (bias + softplus happen in the scan)
        ctx.linear(xc, ldIn: E, rows: T, weight: xProj, outFeatures: ldBC, inFeatures: E, bias: nil, out: dbc, ldOut: ldBC)
        ctx.linear(dbc, ldIn: ldBC, rows: T, weight: dtProj, outFeatures: E, inFeatures: R, bias: nil, out: dt, ldOut: E)
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
        // dA_log = dA ⊙ A  (A = −exp(A_log))
        let dALog = g + aLog
        for i in 0..<(E * N) { dALog[i] += tape.dA.pointer[i] * A[i] }
        // dDbc = Σ parts (the dt columns are zero there), then the dt_proj part
        let dDbc = tape.dDbc.pointer
        dDbc.update(from: parts.pointer, count: partSize)
        for part in 1..<max(used, 1) { mk_add_inplace(dDbc, parts.pointer + part * partSize, partSize) }

        // dt_proj: dDbc[:, :R] (T, R) = dDt (T, E) · W_dt (E, R);  dW_dt (E, R) += dDtᵀ · dbc[:, :R]
        ctx.linearBackward(dbc, ldIn: ldBC, rows: T, weight: dtProj, outFeatures: E, inFeatures: R,
                           dOut: tape.dDt.pointer, ldDOut: E, dIn: dDbc, ldDIn: ldBC)
        // x_proj: dXc (T, E) += dDbc (T, R+2N) · W_x (R+2N, E);  dW_x (R+2N, E) += dDbcᵀ · xc
        ctx.linearBackward(xc, ldIn: E, rows: T, weight: xProj, outFeatures: ldBC, inFeatures: E,
                           dOut: dDbc, ldDOut: ldBC, dIn: tape.dXc.pointer, ldDIn: E, accumulate: true)

        // conv1d + SiLU: dXz[:, :E]; d conv weight (E, 1, K), d conv bias
        conv.backward(ctx, x: xz, ldX: 2 * E, stateIn: convIn, dOut: tape.dXc.pointer, dX: dXz, ldDX: 2 * E,
                      batch: B, length: L)
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
