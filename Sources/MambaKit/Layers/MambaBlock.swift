// MambaBlock.swift — one residual block of a Mamba-1 backbone (transformers' MambaBlock / mamba_ssm's
// Block, residual kept in float32). Forward and backward side by side.
//
//   forward:
//     residual = hidden + residual                                   (T, D)  fused into the norm
//     x, z     = split(in_proj(RMSNorm(residual)))                   (T, E) each
//     y        = SelectiveSSM(x, z)  [+ reverse direction, bidirectional]   (T, E)
//                or LTISSM(x, z) (config `ssm_mixer: "lti"`, the time-invariant ablation)
//                or ComplexSSM(x, z) (config `ssm_mixer: "complex"`, complex A, B, C and state)
//                or, Mamba-2 (`model_type: "mamba2"`), SSDMixer(z | xBC | Δ): in_proj is (2E + 2GN + H, D)
//     hidden   = out_proj(y)                                         (T, D)
//   backward (dResid = dLoss/d(stream after the block), in place → dLoss/d(stream before it)):
//     out_proj   dY = dOut·W_out,  dW_out += dOutᵀ·y
//     mixer      dXz (T, 2E)       (SelectiveSSM.backward, + ReverseDirection.backward)
//     in_proj    dNormed = dXz·W_in,  dW_in += dXzᵀ·normed
//     RMSNorm    dResid += RMSNorm'(residIn)·dNormed,  d norm weight
import _MambaKernels

/// A residual Mamba block, keys `<prefix>norm.weight`, `<prefix>mixer.{in_proj,conv1d,x_proj,dt_proj,
/// A_log,D,out_proj}` and, when bidirectional, `<prefix>mixer_rev.{conv1d,x_proj,dt_proj,A_log,D}`;
/// with the LTI mixer `<prefix>mixer.{in_proj,conv1d,log_dt,A_log,B,C,D,out_proj}`; with the complex mixer
/// the selective keys plus `<prefix>mixer.A_imag` (and x_proj (R+4N, E)); Mamba-2 (``SSDMixer``)
/// `<prefix>mixer.{in_proj,conv1d,dt_bias,A_log,D,norm,out_proj}`.
public struct MambaBlock: Sendable {
    public let norm: RMSNorm
    public let inProj: Int      // (2E, D); Mamba-2 (2E + 2GN + H, D)
    public let inProjBias: Int? // (2E)
    /// in_proj's outputs: 2E, or Mamba-2's 2E + 2GN + H.
    public let inWidth: Int
    /// The forward direction's conv/SSM tensors (the selective mixer) …
    public let mixer: SelectiveSSM?
    /// … or the time-invariant mixer's (`ssm_mixer: "lti"`).
    public let lti: LTISSM?
    /// … or the complex-valued selective mixer's (`ssm_mixer: "complex"`).
    public let complex: ComplexSSM?
    /// … or Mamba-2's SSD mixer (`model_type: "mamba2"`).
    public let ssd: SSDMixer?
    /// The forward direction's conv1d, whichever the mixer.
    public var conv: CausalConv1d { mixer?.conv ?? lti?.conv ?? complex?.conv ?? ssd!.conv }
    /// Channels of the conv state per sequence: E, or Mamba-2's E + 2GN.
    var convChannels: Int { conv.E }
    public let outProj: Int     // (D, E)
    public let outProjBias: Int? // (D)
    /// The reverse direction (bidirectional blocks), nil otherwise.
    public let reverse: ReverseDirection?
    public let D: Int, E: Int, N: Int, K: Int
    /// Floats of SSM state per channel (N, or 2N for the complex mixer).
    public let stateWidth: Int

