// DNAClassifier.swift — sequence classification on DNA: bases → NucleotideTokenizer ids → backbone →
// pooling (mean / last) → linear (C, D) → softmax (a ``SequenceClassifier``), with reverse-complement
// augmentation for training and reverse-complement test-time averaging:
//
//   p_rc(y | x) = ½ (softmax(f(x)) + softmax(f(rc(x))))
//
// which is invariant under x → rc(x) by construction (DNA is double-stranded: a promoter or a species'
// window reads the same information on either strand).
import Foundation
import MambaKit

public enum DNAClassifier {
    public static let tokenizer = NucleotideTokenizer()

    // MARK: Examples

    /// Token sequences and class ids of `data`; `labels` fixes the class ids.
    public static func examples(_ data: [LabeledDNA], labels: [String]) throws -> [LabeledSequence] {
        let ids = try DNADataset.labelIndices(data, labels: labels)
        return zip(data, ids).map { LabeledSequence(tokens: tokenizer.encode(bytes: $0.sequence), label: $1) }
    }

    /// Training augmentation: with probability ½, replace the tokens by their reverse complement.
    public static let reverseComplementAugment: @Sendable (inout [Int32], inout SeededRandom) -> Void = { tokens, random in
        if random.next() & 1 == 1 { tokens = NucleotideTokenizer.reverseComplement(tokens) }
    }

    // MARK: Prediction

    /// A batch size that keeps about 64k positions per forward pass.
    static func batchSize(for sequences: [[Int32]]) -> Int {
        max(1, min(32, 65536 / max(1, sequences.map(\.count).max() ?? 1)))
    }

    /// Class probabilities (n, C); with `rcAverage`, the average of the softmax of each sequence and
    /// of its reverse complement.
    public static func probabilities(model: any TokenClassifier, sequences: [[Int32]], rcAverage: Bool) throws -> [[Float]] {
        let bs = batchSize(for: sequences)
        guard rcAverage else { return try model.classifierProbabilities(sequences, batchSize: bs) }
        let fwd = try model.classifierProbabilities(sequences, batchSize: bs)
        let rev = try model.classifierProbabilities(sequences.map(NucleotideTokenizer.reverseComplement), batchSize: bs)
        return zip(fwd, rev).map { a, b in zip(a, b).map { ($0 + $1) / 2 } }
    }

    /// Predicted class ids (argmax of ``probabilities(model:sequences:rcAverage:)``).
    public static func predict(model: any TokenClassifier, sequences: [[Int32]], rcAverage: Bool) throws -> [Int] {
        try probabilities(model: model, sequences: sequences, rcAverage: rcAverage).map(SequenceClassifier.argmax)
    }

    /// Accuracy, MCC, F1 and the confusion matrix of `model` on `examples`.
    public static func evaluate(model: any TokenClassifier, examples: [LabeledSequence], rcAverage: Bool) throws -> ClassificationMetrics {
        let predicted = try predict(model: model, sequences: examples.map(\.tokens), rcAverage: rcAverage)
        return ClassificationMetrics(predicted: predicted, truth: examples.map(\.label), labels: model.labels)
    }

    /// At most `limit` examples, evenly strided over `examples` (all when `limit` ≤ 0).
    public static func subsample<T>(_ examples: [T], limit: Int) -> [T] {
        guard limit > 0, examples.count > limit else { return examples }
        return (0..<limit).map { examples[$0 * examples.count / limit] }
    }
}

// MARK: - Settings saved with a DNA model

/// What a DNA checkpoint carries besides the model (dna.json): the tokenizer and the task.
public struct DNASettings: ModelSidecar, Sendable, Equatable {
    public static let fileName = "dna.json"
    public var tokenizer = NucleotideTokenizer.name
    /// `classify` or `lm`.
    public var task: ModelTask
    public var rcAugment: Bool = false
    /// A masked LM's fraction of positions predicted (`mask_probability`), so a resumed run and `eval dna-lm`
    /// mask as training did; nil for other models (and in files written before it was saved).
    public var maskProbability: Double?

    enum CodingKeys: String, CodingKey { case tokenizer, task, rcAugment = "rc_augment", maskProbability = "mask_probability" }

    public init(task: ModelTask, rcAugment: Bool = false, maskProbability: Double? = nil) {
        self.task = task; self.rcAugment = rcAugment; self.maskProbability = maskProbability
    }

    /// Writes dna.json (atomically).
    public func save(to dir: URL) throws { try write(to: dir) }

    /// Reads dna.json of a model directory; nil when absent. A different tokenizer is an error.
    public static func load(from dir: URL) throws -> DNASettings? {
        guard let s = try read(from: dir) else { return nil }
        guard s.tokenizer == NucleotideTokenizer.name else {
            throw DataError.malformed(path: dir.appendingPathComponent(fileName).path, line: 1,
                                     detail: "tokenizer '\(s.tokenizer)' is not \(NucleotideTokenizer.name)",
                                     hint: "this model was made by a different DNA tokenizer version", kind: .dna)
        }
        return s
    }
}

// MARK: - Training runs

extension TrainingRun {
    /// A DNA classification run: validation accuracy and MCC on `validation` every `evalEvery` steps
    /// (plotted: error rate 1 − accuracy); dna.json saved into every checkpoint.
    public static func dnaClassifier(trainer: Trainer, settings: DNASettings, validation: [LabeledSequence]?, evalEvery: Int,
                                     rcAverage: Bool, outDirectory: URL?) -> TrainingRun {
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery, outDirectory: outDirectory)
        if let v = validation, !v.isEmpty {
            run.validate = {   // split over the ranks of a data-parallel run (one process: all examples)
                let model = trainer.classifier
                let predicted = try trainer.communicator.shardedPredictions(count: v.count) { r in
                    try DNAClassifier.predict(model: model, sequences: v[r].map(\.tokens), rcAverage: rcAverage)
                }
                let m = ClassificationMetrics(predicted: predicted, truth: v.map(\.label), labels: model.labels)
                return [("val_error", 1 - m.accuracy), ("val_accuracy", m.accuracy), ("val_mcc", m.mcc)]
            }
            run.validationIsSplit = true
        }
        run.extraFiles = { dir in try settings.save(to: dir) }
        return run
    }

    /// A DNA language-model run: validation bits per base on `validation` records (masked bits per base of
    /// windows of seq-len for a masked LM, `masking`); dna.json saved.
    public static func dnaLM(trainer: Trainer, validation: [[UInt8]]?, evalEvery: Int, evalBases: Int, outDirectory: URL?,
                             masking: MaskingScheme? = nil) -> TrainingRun {
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery, outDirectory: outDirectory)
        if let v = validation, !v.isEmpty {
            let windows = masking == nil ? [] : DNALM.windows(records: v, length: trainer.options.seqLen, maxBases: evalBases)
            run.validate = {
                let e = try masking.map { try DNALM.maskedEvaluate(model: trainer.model, windows: windows, masking: $0) }
                    ?? DNALM.evaluate(model: trainer.model, records: v, maxBases: evalBases)
                return [("val_loss", e.nll), ("val_bits_per_base", e.bitsPerBase)]
            }
        }
        run.extraFiles = { dir in try DNASettings(task: .languageModel, maskProbability: masking?.probability).save(to: dir) }
        return run
    }
}
