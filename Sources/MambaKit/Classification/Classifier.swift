// Classifier.swift — sequence classification on the backbone: pooled hidden states → linear → softmax.
//
//   h       = backbone(tokens)                      (B, L, D)  right-padded batch, valid lengths len_b
//   p_b     = pool(h_b[0 ..< len_b])                (B, D)     mean or last (see Pooling)
//   logit_b = W p_b + bias                          (B, C)
//   loss    = Σ_b −log softmax(logit_b)[label_b]
//
// Backward: dlogit = softmax − onehot (scaled); dW += dlogitᵀ·p; dbias += Σ dlogit; dp = dlogit·W;
// dh spreads dp over the pooled positions; then the backbone's backward from dh.
import Foundation
import _MambaKernels

extension MambaModel {
    // MARK: - Batches

    /// Right-pads `sequences` into one (B, L) batch, L = the longest; returns the tokens and lengths.
    func paddedBatch(_ sequences: [[Int32]]) throws -> (tokens: [Int32], length: Int, lengths: [Int]) {
        guard let L = sequences.map(\.count).max(), L > 0, !sequences.contains(where: \.isEmpty) else {
            throw ModelError.emptyInput(what: "a sequence to classify", hint: "every example needs at least one token")
        }
        let pad = Int32(min(max(config.padTokenId ?? 0, 0), config.vocabSize - 1))
        var tokens = [Int32](repeating: pad, count: sequences.count * L)
        for (b, s) in sequences.enumerated() {
            for (i, t) in s.enumerated() { tokens[b * L + i] = t }
        }
        return (tokens, L, sequences.map(\.count))
    }

    // MARK: - Inference

    /// Classification logits (n, C) for sequences of any lengths. Sequences are grouped by length into
    /// right-padded batches of up to `batchSize`; padding does not change any result.
    public func classifierLogits(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        guard let head = classifierHead else { throw ModelError.notAClassifier }
        return try head.logits(count: sequences.count, lengths: sequences.map(\.count), batchSize: batchSize,
                               backbone: backbone) { idx in
            let (tokens, L, lengths) = try paddedBatch(idx.map { sequences[$0] })
            try tokens.withUnsafeBufferPointer {
                try backbone.forward(.tokens($0), batch: idx.count, state: makeState(batch: idx.count), lengths: lengths)
            }
            return (L, lengths)
        }
    }

    /// Softmax of one row of logits (``TokenClassifier/classifierProbabilities(_:batchSize:)``).
    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    // MARK: - Training

    /// Forward and backward of the summed cross-entropy of a batch of labelled sequences (any lengths;
    /// right-padded into one batch). Gradients are **added** to `grads`, scaled by `gradScale`.
    /// - Returns: the summed loss (nats) and how many examples were classified correctly.
    @discardableResult
    public func accumulateClassificationGradient(_ examples: [LabeledSequence], tape: TrainingTape, grads: FloatBuffer,
                                                 gradScale: Float) throws -> (lossSum: Double, correct: Int) {
        precondition(grads.count == parameters.count, "gradient block must match the parameter block")
        guard let head = classifierHead else { throw ModelError.notAClassifier }
        let C = head.classes
        for (i, e) in examples.enumerated() where e.label < 0 || e.label >= C {
            throw ModelError.labelOutOfRange(label: e.label, example: i, numLabels: C)
        }
        let (tokens, L, lengths) = try paddedBatch(examples.map(\.tokens))
        let B = examples.count
        return try tokens.withUnsafeBufferPointer { ids in
            try backbone.forward(.tokens(ids), batch: B, state: makeState(batch: B), tape: tape, lengths: lengths)
            let r = head.lossAndBackward(tape.hidden.pointer, batch: B, length: L, lengths: lengths,
                                         labels: examples.map(\.label), scale: gradScale, dHidden: tape.dHidden.pointer,
                                         backbone.context(gradients: grads), streams: backbone.streams)
            backbone.backward(input: .tokens(ids), tape: tape, gradients: grads)
            return r
        }
    }
}
