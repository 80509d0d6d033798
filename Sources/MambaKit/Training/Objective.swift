// Objective.swift — what a Trainer optimises: a model (one parameter block) and a loss over data it
// draws itself. The Trainer owns the loop (accumulation, clipping, AdamW, non-finite guards,
// checkpoints, the seeded data stream); an objective owns one micro-batch's forward and backward.
import Foundation

/// A model a ``Trainer`` can optimise: one parameter block with a layout, derived values to refresh
/// after an update, and a checkpoint format.
public protocol TrainableModel: AnyObject {
    var parameters: FloatBuffer { get }
    var layout: ParameterLayout { get }
    var threads: Int { get set }
    /// Recomputes values derived from the parameters (A = −exp(A_log)) after an update.
    func refreshDerived()
    /// Writes the model's files (config, weights, sidecars) into `directory`.
    func save(to directory: URL, dtype: SafetensorsDType) throws
}

extension TrainableModel {
    /// Number of parameters.
    public var parameterCount: Int { layout.count }
}

/// What one micro-batch of an objective did.
public struct ObjectiveResult: Sendable {
    /// Summed loss (nats) over the micro-batch's loss terms.
    public var lossSum: Double
    /// Tokens (or steps of input) the micro-batch processed, for throughput.
    public var tokens: Int
    /// Correct predictions, for objectives that classify.
    public var correct: Int?
    public init(lossSum: Double, tokens: Int, correct: Int? = nil) {
        self.lossSum = lossSum; self.tokens = tokens; self.correct = correct
    }
}

/// A training objective: draws a micro-batch from its data with the trainer's seeded generator,
/// runs the forward and backward, and **adds** `scale` × d(summed loss)/dθ to `grads`.
///
/// The trainer's loss is the mean over all loss terms of a step: it calls
/// ``lossTerms(options:)`` to scale the gradient, so an objective never divides by itself.
public protocol TrainingObjective: AnyObject {
    var model: any TrainableModel { get }
    /// Loss terms in one micro-batch (e.g. B·L next-token predictions, or B examples).
    func lossTerms(options: TrainingOptions) -> Int
    /// One micro-batch: draw with `random`, forward, backward into `grads` scaled by `scale`.
    func accumulate(options: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer, scale: Float) throws -> ObjectiveResult
    /// Data-parallel training: draws the whole micro-batch with `random` (exactly as the call above, so
    /// the stream stays in step on every rank) and runs the forward and backward of `shard`'s items only
    /// (``BatchShard/range(of:)``), adding `scale` × their d(summed loss)/dθ to `grads`; `scale` is still
    /// 1 / (loss terms of the whole step), so the ranks' gradients sum to the whole batch's. The result
    /// counts this shard's loss, tokens and correct predictions. The default handles ``BatchShard/whole``
    /// and refuses any other shard; the built-in objectives implement it.
    func accumulate(options: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer, scale: Float,
                    shard: BatchShard) throws -> ObjectiveResult
    /// Called before the micro-batches of optimiser step `step` (0-based), e.g. for a curriculum that
    /// depends on the step; it must depend on `step` alone, so that a resumed run draws the same data.
    func beginStep(_ step: Int, options: TrainingOptions) throws
}

extension TrainingObjective {
    public func beginStep(_ step: Int, options: TrainingOptions) throws {}

    public func accumulate(options: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer, scale: Float,
                           shard: BatchShard) throws -> ObjectiveResult {
        guard shard.isWhole else {
            throw DistributedError.cannotSplit("\(type(of: self)) does not split its micro-batch over ranks; implement accumulate(options:random:grads:scale:shard:) to train it under mpirun")
        }
        return try accumulate(options: options, random: &random, grads: grads, scale: scale)
    }
}

// MARK: - Language modelling

/// Next-token prediction on one token stream: each micro-batch is `batchSize` windows of seq-len + 1
/// tokens at random offsets, each window from the empty state, processed in `chunkLength` chunks
/// (truncated backprop: the state is carried, detached, between chunks). With the options'
/// ``TrainingOptions/lengthWarmup`` the window length and batch follow its stages.
public final class LanguageModelObjective: TrainingObjective {
    public let lm: MambaModel
    public let tokens: [Int32]
    let tape: TrainingTape
    public var model: any TrainableModel { lm }
    /// (window length, batch) of the current step (``TrainingOptions/windowStage(step:)``).
    var stage: (length: Int, batch: Int) = (0, 0)

    public init(model: MambaModel, tokens: [Int32], seqLen: Int, source: String = "tokens") throws {
        guard tokens.count >= seqLen + 1 else {
            throw TrainingError.notEnoughTokens(have: tokens.count, need: seqLen + 1, source: source)
        }
        if model.config.readsBothDirections {
            throw TrainingError.invalidOptions("a model that reads both directions (\(model.config.rcps ? "rcps" : "bidirectional")) cannot be trained on next-token prediction; use masked-LM pretraining (MaskedLMObjective; `train dna-lm` does so for such a model)")
        }
        guard model.lmHead != nil else { throw ModelError.notALanguageModel }
        let V = model.config.vocabSize
        if let i = tokens.firstIndex(where: { $0 < 0 || Int($0) >= V }) {
            throw ModelError.tokenOutOfRange(token: Int(tokens[i]), position: i, vocabSize: V, source: source)
        }
        lm = model; self.tokens = tokens
        tape = TrainingTape(config: model.config)
    }

