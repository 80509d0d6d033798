// MaskedLM.swift — the masked-language-model head of a bidirectional (or RC-equivariant) Mamba: logits at
// every position from both directions, the cross-entropy at the masked positions and its backward.
//
//   hidden = Backbone(x̃)                              (S·B·L, D)  x̃ = the masked inputs, S streams
//   z      = hidden · Wᵀ                              (S·B·L, V)  W the LM head (tied to the embedding)
//   logits = z                                        (B·L, V)    one stream
//          = RCPairing.combine(z)                     (B·L, V)    rcps: W_v·A[i] + W_comp(v)·B'[len−1−i]
//   loss   = Σ_{i: target_i ≥ 0} −log softmax(logits_i)[target_i]
//   backward: dlogits = scale·(softmax − onehot) → dz (split back to the streams) → dHidden = dz·W,
//             dW += dzᵀ·hidden, then the backbone's backward.
// The (S·B·L, V) logits are held whole (V is small for DNA; for a large vocabulary use short windows).
import Foundation
import _MambaKernels

extension MambaModel {
    /// Logits (B·L, V) of the last backbone forward of (B, L) sequences of valid `lengths`, from
    /// `hidden` (streams·B·L, D): both streams combined for an RC-equivariant model.
    func lmLogits(hidden: UnsafePointer<Float>, batch B: Int, length L: Int, lengths: [Int]) throws -> FloatBuffer {
        guard let head = lmHead else { throw ModelError.notALanguageModel }
        let T = B * L, V = config.vocabSize
        let out = FloatBuffer(count: T * V)
        guard let rc = backbone.rcPairing else {
            head.forward(hidden, rows: T, logits: out.pointer, backbone.context())
            return out
        }
        let z = FloatBuffer(count: 2 * T * V)
        head.forward(hidden, rows: 2 * T, logits: z.pointer, backbone.context())
        rc.combineLogits(z.pointer, into: out.pointer, batch: B, length: L, lengths: lengths, vocabSize: V)
        return out
    }

    /// Masked-LM logits of each sequence (L_i, V), every position predicted from the whole sequence,
    /// in right-padded batches of up to `batchSize`. For a bidirectional or RC-equivariant model.
    public func maskedLMLogits(_ sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        let V = config.vocabSize
        var out: [[Float]] = []
        var i = 0
        while i < sequences.count {
            let group = Array(sequences[i..<min(sequences.count, i + max(1, batchSize))])
            let (ids, L, lengths) = try paddedBatch(group)
            let B = group.count
            try ids.withUnsafeBufferPointer { try backbone.forward(.tokens($0), batch: B, state: makeState(batch: B), lengths: lengths) }
            let logits = try lmLogits(hidden: backbone.workspace.normed.pointer, batch: B, length: L, lengths: lengths)
            for b in 0..<B { out.append(Array(UnsafeBufferPointer(start: logits.pointer + b * L * V, count: lengths[b] * V))) }
            i += B
        }
        return out
    }

    /// Summed cross-entropy (nats) and count of the positions `masked` predicts (targets ≥ 0) over
    /// `windows`, each masked with `masking` from a generator seeded `seed` (the same positions every call).
    public func maskedLMLoss(windows: [[Int32]], masking: MaskingScheme, seed: UInt64, batchSize: Int = 16) throws -> (lossSum: Double, count: Int) {
        var random = SeededRandom(seed: seed)
        let masked = windows.map { masking.apply($0[...], random: &random) }
        let logits = try maskedLMLogits(masked.map(\.inputs), batchSize: batchSize)
        let V = config.vocabSize
        var lossSum = 0.0, count = 0
        for (row, m) in zip(logits, masked) {
            var z = row
            lossSum += z.withUnsafeMutableBufferPointer { zp in
                m.targets.withUnsafeBufferPointer { mk_xent_fwd_bwd(zp.baseAddress!, Int32(m.targets.count), Int32(V), Int32(V), $0.baseAddress!, 0) }
            }
            count += m.targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        }
        return (lossSum, count)
    }

    /// Forward and backward of the summed masked-LM loss of `inputs` (B, L) (the masked ids; right-padded
    /// to valid `lengths`) against `targets` (B, L; −1 = no loss), each sequence read whole from a fresh
    /// state. Gradients are **added** to `grads` scaled by `gradScale`.
    ///
    /// - Throws: ``ModelError/invalidShape(_:)`` for a causal model without RC pairing (it cannot see a
    ///   masked token's right context).
    @discardableResult
    public func accumulateMaskedLMGradient(inputs: [Int32], targets: [Int32], batch B: Int, lengths: [Int]? = nil,
                                           tape: TrainingTape, grads: FloatBuffer, gradScale: Float) throws -> (lossSum: Double, count: Int) {
        precondition(grads.count == parameters.count, "gradient block must match the parameter block")
        guard config.readsBothDirections else {
            throw ModelError.invalidShape("masked-LM training needs a model that reads both directions: a causal model cannot see a masked token's right context (make it bidirectional, or train it on next-token prediction)")
        }
        guard let head = lmHead else { throw ModelError.notALanguageModel }
        guard inputs.count == targets.count, B > 0, inputs.count % B == 0 else {
            throw ModelError.invalidShape("inputs (\(inputs.count)) and targets (\(targets.count)) do not form one (B, L) batch of \(B)")
        }
        let V = config.vocabSize, D = config.dModel, L = inputs.count / B, T = B * L
        for (i, t) in targets.enumerated() where Int(t) >= V {
            throw ModelError.tokenOutOfRange(token: Int(t), position: i, vocabSize: V, source: nil)
        }
        let lens = lengths ?? [Int](repeating: L, count: B)
        let count = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        var lossSum = 0.0
        try inputs.withUnsafeBufferPointer { ids in
            try backbone.forward(.tokens(ids), batch: B, state: makeState(batch: B), tape: tape, lengths: lens)
            let ctx = backbone.context(gradients: grads)
            if let rc = backbone.rcPairing {
                let W = parameters.pointer + head.weight, dW = grads.pointer + head.weight
                let logits = try lmLogits(hidden: tape.hidden.pointer, batch: B, length: L, lengths: lens)   // (T, V)
                let z = FloatBuffer(count: 2 * T * V)                                                          // (2T, V)
                lossSum = targets.withUnsafeBufferPointer {
                    mk_xent_fwd_bwd(logits.pointer, Int32(T), Int32(V), Int32(V), $0.baseAddress!, gradScale)
                }
                rc.splitLogitGradient(logits.pointer, into: z.pointer, batch: B, length: L, lengths: lens, vocabSize: V)
                // dHidden = dz · W (2T, D);  dW += dzᵀ · hidden (V, D)
                mk_sgemm(0, 0, Int32(2 * T), Int32(D), Int32(V), 1, z.pointer, Int32(V), W, Int32(D), 0, tape.dHidden.pointer, Int32(D))
                mk_sgemm(1, 0, Int32(V), Int32(D), Int32(2 * T), 1, z.pointer, Int32(V), tape.hidden.pointer, Int32(D), 1, dW, Int32(D))
            } else {
                lossSum = targets.withUnsafeBufferPointer {
                    head.lossAndBackward(tape.hidden.pointer, targets: $0, scale: gradScale, dHidden: tape.dHidden.pointer,
                                         scratch: tape.logits.pointer, blockRows: tape.headRows, ctx)
                }
            }
            backbone.backward(input: .tokens(ids), tape: tape, gradients: grads)
        }
        return (lossSum, count)
    }
}
