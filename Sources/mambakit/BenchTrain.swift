// BenchTrain.swift — `mambakit bench train [--shape tiny|130m|mamba2-tiny|mamba2-130m|all] --json`.
import Foundation
import MambaKit

/// Peak resident set size of this process so far (VmHWM), in bytes.
func peakRSSBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

extension BenchCommand {
    /// Shapes of the training benchmark: (config, L, B).
    static func trainShapes(_ name: String) throws -> [(String, MambaConfig, Int, Int)] {
        // Tiny shapes train 8 windows of 512 per step, 130m shapes one.
        func shape(_ n: String) throws -> (String, MambaConfig, Int, Int) { (n, try shapeConfig(n), 512, n.hasSuffix("tiny") ? 8 : 1) }
        return name == "all" ? [try shape("tiny"), try shape("130m")] : [try shape(name)]
    }

    /// Full training steps (forward, backward, AdamW) on random tokens; tokens/s and peak RSS.
    func benchTrain() throws {
        let shapeName = shape == "130m" && trainShapeGiven == false ? "all" : shape
        for (name, config, defaultL, defaultB) in try BenchCommand.trainShapes(shapeName) {
            let L = length ?? defaultL, B = batch ?? defaultB
            let model = try MambaModel.randomlyInitialised(config: config, seed: 1)
            var rng = SeededRandom(seed: 9)
            let n = max(L + 1, min(1 << 22, L * B * 4 + 1))
            let tokens = (0..<n).map { _ in Int32(rng.below(config.vocabSize)) }
            var o = TrainingOptions()
            o.seqLen = L; o.batchSize = B; o.steps = 1000; o.threads = threads ?? Parallel.defaultThreads
            o.chunkLength = chunkLen
            let trainer = try Trainer(model: model, tokens: tokens, options: o)
            _ = try trainer.trainStep()   // warm-up (allocates the tape)
            var best = Double.infinity
            for _ in 0..<max(1, repeats) { best = min(best, try trainer.trainStep().seconds) }
            emit([("bench", "\"train\""), ("shape", jsonString(name)), ("threads", "\(o.threads)"),
                  ("tokens_per_second", String(format: "%.1f", Double(L * B) / best)),
                  ("peak_rss_bytes", "\(peakRSSBytes())"), ("seq_len", "\(L)"), ("batch", "\(B)"),
                  ("chunk_len", "\(chunkLen)"), ("parameters", "\(model.parameterCount)"),
                  ("step_seconds", String(format: "%.4f", best))])
        }
    }
}

extension BenchCommand {
    /// Classification training steps and inference on random sequences of length L (default 1000,
    /// batch 32): D=128, 4 layers, a 16-token vocabulary (the DNA front end's shape), mean pooling.
    func benchClassify() throws {
        let L = length ?? 1000, B = batch ?? 32
        let config = MambaConfig(dModel: 128, nLayer: 4, vocabSize: 16)
        let model = SequenceClassifier.fineTuning(try MambaModel.randomlyInitialised(config: config, seed: 1),
                                                  labels: ["a", "b"], pooling: .mean, bidirectional: bidirectional, seed: 1)
        var rng = SeededRandom(seed: 9)
        let examples = (0..<(4 * B)).map { _ in
            LabeledSequence(tokens: (0..<L).map { _ in Int32(rng.below(16)) }, label: rng.below(2))
        }
        var o = TrainingOptions()
        o.seqLen = L; o.batchSize = B; o.steps = 1000; o.threads = threads ?? Parallel.defaultThreads
        let trainer = try Trainer(model: model, examples: examples, options: o, source: "random")
        _ = try trainer.trainStep()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) { best = min(best, try trainer.trainStep().seconds) }
        let seqs = examples.prefix(B).map(\.tokens)
        _ = try model.classifierLogits(seqs, batchSize: B)
        var bestInfer = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = Date()
            _ = try model.classifierLogits(seqs, batchSize: B)
            bestInfer = min(bestInfer, Date().timeIntervalSince(t0))
        }
        emit([("bench", "\"classify\""), ("bidirectional", "\(bidirectional)"), ("threads", "\(o.threads)"),
              ("train_tokens_per_second", String(format: "%.0f", Double(L * B) / best)),
              ("infer_tokens_per_second", String(format: "%.0f", Double(L * B) / bestInfer)),
              ("seq_len", "\(L)"), ("batch", "\(B)"), ("parameters", "\(model.parameterCount)"),
              ("step_seconds", String(format: "%.4f", best)), ("peak_rss_bytes", "\(peakRSSBytes())")])
    }
}
