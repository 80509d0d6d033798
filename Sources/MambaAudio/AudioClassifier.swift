// AudioClassifier.swift — clip classification on raw waveforms: tokens of each clip → backbone →
// pooling over time (mean or last) → linear (C, D) → softmax, a ``SequenceClassifier`` (its head in
// classifier.json beside config.json; older classifier directories load as one too).
import Foundation
import MambaKit

public enum AudioClassifier {
    // MARK: Examples

    /// Labelled token sequences of `clips` (read, resampled to `settings.sampleRate` and tokenized);
    /// `labels` fixes the class ids (a clip with another label is an error naming it).
    public static func examples(_ clips: [AudioClip], labels: [String], settings: AudioSettings,
                                threads: Int = Parallel.defaultThreads) throws -> [LabeledSequence] {
        let ids = try AudioDataset.labelIndices(clips, labels: labels)
        let tokens = try AudioDataset.tokenize(clips, settings: settings, threads: threads)
        return zip(tokens, ids).map { LabeledSequence(tokens: $0, label: $1) }
    }

    // MARK: Evaluation

    /// Predicted classes (argmax of the logits) for whole clips. `maxSamples` keeps the first
    /// that many samples of longer clips (0 = whole clips).
    public static func predict(model: any TokenClassifier, sequences: [[Int32]], maxSamples: Int = 0, batchSize: Int = 16) throws -> [Int] {
        let seqs = maxSamples > 0 ? sequences.map { Array($0.prefix(maxSamples)) } : sequences
        return try model.predictedClasses(seqs, batchSize: batchSize)
    }

    /// Accuracy, per-class accuracy and the confusion matrix of `model` on `examples`.
    public static func evaluate(model: any TokenClassifier, examples: [LabeledSequence], maxSamples: Int = 0) throws -> ClassificationMetrics {
        let predicted = try predict(model: model, sequences: examples.map(\.tokens), maxSamples: maxSamples)
        return ClassificationMetrics(predicted: predicted, truth: examples.map(\.label), labels: model.labels)
    }
}

// MARK: - Training runs

extension TrainingRun {
    /// A clip-classification run: validation accuracy on `validation` (whole clips, or their first
    /// `evalSamples` samples), audio.json saved into every checkpoint. The plotted validation figure
    /// is the error rate 1 − accuracy.
    public static func audioClassifier(trainer: Trainer, settings: AudioSettings, validation: [LabeledSequence]?,
                                       evalEvery: Int, evalSamples: Int = 0, outDirectory: URL?) -> TrainingRun {
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery, outDirectory: outDirectory)
        if let v = validation, !v.isEmpty {
            run.validate = {   // split over the ranks of a data-parallel run (one process: all clips)
                let model = trainer.classifier
                let predicted = try trainer.communicator.shardedPredictions(count: v.count) { r in
                    try AudioClassifier.predict(model: model, sequences: v[r].map(\.tokens), maxSamples: evalSamples)
                }
                let m = ClassificationMetrics(predicted: predicted, truth: v.map(\.label), labels: model.labels)
                return [("val_error", 1 - m.accuracy), ("val_accuracy", m.accuracy)]
            }
            run.validationIsSplit = true
        }
        run.extraFiles = { dir in try settings.save(to: dir) }
        return run
    }
}
