// MaskedLMObjective.swift — masked-language-model pretraining (BERT; Caduceus for DNA) on one token stream.
//
//   each micro-batch: B windows of L tokens at random offsets (L, B from the length warm-up's stage, else
//   seq-len and batch size); each window masked by the ``MaskingScheme`` (m = round(p·L) positions
//   predicted); loss = Σ over the predicted positions of −log p(x_i | x̃), read from both directions.
//   Loss terms per micro-batch: B·m, known before the draw, so the trainer's mean is exact.
import Foundation

/// Masked-LM pretraining of a bidirectional or RC-equivariant ``MambaModel`` on a token stream.
public final class MaskedLMObjective: TrainingObjective {
    public let lm: MambaModel
    public let tokens: [Int32]
    public let masking: MaskingScheme
    let tape: TrainingTape
    public var model: any TrainableModel { lm }
    /// (window length, batch) of the current step (``TrainingOptions/windowStage(step:)``).
    var stage: (length: Int, batch: Int) = (0, 0)

    /// - Throws: ``TrainingError/invalidOptions(_:)`` for a causal model or a bad scheme,
    ///   ``TrainingError/notEnoughTokens(have:need:source:)``, and
    ///   ``ModelError/tokenOutOfRange(token:position:vocabSize:source:)`` naming `source`.
    public init(model: MambaModel, tokens: [Int32], seqLen: Int, masking: MaskingScheme, source: String = "tokens") throws {
        guard model.config.readsBothDirections else {
            throw TrainingError.invalidOptions("\(source): masked-LM pretraining needs a model that reads both directions (--bidirectional or --rc-equivariant); a causal model is pretrained on next-token prediction")
        }
        guard model.lmHead != nil else { throw ModelError.notALanguageModel }
        if let p = masking.problem { throw TrainingError.invalidOptions("\(source): \(p)") }
        guard tokens.count >= seqLen else { throw TrainingError.notEnoughTokens(have: tokens.count, need: seqLen, source: source) }
        let V = model.config.vocabSize
        for t in [masking.maskToken] + masking.randomTokens where t < 0 || Int(t) >= V {
            throw TrainingError.invalidOptions("\(source): the masking scheme uses token \(t), outside the model's vocabulary 0 ..< \(V)")
        }
        if let i = tokens.firstIndex(where: { $0 < 0 || Int($0) >= V }) {
            throw ModelError.tokenOutOfRange(token: Int(tokens[i]), position: i, vocabSize: V, source: source)
        }
        lm = model; self.tokens = tokens; self.masking = masking
        tape = TrainingTape(config: model.config)
    }

    public func beginStep(_ step: Int, options o: TrainingOptions) throws {
        stage = o.windowStage(step: step)
    }

    public func lossTerms(options o: TrainingOptions) -> Int {
        stage.batch * masking.predicted(count: stage.length)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float) throws -> ObjectiveResult {
        try accumulate(options: o, random: &random, grads: grads, scale: scale, shard: .whole)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float, shard: BatchShard) throws -> ObjectiveResult {
        let L = stage.length
        let span = tokens.count - L
        let mine = shard.range(of: stage.batch), B = mine.count
        var inputs: [Int32] = [], targets: [Int32] = []   // (B, L) each: this rank's windows
        inputs.reserveCapacity(B * L); targets.reserveCapacity(B * L)
        for b in 0..<stage.batch {                         // every window is drawn and masked, so the stream stays in step
            let s = span == 0 ? 0 : random.below(span + 1)
            let m = masking.apply(tokens[s..<(s + L)], random: &random)
            if mine.contains(b) { inputs += m.inputs; targets += m.targets }
        }
        guard B > 0 else { return ObjectiveResult(lossSum: 0, tokens: 0) }
        let r = try lm.accumulateMaskedLMGradient(inputs: inputs, targets: targets, batch: B, tape: tape, grads: grads, gradScale: scale)
        return ObjectiveResult(lossSum: r.lossSum, tokens: B * L)
    }
}
