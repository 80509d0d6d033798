// LMHead.swift — hidden states → next-token logits, and the fused cross-entropy backward.
//
//   forward:  logits = hidden · Wᵀ                       hidden (T, D), W (V, D), logits (T, V)
//   loss+backward, in blocks of rows (the (T, V) logits are never held whole):
//     loss    = Σ_t −log softmax(logits_t)[target_t]    (targets < 0 count nothing)
//     dLogits = scale · (softmax − onehot)
//     dHidden = dLogits · W;  dW += dLogitsᵀ · hidden
// Tied to the embedding (W = the embedding table) or untied (`lm_head.weight`).
import _MambaKernels

/// The language-model head: tied (the embedding's offset) or its own `lm_head.weight` (V, D).
public struct LMHead: Sendable {
    /// Offset of the (V, D) weight: the embedding table's when tied.
    public let weight: Int
    public let tied: Bool
    public let vocabSize: Int, dim: Int

    /// Tied to `embedding`, or registers `lm_head.weight` (V, D).
    public init(tiedTo embedding: Embedding?, vocabSize V: Int, dim D: Int, layout: inout ParameterLayout) {
        if let e = embedding { weight = e.weight; tied = true } else { weight = layout.add("lm_head.weight", [V, D]); tied = false }
        vocabSize = V; dim = D
    }

    /// logits (rows, V) = hidden (rows, D) · Wᵀ.
    public func forward(_ hidden: UnsafePointer<Float>, rows: Int, logits: UnsafeMutablePointer<Float>, _ ctx: LayerContext) {
        ctx.linear(hidden, ldIn: dim, rows: rows, weight: weight, outFeatures: vocabSize, inFeatures: dim, bias: nil,
                   out: logits, ldOut: vocabSize)
    }

    /// Summed cross-entropy of hidden (T, D) against `targets` (T) and its backward: writes
    /// dHidden (T, D), adds dW, both scaled by `scale`. `scratch` holds `blockRows` rows of logits.
    func lossAndBackward(_ hidden: UnsafePointer<Float>, targets: UnsafeBufferPointer<Int32>, scale: Float,
                         dHidden: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, blockRows: Int,
                         _ ctx: LayerContext) -> Double {
        let T = targets.count, D = dim, V = vocabSize
        let W = ctx.parameters + weight, dW = ctx.grads + weight
        var lossSum = 0.0
        var r0 = 0
        while r0 < T {
            let rows = min(blockRows, T - r0)
            let hid = hidden + r0 * D
            mk_sgemm(0, 1, Int32(rows), Int32(V), Int32(D), 1, hid, Int32(D), W, Int32(D), 0, scratch, Int32(V))
            lossSum += mk_xent_fwd_bwd(scratch, Int32(rows), Int32(V), Int32(V), targets.baseAddress! + r0, scale)
            // dHidden = dLogits · W (rows, D);  dW += dLogitsᵀ · hidden (V, D)
            mk_sgemm(0, 0, Int32(rows), Int32(D), Int32(V), 1, scratch, Int32(V), W, Int32(D), 0,
                     dHidden + r0 * D, Int32(D))
            mk_sgemm(1, 0, Int32(V), Int32(D), Int32(rows), 1, scratch, Int32(V), hid, Int32(D), 1, dW, Int32(D))
            r0 += rows
        }
        return lossSum
    }
}
