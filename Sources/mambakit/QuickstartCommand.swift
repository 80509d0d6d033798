// QuickstartCommand.swift — the main job (`mambakit` with no arguments): train a small byte-level
// model on the King James Bible, evaluate it on held-out books, and generate a sample.
import ArgumentParser
import Foundation
import MambaText

struct QuickstartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "The default job: train a byte-level Mamba on the KJV Bible for a few minutes, evaluate, generate.",
        discussion: """
            The corpus comes from Debian's bible-kjv-text (Data/prepare_kjv.sh, run by Scripts/run.sh):
            Genesis–Acts to train, Romans–Revelation held out. The model, its tokenizer, metrics.jsonl and
            loss_curve.svg are written to --out.
            """)

    @Option(help: "Training text.") var data: String = "Data/cache/kjv/train.txt"
    @Option(help: "Held-out text.") var val: String = "Data/cache/kjv/test.txt"
    @Option(help: "Output directory.") var out: String = "Data/cache/quickstart"
    @Option var steps: Int = 400
    @Option var seqLen: Int = 256
    @Option var batchSize: Int = 16
    @Option var dModel: Int = 256
    @Option var nLayer: Int = 4
    @Option var lr: Float = 3e-3
    @Option var seed: UInt64 = 1
    @Option(help: "Bytes of generated text.") var sampleLength: Int = 400
    @Option(help: "Prompt for the sample.") var prompt: String = "Joh3:16 For God so loved"

    func run() throws {
        for f in [data, val] where !FileManager.default.fileExists(atPath: f) {
            throw CLIError.usage("\(f): the default corpus is missing — run Data/prepare_kjv.sh (Scripts/run.sh does), or pass --data and --val")
        }
        print("MambaKit quickstart — BLAS \(MambaRuntime.blasCoreName), kernels \(MambaRuntime.isa), \(Parallel.defaultThreads) threads")
        let tok = ByteTokenizer()
        let train = try TextCorpus.load(path: data, tokenizer: tok)
        let test = try TextCorpus.load(path: val, tokenizer: tok)
        var o = TrainingOptions()
        o.seqLen = seqLen; o.batchSize = batchSize; o.steps = steps; o.seed = seed; o.logEvery = 25
        o.adamw.learningRate = lr; o.adamw.warmupSteps = max(1, steps / 20); o.adamw.schedule = .cosine
        let config = MambaConfig(dModel: dModel, nLayer: nLayer, vocabSize: tok.vocabularySize)
        let model = MambaModel.randomlyInitialised(config: config, seed: seed)
        let trainer = try Trainer(model: model, tokens: train.tokens, options: o, source: data)
        print("1. data: \(train.byteCount) bytes of KJV (Genesis–Acts) to train, \(test.byteCount) held out (Romans–Revelation)")
        print("2. training a byte-level Mamba: D=\(dModel), \(nLayer) layers, \(model.parameterCount) parameters; \(steps) steps × \(batchSize) × \(seqLen) bytes")
        let outURL = URL(fileURLWithPath: out)
        try? FileManager.default.removeItem(at: outURL.appendingPathComponent("metrics.jsonl"))
        let run = TrainingRun.text(trainer: trainer, tokenizer: tok, validation: test, evalEvery: 100, evalTokens: 32768,
                                  outDirectory: outURL)
        let t0 = Date()
        try run.run { print("   " + $0); fflush(stdout) }
        let trainSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        let e = try TextLM.evaluate(model: model, corpus: test, tokenizer: tok)
        print(String(format: "3. held-out Romans–Revelation (%d bytes, one pass with state carried across windows): %.4f bits/byte, perplexity %.3f per byte (%.1f s)",
                     e.bytes, e.bitsPerByte, e.perplexity, Date().timeIntervalSince(t1)))
        var s = SamplingOptions()
        s.temperature = 0.7
        let t2 = Date()
        let ids = try TextLM.generate(model: model, prompt: [ByteTokenizer.endOfText] + tok.encode(prompt), maxTokens: sampleLength,
                                      sampling: s, seed: seed, stopAt: ByteTokenizer.endOfText)
        let genSeconds = Date().timeIntervalSince(t2)
        print(String(format: "4. sample (temperature 0.7, %.0f bytes/s through the recurrent path):", Double(ids.count) / genSeconds))
        print("   " + (prompt + tok.decode(ids)).replacingOccurrences(of: "\n", with: "\n   "))
        print(String(format: "Trained in %.0f s. Model and tokenizer: %@; metrics.jsonl and loss_curve.svg: %@", trainSeconds,
                     (try? Trainer.checkpointDirectory(outURL).path) ?? out, out))
        print("Next: mambakit generate --model \(out) --prompt \"Ps23:1 The LORD\"   |   mambakit eval text --model \(out) --data \(val)")
    }
}
