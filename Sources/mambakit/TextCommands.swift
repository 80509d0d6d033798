// TextCommands.swift — `train text`, `eval text`, `generate`, `tokenize`.
import ArgumentParser
import Foundation
import MambaText

/// The tokenizer for a model: --tokenizer if given, else the one saved in the model directory.
func tokenizerFor(model dir: URL, override: String?) throws -> any TextTokenizer {
    if let spec = override { return try TokenizerStore.load(spec) }
    if let t = try TokenizerStore.loadFromModelDirectory(dir) { return t }
    throw CLIError.usage("\(dir.path): no tokenizer.json or \(TokenizerStore.byteMarker) in the model directory — pass --tokenizer byte|PATH/tokenizer.json")
}

struct TrainTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Train a language model on text (a file, a directory of .txt files, or a .bin token file).",
        discussion: "Writes checkpoints (with the tokenizer), metrics.jsonl and loss_curve.svg into --out.")

    @Option(help: "Training text: a file, a directory of .txt files, or a .bin token file.") var data: String
    @Option(help: "Held-out text (default: the last --val-fraction of --data).") var val: String?
    @Option(help: "Fraction of --data held out when --val is not given, in [0, 1).") var valFraction: Double = 0.1
    @Option(help: "byte, or a Hugging Face tokenizer.json.") var tokenizer: String = "byte"
    @OptionGroup var evalEvery: EvalEveryOption
    @Option(help: "Held-out tokens scored per validation.") var evalTokens: Int = 65536
    @OptionGroup var train: TrainingArguments

    func validate() throws {
        try Check.fraction(valFraction, "--val-fraction")
        try Check.int(evalTokens, "--eval-tokens", 1...Int(Int32.max))
    }

    func run() throws {
        let tok: any TextTokenizer = try train.model.resumeCheckpoint().flatMap { try TokenizerStore.loadFromModelDirectory($0) }
            ?? TokenizerStore.load(tokenizer)
        var trainCorpus = try TextCorpus.load(path: data, tokenizer: tok)
        var valCorpus: TextCorpus? = nil
        if let v = val { valCorpus = try TextCorpus.load(path: v, tokenizer: tok) } else if valFraction > 0 {
            let parts = trainCorpus.split(validationFraction: valFraction)
            trainCorpus = parts.train; valCorpus = parts.validation
        }
        let trainer = try train.trainer(tokens: trainCorpus.tokens, source: data) { try train.makeModel(defaultVocab: tok.vocabularySize) }
        let run = TrainingRun.text(trainer: trainer, tokenizer: tok, validation: valCorpus,
                                  evalEvery: evalEvery.interval(default: 100, steps: trainer.options.steps),
                                  evalTokens: evalTokens, outDirectory: train.out)
        try train.execute(run, summary: "training \(trainer.model.parameterCount) parameters on \(trainCorpus.tokens.count) tokens of \(data)" +
                   (valCorpus.map { ", validating on \($0.tokens.count) tokens" } ?? ""))
    }
}

func stderrLine(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a model on a modality's data.", subcommands: [EvalTextCommand.self, EvalAudioLMCommand.self, EvalAudioClassifyCommand.self, EvalAudioGenerationCommand.self, EvalDNAClassifyCommand.self, EvalDNALMCommand.self])
}

struct EvalTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Score a text under a language model: tokens, NLL, perplexity, bits per byte.",
        discussion: "Files of any length are scored exactly as one pass: windows with the state carried between them.")

    @OptionGroup var model: ModelDirectoryOption
    @OptionGroup var weights: WeightsOption
    @Option(help: "Text file, directory of .txt files, or .bin token file.") var data: String
    @Option(help: "Tokenizer (default: the one saved with the model).") var tokenizer: String?
    @Option(help: "Score only the first N tokens.") var maxTokens: Int?
    @OptionGroup var output: JSONOption

    func validate() throws { try Check.int(maxTokens, "--max-tokens", 1...Int.max) }

    func run() throws {
        let (m, dir) = try model.load(weights: weights.weights)
        let tok = try tokenizerFor(model: dir, override: tokenizer)
        let corpus = try TextCorpus.load(path: data, tokenizer: tok)
        let e = try Progress(.stderr).during("scoring \(min(corpus.tokens.count, maxTokens ?? Int.max)) tokens") {
            try TextLM.evaluate(model: m, corpus: corpus, tokenizer: tok, maxTokens: maxTokens)
        }
        if output.json {
            print("{\"tokens\": \(e.tokens), \"bytes\": \(e.bytes), \"nll\": \(jsonNumber(e.nll)), \"perplexity\": \(jsonNumber(e.perplexity)), \"bits_per_byte\": \(jsonNumber(e.bitsPerByte))}")
        } else {
            print(String(format: "%d tokens (%d bytes): nll %.4f nats/token, perplexity %.3f, %.4f bits/byte",
                         e.tokens, e.bytes, e.nll, e.perplexity, e.bitsPerByte))
        }
    }
}

