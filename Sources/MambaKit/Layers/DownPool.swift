// DownPool.swift — SaShiMi's causal down-pooling: p consecutive steps of width D become one frame of
// width D' (a reshape, then a linear map). Forward and backward side by side.
//
//   frame k   f_k = (x_{kp}, x_{kp+1}, …, x_{kp+p−1})             (B, F, p·D)  step-major: f_k[o·D + h] = x_{kp+o}[h]
//   forward   y_k = W · f_k + b                                    W (D', p·D), b (D'), y (B, F, D')
//   backward  dW += dYᵀ · f;  db += Σ_k dY_k;  df = dY · W  → scattered back to the steps
//
// Frame k exists once its last step x_{kp+p−1} has arrived, so whatever reads y_k (the next level of a
// ``UNet``) never sees a step after its frame. A chunk need not start or end on a frame boundary: the
// r < p steps of an incomplete frame wait in the state (``UNetState``) and are completed by the next chunk.
// (SaShiMi reshapes channel-major, `(h s)`; the order inside a frame is a choice of layout only.)
import _MambaKernels

/// Keys `<name>.weight` (D', p·D) and `<name>.bias` (D').
public struct DownPool: Sendable {
    public let weight: Int, bias: Int
    /// p, D, D'.
    public let factor: Int, inDim: Int, outDim: Int

    init(_ name: String, factor p: Int, inDim D: Int, outDim Dn: Int, layout: inout ParameterLayout) {
        weight = layout.add(name + ".weight", [Dn, p * D]); bias = layout.add(name + ".bias", [Dn])
        factor = p; inDim = D; outDim = Dn
    }

    /// Frames completed when `length` steps follow `pending` waiting ones: ⌊(r + L) / p⌋.
    func frameCount(pending r: Int, length L: Int) -> Int { (r + L) / factor }

    /// Gathers the F complete frames (B·F, p·D) of `pending` (B, p, D: its first r steps wait) followed by
    /// x (B, L, D), and leaves the (r + L) mod p steps after the last frame in `pending`.
    func gather(x: UnsafePointer<Float>, batch B: Int, length L: Int, pending: UnsafeMutablePointer<Float>, count r: Int,
                frames: UnsafeMutablePointer<Float>) {
        let p = factor, D = inDim, F = frameCount(pending: r, length: L)
        for b in 0..<B {
            let xb = x + b * L * D, pb = pending + b * p * D, fb = frames + b * F * p * D
            /// Step j of the combined sequence pending[0..<r] ++ x: (D).
            func step(_ j: Int) -> UnsafePointer<Float> { j < r ? UnsafePointer(pb + j * D) : xb + (j - r) * D }
            for j in 0..<(F * p) { (fb + j * D).update(from: step(j), count: D) }
            if F == 0 {
                (pb + r * D).update(from: xb, count: L * D)               // the frame is still incomplete
            } else {
                let rest = r + L - F * p                                  // < p, all from x (F·p > r)
                pb.update(from: xb + (L - rest) * D, count: rest * D)
            }
        }
    }

    /// y (rows, D') = frames (rows, p·D) · Wᵀ + b.
    func forward(_ ctx: LayerContext, frames: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        ctx.linear(frames, ldIn: factor * inDim, rows: rows, weight: weight, outFeatures: outDim, inFeatures: factor * inDim,
                   bias: bias, out: out, ldOut: outDim)
    }

    /// Adds dW, db; writes dFrames (rows, p·D) = dY · W.
    func backward(_ ctx: LayerContext, frames: UnsafePointer<Float>, rows: Int, dOut: UnsafePointer<Float>,
                  dFrames: UnsafeMutablePointer<Float>) {
        ctx.linearBackward(frames, ldIn: factor * inDim, rows: rows, weight: weight, outFeatures: outDim,
                           inFeatures: factor * inDim, dOut: dOut, ldDOut: outDim, dIn: dFrames, ldDIn: factor * inDim)
        mk_colsum_add(dOut, Int32(rows), Int32(outDim), Int32(outDim), ctx.grads + bias)
    }

    /// dX (B, L, D) += the frames' gradient at the steps of this chunk (steps that waited from an earlier
    /// chunk are constants of this one: truncated backprop, as for the carried SSM state).
    func scatterGradient(_ dFrames: UnsafePointer<Float>, batch B: Int, length L: Int, pending r: Int,
                         into dX: UnsafeMutablePointer<Float>) {
        let p = factor, D = inDim, F = frameCount(pending: r, length: L)
        for b in 0..<B {
            let fb = dFrames + b * F * p * D, db = dX + b * L * D
            for j in r..<(F * p) {
                let src = fb + j * D, dst = db + (j - r) * D
                for h in 0..<D { dst[h] += src[h] }
            }
        }
    }
}