    public func beginStep(_ step: Int, options o: TrainingOptions) throws { stage = o.windowStage(step: step) }

    public func lossTerms(options o: TrainingOptions) -> Int { stage.batch * stage.length }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float) throws -> ObjectiveResult {
        try accumulate(options: o, random: &random, grads: grads, scale: scale, shard: .whole)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float, shard: BatchShard) throws -> ObjectiveResult {
        let L = stage.length
        let chunk = o.chunkLength > 0 ? min(o.chunkLength, L) : L
        let span = tokens.count - (L + 1)
        let all = (0..<stage.batch).map { _ in span == 0 ? 0 : random.below(span + 1) }   // the whole batch's offsets
        let starts = shard.slice(all)                // this rank's windows
        let B = starts.count
        guard B > 0 else { return ObjectiveResult(lossSum: 0, tokens: 0) }
        let state = lm.makeState(batch: B)          // each window starts from the empty state
        var lossSum = 0.0
        var c0 = 0
        while c0 < L {                               // chunks of the window; state carried, detached
            let n = min(chunk, L - c0)
            var inputs = [Int32](repeating: 0, count: B * n), targets = inputs   // (B, n)
            for b in 0..<B {
                for i in 0..<n {
                    inputs[b * n + i] = tokens[starts[b] + c0 + i]
                    targets[b * n + i] = tokens[starts[b] + c0 + i + 1]
                }
            }
            lossSum += try lm.accumulateGradient(inputs: inputs, targets: targets, batch: B, state: state,
                                                 tape: tape, grads: grads, gradScale: scale).lossSum
            c0 += n
        }
        return ObjectiveResult(lossSum: lossSum, tokens: B * L)
    }
}

// MARK: - Classification of token sequences

/// Classification of labelled token sequences: each micro-batch draws `batchSize` examples at random
/// (with replacement); a sequence longer than seq-len is cropped to a random seq-len window;
/// `augment` is applied to each drawn example. One loss term per example.
public final class ClassificationObjective: TrainingObjective {
    /// A token-input ``SequenceClassifier``, or an older ``MambaModel`` with labels.
    public let classifier: any TokenClassifier
    public let examples: [LabeledSequence]
    /// Applied to each drawn example (e.g. reverse complement with probability ½).
    public let augment: ((inout [Int32], inout SeededRandom) -> Void)?
    let tape: TrainingTape
    public var model: any TrainableModel { classifier }

    /// - Throws: ``ModelError/notAClassifier`` for a model without classes,
    ///   ``ModelError/labelOutOfRange(label:example:numLabels:)`` and
    ///   ``ModelError/tokenOutOfRange(token:position:vocabSize:source:)`` naming the example, and
    ///   ``TrainingError/invalidOptions(_:)`` naming `source` for no or empty examples.
    public init(model: any TokenClassifier, examples: [LabeledSequence],
                augment: ((inout [Int32], inout SeededRandom) -> Void)? = nil, source: String) throws {
        let C = model.labels.count
        guard C > 0 else { throw ModelError.notAClassifier }
        if let s = model as? SequenceClassifier, case .features = s.head.input {
            throw TrainingError.invalidOptions("\(source): the classifier reads features; use FeatureClassificationObjective")
        }
        guard !examples.isEmpty else {
            throw TrainingError.invalidOptions("\(source): no labelled examples to train on")
        }
        let V = model.vocabSize
        for (i, e) in examples.enumerated() {
            if e.label < 0 || e.label >= C {
                throw ModelError.labelOutOfRange(label: e.label, example: i, numLabels: C)
            }
            if e.tokens.isEmpty { throw TrainingError.invalidOptions("\(source): example \(i) is empty") }
            if let j = e.tokens.firstIndex(where: { $0 < 0 || Int($0) >= V }) {
                throw ModelError.tokenOutOfRange(token: Int(e.tokens[j]), position: j, vocabSize: V, source: "\(source), example \(i)")
            }
        }
        classifier = model; self.examples = examples; self.augment = augment
        tape = model.makeTape()
    }

    public func lossTerms(options o: TrainingOptions) -> Int { o.batchSize }

    /// The examples of the next micro-batch: drawn, cropped, augmented.
    func draw(options o: TrainingOptions, random: inout SeededRandom) -> [LabeledSequence] {
        (0..<o.batchSize).map { _ in
            var e = examples[random.below(examples.count)]
            if e.tokens.count > o.seqLen {
                let start = random.below(e.tokens.count - o.seqLen + 1)
                e.tokens = Array(e.tokens[start..<(start + o.seqLen)])
            }
            augment?(&e.tokens, &random)
            return e
        }
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float) throws -> ObjectiveResult {
        try accumulate(options: o, random: &random, grads: grads, scale: scale, shard: .whole)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float, shard: BatchShard) throws -> ObjectiveResult {
        let batch = shard.slice(draw(options: o, random: &random))
        guard !batch.isEmpty else { return ObjectiveResult(lossSum: 0, tokens: 0, correct: 0) }
        let r = try classifier.accumulateClassificationGradient(batch, tape: tape, grads: grads, gradScale: scale)
        return ObjectiveResult(lossSum: r.lossSum, tokens: batch.reduce(0) { $0 + $1.tokens.count }, correct: r.correct)
    }
}

extension MambaModel: TrainableModel {}
