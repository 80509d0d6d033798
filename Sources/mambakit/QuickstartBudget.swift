// QuickstartBudget.swift — the wall-clock budget of one part of the main job. The clock starts with the
// part, so preparing its data counts; each training gets the steps that fit in what is left once the
// evaluation after it is set aside, measured from a few timed steps of the same model shape.
import Foundation
import MambaKit

struct PartBudget {
    let seconds: Double
    let start = Date()

    init(seconds: Double) { self.seconds = seconds }

    var elapsed: Double { Date().timeIntervalSince(start) }
    var remaining: Double { seconds - elapsed }

    /// Seconds per step and training tokens per second of the trainer `make()` returns (built on a
    /// throwaway model): one warm-up step, then the mean of two timed steps.
    static func measure(_ make: () throws -> Trainer) throws -> (secondsPerStep: Double, tokensPerSecond: Double) {
        let t = try make()
        _ = try t.trainStep()
        let a = try t.trainStep(), b = try t.trainStep()
        let s = max((a.seconds + b.seconds) / 2, 1e-6)
        return (s, Double(a.tokens + b.tokens) / 2 / s)
    }

    /// Seconds a forward pass over `tokens` tokens takes, estimated from the training speed (a training
    /// step is about three forward passes: forward, backward ≈ 2×), plus `fixed` seconds.
    static func forwardSeconds(_ tokens: Int, trainingTokensPerSecond rate: Double, fixed: Double = 1) -> Double {
        Double(tokens) / (3 * max(rate, 1)) + fixed
    }

    /// The steps that fit in `share` of what is left after `reserve` seconds, between `minimum` and `maximum`.
    func steps(secondsPerStep: Double, reserve: Double, share: Double = 1, minimum: Int = 20, maximum: Int = 100_000) -> Int {
        let left = (remaining - reserve) * share
        return min(maximum, max(minimum, Int(left / secondsPerStep)))
    }

    /// "took 3m41s (budget 3m45s)"
    var report: String { "took \(Progress.duration(elapsed)) (budget \(Progress.duration(seconds)))" }
}
