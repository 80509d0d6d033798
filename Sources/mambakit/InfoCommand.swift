// InfoCommand.swift — `mambakit info --model DIR`.
import ArgumentParser
import Foundation
import MambaKit

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print a checkpoint's config and parameter count, and the compute back end.")

    @Option(help: "A checkpoint directory (config.json + model.safetensors or a sharded index).")
    var model: String?

    @OptionGroup var output: JSONOption

    func run() throws {
        var fields: [(String, String)] = [
            ("blas_core", jsonString(MambaRuntime.blasCoreName)),
            ("blas_note", jsonString(MambaRuntime.blasNote)),
            ("isa", jsonString(MambaRuntime.isa)),
        ]
        if let dir = model {
            let url = resolveModelDirectory(dir)
            let config = try MambaConfig.load(from: url)
            let parameters = try ClassifierConfig.read(from: url) != nil
                ? SequenceClassifier.load(directory: url).parameterCount : MambaModel.load(directory: url).parameterCount
            // Mamba-2 blocks have heads instead of a Δ rank.
            let mixerFields: [(String, String)] = config.ssd.map { s in
                [("num_heads", "\(s.numHeads)"), ("head_dim", "\(s.headDim)"), ("n_groups", "\(s.nGroups)"),
                 ("chunk_size", "\(s.chunkSize)")]
            } ?? [("dt_rank", "\(config.dtRank)")]
            fields = [
                ("model", jsonString(dir)),
                ("d_model", "\(config.dModel)"), ("n_layer", "\(config.nLayer)"),
                ("vocab_size", "\(config.vocabSize)"), ("d_state", "\(config.dState)"),
                ("d_conv", "\(config.dConv)"), ("expand", "\(config.expand)"),
                ("d_inner", "\(config.dInner)"),
            ] + mixerFields + [
                ("use_bias", "\(config.useBias)"), ("use_conv_bias", "\(config.useConvBias)"),
                ("layer_norm_epsilon", jsonNumber(config.layerNormEpsilon)),
                ("tie_word_embeddings", "\(config.tieWordEmbeddings)"),
                ("ssm_mixer", jsonString(config.ssmMixer.rawValue)),
                ("parameters", "\(parameters)"),
            ] + fields
        }
        if output.json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (k, v) in fields { print("\(k.padding(toLength: 20, withPad: " ", startingAt: 0)) \(v)") }
        }
    }
}
