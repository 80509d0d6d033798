// QuickstartCommand.swift — the main job (`mambakit` with no arguments), one part per front end:
// text (a byte-level model on the King James Bible: held-out bits per byte, a sample), audio
// (espeak-ng spoken digits: a waveform classifier and LM, a generated WAV and its spectrogram) and
// DNA (bacterial species from genome windows: accuracy and MCC on other strains).
import ArgumentParser
import Foundation
import MambaText

struct QuickstartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "The default job: text (KJV Bible), audio (spoken digits) and DNA (bacterial species), a few minutes each.",
        discussion: """
            Text: Debian's bible-kjv-text (Data/prepare_kjv.sh, run by Scripts/run.sh), Genesis–Acts to train, Romans–Revelation held out; bits per byte and a sample (--out/text).

            Audio: spoken digits synthesised with Debian's espeak-ng; a raw-waveform classifier and LM, a generated WAV and the spectrogram picture of a real and the generated clip (--out/audio).

            DNA: four bacterial species from Debian's ragout-examples (Data/prepare_dna.sh); a classifier of genome windows trained on one strain per species and tested on other strains (--out/dna).

            Each part writes its model(s), metrics.jsonl and loss_curve.svg. A part that fails is reported, the others still run, and the exit status is then non-zero.
            """)

    enum Part: String, ExpressibleByArgument, CaseIterable { case text, audio, dna }

    @Option(help: "Training text.") var data: String = "Data/cache/kjv/train.txt"
    @Option(help: "Held-out text.") var val: String = "Data/cache/kjv/test.txt"
    @Option(help: "Output directory (one sub-directory per part).") var out: String = "Data/cache/quickstart"
    @Option(parsing: .upToNextOption, help: "Parts to run: text, audio, dna (default: all).") var parts: [Part] = Part.allCases
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
        print("MambaKit quickstart — BLAS \(MambaRuntime.blasCoreName), kernels \(MambaRuntime.isa), \(Parallel.defaultThreads) threads")
        let root = URL(fileURLWithPath: out)
        var failed: [String] = []
        let t0 = Date()
        for part in parts {
            print("\n== \(part.rawValue) ==")
            fflush(stdout)
            do {
                switch part {
                case .text: try runText(out: root.appendingPathComponent("text").path)
                case .audio: try runAudioQuickstart(out: root.appendingPathComponent("audio"), seed: seed)
                case .dna: try runDNAQuickstart(out: root.appendingPathComponent("dna"), seed: seed)
                }
            } catch {
                print("\(part.rawValue) part failed: \(error)")
                failed.append(part.rawValue)
            }
            fflush(stdout)
        }
        print(String(format: "\nquickstart finished in %.0f s; outputs under %@", Date().timeIntervalSince(t0), out))
        if !failed.isEmpty {
            throw CLIError.usage("quickstart: the \(failed.joined(separator: ", ")) part(s) failed (see above); the others completed")
        }
    }

    /// The text part: byte-level LM on the KJV Bible.
    func runText(out: String) throws {
        for f in [data, val] where !FileManager.default.fileExists(atPath: f) {
            throw CLIError.usage("\(f): the default corpus is missing — run Data/prepare_kjv.sh (Scripts/run.sh does), or pass --data and --val")
        }
        let tok = ByteTokenizer()
        let train = try TextCorpus.load(path: data, tokenizer: tok)
        let test = try TextCorpus.load(path: val, tokenizer: tok)
        var o = TrainingOptions()
        o.seqLen = seqLen; o.batchSize = batchSize; o.steps = steps; o.seed = seed; o.logEvery = 25
        o.adamw.learningRate = lr; o.adamw.warmupSteps = max(1, steps / 20); o.adamw.schedule = .cosine
        let config = MambaConfig(dModel: dModel, nLayer: nLayer, vocabSize: tok.vocabularySize)
        let model = try MambaModel.randomlyInitialised(config: config, seed: seed)
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
