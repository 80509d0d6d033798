// TextLM.swift — evaluate, train and sample a text language model.
import Foundation

/// Result of scoring a text: mean NLL per token, perplexity and bits per UTF-8 byte.
public struct TextEvaluation: Sendable {
    public var tokens: Int
    public var bytes: Int
    public var nll: Double
    public var perplexity: Double { Foundation.exp(nll) }
    /// Σ NLL / ln 2 / bytes: comparable between byte-level and BPE tokenizers.
    public var bitsPerByte: Double { nll * Double(tokens) / Foundation.log(2.0) / Double(max(bytes, 1)) }
}

public enum TextLM {
    /// Scores `corpus` under `model` in one exact pass over any length (``StreamingScorer``): windows of
    /// `chunkLength` tokens with the scan and conv state carried from window to window. Every token is predicted:
    /// the sequence is preceded by the tokenizer's end-of-text token (a document boundary) when it has one.
    /// With `maxTokens`, only the first `maxTokens` tokens are scored (bytes apportioned).
    /// In a data-parallel run (`communicator` with several ranks) the scoring is split over the ranks: the
    /// P = n − 1 predictions of the scored sequence x_0 … x_{n−1} are cut into contiguous shares (``BatchShard``); rank r scores predictions ⌊rP/N⌋+1 … ⌊(r+1)P/N⌋, starting from a fresh state with
    /// the token before its first prediction as context, and the NLL sums and counts are summed over the
    /// ranks (MPI_Allreduce), so every rank returns the same figures. Every token is predicted exactly once;
    /// what differs from one process is the context at the N − 1 cuts (the state there starts empty), so the
    /// figure depends slightly on N (one rank scores the whole sequence in one pass).
    public static func evaluate(model: MambaModel, corpus: TextCorpus, tokenizer: any TextTokenizer,
                                chunkLength: Int = 2048, maxTokens: Int? = nil,
                                communicator: any Communicator = SingleProcessCommunicator()) throws -> TextEvaluation {
        let (seq, bytes) = try scoredSequence(model: model, corpus: corpus, tokenizer: tokenizer, maxTokens: maxTokens)
        let mine = communicator.shard.range(of: seq.count - 1)   // prediction indices 0 ..< P; prediction i is of x_{i+1}
        var sums = [0.0, 0.0]
        if !mine.isEmpty {
            let s = try StreamingScorer.score(model: model, sequences: [Array(seq[mine.lowerBound...mine.upperBound])],
                                              chunkLength: chunkLength)
            sums = [s.nats, Double(s.count)]
        }
        try communicator.allreduceSum(&sums)
        return TextEvaluation(tokens: Int(sums[1]), bytes: bytes, nll: sums[0] / max(sums[1], 1))
    }

    /// The sequence `evaluate` scores (the end-of-text token, when the tokenizer has one, then the first
    /// `maxTokens` ids) and the bytes it stands for.
    static func scoredSequence(model: MambaModel, corpus: TextCorpus, tokenizer: any TextTokenizer,
                               maxTokens: Int?) throws -> (sequence: [Int32], bytes: Int) {
        var ids = corpus.tokens
        var bytes = corpus.byteCount
        if let m = maxTokens, m < ids.count {
            bytes = Int(Double(bytes) * Double(m) / Double(ids.count))
            ids = Array(ids.prefix(m))
        }
        let eot = tokenizer.specialTokens["<|endoftext|>"]
        let seq: [Int32]
        if let e = eot, Int(e) < model.config.vocabSize { seq = [e] + ids } else { seq = ids }
        guard seq.count >= 2 else {
            throw ModelError.emptyInput(what: "a sequence of \(seq.count) token(s)",
                                        hint: "scoring needs at least 2 tokens (a context and a next token)")
        }
        return (seq, bytes)
    }

    /// Generates up to `maxTokens` tokens after `prompt`: the prompt is prefilled in parallel mode,
    /// then tokens come one recurrent step at a time; `onToken` receives each new id as it is made.
    /// Stops early at the end-of-text token. Returns the new ids.
    public static func generate(model: MambaModel, prompt: [Int32], maxTokens: Int, sampling: SamplingOptions, seed: UInt64,
                                stopAt: Int32? = nil, onToken: (Int32) -> Void = { _ in }) throws -> [Int32] {
        let state = model.makeState(batch: 1)
        var logits = try model.prefill(prompt, state: state)
        var sampler = Sampler(options: sampling, seed: seed)
        var history = prompt, out: [Int32] = []
        for _ in 0..<maxTokens {
            let next = sampler.next(logits: logits, history: history)
            if let s = stopAt, next == s { break }
            out.append(next); history.append(next)
            onToken(next)
            logits = try model.step([next], state: state)
        }
        return out
    }
}

extension TrainingRun {
    /// A run on text: validation in nats/token and bits per byte on the first `evalTokens` held-out
    /// tokens, and the tokenizer saved into every checkpoint.
    public static func text(trainer: Trainer, tokenizer: any TextTokenizer, validation: TextCorpus?, evalEvery: Int,
                            evalTokens: Int, outDirectory: URL?) -> TrainingRun {
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery, outDirectory: outDirectory)
        if let v = validation {
            run.validate = {   // one process: the exact streamed pass; several ranks: split over them (see evaluate)
                let e = try TextLM.evaluate(model: trainer.model, corpus: v, tokenizer: tokenizer, maxTokens: evalTokens,
                                            communicator: trainer.communicator)
                return [("val_loss", e.nll), ("val_bits_per_byte", e.bitsPerByte)]
            }
            run.validationIsSplit = true
        }
        run.extraFiles = { dir in try TokenizerStore.save(tokenizer, to: dir) }
        return run
    }
}
