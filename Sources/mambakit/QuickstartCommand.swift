// QuickstartCommand.swift — the main job (`mambakit` with no arguments), one part per front end:
// text (a byte-level model on the King James Bible: held-out bits per byte, a sample), audio
// (espeak-ng spoken digits: a waveform classifier and LM, a generated WAV and its spectrogram) and
// DNA (bacterial species from genome windows: accuracy and MCC on other strains). Each part has a
// wall-clock budget (data, training and evaluation), so the whole job takes about the same time on
// any machine; the steps trained are what fits.
import ArgumentParser
import Foundation
import MambaText

struct QuickstartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "The default job: text (KJV Bible), audio (spoken digits) and DNA (bacterial species), on wall-clock budgets of 7¼ minutes in all.",
        discussion: """
            Text: Debian's bible-kjv-text (Data/prepare_kjv.sh, run by Scripts/run.sh), Genesis–Acts to train, Romans–Revelation held out (or --data and --val); bits per byte and a sample (--out/text).

            Audio: spoken digits synthesised with Debian's espeak-ng; a raw-waveform classifier and LM, a generated WAV and the spectrogram picture of a real and the generated clip (--out/audio).

            DNA: four bacterial species from Debian's ragout-examples (Data/prepare_dna.sh); a classifier of genome windows trained on one strain per species and tested on other strains (--out/dna).

            Each part has a wall-clock budget that covers preparing its data, training and evaluating (--text-seconds, --audio-seconds, --dna-seconds): the training steps are as many as fit, timed on this machine, so the step counts (and the figures) depend on the machine and on how busy it is (at least 20 steps each: a very slow or busy machine runs over). Defaults: text 255 s, audio 105 s, DNA 75 s. Each part prints the time it took. Each part writes its model(s), metrics.jsonl and loss_curve.svg under --out (default Data/cache/quickstart). A part that fails is reported, the others still run, and the exit status is then non-zero.
            """)

    enum Part: String, ExpressibleByArgument, CaseIterable { case text, audio, dna }

    static let defaultData = "Data/cache/kjv/train.txt", defaultVal = "Data/cache/kjv/test.txt"

    @Option(help: "Training text.") var data: String = QuickstartCommand.defaultData
    @Option(help: "Held-out text.") var val: String = QuickstartCommand.defaultVal
    @OptionGroup var output: OutputDirectoryOption
    @Option(parsing: .upToNextOption, help: "Parts to run: text, audio, dna (default: all).") var parts: [Part] = Part.allCases
    @Option(help: "Wall-clock budget of the text part, seconds.") var textSeconds: Double = 255
    @Option(help: "Wall-clock budget of the audio part (classifier and LM), seconds.") var audioSeconds: Double = AudioQuickstart.defaultSeconds
    @Option(help: "Wall-clock budget of the DNA part, seconds.") var dnaSeconds: Double = 75
    @OptionGroup var seed: SeedOption
    @Option(help: "Bytes of generated text.") var sampleLength: Int = 400
    @Option(help: "Prompt for the sample.") var prompt: String = "Joh3:16 For God so loved"

    func validate() throws {
        try Check.seconds(textSeconds, "--text-seconds", max: 86400)
        try Check.seconds(audioSeconds, "--audio-seconds", max: 86400)
        try Check.seconds(dnaSeconds, "--dna-seconds", max: 86400)
        try Check.int(sampleLength, "--sample-length", 0...1 << 20)
    }

    var out: String { output.path(default: "Data/cache/quickstart") }

    func run() throws {
        print("MambaKit quickstart — BLAS \(MambaRuntime.blasCoreName), kernels \(MambaRuntime.isa), \(Parallel.defaultThreads) threads")
        let root = URL(fileURLWithPath: out)
        var failed: [String] = []
        var took: [String] = []
        let t0 = Date()
        for part in parts {
            print("\n== \(part.rawValue) ==")
            fflush(stdout)
            let budget: PartBudget
            do {
                switch part {
                case .text:
                    budget = PartBudget(seconds: textSeconds)
                    try runText(out: root.appendingPathComponent("text").path, budget: budget)
                case .audio:
                    budget = PartBudget(seconds: audioSeconds)
                    try runAudioQuickstart(out: root.appendingPathComponent("audio"), seed: seed.seed, budget: budget)
                case .dna:
                    budget = PartBudget(seconds: dnaSeconds)
                    try runDNAQuickstart(out: root.appendingPathComponent("dna"), seed: seed.seed, budget: budget)
                }
                print("The \(part.rawValue) part \(budget.report).")
                took.append("\(part.rawValue) \(Progress.duration(budget.elapsed))")
            } catch {
                print("\(part.rawValue) part failed: \(error)")
                failed.append(part.rawValue)
            }
            fflush(stdout)
        }
        print("\nquickstart finished in \(Progress.duration(Date().timeIntervalSince(t0))) (\(took.joined(separator: ", "))); outputs under \(out)")
        if !failed.isEmpty {
            throw CLIError.usage("quickstart: the \(failed.joined(separator: ", ")) part(s) failed (see above); the others completed")
        }
    }

    /// The text part: byte-level LM on the KJV Bible (or --data / --val), within `budget`.
    func runText(out: String, budget: PartBudget) throws {
        for f in [data, val] where !FileManager.default.fileExists(atPath: f) {
            throw CLIError.usage("\(f): the default corpus is missing — run Data/prepare_kjv.sh (Scripts/run.sh does), or pass --data and --val")
        }
        let kjv = data == Self.defaultData && val == Self.defaultVal
        let trainName = kjv ? "KJV Genesis–Acts" : data, heldOutName = kjv ? "KJV Romans–Revelation" : val
        let tok = ByteTokenizer()
        let train = try TextCorpus.load(path: data, tokenizer: tok)
        let test = try TextCorpus.load(path: val, tokenizer: tok)
        print("1. data: \(train.byteCount) bytes of \(trainName) to train, \(test.byteCount) bytes of \(heldOutName) held out")

        let dModel = 256, nLayer = 4, seqLen = 256, batchSize = 16, evalTokens = 32768
        var o = TrainingOptions()
        o.seqLen = seqLen; o.batchSize = batchSize; o.seed = seed.seed; o.logEvery = 25
        o.adamw.learningRate = 3e-3; o.adamw.schedule = .cosine
        let config = MambaConfig(dModel: dModel, nLayer: nLayer, vocabSize: tok.vocabularySize)
        let speed = try PartBudget.measure {
            try Trainer(model: try MambaModel.randomlyInitialised(config: config, seed: seed.seed), tokens: train.tokens, options: o, source: data)
        }
        // Set aside: the held-out pass, four validations of evalTokens, the sample.
        let reserve = PartBudget.forwardSeconds(test.tokens.count + 4 * evalTokens, trainingTokensPerSecond: speed.tokensPerSecond, fixed: 3)
        o.steps = budget.steps(secondsPerStep: speed.secondsPerStep, reserve: reserve)
        o.adamw.warmupSteps = max(1, o.steps / 20)
        let model = try MambaModel.randomlyInitialised(config: config, seed: seed.seed)
        let trainer = try Trainer(model: model, tokens: train.tokens, options: o, source: data)
        print(String(format: "2. training a byte-level Mamba: D=%d, %d layers, %d parameters; %d steps × %d × %d bytes (what fits the budget at %.2f s/step)",
                     dModel, nLayer, model.parameterCount, o.steps, batchSize, seqLen, speed.secondsPerStep))
        let outURL = URL(fileURLWithPath: out)
        try? FileManager.default.removeItem(at: outURL.appendingPathComponent("metrics.jsonl"))
        let run = TrainingRun.text(trainer: trainer, tokenizer: tok, validation: test, evalEvery: max(1, o.steps / 4), evalTokens: evalTokens,
                                  outDirectory: outURL)
        let t0 = Date()
        try run.run(showing: Progress(.stdout, indent: "   "))
        let trainSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        let e = try Progress(.stdout, indent: "   ").during("scoring \(test.tokens.count) held-out bytes") {
            try TextLM.evaluate(model: model, corpus: test, tokenizer: tok)
        }
        print(String(format: "3. held-out %@ (%d bytes, one pass with state carried across windows): %.4f bits/byte, perplexity %.3f per byte (%.1f s)",
                     heldOutName, e.bytes, e.bitsPerByte, e.perplexity, Date().timeIntervalSince(t1)))
        var s = SamplingOptions()
        s.temperature = 0.7
        let t2 = Date()
        let ids = try TextLM.generate(model: model, prompt: [ByteTokenizer.endOfText] + tok.encode(prompt),
                                      maxTokens: sampleLength, sampling: s, seed: seed.seed, stopAt: ByteTokenizer.endOfText)
        let genSeconds = Date().timeIntervalSince(t2)
        print(String(format: "4. sample (temperature 0.7, %.0f bytes/s through the recurrent path):", Double(ids.count) / max(genSeconds, 1e-9)))
        print("   " + (prompt + tok.decode(ids)).replacingOccurrences(of: "\n", with: "\n   "))
        print(String(format: "Trained in %.0f s. Model and tokenizer: %@; metrics.jsonl and loss_curve.svg: %@", trainSeconds,
                     (try? Trainer.checkpointDirectory(outURL).path) ?? out, out))
        print("Next: mambakit generate --model \(out) --prompt \"\(kjv ? "Ps23:1 The LORD" : prompt)\"   |   mambakit eval text --model \(out) --data \(val)")
    }
}
