// InputProjection.swift — continuous features → vectors: the first layer of a model whose input is
// not token ids (log-mel frames, embeddings from another model, sensor channels).
//
//   forward:  out = x · Wᵀ + b                     x (T, F), W (D, F), b (D), out (T, D)
//   backward: dW += dOutᵀ · x;  db += Σ_t dOut[t];  dX = dOut · W (when asked for)
import _MambaKernels

/// A linear projection of F input features to the model width D, keys `<name>.weight` (D, F) and
/// `<name>.bias` (D).
public struct InputProjection: Sendable {
    public let weight: Int, bias: Int
    public let features: Int, dim: Int

    /// Registers `<name>.weight` (D, F) and `<name>.bias` (D).
    public init(_ name: String, features F: Int, dim D: Int, layout: inout ParameterLayout) {
        weight = layout.add(name + ".weight", [D, F]); bias = layout.add(name + ".bias", [D])
        features = F; dim = D
    }

    /// out (T, D) = x (T, F) · Wᵀ + b.
    public func forward(_ x: UnsafePointer<Float>, rows T: Int, out: UnsafeMutablePointer<Float>, _ ctx: LayerContext) {
        ctx.linear(x, ldIn: features, rows: T, weight: weight, outFeatures: dim, inFeatures: features, bias: bias,
                   out: out, ldOut: dim)
    }

    /// Adds dW and db; writes dX (T, F) when given.
    public func backward(_ x: UnsafePointer<Float>, rows T: Int, dOut: UnsafePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?, _ ctx: LayerContext) {
        ctx.linearBackward(x, ldIn: features, rows: T, weight: weight, outFeatures: dim, inFeatures: features,
                           dOut: dOut, ldDOut: dim, dIn: dX, ldDIn: features)
        mk_colsum_add(dOut, Int32(T), Int32(dim), Int32(dim), ctx.grads + bias)
    }
}
