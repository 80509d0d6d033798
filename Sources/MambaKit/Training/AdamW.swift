// AdamW.swift — the optimiser, its learning-rate schedule and gradient clipping.
import Foundation
import _MambaKernels

/// How the learning rate moves after warm-up.
public enum LearningRateSchedule: String, Codable, CaseIterable, Sendable {
    case constant, cosine, linear
}

/// AdamW hyper-parameters and the schedule (PyTorch `torch.optim.AdamW` semantics).
public struct AdamWOptions: Codable, Equatable, Sendable {
    public var learningRate: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.1
    /// Global-norm clipping threshold; 0 turns clipping off.
    public var gradClip: Float = 1.0
    public var warmupSteps: Int = 0
    public var schedule: LearningRateSchedule = .cosine
    /// Steps of the whole run (the schedule ends here).
    public var totalSteps: Int = 1
    /// The schedule decays to `minLearningRateRatio` × peak.
    public var minLearningRateRatio: Float = 0.1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case learningRate = "learning_rate", beta1, beta2, eps, weightDecay = "weight_decay", gradClip = "grad_clip"
        case warmupSteps = "warmup_steps", schedule, totalSteps = "total_steps", minLearningRateRatio = "min_lr_ratio"
    }

    /// Learning rate of `step` (1-based):
    /// warm-up `peak·step/warmup` for step ≤ warmup; then with p = (step − warmup)/(total − warmup),
    /// cosine `min + ½(peak − min)(1 + cos πp)`, linear `min + (peak − min)(1 − p)`, or constant `peak`;
    /// min = ratio · peak.
    public func learningRate(step: Int) -> Float {
        let peak = Double(learningRate)
        if warmupSteps > 0 && step <= warmupSteps { return Float(peak * Double(step) / Double(warmupSteps)) }
        let minLR = Double(minLearningRateRatio) * peak
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, max(0, Double(step - warmupSteps) / Double(span)))
        switch schedule {
        case .constant: return Float(peak)
        case .cosine: return Float(minLR + 0.5 * (peak - minLR) * (1 + cos(Double.pi * progress)))
        case .linear: return Float(minLR + (peak - minLR) * (1 - progress))
        }
    }
}

/// AdamW state over a model's parameter block: first and second moments in two blocks with the
/// same layout, so the update is one pass per parameter slice (weight decay is off for A_log, D,
/// biases and norm weights).
public final class AdamW {
    public var options: AdamWOptions
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Updates done so far.
    public var step: Int = 0
    let slices: [ParameterSlice]

    public init(layout: ParameterLayout, options: AdamWOptions) {
        self.options = options
        m = FloatBuffer(count: layout.count)
        v = FloatBuffer(count: layout.count)
        slices = layout.slices
    }

    /// Threads for the update and the norm (both are bound by memory bandwidth).
    public var threads = Parallel.defaultThreads

    /// The global L2 norm of a gradient block (partial sums per thread, added in a fixed order).
    public static func globalNorm(_ grads: FloatBuffer, threads: Int = Parallel.defaultThreads) -> Double {
        let parts = max(1, threads)
        var partial = [Double](repeating: 0, count: parts)
        partial.withUnsafeMutableBufferPointer { out in
            Parallel.forParts(grads.count, threads: parts, align: 1 << 16) { p, r in
                out[p] = mk_sum_squares_f64(grads.pointer + r.lowerBound, r.count)
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    /// One update: clips `grads` to `options.gradClip` by global norm (as `clip_grad_norm_`:
    /// scale = clip / (norm + 1e-6) when norm > clip), then applies AdamW at the scheduled rate.
    /// Returns (learning rate, pre-clipping norm). `gradNorm` may pass a norm already computed.
    @discardableResult
    public func update(parameters: FloatBuffer, grads: FloatBuffer, gradNorm: Double? = nil) -> (lr: Float, gradNorm: Double) {
        step += 1
        let o = options
        let lr = o.learningRate(step: step)
        let norm = gradNorm ?? AdamW.globalNorm(grads, threads: threads)
        var scale: Float = 1
        if o.gradClip > 0 && norm > Double(o.gradClip) { scale = Float(Double(o.gradClip) / (norm + 1e-6)) }
        let bc1 = Float(1 - pow(Double(o.beta1), Double(step))), bc2 = Float(1 - pow(Double(o.beta2), Double(step)))
        for s in slices {
            let wd = s.noWeightDecay ? 0 : o.weightDecay
            let (p, g, mm, vv) = (parameters.pointer + s.offset, grads.pointer + s.offset, m.pointer + s.offset, v.pointer + s.offset)
            // Elementwise, so any split gives the same bits.
            Parallel.forRanges(s.count, threads: threads, align: 1 << 12, minWork: 1 << 18) { r in
                var update = mk_adamw_params(p: p, g: g, m: mm, v: vv, lr: lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps,
                                             wd: wd, bc1: bc1, bc2: bc2, grad_scale: scale)
                mk_adamw(&update, r.lowerBound, r.upperBound)
            }
        }
        return (lr, norm)
    }
}
