// Inference.swift — logits, scoring and single steps on top of the backbone.
import _MambaKernels

/// How a sequence is run through the model. Both give the same numbers.
public enum ForwardMode: String, CaseIterable, Sendable {
    /// The whole sequence at once (chunks of it, state passed between chunks): prefill, scoring, training.
    case parallel
    /// One token at a time from an explicit O(1) state: generation, streaming.
    case recurrent
}

extension MambaModel {
    // MARK: - Logits

    /// Logits (B·L, V) of a batch of equal-length sequences of token ids, run in parallel mode from
    /// `state` (a fresh zero state when nil), which is advanced past the tokens.
    public func logits(batch sequences: [[Int32]], state: MambaState? = nil) throws -> [Float] {
        guard let L = sequences.first?.count, L > 0 else {
            throw ModelError.emptyInput(what: "the token sequence", hint: "give at least one token id")
        }
        guard sequences.allSatisfy({ $0.count == L }) else {
            throw ModelError.invalidShape("sequences of one batch must have equal lengths")
        }
        let B = sequences.count
        let st = state ?? makeState(batch: B)
        for seq in sequences { try checkIds(seq) }
        let flat = sequences.flatMap { $0 }
        try flat.withUnsafeBufferPointer { try backbone.forward(.tokens($0), batch: B, state: st) }
        if backbone.rcPairing != nil {   // both streams' logits combined (see RCPairing)
            let z = try lmLogits(hidden: backbone.workspace.normed.pointer, batch: B, length: L, lengths: [Int](repeating: L, count: B))
            return Array(z.slice(0..<(B * L * config.vocabSize)))
        }
        var out = [Float](repeating: 0, count: B * L * config.vocabSize)
        try out.withUnsafeMutableBufferPointer { try headLogits(row0: 0, rows: B * L, into: $0.baseAddress!) }
        return out
    }

    /// Logits (L, V) of one sequence, parallel mode.
    public func logits(tokens: [Int32], state: MambaState? = nil) throws -> [Float] {
        try logits(batch: [tokens], state: state)
    }

    /// One recurrent step: feeds `tokens[b]` to sequence b of `state` and returns the next-token
    /// logits (B, V). The state advances by one token.
    public func step(_ tokens: [Int32], state: MambaState) throws -> [Float] {
        try checkCausal("a generation step")
        guard !tokens.isEmpty else {
            throw ModelError.emptyInput(what: "the step's token batch", hint: "give one token id per sequence")
        }
        try checkIds(tokens)
        try tokens.withUnsafeBufferPointer { try backbone.forward(.tokens($0), batch: tokens.count, state: state) }
        var out = [Float](repeating: 0, count: tokens.count * config.vocabSize)
        try out.withUnsafeMutableBufferPointer { try headLogits(row0: 0, rows: tokens.count, into: $0.baseAddress!) }
        return out
    }

    /// Prefill: runs `tokens` (one sequence) in parallel mode, in chunks of at most `chunkLength`,
    /// advancing `state`, and returns the logits (V) after the last token only.
    public func prefill(_ tokens: [Int32], state: MambaState, chunkLength: Int = 2048) throws -> [Float] {
        try checkCausal("prefill for generation")
        guard !tokens.isEmpty else {
            throw ModelError.emptyInput(what: "the prompt", hint: "give at least one token id")
        }
        try checkIds(tokens)
        let ids = tokens
        var start = 0, lastRows = 0
        while start < ids.count {
            let end = min(ids.count, start + max(1, chunkLength))
            try ids[start..<end].withUnsafeBufferPointer { try backbone.forward(.tokens($0), batch: 1, state: state) }
            lastRows = end - start
            start = end
        }
        var out = [Float](repeating: 0, count: config.vocabSize)
        try out.withUnsafeMutableBufferPointer { try headLogits(row0: lastRows - 1, rows: 1, into: $0.baseAddress!) }
        return out
    }

    // MARK: - Scoring

    /// `logprobs[i] = log p(tokens[i+1] | tokens[0...i])` (natural log), n-1 values for n tokens.
    ///
    /// Parallel mode runs chunks of `chunkLength` tokens, passing the state between them, and
    /// computes the (rows, V) logits `headRows` rows at a time, so memory stays bounded for any
    /// length. Recurrent mode feeds one token at a time. The loop is ``StreamingScorer``'s.
    public func logProbs(tokens: [Int32], mode: ForwardMode = .parallel, chunkLength: Int = 1024,
                         headRows: Int = 256) throws -> [Float] {
        guard tokens.count >= 2 else {
            throw ModelError.emptyInput(what: "a sequence of \(tokens.count) token(s)",
                                        hint: "scoring needs at least 2 tokens (a context and a next token)")
        }
        try checkIds(tokens)
        let ids = tokens
        let scorer = try StreamingScorer(model: self, chunkLength: mode == .recurrent ? 1 : chunkLength, headRows: headRows)
        var result = [Float](repeating: 0, count: ids.count - 1)
        try scorer.forEachLogProb(inputs: Array(ids.dropLast()), targets: Array(ids.dropFirst()), state: makeState(batch: 1)) { i, lp in
            result[i] = lp
        }
        return result
    }

    /// logits (rows, V) = hidden (rows, D) · headᵀ for hidden rows [row0, row0+rows) of the last backbone run.
    func headLogits(row0: Int, rows: Int, into logits: UnsafeMutablePointer<Float>) throws {
        guard let head = lmHead else { throw ModelError.notALanguageModel }
        head.forward(backbone.workspace.normed.pointer + row0 * config.dModel, rows: rows, logits: logits, backbone.context())
    }

    /// Refuses `what` (generation, next-token scoring) for a model that reads both directions.
    func checkCausal(_ what: String) throws {
        if config.readsBothDirections {
            throw ModelError.invalidShape("\(what) needs a causal model; this one reads both directions (\(config.rcps ? "rcps" : "bidirectional")): score it with masked-LM evaluation instead")
        }
    }

    /// Every id of `tokens` is in 0 ..< V (positions counted from the start of `tokens`).
    func checkIds<C: Collection>(_ tokens: C) throws where C.Element == Int32 {
        let V = config.vocabSize
        for (i, t) in tokens.enumerated() where t < 0 || Int(t) >= V {
            throw ModelError.tokenOutOfRange(token: Int(t), position: i, vocabSize: V, source: nil)
        }
    }
}
