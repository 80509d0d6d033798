// Embedding.swift — token ids → vectors: the first layer of a token model.
//
//   forward:  out[t, :] = W[ids[t], :]          ids (T), W (V, D), out (T, D)
//   backward: dW[ids[t], :] += dOut[t, :]
import _MambaKernels

/// A token embedding table (V, D), checkpoint key `backbone.embeddings.weight` in a Mamba LM.
public struct Embedding: Sendable {
    /// Offset of the (V, D) table.
    public let weight: Int
    public let vocabSize: Int, dim: Int

    /// Registers the (V, D) table as `name`.
    public init(_ name: String, vocabSize V: Int, dim D: Int, layout: inout ParameterLayout) {
        weight = layout.add(name, [V, D]); vocabSize = V; dim = D
    }

    /// out (T, D) = rows of the table; ids must be in 0..<V (checked by the caller).
    public func forward(_ ids: UnsafeBufferPointer<Int32>, out: UnsafeMutablePointer<Float>, _ ctx: LayerContext) {
        let D = dim, W = ctx.parameters + weight
        if let m = ctx.weights?.matrices[weight] {   // a 16- or 8-bit table: each row widened
            for t in 0..<ids.count { let i = Int(ids[t]); m.dequantise(rows: i..<(i + 1), into: out + t * D) }
            return
        }
        for t in 0..<ids.count { (out + t * D).update(from: W + Int(ids[t]) * D, count: D) }
    }

    /// dW[ids[t]] += dOut[t] for every row t.
    public func backward(_ ids: UnsafeBufferPointer<Int32>, dOut: UnsafePointer<Float>, _ ctx: LayerContext) {
        let D = dim, dW = ctx.grads + weight
        for t in 0..<ids.count {
            let row = dW + Int(ids[t]) * D, d = dOut + t * D
            for i in 0..<D { row[i] += d[i] }
        }
    }
}
