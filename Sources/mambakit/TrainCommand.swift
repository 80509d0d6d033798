// TrainCommand.swift — `mambakit train`: train a model on a token file with AdamW.
import ArgumentParser
import Foundation
import MambaKit

extension LearningRateSchedule: ExpressibleByArgument {}
extension SafetensorsDType: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "f32", "float32": self = .f32
        case "f16", "float16": self = .f16
        case "bf16", "bfloat16": self = .bf16
        default: return nil
        }
    }
}

/// `mambakit train …`: `lm` (a token-id file; the default) or `text`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a Mamba LM (AdamW, warm-up + schedule, clipping, exact resume).",
        subcommands: [TrainTokensCommand.self, TrainTextCommand.self, TrainAudioLMCommand.self, TrainAudioClassifyCommand.self, TrainDNAClassifyCommand.self, TrainDNALMCommand.self],
        defaultSubcommand: TrainTokensCommand.self)
}

/// Options shared by every training command.
struct TrainingArguments: ParsableArguments {
    // MARK: model
    @Option(name: .customLong("init"), help: "Start from this Hugging Face checkpoint directory.") var initFrom: String?
    @Option(help: "Resume an earlier run from its --out directory (or a checkpoint-* directory).") var resume: String?
    @Option(help: "A config.json for a new, randomly initialised model.") var config: String?
    @Option(help: "New model: width D.") var dModel: Int?
    @Option(help: "New model: layers.") var nLayer: Int?
    @Option(help: "New model: vocabulary size V (text: defaults to the tokenizer's).") var vocabSize: Int?
    @Option(help: "New model: state size N.") var dState: Int = 16

    // MARK: schedule
    @Option(help: "Tokens per window (predictions per sequence).") var seqLen: Int = 256
    @Option(help: "Windows per micro-batch.") var batchSize: Int = 8
    @Option(help: "Optimiser steps (total, for the schedule).") var steps: Int = 100
    @Option(help: "Micro-batches per step.") var gradAccum: Int = 1
    @Option(help: "Truncated backprop: chunk length within a window (0 = whole window).") var chunkLen: Int = 0
    @Option(help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(help: "Decoupled weight decay (not on A_log, D, biases, norms).") var weightDecay: Float = 0.1
    @Option var beta1: Float = 0.9
    @Option var beta2: Float = 0.95
    @Option var eps: Float = 1e-8
    @Option(help: "Global-norm gradient clipping (0 = off).") var gradClip: Float = 1.0
    @Option var warmupSteps: Int = 0
    @Option(help: "constant, cosine or linear (to 10% of the peak).") var schedule: LearningRateSchedule = .cosine
    @Option var seed: UInt64 = 1
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Skip steps whose loss or gradient is NaN/Inf instead of stopping.") var skipNonfinite = false

    // MARK: output
    @Option(help: "Output directory for checkpoints and metrics.") var out: String?
    @Option(help: "Weights dtype of saved checkpoints: f32, f16 or bf16 (training state stays float32).") var saveDtype: SafetensorsDType = .f32
    @Option(help: "Save every N steps (0 = only at the end).") var saveEvery: Int = 0
    @Option(help: "Print a progress line every N steps.") var logEvery: Int = 10

    func options() -> TrainingOptions {
        var o = TrainingOptions()
        o.seqLen = seqLen; o.batchSize = batchSize; o.steps = steps; o.gradAccumulation = gradAccum
        o.chunkLength = chunkLen; o.seed = seed; o.threads = threads ?? Parallel.defaultThreads
        o.skipNonFinite = skipNonfinite; o.saveEvery = saveEvery; o.logEvery = max(1, logEvery)
        o.adamw.learningRate = lr; o.adamw.weightDecay = weightDecay; o.adamw.beta1 = beta1; o.adamw.beta2 = beta2
        o.adamw.eps = eps; o.adamw.gradClip = gradClip; o.adamw.warmupSteps = warmupSteps; o.adamw.schedule = schedule
        return o
    }

    /// Runs `run` to its last step with these arguments' checkpoint dtype: progress lines to stderr,
    /// then the path of the saved checkpoint (with --out) to stdout.
    func execute(_ run: TrainingRun) throws {
        run.saveDType = saveDtype
        try run.run { stderrLine($0) }
        if let out { print("saved \(try Trainer.checkpointDirectory(URL(fileURLWithPath: out)).path)") }
    }

    /// The model to train (not for --resume): --init, --config, or the size options.
    func makeModel(defaultVocab: Int? = nil) throws -> MambaModel {
        if let dir = initFrom { return try MambaModel.load(directory: URL(fileURLWithPath: dir)) }
        if let file = config {
            return try MambaModel.randomlyInitialised(config: try MambaConfig.load(from: URL(fileURLWithPath: file)), seed: seed)
        }
        guard let d = dModel, let n = nLayer, let v = vocabSize ?? defaultVocab else {
            throw CLIError.usage("say which model to train: --init DIR, --resume DIR, --config FILE, or --d-model, --n-layer and --vocab-size")
        }
        return try MambaModel.randomlyInitialised(config: MambaConfig(dModel: d, nLayer: n, vocabSize: v, dState: dState), seed: seed)
    }
}

/// `mambakit train [lm] --tokens FILE …`: train on whitespace-separated token ids.
struct TrainTokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm",
        abstract: "Train on a token file (whitespace-separated ids). The default of `mambakit train`.",
        discussion: """
            The model comes from --init DIR (a Hugging Face checkpoint), --resume DIR (an earlier --out),
            --config FILE (a config.json), or --d-model/--n-layer/--vocab-size (mamba_ssm initialisation).
            Checkpoints go to --out DIR as checkpoint-<step>/ (HF weights + optimizer + trainer state) with
            DIR/latest naming the newest; progress lines go to stderr and DIR/metrics.jsonl.
            """)

    @Option(help: "Text file of whitespace-separated token ids.") var tokens: String
    @OptionGroup var train: TrainingArguments

    func run() throws {
        let ids = try readTokenFile(tokens).map { Int32(clamping: $0) }
        let trainer: Trainer
        if let r = train.resume {
            trainer = try namingTokenFile(tokens) { try Trainer.resume(from: URL(fileURLWithPath: r), tokens: ids, steps: train.steps, source: tokens) }
        } else {
            let model = try train.makeModel()
            trainer = try namingTokenFile(tokens) { try Trainer(model: model, tokens: ids, options: train.options(), source: tokens) }
        }
        let o = trainer.options
        stderrLine("training \(trainer.model.parameterCount) parameters on \(ids.count) tokens: " +
                   "\(o.steps) steps × \(o.gradAccumulation * o.batchSize) windows × \(o.seqLen) tokens, from step \(trainer.step)")
        let run = TrainingRun(trainer: trainer, outDirectory: train.out.map { URL(fileURLWithPath: $0) })
        try train.execute(run)
    }
}
