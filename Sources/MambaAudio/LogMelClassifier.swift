// LogMelClassifier.swift — clip classification from log-mel frames: clip → LogMelFeatures (L, F) →
// InputProjection (F → D) → Mamba blocks (optionally BiMamba) → norm_f → pooling → linear (C, D) →
// softmax, a feature-input ``SequenceClassifier``. The model directory holds config.json,
// classifier.json (`"input": "features", "num_features": F`) and audio.json with the ``LogMelFeatures``
// (bands, window, hop, normalisation) every later use reads.
import Foundation
import MambaKit

public enum LogMelClassifier {
    // MARK: Models

    /// A new classifier of `labels` on log-mel frames of `features.mels` bands: `backbone` gives D, the
    /// layers, N and the mixer (its vocabulary is unused); initialised as
    /// ``MambaKit/SequenceClassifier/randomlyInitialised(backbone:head:seed:)``.
    public static func make(backbone: MambaConfig, features: LogMelFeatures, labels: [String], pooling: Pooling = .mean,
                            bidirectional: Bool = false, seed: UInt64) throws -> SequenceClassifier {
        var c = backbone
        c.vocabSize = 1
        let head = ClassifierConfig(labels: labels, pooling: pooling, bidirectional: bidirectional, input: .features(features.mels))
        return try SequenceClassifier.randomlyInitialised(backbone: c, head: head, seed: seed)
    }

    /// Checks that `model` (loaded from `dir`) reads what `settings` say: log-mel frames of the same
    /// band count when they have ``AudioSettings/features``, token ids otherwise.
    /// - Throws: ``AudioError/inputMismatch(path:detail:)`` naming the directory.
    public static func checkInput(_ model: SequenceClassifier, settings: AudioSettings, directory dir: URL) throws {
        switch (model.head.input, settings.features) {
        case (.features(let F), let f?) where F == f.mels: return
        case (.features(let F), let f?):
            throw AudioError.inputMismatch(path: dir.path, detail: "classifier.json reads \(F) features per step but audio.json has \(f.mels) mel bands")
        case (.features(let F), nil):
            throw AudioError.inputMismatch(path: dir.path, detail: "the classifier reads \(F) features per step but audio.json has no \"features\" (log-mel settings)")
        case (.tokens, let f?):
            throw AudioError.inputMismatch(path: dir.path, detail: "audio.json has \(f.mels)-band log-mel features but the classifier reads waveform token ids")
        case (.tokens, nil): return
        }
    }

    // MARK: Examples

    /// Normalised log-mel frames of `clips` with their class ids against `labels` (a clip with
    /// another label is an error naming it); `maxSamples` > 0 keeps only the first samples of each.
    public static func examples(_ clips: [AudioClip], labels: [String], sampleRate: Int, features: LogMelFeatures,
                                maxSamples: Int = 0, threads: Int = Parallel.defaultThreads) throws -> [LabeledFeatures] {
        let ids = try AudioDataset.labelIndices(clips, labels: labels)
        let x = try features.features(clips, sampleRate: sampleRate, maxSamples: maxSamples, threads: threads)
        return zip(x, ids).map { LabeledFeatures(features: $0, label: $1) }
    }

    // MARK: Evaluation

    /// Predicted classes (argmax of the logits) of whole clips' frames.
    public static func predict(model: SequenceClassifier, features: [[Float]], batchSize: Int = 16) throws -> [Int] {
        try model.logits(features: features, batchSize: batchSize).map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
    }

    /// Accuracy, per-class accuracy and the confusion matrix of `model` on `examples`.
    public static func evaluate(model: SequenceClassifier, examples: [LabeledFeatures]) throws -> ClassificationMetrics {
        let predicted = try predict(model: model, features: examples.map(\.features))
        return ClassificationMetrics(predicted: predicted, truth: examples.map(\.label), labels: model.labels)
    }
}

// MARK: - Training runs

extension TrainingRun {
    /// A log-mel clip-classification run: validation accuracy of `classifier` on `validation` (whole
    /// clips), audio.json (with the log-mel settings) saved into every checkpoint. The plotted
    /// validation figure is the error rate 1 − accuracy.
    public static func logMelClassifier(trainer: Trainer, classifier: SequenceClassifier, settings: AudioSettings,
                                        validation: [LabeledFeatures]?, evalEvery: Int, outDirectory: URL?) -> TrainingRun {
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery, outDirectory: outDirectory)
        if let v = validation, !v.isEmpty {
            run.validate = {   // split over the ranks of a data-parallel run (one process: all clips)
                let predicted = try trainer.communicator.shardedPredictions(count: v.count) { r in
                    try LogMelClassifier.predict(model: classifier, features: v[r].map(\.features))
                }
                let m = ClassificationMetrics(predicted: predicted, truth: v.map(\.label), labels: classifier.labels)
                return [("val_error", 1 - m.accuracy), ("val_accuracy", m.accuracy)]
            }
            run.validationIsSplit = true
        }
        run.extraFiles = { dir in try settings.save(to: dir) }
        return run
    }
}
