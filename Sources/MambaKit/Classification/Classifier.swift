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

    /// pooled (B, D) from hidden (B·L, D) over each sequence's valid positions.
    func pool(_ hidden: UnsafePointer<Float>, batch B: Int, length L: Int, lengths: [Int],
              into pooled: UnsafeMutablePointer<Float>) {
        let D = config.dModel
        for b in 0..<B {
            let out = pooled + b * D, n = lengths[b]
            switch config.pooling {
            case .last:
                out.update(from: hidden + (b * L + n - 1) * D, count: D)
            case .mean:
                out.update(repeating: 0, count: D)
                for t in 0..<n { mk_add_inplace(out, hidden + (b * L + t) * D, D) }
                let s = 1 / Float(n)
                for i in 0..<D { out[i] *= s }
            }
        }
    }

    /// logits (B, C) = pooled (B, D) · Wᵀ + bias.
    func classifierHead(_ pooled: UnsafePointer<Float>, batch B: Int, into logits: UnsafeMutablePointer<Float>) {
        let C = config.numLabels, D = config.dModel
        let w = parameters.pointer + layout.classifier!, bias = parameters.pointer + layout.classifierBias!
        for b in 0..<B {
            for k in 0..<C {
                var acc: Float = 0
                let row = w + k * D, x = pooled + b * D
                for i in 0..<D { acc += row[i] * x[i] }
                logits[b * C + k] = acc + bias[k]
            }
        }
    }

    // MARK: - Inference

    /// Classification logits (n, C) for sequences of any lengths. Sequences are grouped by length into
    /// right-padded batches of up to `batchSize`; padding does not change any result.
    public func classifierLogits(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        guard config.numLabels > 0 else { throw ModelError.notAClassifier }
        let C = config.numLabels, D = config.dModel
        let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
        var out = [[Float]](repeating: [], count: sequences.count)
        var i = 0
        while i < order.count {
            let idx = Array(order[i..<min(i + max(1, batchSize), order.count)])
            let (tokens, L, lengths) = try paddedBatch(idx.map { sequences[$0] })
            let B = idx.count
            try tokens.withUnsafeBufferPointer { try backbone($0, batch: B, state: makeState(batch: B), lengths: lengths) }
            let pooled = FloatBuffer(count: B * D), logits = FloatBuffer(count: B * C)
            pool(workspace.normed.pointer, batch: B, length: L, lengths: lengths, into: pooled.pointer)
            classifierHead(pooled.pointer, batch: B, into: logits.pointer)
            for (b, j) in idx.enumerated() { out[j] = Array(UnsafeBufferPointer(start: logits.pointer + b * C, count: C)) }
            i += B
        }
        return out
    }

    /// Class probabilities (n, C): softmax of ``classifierLogits(_:batchSize:)``.
    public func classifierProbabilities(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        try classifierLogits(sequences, batchSize: batchSize).map(Self.softmax)
    }

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
        guard config.numLabels > 0, let wOff = layout.classifier, let bOff = layout.classifierBias else {
            throw ModelError.notAClassifier
        }
        let C = config.numLabels, D = config.dModel
        for (i, e) in examples.enumerated() where e.label < 0 || e.label >= C {
            throw ModelError.labelOutOfRange(label: e.label, example: i, numLabels: C)
        }
        let (tokens, L, lengths) = try paddedBatch(examples.map(\.tokens))
        let B = examples.count
        try tokens.withUnsafeBufferPointer { try backbone($0, batch: B, state: makeState(batch: B), tape: tape, lengths: lengths) }

        // head: pooled (B, D), logits (B, C)
        let pooled = FloatBuffer(count: B * D), logits = FloatBuffer(count: B * C)
        pool(tape.hidden.pointer, batch: B, length: L, lengths: lengths, into: pooled.pointer)
        classifierHead(pooled.pointer, batch: B, into: logits.pointer)

        // cross-entropy and dlogits = gradScale · (softmax − onehot)
        var lossSum = 0.0, correct = 0
        let w = parameters.pointer + wOff, dW = grads.pointer + wOff, dBias = grads.pointer + bOff
        let dPooled = FloatBuffer(count: B * D)
        for b in 0..<B {
            let z = Array(UnsafeBufferPointer(start: logits.pointer + b * C, count: C))
            let m = z.max()!
            let lse = Double(m) + Foundation.log(z.reduce(0.0) { $0 + Foundation.exp(Double($1 - m)) })
            let y = examples[b].label
            lossSum += lse - Double(z[y])
            if z.firstIndex(of: m) == y { correct += 1 }
            let x = pooled.pointer + b * D, dx = dPooled.pointer + b * D
            for k in 0..<C {
                let g = Float(Foundation.exp(Double(z[k]) - lse) - (k == y ? 1 : 0)) * gradScale
                dBias[k] += g
                let row = w + k * D, dRow = dW + k * D
                for i in 0..<D { dRow[i] += g * x[i]; dx[i] += g * row[i] }
            }
        }

        // dHidden: dPooled spread over the pooled positions (zero at padding)
        tape.dHidden.zero()
        for b in 0..<B {
            let n = lengths[b], dp = dPooled.pointer + b * D
            switch config.pooling {
            case .last:
                (tape.dHidden.pointer + (b * L + n - 1) * D).update(from: dp, count: D)
            case .mean:
                let s = 1 / Float(n)
                for t in 0..<n {
                    let row = tape.dHidden.pointer + (b * L + t) * D
                    for i in 0..<D { row[i] = dp[i] * s }
                }
            }
        }
        backwardFromHidden(inputs: tokens, batch: B, tape: tape, grads: grads)
        return (lossSum, correct)
    }
}
