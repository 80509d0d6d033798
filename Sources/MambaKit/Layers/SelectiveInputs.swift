// SelectiveInputs.swift — what the real (S6) and the complex selective mixers share around their scans:
// conv1d + SiLU → x_proj → dt_proj in front, and the backward of that path after the scan's backward.
//
//   forward   xc = SiLU(conv1d(x))  (T, E);  dbc = x_proj(xc)  (T, W), W = R + 2N (real) or R + 4N (complex);
//             dt = dt_proj(dbc[:, :R])  (T, E)   (bias + softplus are fused into the scan)
//   backward  dA_log += dRe A ⊙ Re A;  dDbc = Σ per-thread dB/dC parts, then dt_proj, x_proj and conv1d
import _MambaKernels

/// The offsets of a selective mixer's input-dependent projections.
struct SelectiveInputs: Sendable {
    let conv: CausalConv1d
    let xProj: Int      // (W, E)
    let dtProj: Int     // (E, R)
    let aLog: Int       // (E, N): Re A = −exp(A_log)
    let E: Int, N: Int, R: Int
    /// x_proj outputs W.
    let width: Int

    /// xz (T, 2E) → xc (T, E), dbc (T, W), dt (T, E); `convState` (B, K−1, E) read and advanced.
    func forward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                 dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                 convState: UnsafeMutablePointer<Float>, batch B: Int, length L: Int) {
        let T = B * L
        conv.forward(ctx, x: xz, ldX: 2 * E, out: xc, state: convState, batch: B, length: L)
        ctx.linear(xc, ldIn: E, rows: T, weight: xProj, outFeatures: width, inFeatures: E, bias: nil, out: dbc, ldOut: width)
        ctx.linear(dbc, ldIn: width, rows: T, weight: dtProj, outFeatures: E, inFeatures: R, bias: nil, out: dt, ldOut: E)
    }

    /// After the scan's backward (which wrote dXc, dDt, dRe A into `tape.dA` and dB/dC into the first `used`
    /// per-thread parts of `parts`): adds the A_log, dt_proj, x_proj and conv1d gradients and writes the
    /// conv input's gradient into dXz[:, :E].
    func backward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                  dbc: UnsafeMutablePointer<Float>, convIn: UnsafeMutablePointer<Float>, dXz: UnsafeMutablePointer<Float>,
                  parts: FloatBuffer, used: Int, derivedA: UnsafePointer<Float>, batch B: Int, length L: Int,
                  tape: TrainingTape) {
        let T = B * L, partSize = T * width
        // dA_log = dRe A ⊙ Re A  (Re A = −exp(A_log))
        let dALog = ctx.grads + aLog
        for i in 0..<(E * N) { dALog[i] += tape.dA.pointer[i] * derivedA[i] }
        // dDbc = Σ parts (the dt columns are zero there), then the dt_proj part
        let dDbc = tape.dDbc.pointer
        dDbc.update(from: parts.pointer, count: partSize)
        for part in 1..<max(used, 1) { mk_add_inplace(dDbc, parts.pointer + part * partSize, partSize) }
        // dt_proj: dDbc[:, :R] (T, R) = dDt (T, E) · W_dt (E, R);  dW_dt (E, R) += dDtᵀ · dbc[:, :R]
        ctx.linearBackward(dbc, ldIn: width, rows: T, weight: dtProj, outFeatures: E, inFeatures: R,
                           dOut: tape.dDt.pointer, ldDOut: E, dIn: dDbc, ldDIn: width)
        // x_proj: dXc (T, E) += dDbc (T, W) · W_x (W, E);  dW_x (W, E) += dDbcᵀ · xc
        ctx.linearBackward(xc, ldIn: E, rows: T, weight: xProj, outFeatures: width, inFeatures: E,
                           dOut: dDbc, ldDOut: width, dIn: tape.dXc.pointer, ldDIn: E, accumulate: true)
        // conv1d + SiLU: dXz[:, :E]; d conv weight (E, 1, K), d conv bias
        conv.backward(ctx, x: xz, ldX: 2 * E, stateIn: convIn, dOut: tape.dXc.pointer, dX: dXz, ldDX: 2 * E,
                      batch: B, length: L)
    }
}
