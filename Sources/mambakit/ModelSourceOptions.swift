// ModelSourceOptions.swift — which model a `train` command trains: --init, --resume, --config, or a
// new model of the size options.
import ArgumentParser
import Foundation
import MambaKit

struct ModelSourceOptions: ParsableArguments {
    @Option(name: .customLong("init"), help: "Start from this Hugging Face checkpoint directory.") var initFrom: String?
    @Option(help: "Resume an earlier run from its --out directory (or a checkpoint-* directory).") var resume: String?
    @Option(help: "A config.json for a new, randomly initialised model.") var config: String?
    @Option(help: "New model: width D, 1…\(Check.maxDModel).") var dModel: Int?
    @Option(help: "New model: layers, 1…\(ModelSourceOptions.maxLayers).") var nLayer: Int?
    @Option(help: "New model: vocabulary size V (text: defaults to the tokenizer's).") var vocabSize: Int?
    @Option(name: .customLong("d-state"), help: "New model: state size N (default 16; 128 with --mixer ssd).") var dStateOption: Int?
    @Option(help: "New model: the SSM of every block: selective (Mamba's S6), lti (S4D-Real, time-invariant: the paper's ablation), complex (complex-valued selective SSM, S4D-Lin init: the paper's audio variant) or ssd (a Mamba-2 block).")
    var mixer: SSMMixer?
    @Option(help: "New model with --mixer ssd: channels per head P (default 64, or 2·d_model when smaller); 2·d_model must be a multiple.")
    var headDim: Int?
    @Option(help: "New model with --mixer ssd: groups of heads sharing B and C (default 1).") var nGroups: Int = 1

    /// N of a new model: --d-state, else 16 (128 for Mamba-2 blocks, their default).
    var dState: Int { dStateOption ?? (mixer == .ssd ? 128 : 16) }
    @Option(help: "New model: a SaShiMi-style U-Net backbone pooling by these factors, outermost first (e.g. 4,4); --n-layer then counts the blocks of each stage.")
    var unetPool: String?
    @Option(help: "New model: the U-Net's width multiplier per stage, \(UNetConfig.expandRange.lowerBound)…\(UNetConfig.expandRange.upperBound).")
    var unetExpand: Int = 2

    static let maxLayers = 1024
    static let maxVocabulary = 1 << 22
    /// Parameters of the largest new model (float32 weights, gradients and two AdamW moments: 16 bytes each).
    static let maxParameters = 1 << 30

    func validate() throws {
        try Check.nonEmpty(initFrom, "--init")
        try Check.nonEmpty(resume, "--resume")
        try Check.nonEmpty(config, "--config")
        try Check.int(dModel, "--d-model", 1...Check.maxDModel)
        try Check.int(nLayer, "--n-layer", 1...Self.maxLayers)
        try Check.int(vocabSize, "--vocab-size", 1...Self.maxVocabulary)
        try Check.int(dState, "--d-state", 1...256)
        if (headDim != nil || nGroups != 1) && mixer != .ssd {
            throw optionError(option: headDim != nil ? "--head-dim" : "--n-groups", value: "\(headDim ?? nGroups)",
                              allowed: "only with --mixer ssd (Mamba-2 blocks)")
        }
        if let m = mixer, initFrom != nil || config != nil {
            throw optionError(option: "--mixer", value: m.rawValue,
                              allowed: "only for a new model from --d-model/--n-layer (a --config file says it with \"ssm_mixer\"; --init keeps the checkpoint's)")
        }
        let unet = try unetConfig()
        if unet != nil, initFrom != nil || config != nil {
            throw optionError(option: "--unet-pool", value: unetPool ?? "",
                              allowed: "only for a new model from --d-model/--n-layer (a --config file says it with \"unet\")")
        }
        if let d = dModel, let n = nLayer {
            var c = newConfig(dModel: d, nLayer: n, vocabSize: vocabSize ?? 256)
            c.unet = unet
            if let s = c.ssd, let problem = s.problem(dInner: c.dInner) {
                throw optionError(option: "--head-dim", value: "\(s.headDim)", allowed: problem)
            }
            if c.ssd != nil && unet != nil {
                throw optionError(option: "--unet-pool", value: unetPool ?? "", allowed: "not with --mixer ssd (Mamba-2 blocks run in the flat stack)")
            }
            let params = Double(c.parameterCount)   // Int.max when the count overflows
            if params > Double(Self.maxParameters) {
                throw optionError(option: "--d-model", value: "\(d)",
                                  allowed: String(format: "with --n-layer %d a model of about %.2g parameters; at most 2^30 (%d) are trained here", n, params, Self.maxParameters))
            }
        }
    }

    /// The model to train (not for --resume): --init, --config, or the size options.
    /// `adjust` changes the config of a new model (--config or the size options), not of --init's.
    func makeModel(defaultVocab: Int? = nil, seed: UInt64, adjust: (inout MambaConfig) -> Void = { _ in }) throws -> MambaModel {
        if let dir = initFrom { return try MambaModel.load(directory: resolveModelDirectory(dir)) }
        if let file = config {
            var c = try MambaConfig.load(from: URL(fileURLWithPath: file))
            adjust(&c)
            return try MambaModel.randomlyInitialised(config: c, seed: seed)
        }
        guard let d = dModel, let n = nLayer, let v = vocabSize ?? defaultVocab else {
            throw CLIError.usage("say which model to train: --init DIR, --resume DIR, --config FILE, or --d-model, --n-layer and --vocab-size")
        }
        var c = newConfig(dModel: d, nLayer: n, vocabSize: v)
        c.unet = try unetConfig()
        adjust(&c)
        return try MambaModel.randomlyInitialised(config: c, seed: seed)
    }

    /// The config of a new model of the size options (--d-state, --mixer, and for Mamba-2 --head-dim, --n-groups).
    func newConfig(dModel d: Int, nLayer n: Int, vocabSize v: Int) -> MambaConfig {
        guard mixer == .ssd else {
            var c = MambaConfig(dModel: d, nLayer: n, vocabSize: v, dState: dState)
            c.ssmMixer = mixer ?? .selective
            return c
        }
        return .mamba2(dModel: d, nLayer: n, vocabSize: v, dState: dState, headDim: headDim ?? min(64, 2 * d), nGroups: nGroups)
    }

    /// --unet-pool/--unet-expand as a U-Net config, nil without --unet-pool.
    func unetConfig() throws -> UNetConfig? {
        guard let text = unetPool else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            throw optionError(option: "--unet-pool", value: text, allowed: "pooling factors separated by commas, e.g. 4,4")
        }
        try Check.int(unetExpand, "--unet-expand", UNetConfig.expandRange)
        let u = UNetConfig(pool: parts.map { $0! }, expand: unetExpand)
        if let problem = u.problem { throw optionError(option: "--unet-pool", value: text, allowed: problem) }
        return u
    }

    /// The checkpoint --resume continues from, or nil.
    func resumeCheckpoint() throws -> URL? {
        try resume.map { try Trainer.checkpointDirectory(URL(fileURLWithPath: $0)) }
    }
}

extension SSMMixer: ExpressibleByArgument {}