/// `mambakit generate …`: `text` (the default) or `audio`.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate from a model: text (the default) or audio.",
        subcommands: [GenerateTextCommand.self, GenerateAudioCommand.self], defaultSubcommand: GenerateTextCommand.self)
}

struct GenerateTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Generate text: the prompt is prefilled in parallel, then tokens stream one recurrent step at a time.")

    @OptionGroup var model: ModelDirectoryOption
    @OptionGroup var weights: WeightsOption
    @Option(help: "Prompt text.") var prompt: String = ""
    @Option(help: "Tokens to generate.") var maxTokens: Int = 200
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0.8
    @Option(help: "Keep the k most likely tokens (0 = off).") var topK: Int = 0
    @Option(help: "Nucleus sampling threshold (1 = off).") var topP: Float = 1
    @Option(help: "Penalty for tokens already seen (1 = off).") var repetitionPenalty: Float = 1
    @OptionGroup var seed: SeedOption
    @Option(help: "Tokenizer (default: the one saved with the model).") var tokenizer: String?
    @Option(help: "Longest prompt accepted, in tokens.") var maxPromptTokens: Int = 1 << 20

    func validate() throws {
        try Check.int(maxTokens, "--max-tokens", 0...Int(Int32.max))
        try Check.number(temperature, "--temperature", 0...100)
        try Check.int(topK, "--top-k", 0...Int(Int32.max))
        try Check.number(topP, "--top-p", 0...1, excludingLower: true)
        try Check.number(repetitionPenalty, "--repetition-penalty", 0...100, excludingLower: true)
        try Check.int(maxPromptTokens, "--max-prompt-tokens", 1...Int(Int32.max))
    }

    func run() throws {
        let (m, dir) = try model.load(weights: weights.weights)
        let tok = try tokenizerFor(model: dir, override: tokenizer)
        var ids = tok.encode(prompt)
        if ids.count > maxPromptTokens {
            throw CLIError.usage("the prompt is \(ids.count) tokens, more than --max-prompt-tokens \(maxPromptTokens)")
        }
        let eot = tok.specialTokens["<|endoftext|>"]
        if ids.isEmpty {
            guard let e = eot else { throw CLIError.usage("empty prompt and the tokenizer has no <|endoftext|> to start from — give --prompt") }
            ids = [e]
        } else if let e = eot, Int(e) < m.config.vocabSize {
            ids = [e] + ids   // a document boundary before the prompt, as in evaluation
        }
        var s = SamplingOptions()
        s.temperature = temperature; s.topK = topK; s.topP = topP; s.repetitionPenalty = repetitionPenalty
        FileHandle.standardOutput.write(Data(prompt.utf8))
        var pending: [Int32] = []
        let t0 = Date()
        let out = try TextLM.generate(model: m, prompt: ids, maxTokens: maxTokens, sampling: s, seed: seed.seed,
                                      stopAt: eot) { id in
            pending.append(id)
            let text = tok.decode(pending)
            if !text.hasSuffix("\u{FFFD}") {   // wait for the rest of a multi-byte character
                FileHandle.standardOutput.write(Data(text.utf8)); pending.removeAll()
            }
        }
        if !pending.isEmpty { FileHandle.standardOutput.write(Data(tok.decode(pending).utf8)) }
        let secs = Date().timeIntervalSince(t0)
        print("")
        stderrLine(String(format: "%d tokens in %.2f s: %.1f tokens/s", out.count, secs, Double(out.count) / max(secs, 1e-9)))
    }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Text to token ids (or back with --decode); --out writes a binary token file.")

    @Option(help: "byte, or a Hugging Face tokenizer.json.") var tokenizer: String = "byte"
    @Option(help: "Input file (text; with --decode, whitespace-separated ids).") var input: String
    @Flag(help: "Read ids and print the text.") var decode = false
    @OptionGroup var output: JSONOption
    @Option(help: "Write a binary token file (MKTOK1) instead of printing.") var out: String?

    func run() throws {
        let tok = try TokenizerStore.load(tokenizer)
        if decode {
            FileHandle.standardOutput.write(Data(tok.decode(try readTokenFile(input)).utf8))
            return
        }
        let ids = tok.encode(try TextCorpus.readText(path: input))
        if let o = out {
            try TokenFile.write(ids, vocabularySize: tok.vocabularySize, to: URL(fileURLWithPath: o))
            stderrLine("\(ids.count) tokens written to \(o)")
        } else if output.json {
            print("{\"ids\": [" + ids.map(String.init).joined(separator: ", ") + "]}")
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