    /// Registers the block's tensors under `prefix` (e.g. `backbone.layers.3.`).
    public init(prefix p: String, config c: MambaConfig, bidirectional: Bool, layout: inout ParameterLayout,
                derived: inout Int) {
        D = c.dModel; E = c.dInner; N = c.dState; K = c.dConv; stateWidth = c.ssmStateWidth
        norm = RMSNorm(p + "norm.weight", dim: D, eps: c.layerNormEpsilon, layout: &layout)
        inWidth = c.inProjWidth
        inProj = layout.add(p + "mixer.in_proj.weight", [inWidth, D])
        inProjBias = c.useBias ? layout.add(p + "mixer.in_proj.bias", [inWidth]) : nil
        var selective: SelectiveSSM?, lti: LTISSM?, complex: ComplexSSM?, ssd: SSDMixer?
        switch c.ssmMixer {
        case .selective: selective = SelectiveSSM(prefix: p + "mixer.", config: c, layout: &layout, derived: &derived)
        case .lti: lti = LTISSM(prefix: p + "mixer.", config: c, layout: &layout, derived: &derived)
        case .complex: complex = ComplexSSM(prefix: p + "mixer.", config: c, layout: &layout, derived: &derived)
        case .ssd: ssd = SSDMixer(prefix: p + "mixer.", config: c, layout: &layout, derived: &derived)
        }
        self.mixer = selective; self.lti = lti; self.complex = complex; self.ssd = ssd
        outProj = layout.add(p + "mixer.out_proj.weight", [D, E])
        outProjBias = c.useBias ? layout.add(p + "mixer.out_proj.bias", [D]) : nil
        precondition(!(bidirectional && c.ssmMixer != .selective), "only the selective mixer has a reverse direction")
        reverse = bidirectional
            ? ReverseDirection(ssm: SelectiveSSM(prefix: p + "mixer_rev.", config: c, layout: &layout, derived: &derived))
            : nil
    }

    func refreshDerived(_ ctx: LayerContext) {
        mixer?.refreshDerived(ctx)
        lti?.refreshDerived(ctx)
        complex?.refreshDerived(ctx)
        ssd?.refreshDerived(ctx)
        reverse?.ssm.refreshDerived(ctx)
    }

    /// resid (T, D) += add (the previous block's output, nil for the first block); out (T, D) = the
    /// block's output (added to the stream by the next norm). `convState`/`ssm` are this block's
    /// recurrent states, read and overwritten. With a tape, the activations backward needs are kept
    /// in `buf` and the states the pass started from in `convIn`/`ssmIn`.
    func forward(_ ctx: LayerContext, resid: UnsafeMutablePointer<Float>, add: UnsafePointer<Float>?,
                 out: UnsafeMutablePointer<Float>, buffers buf: LayerBuffers,
                 convState: UnsafeMutablePointer<Float>, ssm: UnsafeMutablePointer<Float>,
                 taped: (convIn: UnsafeMutablePointer<Float>, ssmIn: UnsafeMutablePointer<Float>)?,
                 reversal: SequenceReversal, workspace ws: inout ForwardWorkspace) {
        let B = reversal.batch, L = reversal.length, T = B * L
        // residual += previous output (fused), normed = RMSNorm(residual)
        norm.forward(resid, add: add, out: buf.normed, rows: T, ctx)
        if let taped {   // what backward needs that the forward overwrites
            buf.residIn.update(from: resid, count: T * D)
            taped.convIn.update(from: convState, count: B * (K - 1) * convChannels)
            taped.ssmIn.update(from: ssm, count: B * E * stateWidth)
        }
        // in_proj: xz (T, 2E) (Mamba-2: (T, 2E + 2GN + H))
        ctx.linear(buf.normed, ldIn: D, rows: T, weight: inProj, outFeatures: inWidth, inFeatures: D,
                   bias: inProjBias, out: buf.xz, ldOut: inWidth)
        // conv1d → x_proj → dt_proj → scan, forward in time; states carried
        // (LTI: conv1d → long convolution or recurrence; the output before the gate is kept in `dt`)
        if let mixer {
            mixer.forward(ctx, xz: buf.xz, xc: buf.xc, dbc: buf.dbc, dt: buf.dt, y: buf.y,
                          convState: convState, ssm: ssm, batch: B, length: L)
        } else if let lti {
            lti.forward(ctx, xz: buf.xz, xc: buf.xc, s: buf.dt, y: buf.y, convState: convState, ssm: ssm, batch: B, length: L)
        } else if let complex {
            complex.forward(ctx, xz: buf.xz, xc: buf.xc, dbc: buf.dbc, dt: buf.dt, y: buf.y,
                            convState: convState, ssm: ssm, batch: B, length: L)
        } else if let ssd {   // the SSD output before the gated norm is kept in `dbc`, Δ in `dt`
            ssd.forward(ctx, xz: buf.xz, xc: buf.xc, ySSD: buf.dbc, dt: buf.dt, y: buf.y,
                        convState: convState, ssm: ssm, batch: B, length: L, workspace: &ws)
        }
        if let reverse, let xcRev = buf.xcRev, let dbcRev = buf.dbcRev, let dtRev = buf.dtRev {
            reverse.forward(ctx, xz: buf.xz, xcRev: xcRev, dbcRev: dbcRev, dtRev: dtRev, y: buf.y,
                            reversal: reversal, workspace: &ws)
        }
        // out_proj: out (T, D)
        ctx.linear(buf.y, ldIn: E, rows: T, weight: outProj, outFeatures: D, inFeatures: E,
                   bias: outProjBias, out: out, ldOut: D)
    }

