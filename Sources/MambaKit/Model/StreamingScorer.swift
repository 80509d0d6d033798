// StreamingScorer.swift — log-likelihood of token sequences of any length under a language model, in
// chunks with the recurrent state carried from chunk to chunk (one exact pass, bounded memory): the
// "bits per byte / sample / base" of every front end.
//
//   sequence  x_0 x_1 … x_n     (x_0 is context only: an end-of-text, silence or <eos> token)
//   nats      = − Σ_{t=1…n} log p(x_t | x_0 … x_{t−1})
//   bits      = nats / ln 2;  bits per unit = bits / units (bytes of the text, samples, bases)
//
// Tokens may arrive in pieces of any size (a FASTA record streamed in chunks): the last token of a
// piece is held back until its successor is known, so a sequence given at once runs exactly the
// chunks of ``MambaModel/logProbs(tokens:mode:chunkLength:headRows:)``: forward over x_0 … x_{n−1} in
// windows of `chunkLength`, logits `headRows` rows at a time, log-softmax by `mk_logsumexp_rows`.
import _MambaKernels

/// What a ``StreamingScorer`` has scored so far.
public struct StreamingScore: Sendable, Equatable {
    /// Sequences begun.
    public var sequences: Int = 0
    /// Tokens predicted (every token of every sequence but its first).
    public var count: Int = 0
    /// − Σ log p over the predicted tokens, nats: the sum over sequences of each sequence's sum.
    public var nats: Double = 0

    public init() {}
    /// Mean negative log-likelihood per predicted token, nats.
    public var meanNats: Double { nats / Double(max(count, 1)) }
    /// Σ −log₂ p.
    public var bits: Double { nats / 0.693147180559945309417232121458176568 }
    /// Bits per predicted token (bits per sample, per base).
    public var bitsPerToken: Double { bits / Double(max(count, 1)) }
    /// Bits per `units` (e.g. the UTF-8 bytes the tokens encode).
    public func bitsPer(_ units: Int) -> Double { bits / Double(max(units, 1)) }
}

/// Scores token sequences under a language model in chunks of `chunkLength` tokens, state carried.
/// One instance scores one sequence at a time; ``begin(context:)`` starts the next from a fresh state.
public final class StreamingScorer {
    public let model: MambaModel
    public let chunkLength: Int
    public let headRows: Int
    /// The totals so far (a sequence in progress included).
    public var score: StreamingScore { var s = finished; s.nats -= running; s.count = finished.count + runningCount; return s }

    var finished = StreamingScore()
    /// Σ log p of the sequence in progress (≤ 0), and its predicted tokens.
    var running = 0.0
    var runningCount = 0
    var state: MambaState? = nil
    /// The last token given, not yet run (its successor is not known yet).
    var pending: Int32? = nil
    var inputs: [Int32] = [], targets: [Int32] = []
    var logits: [Float] = [], lse: [Float] = []

    /// - Parameters:
    ///   - chunkLength: tokens per parallel forward (the state is carried between chunks).
    ///   - headRows: rows of logits (rows, V) computed at a time.
    /// - Throws: ``ModelError/notALanguageModel`` for a classifier.
    public init(model: MambaModel, chunkLength: Int = 1024, headRows: Int = 256) throws {
        guard model.lmHead != nil else { throw ModelError.notALanguageModel }
        try model.checkCausal("next-token scoring")
        self.model = model
        self.chunkLength = max(1, chunkLength)
        self.headRows = max(1, min(headRows, self.chunkLength))
        logits = [Float](repeating: 0, count: self.headRows * model.config.vocabSize)
        lse = [Float](repeating: 0, count: self.headRows)
    }

    /// Starts a new sequence from a fresh state with `context` (not scored; predicts the next token).
    public func begin(context: Int32) throws {
        try model.checkIds([context])
        endSequence()
        finished.sequences += 1
        state = model.makeState(batch: 1)
        pending = context
    }

    /// Scores each token of `tokens` given everything before it in the current sequence.
    public func feed<C: Collection>(_ tokens: C) throws where C.Element == Int32 {
        guard !tokens.isEmpty else { return }
        guard let first = pending, state != nil else {
            throw ModelError.emptyInput(what: "the scorer's context", hint: "call begin(context:) before feeding tokens")
        }
        try model.checkIds(tokens)
        inputs.removeAll(keepingCapacity: true); targets.removeAll(keepingCapacity: true)
        inputs.append(first); inputs.append(contentsOf: tokens.dropLast())
        targets.append(contentsOf: tokens)
        pending = tokens[tokens.index(tokens.startIndex, offsetBy: tokens.count - 1)]
        guard let state else { return }
        try forEachLogProb(inputs: inputs, targets: targets, state: state) { _, lp in running += Double(lp); runningCount += 1 }
    }

    /// Ends the sequence in progress and returns the totals over every sequence so far.
    @discardableResult
    public func finish() -> StreamingScore { endSequence(); return finished }

    func endSequence() {
        finished.nats -= running
        finished.count += runningCount
        running = 0; runningCount = 0
        state = nil; pending = nil
    }

    /// The scores of whole sequences, each from a fresh state with its first token as context.
    public static func score(model: MambaModel, sequences: [[Int32]], chunkLength: Int = 1024) throws -> StreamingScore {
        let s = try StreamingScorer(model: model, chunkLength: chunkLength)
        for q in sequences where !q.isEmpty {
            try s.begin(context: q[0])
            try s.feed(q.dropFirst())
        }
        return s.finish()
    }

    /// Runs `inputs` (one sequence, from `state`, which advances) in chunks and calls
    /// `body(i, log p(targets[i] | … inputs[i]))` for every i in order.
    func forEachLogProb(inputs: [Int32], targets: [Int32], state: MambaState, _ body: (Int, Float) -> Void) throws {
        let V = model.config.vocabSize
        let n = inputs.count
        var start = 0
        while start < n {
            let end = min(n, start + chunkLength)
            try inputs[start..<end].withUnsafeBufferPointer { try model.backbone.forward(.tokens($0), batch: 1, state: state) }
            var r0 = 0
            while r0 < end - start {
                let rows = min(headRows, end - start - r0)
                try logits.withUnsafeMutableBufferPointer { lg in
                    try model.headLogits(row0: r0, rows: rows, into: lg.baseAddress!)
                    lse.withUnsafeMutableBufferPointer { mk_logsumexp_rows(lg.baseAddress!, Int32(rows), Int32(V), Int32(V), $0.baseAddress!) }
                    for r in 0..<rows {
                        let i = start + r0 + r
                        body(i, lg[r * V + Int(targets[i])] - lse[r])
                    }
                }
                r0 += rows
            }
            start = end
        }
    }
}
