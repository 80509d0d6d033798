// BenchTasks.swift — `mambakit bench tasks`: training speed of each synthetic task on the shapes of
// Examples/tasks (D = 64, 2 layers, batch 16), with each mixer (selective, LTI, complex, and Mamba-2's SSD: 8 heads of 16, N = 16).
import Foundation
import MambaKit
import MambaTasks

extension BenchCommand {
    /// Task specs of the benchmark: Examples/tasks' shapes (selective copying at spread 256, induction heads
    /// and MQAR at 256), or at --length when given.
    static func taskShapes(length: Int?) -> [TaskSpec] {
        [TaskSpec(name: .selectiveCopying, length: length ?? 256, items: 16, vocabulary: 16),
         TaskSpec(name: .inductionHeads, length: length ?? 256, items: 1, vocabulary: 16),
         TaskSpec(name: .mqar, length: length ?? 256, items: 16, vocabulary: 64)]
    }

    /// Full training steps (fresh examples, forward, backward, AdamW): steps/s and tokens/s per task and mixer.
    func benchTasks() throws {
        let B = batch ?? 16
        for spec in Self.taskShapes(length: length) {
            let task = try spec.task()
            for mixer in SSMMixer.allCases {
                var c = MambaConfig(dModel: 64, nLayer: 2, vocabSize: task.vocabSize)
                c.ssmMixer = mixer
                if mixer == .ssd { c = .mamba2(dModel: 64, nLayer: 2, vocabSize: task.vocabSize, dState: 16, headDim: 16) }
                let model = try MambaModel.randomlyInitialised(config: c, seed: 1)
                var o = TrainingOptions()
                o.seqLen = task.length; o.batchSize = B; o.steps = 1000; o.threads = threads ?? Parallel.defaultThreads
                let trainer = try Trainer(objective: SyntheticTaskObjective(model: model, task: task), options: o)
                _ = try trainer.trainStep()   // warm-up (allocates the tape, makes the FFT plans)
                var best = Double.infinity
                for _ in 0..<max(1, repeats) { best = min(best, try trainer.trainStep().seconds) }
                emit([("bench", "\"tasks\""), ("task", jsonString(spec.name.rawValue)), ("mixer", jsonString(mixer.rawValue)),
                      ("threads", "\(o.threads)"), ("steps_per_second", String(format: "%.2f", 1 / best)),
                      ("tokens_per_second", String(format: "%.0f", Double(task.length * B) / best)),
                      ("length", "\(task.length)"), ("batch", "\(B)"), ("parameters", "\(model.parameterCount)"),
                      ("step_seconds", String(format: "%.4f", best))])
            }
        }
    }
}
