// CausalConv1d.swift — the depthwise causal convolution + SiLU at the front of every mixer (the
// selective and the time-invariant one alike). Forward and backward side by side.
//
//   forward:   xc[t, e] = SiLU(bias[e] + Σ_{k<K} w[e, k] · x[t − (K−1) + k, e])      (T, E)
//              inputs before t = 0 come from the carried conv state (B, K−1, E), which is advanced
//   backward:  dx (T, E) from dxc; d w (E, 1, K) and d bias (E) added (the state is a constant)
import _MambaKernels

/// Keys `<prefix>conv1d.weight` (E, 1, K) and `<prefix>conv1d.bias` (E, when the config has conv biases).
public struct CausalConv1d: Sendable {
    public let weight: Int      // (E, 1, K)
    public let bias: Int?       // (E)
    public let E: Int, K: Int

    init(prefix p: String, channels E: Int, width K: Int, bias hasBias: Bool, layout: inout ParameterLayout) {
        self.E = E; self.K = K
        weight = layout.add(p + "conv1d.weight", [E, 1, K])
        bias = hasBias ? layout.add(p + "conv1d.bias", [E]) : nil
    }

    /// x (T, E) at row stride `ldX` (the x half of in_proj's output) → xc (T, E); `state` (B, K−1, E) is
    /// read as the inputs before the chunk and overwritten with its last K−1 inputs.
    func forward(_ ctx: LayerContext, x: UnsafePointer<Float>, ldX: Int, out xc: UnsafeMutablePointer<Float>,
                 state: UnsafeMutablePointer<Float>, batch B: Int, length L: Int) {
        let p = ctx.parameters, E = E, K = K
        let w = UnsafePointer(p + weight), b: UnsafePointer<Float>? = bias.map { UnsafePointer(p + $0) }
        Parallel.forRanges(E, threads: ctx.threads, align: 16, costPerItem: B * L * K) { r in
            var conv = mk_conv1d_params(x: x, ld_x: Int32(ldX), w: w, bias: b, state_in: state, state_out: state,
                                        out: xc, ld_out: Int32(E), Bsz: Int32(B), L: Int32(L), E: Int32(E), K: Int32(K), act: 1)
            mk_conv1d_fwd(&conv, Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// Backward of ``forward(_:x:ldX:out:state:batch:length:)`` from dxc (T, E): writes dx (T, E) at row
    /// stride `ldDX` and adds the weight and bias gradients. `stateIn` is the state the forward started from.
    func backward(_ ctx: LayerContext, x: UnsafePointer<Float>, ldX: Int, stateIn: UnsafePointer<Float>,
                  dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, ldDX: Int, batch B: Int, length L: Int) {
        let p = ctx.parameters, g = ctx.grads, E = E, K = K
        let w = UnsafePointer(p + weight), b: UnsafePointer<Float>? = bias.map { UnsafePointer(p + $0) }
        let dB: UnsafeMutablePointer<Float>? = bias.map { g + $0 }, dW = g + weight
        Parallel.forRanges(E, threads: ctx.threads, align: 16, costPerItem: B * L * K * 2) { r in
            var conv = mk_conv1d_bwd_params(
                fwd: mk_conv1d_params(x: x, ld_x: Int32(ldX), w: w, bias: b, state_in: stateIn, state_out: nil,
                                      out: nil, ld_out: 0, Bsz: Int32(B), L: Int32(L), E: Int32(E), K: Int32(K), act: 1),
                dout: dOut, ld_dout: Int32(E), dx: dX, ld_dx: Int32(ldDX), dw: dW, dbias: dB)
            mk_conv1d_bwd(&conv, Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// Copies another convolution's values into this one's.
    func copyValues(from o: CausalConv1d, _ p: UnsafeMutablePointer<Float>) {
        (p + weight).update(from: p + o.weight, count: E * K)
        if let b = bias, let ob = o.bias { (p + b).update(from: p + ob, count: E) }
    }
}
