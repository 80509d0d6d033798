// LengthWarmupOptions.swift — `--warmup-length N --stage-steps K`: the sequence-length warm-up
// (``LengthWarmup``) of `task train` and `train dna-lm`.
import ArgumentParser
import MambaKit

struct LengthWarmupOptions: ParsableArguments {
    @Option(help: "Training: sequence-length warm-up, the length to start at (doubles every --stage-steps steps up to the full length; a language model's batch grows to keep the tokens per step).")
    var warmupLength: Int?
    @Option(help: "Training: optimiser steps per warm-up stage.") var stageSteps: Int = 200

    /// The schedule, nil without --warmup-length.
    var schedule: LengthWarmup? { warmupLength.map { LengthWarmup(startLength: $0, stageSteps: stageSteps) } }

    func validate() throws {
        try Check.int(warmupLength, "--warmup-length", 1...ScheduleOptions.maxSeqLen)
        try Check.int(stageSteps, "--stage-steps", 1...1 << 24)
    }
}
