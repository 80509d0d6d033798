// LengthWarmup.swift — the sequence-length warm-up of HyenaDNA (Nguyen et al. 2023, §3.2) and the Mamba
// paper's DNA runs (Gu & Dao 2023, §4.3): short windows first, the length doubling on a schedule up to the
// target, the batch growing as the length shrinks so every step sees about the same number of tokens.
//
//   stage k = ⌊step / stage_steps⌋
//   L_k = min(L, L₀ · 2^k)          B_k = max(1, ⌊B · L / L_k⌋)          B_k · L_k ≈ B · L tokens per step
//
// It depends on the step alone, so a resumed run draws what an uninterrupted one would. The synthetic
// tasks (MambaTasks) use the length part; the language-model objectives also scale the batch.

/// A sequence-length warm-up schedule (saved in trainer_state.json with the run's options).
public struct LengthWarmup: Codable, Equatable, Sendable {
    /// L₀: the first stage's window length.
    public var startLength: Int
    /// Optimiser steps per stage before the length doubles.
    public var stageSteps: Int

    public init(startLength: Int, stageSteps: Int) { self.startLength = startLength; self.stageSteps = stageSteps }

    enum CodingKeys: String, CodingKey { case startLength = "start_length", stageSteps = "stage_steps" }

    /// The first setting outside what a run with target length `seqLen` can use, or nil.
    public func problem(seqLen: Int) -> String? {
        if startLength < 1 || startLength > seqLen { return "the warm-up's start length is \(startLength), expected 1 … seq-len (\(seqLen))" }
        if stageSteps < 1 { return "the warm-up's steps per stage are \(stageSteps), expected at least 1" }
        return nil
    }

    /// L_k = min(target, L₀ · 2^⌊step / stage_steps⌋).
    public func length(atStep step: Int, target: Int) -> Int {
        var n = max(1, startLength)
        for _ in 0..<(max(0, step) / max(1, stageSteps)) where n < target { n *= 2 }
        return min(n, target)
    }

    /// The first step at which training runs at `target`.
    public func fullLengthStep(target: Int) -> Int {
        var n = max(1, startLength), stages = 0
        while n < target { n *= 2; stages += 1 }
        return stages * max(1, stageSteps)
    }

    /// (window length L_k, batch size B_k) at optimiser step `step` (0-based) for target (`seqLen`, `batchSize`).
    public func stage(step: Int, seqLen L: Int, batchSize B: Int) -> (length: Int, batch: Int) {
        let length = self.length(atStep: step, target: L)
        return (length, max(1, B * L / length))
    }

    /// The stages a run of `steps` steps goes through: (first step, length, batch).
    public func stages(steps: Int, seqLen L: Int, batchSize B: Int) -> [(step: Int, length: Int, batch: Int)] {
        var out: [(Int, Int, Int)] = []
        var s = 0
        while s < steps {
            let (l, b) = stage(step: s, seqLen: L, batchSize: B)
            if out.last.map({ $0.1 != l }) ?? true { out.append((s, l, b)) }
            if l == L { break }
            s += stageSteps
        }
        return out
    }
}
