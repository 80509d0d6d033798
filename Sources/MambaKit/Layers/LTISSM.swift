// LTISSM.swift — the time-invariant (LTI) mixer: S4D-Real in the Mamba block, the ablation of the Mamba
// paper's §4.1 (Table 1: "Mamba architecture, S4 layer"). The same block as the selective mixer — conv1d,
// SiLU, D skip, SiLU(z) gate — but Δ, B and C are learned parameters, not functions of the input.
// Forward and backward side by side.
//
//   per channel e:  Δ_e = exp(log_dt_e),  a_en = exp(Δ_e A_en),  A = −exp(A_log)  (diagonal, real)
//     recurrence:   h_t = a ⊙ h_{t−1} + Δ_e B_e xc_t,   s_t = C_e · h_t + D_e xc_t
//     convolution:  s = K̄_e ∗ xc + D_e xc (+ Σ_n C_en a_en^(t+1) h0_n),  K̄_e,k = Σ_n C_en Δ_e B_en a_en^k
//     output:       y_t = s_t · SiLU(z_t)
//   The parallel mode (L ≥ ``LTISSM/convolutionMinimumLength``) is the long convolution through FFTW,
//   O(L log L) per channel and sequence (plans made once per size, RealFFT.swift); shorter chunks
//   (generation) run the recurrence, which is also the reference the convolution is tested against.
//
//   backward (from dy):   ds = dy · SiLU(z),  dz = dy · s · SiLU'(z),  dD = Σ ds·xc
//     dxc = K̄ ⋆ ds + D ds             (correlation, by FFT)
//     dK̄  = Σ_b xc ⋆ ds               (correlation, by FFT, summed over the batch in frequency)
//     dC, dB, dlog_dt, dA_log from dK̄ (and from the initial-state term when h0 ≠ 0), in double
//   The gradient w.r.t. the initial state is not propagated (truncated backprop, as the selective mixer).
import _MambaKernels

/// How an LTI mixer evaluates a chunk.
public enum LTIEvaluation: Sendable {
    /// The convolution for chunks of at least ``LTISSM/convolutionMinimumLength`` steps, else the recurrence.
    case automatic
    /// Always the FFT convolution.
    case convolution
    /// Always the recurrence.
    case recurrence
}

/// The tensors of the time-invariant mixer (keys `<prefix>conv1d.weight`, `conv1d.bias`, `log_dt` (E),
/// `A_log` (E, N), `B` (E, N), `C` (E, N), `D` (E)) and its A = −exp(A_log) in the derived block.
public struct LTISSM: Sendable {
    /// `conv1d.weight` (E, 1, K), `conv1d.bias` (E)
    public let conv: CausalConv1d
    public let logDt: Int       // (E)
    public let aLog: Int        // (E, N)
    public let B: Int           // (E, N)
    public let C: Int           // (E, N)
    public let D: Int           // (E)
    /// Offset of A = −exp(A_log) (E, N) in the derived block.
    public let negA: Int
    public let E: Int, N: Int, K: Int

    /// Chunks at least this long run as the FFT convolution under ``LTIEvaluation/automatic``.
    public static let convolutionMinimumLength = 32

    /// Registers the mixer's tensors under `prefix` and reserves E·N derived floats at `derived`.
    public init(prefix p: String, config c: MambaConfig, layout: inout ParameterLayout, derived: inout Int) {
        E = c.dInner; N = c.dState; K = c.dConv
        conv = CausalConv1d(prefix: p, channels: E, width: K, bias: c.useConvBias, layout: &layout)
        logDt = layout.add(p + "log_dt", [E])
        aLog = layout.add(p + "A_log", [E, N])
        B = layout.add(p + "B", [E, N])
        C = layout.add(p + "C", [E, N])
        D = layout.add(p + "D", [E])
        negA = derived; derived += E * N
    }

    /// Recomputes A = −exp(A_log) into the derived block.
    func refreshDerived(_ ctx: LayerContext) { mk_neg_exp(ctx.parameters + aLog, ctx.derived + negA, E * N) }

    func ssm(_ ctx: LayerContext) -> mk_lti_ssm {
        let p = ctx.parameters
        return mk_lti_ssm(log_dt: p + logDt, negA: ctx.derived + negA, Bv: p + B, Cv: p + C, E: Int32(E), N: Int32(N))
    }

