// BlockStack.swift — residual Mamba blocks at one width: one stage of a ``UNet``. Forward and backward
// side by side.
//
//   forward   s_0 = x;  s_{l+1} = s_l + block_l(s_l)   (block_l: RMSNorm → in_proj → mixer → out_proj)
//             out = s_n                                                   x, out (T, D), T = B·L
//   backward  dOut (T, D) → dX (T, D); the blocks' parameter gradients are added.
//
// The same pre-norm residual stream as the flat ``Backbone`` (the residual add fused into the next norm),
// without the embedding and the final norm: a stage's output feeds a pooling layer or a skip connection.

/// Keys `<prefix>layers.i.*` (the blocks of ``MambaBlock``), i < count.
struct BlockStack: Sendable {
    /// The stage's dimensions; `nLayer` = blocks.count.
    let config: MambaConfig
    let blocks: [MambaBlock]

    init(prefix: String, config c: MambaConfig, layout: inout ParameterLayout, derived: inout Int) {
        config = c
        blocks = (0..<c.nLayer).map { i in
            MambaBlock(prefix: prefix + "layers.\(i).", config: c, bidirectional: false, layout: &layout, derived: &derived)
        }
    }

    /// A fresh state for the stage's blocks.
    func makeState(batch B: Int) -> MambaState { MambaState(config: config, batch: B) }

    /// out (T, D) = the stream after the blocks, from x (T, D); `state` is read and advanced. With a tape
    /// (made for ``config``) the activations backward needs are kept.
    func forward(_ ctx: LayerContext, x: UnsafePointer<Float>, out y: UnsafeMutablePointer<Float>, batch B: Int,
                 length L: Int, state: MambaState, tape: TrainingTape?, workspace ws: inout ForwardWorkspace) {
        let T = B * L, D = config.dModel
        ws.ensure(rows: T, config: config)
        let resid = ws.resid.pointer, out = ws.out.pointer
        resid.update(from: x, count: T * D)
        let reversal = SequenceReversal(batch: B, length: L, lengths: [Int](repeating: L, count: B))
        tape?.prepare(batch: B, length: L)
        tape?.lengths = reversal.lengths
        for (l, block) in blocks.enumerated() {
            let buf = tape?.layer(l) ?? LayerBuffers(workspace: ws)
            block.forward(ctx, resid: resid, add: l == 0 ? nil : UnsafePointer(out), out: out, buffers: buf,
                          convState: state.convState(layer: l), ssm: state.ssmState(layer: l),
                          taped: tape.map { ($0.convStateIn(l), $0.ssmStateIn(l)) },
                          reversal: reversal, workspace: &ws)
        }
        if blocks.isEmpty { y.update(from: x, count: T * D); return }
        for i in 0..<(T * D) { y[i] = resid[i] + out[i] }
    }

    /// dX (T, D) from dOut (T, D) (may alias dX), the gradient w.r.t. the stage's output, for the last
    /// taped forward.
    func backward(_ ctx: LayerContext, dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, tape: TrainingTape,
                  workspace ws: inout ForwardWorkspace) {
        let T = tape.rows, D = config.dModel
        let dStream = tape.dResid.pointer
        dStream.update(from: dOut, count: T * D)
        let reversal = SequenceReversal(batch: tape.batch, length: tape.length, lengths: tape.lengths)
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            blocks[l].backward(ctx, buffers: tape.layer(l), convIn: tape.convStateIn(l), ssmIn: tape.ssmStateIn(l),
                               reversal: reversal, tape: tape, workspace: &ws)
        }
        dX.update(from: dStream, count: T * D)
    }
}