    /// Backward: reads dResid (T, D) (gradient w.r.t. the stream after this block), adds the block's
    /// parameter gradients, and leaves the gradient w.r.t. the stream before it in dResid.
    func backward(_ ctx: LayerContext, buffers buf: LayerBuffers, convIn: UnsafeMutablePointer<Float>,
                  ssmIn: UnsafeMutablePointer<Float>, reversal: SequenceReversal, tape: TrainingTape,
                  workspace ws: inout ForwardWorkspace) {
        let B = reversal.batch, L = reversal.length, T = B * L
        let g = ctx.grads
        let dOut = tape.dResid.pointer

        // out_proj: dY (T, E) = dOut (T, D) · W_out (D, E);  dW_out (D, E) += dOutᵀ · y
        ctx.linearBackward(buf.y, ldIn: E, rows: T, weight: outProj, outFeatures: D, inFeatures: E,
                           dOut: dOut, ldDOut: D, dIn: tape.dY.pointer, ldDIn: E)
        if let b = outProjBias { mk_colsum_add(dOut, Int32(T), Int32(D), Int32(D), g + b) }

        // scan → dt_proj → x_proj → conv, forward direction: dXz (T, 2E)
        if let mixer {
            mixer.backward(ctx, xz: buf.xz, xc: buf.xc, dbc: buf.dbc, dt: buf.dt, convIn: convIn, ssmIn: ssmIn,
                           dY: tape.dY.pointer, dXz: tape.dXz.pointer, batch: B, length: L, tape: tape)
        } else if let lti {
            lti.backward(ctx, xz: buf.xz, xc: buf.xc, s: buf.dt, convIn: convIn, ssmIn: ssmIn,
                         dY: tape.dY.pointer, dXz: tape.dXz.pointer, batch: B, length: L, tape: tape)
        } else if let complex {
            complex.backward(ctx, xz: buf.xz, xc: buf.xc, dbc: buf.dbc, dt: buf.dt, convIn: convIn, ssmIn: ssmIn,
                             dY: tape.dY.pointer, dXz: tape.dXz.pointer, batch: B, length: L, tape: tape)
        } else if let ssd {
            ssd.backward(ctx, xz: buf.xz, xc: buf.xc, ySSD: buf.dbc, dt: buf.dt, convIn: convIn, ssmIn: ssmIn,
                         dY: tape.dY.pointer, dXz: tape.dXz.pointer, batch: B, length: L, tape: tape)
        }
        if let reverse, let xcRev = buf.xcRev, let dbcRev = buf.dbcRev, let dtRev = buf.dtRev {
            reverse.backward(ctx, xz: buf.xz, xcRev: xcRev, dbcRev: dbcRev, dtRev: dtRev, dXz: tape.dXz.pointer,
                             reversal: reversal, tape: tape, workspace: &ws)
        }

        // in_proj: dNormed (T, D) = dXz (T, 2E) · W_in (2E, D);  dW_in (2E, D) += dXzᵀ · normed
        ctx.linearBackward(buf.normed, ldIn: D, rows: T, weight: inProj, outFeatures: inWidth, inFeatures: D,
                           dOut: tape.dXz.pointer, ldDOut: inWidth, dIn: tape.dNormed.pointer, ldDIn: D)
        if let b = inProjBias { mk_colsum_add(tape.dXz.pointer, Int32(T), Int32(inWidth), Int32(inWidth), g + b) }

        // RMSNorm: dResid += RMSNorm'(residIn) · dNormed  (the residual path passes dResid through unchanged)
        norm.backward(buf.residIn, dOut: tape.dNormed.pointer, dX: dOut, rows: T, ctx)
    }
}