    func scanParams(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                    s: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>?,
                    h0: UnsafePointer<Float>?, hLast: UnsafeMutablePointer<Float>?, batch: Int, length: Int) -> mk_lti_scan_params {
        mk_lti_scan_params(ssm: ssm(ctx), u: xc, ld_u: Int32(E), D: ctx.parameters + D, z: xz + E, ld_z: Int32(2 * E),
                           s: s, ld_s: Int32(E), y: y, ld_y: Int32(E), h0: h0, h_last: hLast,
                           Bsz: Int32(batch), L: Int32(length))
    }

    /// Whether a chunk of `length` steps runs as the convolution.
    static func convolves(_ length: Int, _ how: LTIEvaluation) -> Bool {
        switch how {
        case .automatic: return length >= convolutionMinimumLength
        case .convolution: return true
        case .recurrence: return false
        }
    }

    /// xz (T, 2E) → y (T, E); `convState` (B, K−1, E) and `ssm` (B, E, N) are read as the initial states
    /// and overwritten with the final ones. xc (T, E) and s (T, E) (the output before the gate) are kept
    /// for backward.
    func forward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                 s: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                 convState: UnsafeMutablePointer<Float>, ssm: UnsafeMutablePointer<Float>, batch B: Int, length L: Int) {
        let E = E, N = N
        conv.forward(ctx, x: xz, ldX: 2 * E, out: xc, state: convState, batch: B, length: L)
        let useConvolution = Self.convolves(L, ctx.ltiEvaluation)
        if useConvolution { convolve(ctx, u: xc, out: s, batch: B, length: L) }
        let prm = scanParams(ctx, xz: xz, xc: xc, s: s, y: y, h0: ssm, hLast: ssm, batch: B, length: L)
        Parallel.forRanges(E, threads: ctx.threads, align: 16, costPerItem: B * L * N * 2) { r in
            var prm = prm
            if useConvolution { mk_lti_epilogue(&prm, Int32(r.lowerBound), Int32(r.upperBound)) }
            else { mk_lti_scan(&prm, Int32(r.lowerBound), Int32(r.upperBound)) }
        }
    }

    /// out (T, E) = K̄ ∗ u per channel and sequence (zero initial state), through FFTW.
    func convolve(_ ctx: LayerContext, u: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, batch B: Int, length L: Int) {
        let E = E, fft = RealFFT.shared(size: RealFFT.convolutionSize(L)), M = fft.size, bins = fft.bins
        let kernel = FloatBuffer(count: E * L)   // (E, L)
        let params = ssm(ctx)
        let scale = 1 / Float(M)
        Parallel.forRanges(E, threads: ctx.threads, costPerItem: (B + 1) * M * 8) { r in
            var lti = params
            mk_lti_kernel(&lti, kernel.pointer, Int32(L), Int32(L), Int32(r.lowerBound), Int32(r.upperBound))
            let buf = fft.buffers(complexArrays: 2)
            let kf = buf.complex[0], xf = buf.complex[1]   // (bins) K̂, then û · K̂
            for e in r {
                fft.forward(strided: kernel.pointer + e * L, count: L, stride: 1, scratch: buf.real, into: kf)
                for b in 0..<B {
                    fft.forward(strided: u + b * L * E + e, count: L, stride: E, scratch: buf.real, into: xf)
                    multiply(xf, by: kf, bins: bins, conjugate: false)     // û · K̂
                    fft.inverse(xf, buf.real)
                    let o = out + b * L * E + e
                    for t in 0..<L { o[t * E] = buf.real[t] * scale }
                }
            }
        }
    }

    /// Backward of ``forward(_:xz:xc:s:y:convState:ssm:batch:length:)`` from dY (T, E): writes dXz (T, 2E)
    /// (conv input and gate) and adds the mixer's parameter gradients. `convIn`/`ssmIn` are the states the
    /// forward started from; `s` is its output before the gate. Uses the tape's dXc and dDt as scratch.
    func backward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xc: UnsafeMutablePointer<Float>,
                  s: UnsafeMutablePointer<Float>, convIn: UnsafeMutablePointer<Float>, ssmIn: UnsafeMutablePointer<Float>,
                  dY: UnsafeMutablePointer<Float>, dXz: UnsafeMutablePointer<Float>,
                  batch B: Int, length L: Int, tape: TrainingTape) {
        let E = E, N = N, g = ctx.grads
        let ds = tape.dDt.pointer, du = tape.dXc.pointer   // (T, E) each
        // gate and skip: ds, dz (into dXz[:, E:]), du = D·ds, dD
        let prm = scanParams(ctx, xz: xz, xc: xc, s: s, y: nil, h0: nil, hLast: nil, batch: B, length: L)
        Parallel.forRanges(E, threads: ctx.threads, align: 16, costPerItem: B * L * 4) { r in
            var prm = prm
            mk_lti_gate_bwd(&prm, dY, Int32(E), ds, Int32(E), dXz + E, Int32(2 * E), du, Int32(E), g + D,
                            Int32(r.lowerBound), Int32(r.upperBound))
        }
        // the convolution: du += K̄ ⋆ ds, dK̄ = Σ_b xc ⋆ ds
        let fft = RealFFT.shared(size: RealFFT.convolutionSize(L)), M = fft.size, bins = fft.bins
        let kernel = FloatBuffer(count: E * L), dK = FloatBuffer(count: E * L)   // (E, L) each
        let params = ssm(ctx)
        let scale = 1 / Float(M)
        Parallel.forRanges(E, threads: ctx.threads, costPerItem: (3 * B + 2) * M * 8) { r in
            var lti = params
            mk_lti_kernel(&lti, kernel.pointer, Int32(L), Int32(L), Int32(r.lowerBound), Int32(r.upperBound))
            let buf = fft.buffers(complexArrays: 4)
            let kf = buf.complex[0], sf = buf.complex[1], uf = buf.complex[2], acc = buf.complex[3]
            for e in r {
                fft.forward(strided: kernel.pointer + e * L, count: L, stride: 1, scratch: buf.real, into: kf)
                acc.update(repeating: 0, count: 2 * bins)
                for b in 0..<B {
                    let row = b * L * E + e
                    fft.forward(strided: ds + row, count: L, stride: E, scratch: buf.real, into: sf)
                    fft.forward(strided: xc + row, count: L, stride: E, scratch: buf.real, into: uf)
                    multiplyAccumulate(acc, uf, sf, bins: bins)            // acc += conj(û) · d̂s
                    multiply(sf, by: kf, bins: bins, conjugate: true)      // d̂s ← d̂s · conj(K̂)
                    fft.inverse(sf, buf.real)
                    for t in 0..<L { du[row + t * E] += buf.real[t] * scale }
                }
                fft.inverse(acc, buf.real)
                let d = dK.pointer + e * L
                for k in 0..<L { d[k] = buf.real[k] * scale }
            }
        }
        // dK (and the initial-state term) → dC, dB, dlog_dt, dA_log
        let h0Nonzero = (0..<(B * E * N)).contains { ssmIn[$0] != 0 }
        let pb = mk_lti_param_bwd_params(ssm: params, dK: dK.pointer, ld_dk: Int32(L), L: Int32(L),
                                         h0: h0Nonzero ? UnsafePointer(ssmIn) : nil, ds: ds, ld_ds: Int32(E), Bsz: Int32(B),
                                         dlog_dt: g + logDt, dA_log: g + aLog, dB: g + self.B, dC: g + C)
        Parallel.forRanges(E, threads: ctx.threads, costPerItem: L * N * 4) { r in
            var pb = pb
            mk_lti_param_bwd(&pb, Int32(r.lowerBound), Int32(r.upperBound))
        }
        // conv1d + SiLU: dXz[:, :E]; d conv weight, d conv bias
        conv.backward(ctx, x: xz, ldX: 2 * E, stateIn: convIn, dOut: du, dX: dXz, ldDX: 2 * E, batch: B, length: L)
    }
}

/// a ← a · b (or a · conj(b)) over `bins` interleaved complex numbers.
@inline(__always)
private func multiply(_ a: UnsafeMutablePointer<Float>, by b: UnsafePointer<Float>, bins: Int, conjugate: Bool) {
    let sign: Float = conjugate ? -1 : 1
    for i in 0..<bins {
        let ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * i], bi = sign * b[2 * i + 1]
        a[2 * i] = ar * br - ai * bi
        a[2 * i + 1] = ar * bi + ai * br
    }
}

/// acc += conj(a) · b over `bins` interleaved complex numbers.
@inline(__always)
private func multiplyAccumulate(_ acc: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bins: Int) {
    for i in 0..<bins {
        let ar = a[2 * i], ai = -a[2 * i + 1], br = b[2 * i], bi = b[2 * i + 1]
        acc[2 * i] += ar * br - ai * bi
        acc[2 * i + 1] += ar * bi + ai * br
    }
}
