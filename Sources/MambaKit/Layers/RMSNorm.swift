// RMSNorm.swift — root-mean-square normalisation with a fused residual add.
//
//   forward:  x += add (when given);  out = x / sqrt(mean(x²) + eps) ⊙ w     x, add, out (T, D), w (D)
//   backward: dX += RMSNorm'(x) · dOut;  dw += Σ_t dOut ⊙ x̂
// x after the add is the residual stream, so the caller keeps it for the backward pass.
import _MambaKernels

/// RMSNorm over the last dimension D, key `<name>` (D).
public struct RMSNorm: Sendable {
    public let weight: Int
    public let dim: Int
    public let eps: Float

    public init(_ name: String, dim D: Int, eps: Float, layout: inout ParameterLayout) {
        weight = layout.add(name, [D]); dim = D; self.eps = eps
    }

    /// x (T, D) += add; out (T, D) = RMSNorm(x). Threaded by rows.
    public func forward(_ x: UnsafeMutablePointer<Float>, add: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                        rows T: Int, _ ctx: LayerContext) {
        let D = dim, eps = eps, w = ctx.parameters + weight
        Parallel.forRanges(T, threads: ctx.threads, costPerItem: D, minWork: 1 << 17) { r in
            let o = r.lowerBound * D
            mk_rmsnorm_fwd(x + o, add.map { $0 + o }, w, out + o, Int32(r.count), Int32(D), eps)
        }
    }

    /// dX (T, D) += RMSNorm'(x) · dOut, with x the normalised input (after the residual add); adds dw.
    public func backward(_ x: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
                         rows T: Int, _ ctx: LayerContext) {
        mk_rmsnorm_bwd(x, ctx.parameters + weight, dOut, dX, ctx.grads + weight, Int32(T), Int32(dim), eps)
    }
}
