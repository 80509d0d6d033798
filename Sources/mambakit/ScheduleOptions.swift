// ScheduleOptions.swift — the optimisation options every `train` command takes: windows, steps,
// AdamW and its learning-rate schedule, the seed.
import ArgumentParser
import MambaKit

struct ScheduleOptions: ParsableArguments {
    @Option(help: "Tokens per window (predictions per sequence).") var seqLen: Int = 256
    @Option(help: "Windows per micro-batch (batch-size × seq-len ≤ 2^26).") var batchSize: Int = 8
    @Option(help: "Optimiser steps (total, for the schedule).") var steps: Int = 100
    @Option(help: "Micro-batches per step.") var gradAccum: Int = 1
    @Option(help: "Truncated backprop: chunk length within a window (0 = whole window).") var chunkLen: Int = 0
    @Option(help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(help: "Decoupled weight decay (not on A_log, D, biases, norms).") var weightDecay: Float = 0.1
    @Option var beta1: Float = 0.9
    @Option var beta2: Float = 0.95
    @Option var eps: Float = 1e-8
    @Option(help: "Global-norm gradient clipping (0 = off).") var gradClip: Float = 1.0
    @Option var warmupSteps: Int = 0
    @Option(help: "constant, cosine or linear (to 10% of the peak).") var schedule: LearningRateSchedule = .cosine
    @OptionGroup var seed: SeedOption
    @Flag(help: "Skip steps whose loss or gradient is NaN/Inf instead of stopping.") var skipNonfinite = false

    static let maxSeqLen = 1 << 24
    static let maxSteps = Int(Int32.max)

    func validate() throws {
        try Check.int(seqLen, "--seq-len", 1...Self.maxSeqLen)
        try Check.int(batchSize, "--batch-size", 1...Check.maxBatchTokens)
        if batchSize * seqLen > Check.maxBatchTokens {
            throw optionError(option: "--batch-size", value: "\(batchSize)",
                              allowed: "with --seq-len \(seqLen) that is \(batchSize * seqLen) tokens per micro-batch; at most 2^26 (\(Check.maxBatchTokens)) fit")
        }
        try Check.int(steps, "--steps", 1...Self.maxSteps)
        try Check.int(gradAccum, "--grad-accum", 1...65536)
        try Check.int(chunkLen, "--chunk-len", 0...Self.maxSeqLen)
        try Check.number(lr, "--lr", 0...10, excludingLower: true)
        try Check.number(weightDecay, "--weight-decay", 0...10)
        try Check.number(beta1, "--beta1", 0...1, excludingUpper: true)
        try Check.number(beta2, "--beta2", 0...1, excludingUpper: true)
        try Check.number(eps, "--eps", 0...1, excludingLower: true)
        try Check.number(gradClip, "--grad-clip", 0...1e9)
        try Check.int(warmupSteps, "--warmup-steps", 0...Self.maxSteps)
    }

    /// These options as the library's TrainingOptions (threads and checkpointing set by the caller).
    func apply(to o: inout TrainingOptions) {
        o.seqLen = seqLen; o.batchSize = batchSize; o.steps = steps; o.gradAccumulation = gradAccum
        o.chunkLength = chunkLen; o.seed = seed.seed; o.skipNonFinite = skipNonfinite
        o.adamw.learningRate = lr; o.adamw.weightDecay = weightDecay; o.adamw.beta1 = beta1; o.adamw.beta2 = beta2
        o.adamw.eps = eps; o.adamw.gradClip = gradClip; o.adamw.warmupSteps = warmupSteps; o.adamw.schedule = schedule
    }
}
