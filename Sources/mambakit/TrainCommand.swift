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
        abstract: "Train a Mamba model (AdamW, warm-up + schedule, clipping, exact resume): an LM on token ids (the default), text, audio or DNA, or a classifier.",
        subcommands: [TrainTokensCommand.self, TrainTextCommand.self, TrainAudioLMCommand.self, TrainAudioClassifyCommand.self, TrainDNAClassifyCommand.self, TrainDNALMCommand.self],
        defaultSubcommand: TrainTokensCommand.self)
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
        let ids = try readTokenFile(tokens)
        let trainer = try namingTokenFile(tokens) { try train.trainer(tokens: ids, source: tokens) { try train.makeModel() } }
        let o = trainer.options
        try train.execute(TrainingRun(trainer: trainer, outDirectory: train.out),
                          summary: "training \(trainer.model.parameterCount) parameters on \(ids.count) tokens: " +
                              "\(o.steps) steps × \(o.gradAccumulation * o.batchSize) windows × \(o.seqLen) tokens, from step \(trainer.step)")
    }
}
