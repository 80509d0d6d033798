// UpPool.swift — SaShiMi's causal up-pooling: one frame of width D' becomes p steps of width D (a linear
// map, then a reshape), shifted by one frame so that no step sees its own frame. Forward and backward
// side by side.
//
//   forward   g_k = W · u_k + b                  u (B, F, D'), W (p·D, D'), b (p·D), g (B, F, p·D)
//             out_t = g_{⌊t/p⌋−1}[(t mod p)·D ..< +D]   (zero for the first frame: SaShiMi's shift)
//   backward  dG_k = (dOut_t for the p steps of frame k+1);  dW += dGᵀ · u;  db += Σ dG_k;  dU = dG · W
//
// u_k is computed from steps up to the end of frame k; it feeds the steps of frame k+1 only, so every
// output step t depends on inputs before t's own frame begins — causal whatever the inner levels do.
// The projection of the last complete frame waits in the state (``UNetState``) for the steps that follow.
import _MambaKernels

/// Keys `<name>.weight` (p·D, D') and `<name>.bias` (p·D).
public struct UpPool: Sendable {
    public let weight: Int, bias: Int
    /// p, D' (in), D (out).
    public let factor: Int, inDim: Int, outDim: Int

    init(_ name: String, factor p: Int, inDim Dn: Int, outDim D: Int, layout: inout ParameterLayout) {
        weight = layout.add(name + ".weight", [p * D, Dn]); bias = layout.add(name + ".bias", [p * D])
        factor = p; inDim = Dn; outDim = D
    }

    /// g (rows, p·D) = u (rows, D') · Wᵀ + b.
    func forward(_ ctx: LayerContext, _ u: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        ctx.linear(u, ldIn: inDim, rows: rows, weight: weight, outFeatures: factor * outDim, inFeatures: inDim,
                   bias: bias, out: out, ldOut: factor * outDim)
    }

    /// out (B, L, D) = the shifted steps + skip (B, L, D), for a chunk that starts r steps into a frame and
    /// completes F frames whose projections are g (B·F, p·D). `last` (B, p·D) holds the projection of the
    /// frame before the chunk's first (zeros at the start) and is replaced by g's last frame when F > 0.
    func scatter(_ g: UnsafePointer<Float>, frames F: Int, last: UnsafeMutablePointer<Float>, pending r: Int,
                 batch B: Int, length L: Int, skip: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let p = factor, D = outDim
        for b in 0..<B {
            let gb = g + b * F * p * D, lb = last + b * p * D
            for i in 0..<L {
                let j = r + i, k = j / p, o = j % p           // step i is step o of the chunk's k-th frame
                let src: UnsafePointer<Float> = k == 0 ? UnsafePointer(lb + o * D) : gb + ((k - 1) * p + o) * D
                let s = skip + (b * L + i) * D, d = out + (b * L + i) * D
                for h in 0..<D { d[h] = src[h] + s[h] }
            }
            if F > 0 { lb.update(from: gb + (F - 1) * p * D, count: p * D) }
        }
    }

    /// dG (B·F, p·D) from dOut (B, L, D): frame k's projection fed the p steps of frame k+1 — those of them
    /// inside this chunk (the last frame's also feeds the next chunk, where it is a constant: truncated
    /// backprop, as for the carried SSM state).
    func gatherGradient(_ dOut: UnsafePointer<Float>, frames F: Int, pending r: Int, batch B: Int, length L: Int,
                        into dG: UnsafeMutablePointer<Float>) {
        let p = factor, D = outDim
        dG.update(repeating: 0, count: B * F * p * D)
        for b in 0..<B {
            for k in 0..<F {
                for o in 0..<p {
                    let i = (k + 1) * p + o - r
                    guard i < L else { continue }
                    (dG + ((b * F + k) * p + o) * D).update(from: dOut + (b * L + i) * D, count: D)
                }
            }
        }
    }

    /// Adds dW, db; writes dU (rows, D') = dG · W.
    func backward(_ ctx: LayerContext, _ u: UnsafePointer<Float>, rows: Int, dOut dG: UnsafePointer<Float>,
                  dIn: UnsafeMutablePointer<Float>) {
        ctx.linearBackward(u, ldIn: inDim, rows: rows, weight: weight, outFeatures: factor * outDim, inFeatures: inDim,
                           dOut: dG, ldDOut: factor * outDim, dIn: dIn, ldDIn: inDim)
        mk_colsum_add(dG, Int32(rows), Int32(factor * outDim), Int32(factor * outDim), ctx.grads + bias)
    }
}
