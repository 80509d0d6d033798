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
    /// Scores `corpus` under `model` in one exact pass over any length: windows of `chunkLength`
    /// tokens with the scan and conv state carried from window to window. Every token is predicted:
    /// the sequence is preceded by the tokenizer's end-of-text token (a document boundary) when it has one.
    /// With `maxTokens`, only the first `maxTokens` tokens are scored (bytes apportioned).
    public static func evaluate(model: MambaModel, corpus: TextCorpus, tokenizer: any TextTokenizer,
                                chunkLength: Int = 2048, maxTokens: Int? = nil) throws -> TextEvaluation {
        var ids = corpus.tokens.map(Int.init)
        var bytes = corpus.byteCount
        if let m = maxTokens, m < ids.count {
            bytes = Int(Double(bytes) * Double(m) / Double(ids.count))
            ids = Array(ids.prefix(m))
        }
        let eot = tokenizer.specialTokens["<|endoftext|>"]
        let seq: [Int]
        if let e = eot, e < model.config.vocabSize { seq = [e] + ids } else { seq = ids }
        let lp = try model.logProbs(tokens: seq, mode: .parallel, chunkLength: chunkLength)
        let nll = -lp.reduce(0.0) { $0 + Double($1) } / Double(lp.count)
        return TextEvaluation(tokens: lp.count, bytes: bytes, nll: nll)
    }

    /// Generates up to `maxTokens` tokens after `prompt`: the prompt is prefilled in parallel mode,
    /// then tokens come one recurrent step at a time; `onToken` receives each new id as it is made.
    /// Stops early at the end-of-text token. Returns the new ids.
    public static func generate(model: MambaModel, prompt: [Int], maxTokens: Int, sampling: SamplingOptions, seed: UInt64,
                                stopAt: Int? = nil, onToken: (Int) -> Void = { _ in }) throws -> [Int] {
        let state = model.makeState(batch: 1)
        var logits = try model.prefill(prompt, state: state)
        var sampler = Sampler(options: sampling, seed: seed)
        var history = prompt, out: [Int] = []
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

/// A training run on text: the ``Trainer`` plus periodic validation, metrics.jsonl, loss_curve.svg,
/// and the tokenizer saved into every checkpoint.
public final class TextTrainingRun {
    public let trainer: Trainer
    public let tokenizer: any TextTokenizer
    public let validation: TextCorpus?
    public var evalEvery: Int
    public var evalTokens: Int
    public var outDirectory: URL?
    public var saveDType: SafetensorsDType = .f32
    public private(set) var trainCurve: [(Double, Double)] = []
    public private(set) var valCurve: [(Double, Double)] = []

    public init(trainer: Trainer, tokenizer: any TextTokenizer, validation: TextCorpus?, evalEvery: Int,
                evalTokens: Int, outDirectory: URL?) {
        self.trainer = trainer; self.tokenizer = tokenizer; self.validation = validation
        self.evalEvery = evalEvery; self.evalTokens = evalTokens; self.outDirectory = outDirectory
    }

    /// Validation loss (nats/token) on the first `evalTokens` held-out tokens.
    public func validate() throws -> TextEvaluation? {
        guard let v = validation else { return nil }
        return try TextLM.evaluate(model: trainer.model, corpus: v, tokenizer: tokenizer, maxTokens: evalTokens)
    }

    /// Runs until `trainer.options.steps`, calling `log` with a progress line every `logEvery` steps.
    public func run(log: (String) -> Void) throws {
        let o = trainer.options
        var metrics: FileHandle? = nil
        if let out = outDirectory {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let url = out.appendingPathComponent("metrics.jsonl")
            if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
            metrics = try FileHandle(forWritingTo: url)
            metrics?.seekToEndOfFile()
        }
        defer { try? metrics?.close() }
        let start = Date()
        var tokens = 0, stepsHere = 0
        while trainer.step < o.steps {
            let r = try trainer.trainStep()
            tokens += r.tokens; stepsHere += 1
            let elapsed = Date().timeIntervalSince(start)
            trainCurve.append((Double(r.step), r.loss))
            var val: TextEvaluation? = nil
            if evalEvery > 0 && (r.step % evalEvery == 0 || r.step == o.steps) {
                val = try validate()
                if let v = val { valCurve.append((Double(r.step), v.nll)) }
                writeCurve()
            }
            let rate = Double(tokens) / max(elapsed, 1e-9)
            var line = "{\"step\": \(r.step), \"loss\": \(r.loss), \"lr\": \(r.learningRate), \"grad_norm\": \(r.gradNorm), \"tokens_per_second\": \(Int(rate))"
            if let v = val { line += ", \"val_loss\": \(v.nll), \"val_bits_per_byte\": \(v.bitsPerByte)" }
            metrics?.write(Data((line + "}\n").utf8))
            if r.step % max(1, o.logEvery) == 0 || r.step == o.steps || val != nil || r.skipped {
                let eta = Double(o.steps - r.step) * elapsed / Double(stepsHere)
                var text = String(format: "step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s  eta %.0fs", r.step, o.steps, r.loss,
                                  r.learningRate, rate, eta)
                if let v = val { text += String(format: "  val loss %.4f  val bits/byte %.4f", v.nll, v.bitsPerByte) }
                if r.skipped { text += "  (non-finite: skipped)" }
                log(text)
            }
            if let out = outDirectory, o.saveEvery > 0, r.step % o.saveEvery == 0, r.step < o.steps { try save(out) }
        }
        if let out = outDirectory { try save(out) }
    }

    @discardableResult
    public func save(_ out: URL) throws -> URL {
        let tok = tokenizer
        return try trainer.saveCheckpoint(to: out, modelDType: saveDType) { dir in try TokenizerStore.save(tok, to: dir) }
    }

    func writeCurve() {
        guard let out = outDirectory else { return }
        let svg = LossCurve.svg([.init(name: "train loss", color: "#1f77b4", points: trainCurve),
                                 .init(name: "validation loss", color: "#d62728", points: valCurve)],
                                title: "MambaKit training — \(trainer.model.parameterCount) parameters")
        try? Data(svg.utf8).write(to: out.appendingPathComponent("loss_curve.svg"), options: .atomic)
    }
}
