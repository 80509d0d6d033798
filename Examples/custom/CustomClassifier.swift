// CustomClassifier.swift — a model built from MambaKit's layers on continuous input: spoken digits
// (FSDD) classified from log-mel frames.
//
//   clip (8 kHz) → log-mel frames (L, F)        MambaAudio's FFTW STFT, normalised per mel band
//   → InputProjection (F → D) → MambaBlock × n → norm_f → PooledHead (mean) → 10 digits
//
// The composition is one line (`SequenceClassifier(backbone:head:)` with `input: .features(F)`); the
// training objective is written here, as a user would write one: the library's feature objective plus
// SpecAugment-style time masking and a random gain (a constant added to every log-mel value).
//
//   swift run -c release custom-classifier [--data ../shared/datasets/fsdd] [--steps 400] [--out DIR]
import ArgumentParser
import Foundation
import MambaAudio
import MambaKit

/// Log-mel frames of every clip, normalised with the training set's per-band mean and deviation.
struct LogMelFeatures {
    let mels: Int
    let spectrogram = Spectrogram(fftSize: 256, hop: 80)    // 32 ms windows, 10 ms hop at 8 kHz

    func frames(_ clips: [AudioClip]) throws -> [[Float]] {
        var out = [[Float]](repeating: [], count: clips.count)
        var failure: Error? = nil
        let lock = NSLock()
        Parallel.forParts(clips.count, threads: Parallel.defaultThreads) { _, range in
            for i in range {
                do {
                    let samples = try AudioDataset.load(clips[i], sampleRate: 8000, minSamples: 256)
                    let v = spectrogram.logMel(Waveform(samples: samples, sampleRate: 8000), mels: mels).values
                    lock.lock(); out[i] = v; lock.unlock()
                } catch { lock.lock(); failure = error; lock.unlock() }
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Per-band mean and standard deviation over all frames of `sets`.
    static func statistics(_ sets: [[Float]], mels F: Int) -> (mean: [Float], std: [Float]) {
        var sum = [Double](repeating: 0, count: F), sq = sum, n = 0.0
        for x in sets { for (i, v) in x.enumerated() { sum[i % F] += Double(v); sq[i % F] += Double(v) * Double(v) }; n += Double(x.count / F) }
        let mean = sum.map { $0 / n }
        let std = zip(sq, mean).map { max(($0 / n - $1 * $1).squareRoot(), 1e-3) }
        return (mean.map(Float.init), std.map(Float.init))
    }
}

/// The objective, written against the public protocol: draw, augment, then the classifier's own
/// forward and backward.
final class AugmentedLogMelObjective: TrainingObjective {
    let classifier: SequenceClassifier
    let examples: [LabeledFeatures]
    let tape: TrainingTape
    let mels: Int
    var model: any TrainableModel { classifier }

    init(classifier: SequenceClassifier, examples: [LabeledFeatures], mels: Int) {
        self.classifier = classifier; self.examples = examples; self.mels = mels
        tape = classifier.makeTape()
    }

    func lossTerms(options: TrainingOptions) -> Int { options.batchSize }

    func accumulate(options: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer, scale: Float) throws -> ObjectiveResult {
        let F = mels
        let batch: [LabeledFeatures] = (0..<options.batchSize).map { _ in
            var e = examples[random.below(examples.count)]
            let steps = e.features.count / F
            let width = random.below(min(10, steps / 4) + 1)            // mask up to 10 frames (≤ ¼ of the clip)
            let start = random.below(steps - width + 1)
            for i in (start * F)..<((start + width) * F) { e.features[i] = 0 }
            let gain = (random.uniform() - 0.5) * 0.6                   // ±0.3 in normalised log-mel units
            for i in e.features.indices { e.features[i] += gain }
            return e
        }
        let r = try classifier.accumulateGradient(batch, tape: tape, grads: grads, gradScale: scale)
        return ObjectiveResult(lossSum: r.lossSum, tokens: batch.reduce(0) { $0 + $1.features.count / F }, correct: r.correct)
    }
}

/// Index of the largest value.
func argmax(_ x: [Float]) -> Int { x.indices.max { x[$0] < x[$1] }! }

@main
struct CustomClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "custom-classifier",
        abstract: "Spoken digits from log-mel frames with a classifier composed from MambaKit layers.")

    @Option(help: "FSDD folder (with manifest.csv).") var data = "../shared/datasets/fsdd"
    @Option(help: "Mel bands per frame (F).") var mels = 40
    @Option(help: "Model width D.") var dModel = 64
    @Option(help: "Mamba blocks.") var layers = 4
    @Option(help: "Optimiser steps.") var steps = 400
    @Option(help: "Clips per step.") var batchSize = 16
    @Option(help: "Learning rate.") var lr: Float = 3e-3
    @Option(help: "Threads.") var threads = Parallel.defaultThreads
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Where the model, metrics.jsonl and loss_curve.svg go.") var out = "Data/cache/custom/fsdd-logmel"

    func validate() throws {
        guard mels >= 1, mels <= 256 else { throw ValidationError("--mels \(mels): must be 1…256") }
        guard dModel >= 4, dModel <= 4096, layers >= 1, layers <= 64 else { throw ValidationError("--d-model 4…4096 and --layers 1…64") }
        guard steps >= 1, batchSize >= 1, batchSize <= 4096, threads >= 1, threads <= 256 else {
            throw ValidationError("--steps ≥ 1, --batch-size 1…4096, --threads 1…256")
        }
        guard lr.isFinite, lr > 0 else { throw ValidationError("--lr \(lr): must be a positive finite number") }
    }

    func run() throws {
        let started = Date()
        let manifest = URL(fileURLWithPath: data).appendingPathComponent("manifest.csv").path
        let ds = try AudioDataset.open(manifest, labelColumn: "digit")
        let trainClips = try ds.clips(split: "train"), testClips = try ds.clips(split: "test")
        let labels = AudioDataset.labels(of: trainClips)
        let features = LogMelFeatures(mels: mels)
        var trainX = try features.frames(trainClips), testX = try features.frames(testClips)
        let (mean, std) = LogMelFeatures.statistics(trainX, mels: mels)
        func normalise(_ x: inout [[Float]]) { for j in x.indices { for i in x[j].indices { x[j][i] = (x[j][i] - mean[i % mels]) / std[i % mels] } } }
        normalise(&trainX); normalise(&testX)
        let train = zip(trainX, try AudioDataset.labelIndices(trainClips, labels: labels)).map { LabeledFeatures(features: $0, label: $1) }
        let testY = try AudioDataset.labelIndices(testClips, labels: labels)
        let frames = trainX.map { $0.count / mels }
        print(String(format: "FSDD: %d train / %d test clips, %d log-mel bands, %d–%d frames (%.1f s to prepare)",
                     train.count, testX.count, mels, frames.min() ?? 0, frames.max() ?? 0, Date().timeIntervalSince(started)))

        // The composition: InputProjection → MambaBlocks → norm_f → PooledHead.
        let backbone = MambaConfig(dModel: dModel, nLayer: layers, vocabSize: 1)
        let head = ClassifierConfig(labels: labels, pooling: .mean, input: .features(mels))
        let model = try SequenceClassifier.randomlyInitialised(backbone: backbone, head: head, seed: seed)
        print("model: \(model.layout.count) parameters (D=\(dModel), \(layers) blocks, F=\(mels) → \(labels.count) classes)")

        var o = TrainingOptions()
        o.steps = steps; o.batchSize = batchSize; o.seqLen = 1 << 20; o.threads = threads; o.seed = seed; o.logEvery = 50
        o.adamw.learningRate = lr; o.adamw.warmupSteps = min(50, steps / 10); o.adamw.weightDecay = 0.01
        let objective = AugmentedLogMelObjective(classifier: model, examples: train, mels: mels)
        let run = TrainingRun(trainer: try Trainer(objective: objective, options: o), evalEvery: max(1, steps / 4),
                              outDirectory: URL(fileURLWithPath: out))
        run.validate = {
            let predicted = try model.logits(features: testX, batchSize: 32).map(argmax)
            let m = ClassificationMetrics(predicted: predicted, truth: testY, labels: labels)
            return [("test_accuracy", m.accuracy), ("test_mcc", m.mcc)]
        }
        let t0 = Date()
        try run.run { print($0) }
        let predicted = try model.logits(features: testX, batchSize: 32).map(argmax)
        let m = ClassificationMetrics(predicted: predicted, truth: testY, labels: labels)
        print(String(format: "test accuracy %.4f, MCC %.4f after %d steps, %.0f s training on %d threads; model in %@",
                     m.accuracy, m.mcc, steps, Date().timeIntervalSince(t0), threads, out))
    }
}
