// TokenClassifier.swift — what a classifier of token-id sequences offers a training objective and a
// front end: its classes, its vocabulary, logits for a batch of sequences and the gradient of the
// summed cross-entropy. ``SequenceClassifier`` (token input) is the one front ends build; an older
// ``MambaModel`` with labels in config.json conforms too, so its checkpoints keep training.
import Foundation

/// A classifier of token-id sequences (any lengths, right-padded internally; padding never changes a result).
public protocol TokenClassifier: TrainableModel {
    /// Class names, index = class id (C of them).
    var labels: [String] { get }
    /// Token ids must be in 0 ..< vocabSize (V).
    var vocabSize: Int { get }
    /// Logits (n, C) of `sequences`, in length-grouped batches of up to `batchSize`.
    func classifierLogits(_ sequences: [[Int32]], batchSize: Int) throws -> [[Float]]
    /// Forward and backward of the summed cross-entropy of `examples` (one right-padded batch);
    /// gradients are **added** to `grads` scaled by `gradScale`.
    func accumulateClassificationGradient(_ examples: [LabeledSequence], tape: TrainingTape, grads: FloatBuffer,
                                          gradScale: Float) throws -> (lossSum: Double, correct: Int)
    /// A tape for training this classifier.
    func makeTape() -> TrainingTape
}

extension TokenClassifier {
    /// Class probabilities (n, C): the softmax of ``classifierLogits(_:batchSize:)`` row by row.
    public func classifierProbabilities(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        try classifierLogits(sequences, batchSize: batchSize).map(MambaModel.softmax)
    }

    /// The predicted class of each sequence: the argmax of its logits (the first on ties).
    public func predictedClasses(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [Int] {
        try classifierLogits(sequences, batchSize: batchSize).map(Self.argmax)
    }

    /// The index of the largest value (the first on ties; 0 for an empty row).
    public static func argmax(_ row: [Float]) -> Int {
        var best = 0
        for i in row.indices where row[i] > row[best] { best = i }
        return best
    }
}

extension MambaModel: TokenClassifier {
    /// The config's labels (empty for a language model).
    public var labels: [String] { config.labels }
    public var vocabSize: Int { config.vocabSize }
    public func makeTape() -> TrainingTape { TrainingTape(config: config) }
}

extension SequenceClassifier: TokenClassifier {
    public var vocabSize: Int { backboneConfig.vocabSize }

    /// ``logits(tokens:batchSize:)``; a feature-input classifier refuses token ids.
    public func classifierLogits(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        try logits(tokens: sequences, batchSize: batchSize)
    }

    /// ``accumulateGradient(_:tape:grads:gradScale:)`` for token examples.
    public func accumulateClassificationGradient(_ examples: [LabeledSequence], tape: TrainingTape, grads: FloatBuffer,
                                                 gradScale: Float) throws -> (lossSum: Double, correct: Int) {
        try accumulateGradient(examples, tape: tape, grads: grads, gradScale: gradScale)
    }
}
