// MambaConfig.swift
// The hyper-parameters of a Mamba (v1) language model, read from and written to config.json.

import Foundation

// MARK: - MambaConfig

/// The architecture and initialisation hyper-parameters of a Mamba (v1) language model.
///
/// ``load(from:)`` reads both the Hugging Face transformers `MambaConfig` format (`hidden_size`,
/// `num_hidden_layers`, `state_size`, …) and the original `mamba_ssm` format (`d_model`, `n_layer`,
/// `ssm_cfg`, …); ``write(to:)`` always writes the Hugging Face format.
///
/// Shapes, with `D = dModel`, `E = dInner`, `N = dState`, `K = dConv`, `R = dtRank`, `V = vocabSize`:
/// embedding `V×D`; per layer RMSNorm `D`, `in_proj` `2E×D`, depthwise `conv1d` `E×1×K`, `x_proj`
/// `(R+2N)×E`, `dt_proj` `E×R` (+ bias `E`), `A_log` `E×N`, `D` `E`, `out_proj` `D×E`; final norm `D`
/// (the complex mixer: `x_proj` `(R+4N)×E` and `A_imag` `E×N` besides);
/// LM head `V×D` (shared with the embedding when ``tieWordEmbeddings``).
public struct MambaConfig: Codable, Equatable, Sendable, CustomStringConvertible {

    /// The file name of a configuration inside a model directory.
    public static let fileName = "config.json"

    // MARK: Architecture

    /// Model width `D` (HF `hidden_size`, mamba_ssm `d_model`).
    public var dModel: Int
    /// Number of Mamba blocks (HF `num_hidden_layers`, mamba_ssm `n_layer`).
    public var nLayer: Int
    /// Number of embedding rows `V`, already padded (mamba_ssm pads `vocab_size` up to a multiple of
    /// `pad_vocab_size_multiple`).
    public var vocabSize: Int
    /// SSM state size `N` per channel (HF `state_size`, mamba_ssm `d_state`). Default 16.
    public var dState: Int
    /// Causal depthwise convolution width `K` (HF `conv_kernel`, mamba_ssm `d_conv`). Default 4.
    public var dConv: Int
    /// Expansion factor (`dInner = expand × dModel` unless given). Default 2.
    public var expand: Int
    /// Inner width `E` (HF `intermediate_size`).
    public var dInner: Int
    /// Rank `R` of the Δ projection (HF `time_step_rank`, mamba_ssm `dt_rank`; `"auto"` = ⌈dModel/16⌉).
    public var dtRank: Int
    /// Whether `in_proj` and `out_proj` have biases (HF `use_bias`, mamba_ssm `bias`). Default false.
    public var useBias: Bool
    /// Whether `conv1d` has a bias (HF `use_conv_bias`, mamba_ssm `conv_bias`). Default true.
    public var useConvBias: Bool
    /// RMSNorm epsilon (HF `layer_norm_epsilon`; fixed 1e-5 in mamba_ssm).
    public var layerNormEpsilon: Float
    /// Whether the residual stream is kept in float32. Default true, and the only value supported:
    /// MambaKit computes in float32 throughout. ``load(from:)`` rejects `residual_in_fp32: false`
    /// and ``MambaModel/randomlyInitialised(config:seed:)`` a config made with `false`.
    public var residualInFp32: Bool
    /// Whether the LM head shares the embedding matrix (HF `tie_word_embeddings`, mamba_ssm `tie_embeddings`).
    public var tieWordEmbeddings: Bool
    /// The multiple `vocabSize` was padded to (informational once loaded). Default 1.
    public var padVocabSizeMultiple: Int

    // MARK: Initialisation (training)

    /// Scale of the `dt_proj` weight initialisation (HF `time_step_scale`, mamba_ssm `dt_scale`). Default 1.
    public var timeStepScale: Float
    /// Smallest initial Δ (HF `time_step_min`, mamba_ssm `dt_min`). Default 0.001.
    public var timeStepMin: Float
    /// Largest initial Δ (HF `time_step_max`, mamba_ssm `dt_max`). Default 0.1.
    public var timeStepMax: Float
    /// Lower clamp of the initial Δ (HF `time_step_floor`, mamba_ssm `dt_init_floor`). Default 1e-4.
    public var timeStepFloor: Float
    /// `dt_proj` weight initialisation (HF `time_step_init_scheme`, mamba_ssm `dt_init`): `"random"`,
    /// U(±dt_scale/√R), or `"constant"`, every weight dt_scale/√R — mamba_ssm's two schemes, both
    /// honoured by ``MambaModel/randomlyInitialised(config:seed:)``. ``load(from:)`` rejects any other value.
    public var timeStepInitScheme: String
    /// The Hugging Face `initializer_range` (HF default 0.1; mamba_ssm's `_init_weights` uses 0.02).
    ///
    /// Kept for round-tripping config.json only: ``MambaModel/randomlyInitialised(config:seed:)``
    /// follows mamba_ssm and always draws embeddings (and an untied LM head) from N(0, 0.02),
    /// whatever this says. So that a value is never silently ignored, it refuses a config whose
    /// value is neither 0.1 (the Hugging Face default that configs carry) nor 0.02 (what is applied).
    public var initializerRange: Float
    /// The Hugging Face `rescale_prenorm_residual` (HF default false; mamba_ssm's `_init_weights` true).
    ///
    /// Kept for round-tripping config.json only: ``MambaModel/randomlyInitialised(config:seed:)``
    /// follows mamba_ssm and always divides the `out_proj` initialisation bound by √nLayer, whatever
    /// this says (false, the default of `MambaConfig(dModel:nLayer:vocabSize:)`, and true, which
    /// describes what is done, are both accepted).
    public var rescalePrenormResidual: Bool

    // MARK: Tokens

    /// Beginning-of-sequence token id (HF default 0; `nil` when config.json has `null`).
    public var bosTokenId: Int?
    /// End-of-sequence token id (HF default 0).
    public var eosTokenId: Int?
    /// Padding token id (HF default 0).
    public var padTokenId: Int?

    // MARK: Sequence classification (MambaKit extension; absent for a language model)

    /// Class names, index = class id (config.json `id2label`; `num_labels` = count). Empty for a
    /// language model; non-empty adds a classification head (`classifier.weight` (C, D), `classifier.bias` (C)).
    public var labels: [String] = []
    /// How hidden states are pooled over time for the classification head (`classifier_pooling`).
    public var pooling: Pooling = .mean
    /// Caduceus-style BiMamba (`bidirectional`): every layer adds a reverse-direction mixer sharing
    /// in_proj and out_proj (`backbone.layers.i.mixer_rev.*`). For classification only.
    public var bidirectional: Bool = false

    // MARK: Reverse-complement equivariance (Caduceus' keys)

    /// Caduceus-PS parameter sharing (`rcps`): the backbone runs twice with the same parameters, on the
    /// token ids and on their reverse complement, so that f(RC(x)) = RC(f(x)) exactly; hidden states are
    /// (B, L, 2D) in Caduceus' layout (see ``RCPairing``). Token input only; needs ``complementMap``.
    public var rcps: Bool = false
    /// `complement_map`: token id → the id of its complement (an involution of 0 ..< V; ids it does not
    /// list map to themselves, as Caduceus pads it). Empty when `rcps` is false.
    public var complementMap: [Int] = []

    /// A model that sees both sides of every position (`bidirectional` or `rcps`): no generation, no
    /// next-token training; pretrained by masked LM.
    public var readsBothDirections: Bool { bidirectional || rcps }

    // MARK: Mixer (MambaKit extension)

    /// The SSM of every block (`ssm_mixer`): ``SSMMixer/selective`` (Mamba, the default),
    /// ``SSMMixer/lti`` (S4D-Real, the time-invariant ablation) or ``SSMMixer/complex`` (complex-valued
    /// selective SSM, §3.6); the last two not with `bidirectional`.
    public var ssmMixer: SSMMixer = .selective

    /// Mamba-2's heads, groups, chunk size and Δ limits; set exactly when ``ssmMixer`` is ``SSMMixer/ssd``.
    public var ssd: SSDConfig? = nil

    /// Floats of recurrent SSM state per channel: N, or 2N for the complex mixer ((re, im) per state).
    /// (Mamba-2's state (H, P, N) is N per channel too.)
    public var ssmStateWidth: Int { ssmMixer == .complex ? 2 * dState : dState }
    /// Outputs of `x_proj` (dt | B | C): R + 2N, or R + 4N for the complex mixer (B, C as (re, im) pairs).
    /// For Mamba-2 (no x_proj) the width of the same buffer, which holds the SSD output before the gated norm: E.
    public var xProjWidth: Int { ssmMixer == .ssd ? dInner : dtRank + (ssmMixer == .complex ? 4 : 2) * dState }
    /// Outputs of `in_proj`: x | z (2E), or Mamba-2's z | x | B | C | Δ (2E + 2GN + H).
    public var inProjWidth: Int {
        guard let s = ssd else { return 2 * dInner }
        return 2 * dInner + 2 * s.nGroups * dState + s.numHeads
    }
    /// Channels of the depthwise conv1d: E, or Mamba-2's x | B | C (E + 2GN).
    public var convChannels: Int {
        guard let s = ssd else { return dInner }
        return dInner + 2 * s.nGroups * dState
    }

    // MARK: Multi-scale backbone (MambaKit extension)

    /// A SaShiMi-style U-Net backbone (`unet`), nil for the flat stack of `n_layer` blocks. With it,
    /// `n_layer` is the number of blocks per stage (see ``UNetConfig``, ``stageConfig(level:)``).
    public var unet: UNetConfig? = nil

    /// Blocks of the flat stack (`backbone.layers.i`): `n_layer`, or 0 for a U-Net, whose stages hold
    /// their own blocks.
    public var flatLayerCount: Int { unet == nil ? nLayer : 0 }

    /// The dimensions of the blocks at U-Net level `s` (0 = the input rate): width D·expand^s, d_inner and
    /// ⌈D_s/16⌉ Δ rank scaled alike (level 0 keeps this config's own d_inner and dt_rank), `n_layer` blocks,
    /// no `unet`, labels or reverse mixers: the config of one stage's ``BlockStack``.
    public func stageConfig(level s: Int) -> MambaConfig {
        var c = self
        c.unet = nil; c.labels = []; c.bidirectional = false
        guard s > 0, let u = unet else { return c }
        var scale = 1
        for _ in 0..<s { scale *= u.expand }
        c.dModel = dModel * scale
        c.dInner = dInner * scale
        c.dtRank = Self.autoDtRank(dModel: c.dModel)
        return c
    }

    /// Number of classes C (0 for a language model).
    public var numLabels: Int { labels.count }

    // MARK: Creating

    /// Creates a configuration. `dInner` defaults to `expand × dModel`, `dtRank` to ⌈dModel/16⌉, and
    /// `vocabSize` is padded up to a multiple of `padVocabSizeMultiple` (no change for the default 1).
    /// The values are not validated; ``load(from:)`` validates what it reads.
    public init(dModel: Int, nLayer: Int, vocabSize: Int,
                dState: Int = 16, dConv: Int = 4, expand: Int = 2,
                dInner: Int? = nil, dtRank: Int? = nil,
                useBias: Bool = false, useConvBias: Bool = true,
                layerNormEpsilon: Float = 1e-5, residualInFp32: Bool = true,
                tieWordEmbeddings: Bool = true, padVocabSizeMultiple: Int = 1,
                timeStepScale: Float = 1.0, timeStepMin: Float = 0.001, timeStepMax: Float = 0.1,
                timeStepFloor: Float = 1e-4, timeStepInitScheme: String = "random",
                initializerRange: Float = 0.1, rescalePrenormResidual: Bool = false,
                bosTokenId: Int? = 0, eosTokenId: Int? = 0, padTokenId: Int? = 0) {
        self.dModel = dModel
        self.nLayer = nLayer
        self.vocabSize = Self.padded(vocabSize, toMultipleOf: padVocabSizeMultiple)
        self.dState = dState
        self.dConv = dConv
        self.expand = expand
        self.dInner = dInner ?? expand * dModel
        self.dtRank = dtRank ?? Self.autoDtRank(dModel: dModel)
        self.useBias = useBias
        self.useConvBias = useConvBias
        self.layerNormEpsilon = layerNormEpsilon
        self.residualInFp32 = residualInFp32
        self.tieWordEmbeddings = tieWordEmbeddings
        self.padVocabSizeMultiple = padVocabSizeMultiple
        self.timeStepScale = timeStepScale
        self.timeStepMin = timeStepMin
        self.timeStepMax = timeStepMax
        self.timeStepFloor = timeStepFloor
        self.timeStepInitScheme = timeStepInitScheme
        self.initializerRange = initializerRange
        self.rescalePrenormResidual = rescalePrenormResidual
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
    }

    /// `"auto"` Δ rank: ⌈dModel / 16⌉.
    public static func autoDtRank(dModel: Int) -> Int { (dModel + 15) / 16 }

    static func padded(_ vocab: Int, toMultipleOf multiple: Int) -> Int {
        guard multiple > 1, vocab % multiple != 0 else { return vocab }
        return vocab + multiple - vocab % multiple
    }

    // MARK: Derived

    /// The number of parameters (an untied LM head counted separately; a tied one once);
    /// `Int.max` when the count does not fit an `Int` (see ``checkedParameterCount``).
    public var parameterCount: Int { checkedParameterCount ?? Int.max }

    /// The number of parameters, computed with overflow checks: nil when it does not fit an `Int`
    /// (a config made in memory with absurd dimensions; ``load(from:)`` refuses such files).
    public var checkedParameterCount: Int? {
        var overflow = false
        func mul(_ a: Int, _ b: Int) -> Int {
            let (p, o) = a.multipliedReportingOverflow(by: b); overflow = overflow || o; return p
        }
        func add(_ terms: Int...) -> Int {
            terms.reduce(0) { let (s, o) = $0.addingReportingOverflow($1); overflow = overflow || o; return s }
        }
        /// Parameters of one block of `c`'s dimensions (norm, in_proj, mixer, out_proj, reverse mixer).
        func block(_ c: MambaConfig) -> Int {
            let D = c.dModel, E = c.dInner, N = c.dState, K = c.dConv, R = c.dtRank
            let complex = c.ssmMixer == .complex
            if let s = c.ssd {   // Mamba-2: norm, in_proj, conv1d over x|B|C, dt_bias, A_log, D, gated norm, out_proj
                let C = c.convChannels
                return add(D, mul(c.inProjWidth, D), c.useBias ? c.inProjWidth : 0,
                           mul(C, K), c.useConvBias ? C : 0, mul(3, s.numHeads), E,
                           mul(D, E), c.useBias ? D : 0)
            }
            let mixer = c.ssmMixer == .lti
                ? add(mul(E, K), c.useConvBias ? E : 0,             // conv1d
                      E, mul(3, mul(E, N)), E)                      // log_dt, A_log, B, C, D
                : add(mul(E, K), c.useConvBias ? E : 0,             // conv1d
                      mul(add(R, mul(complex ? 4 : 2, N)), E),      // x_proj
                      mul(E, R), E,                                 // dt_proj (+ bias)
                      mul(complex ? 2 : 1, mul(E, N)),              // A_log (+ A_imag)
                      E)                                            // D
            return add(D,                                           // norm
                       mul(mul(2, E), D), c.useBias ? mul(2, E) : 0,  // in_proj
                       mixer,
                       mul(D, E), c.useBias ? D : 0,                // out_proj
                       c.bidirectional ? mixer : 0)                 // the reverse mixer
        }
        let D = dModel, V = vocabSize
        var blocks = mul(nLayer, block(self))
        if let u = unet {   // per level: n_layer blocks down and up (n_layer in the centre), two pooling projections
            blocks = 0
            for (s, p) in u.pool.enumerated() {
                let here = stageConfig(level: s), next = stageConfig(level: s + 1)
                let pools = add(mul(next.dModel, mul(p, here.dModel)), next.dModel,   // down.s.pool
                                mul(mul(p, here.dModel), next.dModel), mul(p, here.dModel))   // up.s.pool
                blocks = add(blocks, mul(mul(2, nLayer), block(here)), pools)
            }
            blocks = add(blocks, mul(nLayer, block(stageConfig(level: u.pool.count))))
        }
        let total = add(mul(V, D), blocks, D, tieWordEmbeddings ? 0 : mul(V, D), mul(numLabels, add(D, 1)))
        return overflow ? nil : total
    }

    /// The most parameters a config may describe (2³⁴ floats, 64 GiB as Float32); ``load(from:)``
    /// refuses larger models before anything is allocated.
    public static let maximumParameterCount = 1 << 34

    /// A one-line summary, e.g. `Mamba d_model=768 n_layer=24 vocab=50280 … 129.1M parameters`.
    public var description: String {
        let millions = Double(parameterCount) / 1e6
        if let s = ssd {
            return "Mamba-2 d_model=\(dModel) n_layer=\(nLayer) vocab=\(vocabSize) d_state=\(dState) d_conv=\(dConv) "
                + "heads=\(s.numHeads)×\(s.headDim) groups=\(s.nGroups) chunk=\(s.chunkSize) bias=\(useBias) "
                + "eps=\(layerNormEpsilon) \(tieWordEmbeddings ? "tied" : "untied") embeddings, "
                + String(format: "%.1fM parameters", millions)
        }
        return "Mamba d_model=\(dModel) n_layer=\(nLayer) vocab=\(vocabSize) d_state=\(dState) d_conv=\(dConv) "
            + "expand=\(expand) d_inner=\(dInner) dt_rank=\(dtRank) bias=\(useBias) conv_bias=\(useConvBias) "
            + "eps=\(layerNormEpsilon) \(tieWordEmbeddings ? "tied" : "untied") embeddings, "
            + (ssmMixer == .selective ? "" : "\(ssmMixer.rawValue) mixer, ")
            + (unet.map { "U-Net pool=\($0.pool.map(String.init).joined(separator: "x")) expand=\($0.expand) (n_layer per stage), " } ?? "")
            + String(format: "%.1fM parameters", millions)
    }

    // MARK: Loading

    /// Reads `config.json` from `url` (the file itself, or a directory containing it).
    ///
    /// Accepts the Hugging Face transformers keys and the original `mamba_ssm` keys (detected by the
    /// presence of any Hugging Face key such as `hidden_size` or `model_type`). Unknown keys are ignored.
    ///
    /// - Throws: ``CheckpointError/fileNotFound(path:lookedFor:)``, ``CheckpointError/invalidJSON(path:detail:)``,
    ///   ``CheckpointError/missingConfigKey(path:key:)`` or ``CheckpointError/invalidConfigValue(path:key:detail:)``.
    public static func load(from url: URL) throws -> MambaConfig {
        var isDirectory: ObjCBool = false
        var fileURL = url
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            fileURL = url.appendingPathComponent(fileName)
        }
        let path = fileURL.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError.fileNotFound(path: path)
        }
        return try MambaConfig(json: JSONValue.read(contentsOf: fileURL), path: path)
    }

    /// Parses an already-decoded config object; `path` is used in error messages.
    init(json: JSONValue, path: String) throws {
        guard case .object(let object) = json else {
            throw CheckpointError.invalidJSON(path: path, detail: "the top level is a JSON \(json.kindName), expected an object")
        }
        let reader = ConfigReader(path: path, object: object)
        let huggingFaceKeys = ["hidden_size", "num_hidden_layers", "model_type", "state_size",
                               "intermediate_size", "conv_kernel", "time_step_rank"]
        if huggingFaceKeys.contains(where: { reader.has($0) }) {
            self = try Self.fromHuggingFace(reader)
        } else {
            self = try Self.fromMambaSSM(reader)
        }
        try validate(path: path)
    }

    /// The Hugging Face transformers `MambaConfig` format.
    private static func fromHuggingFace(_ r: ConfigReader) throws -> MambaConfig {
        let modelType = try r.string("model_type") ?? "mamba"
        guard modelType == "mamba" || modelType == "mamba2" else {
            throw r.invalid("model_type", "is \"\(modelType)\"; supported are \"mamba\" (Mamba-1) and \"mamba2\" (Mamba-2)")
        }
        if modelType == "mamba2" { return try fromHuggingFaceMamba2(r) }
        if let activation = try r.string("hidden_act"), activation != "silu" {
            throw r.invalid("hidden_act", "is \"\(activation)\"; Mamba uses \"silu\"")
        }
        let dModel = try r.requiredPositiveInt("hidden_size", alias: "d_model")
        let expand = try r.positiveInt("expand") ?? 2
        let dInner = try r.positiveInt("intermediate_size") ?? r.product(expand, dModel, key: "expand")
        var config = try huggingFaceBlock(r, dModel: dModel, expand: expand, dInner: dInner, dState: 16, tied: true)
        config.timeStepScale = try r.float("time_step_scale") ?? 1.0
        config.timeStepInitScheme = try r.initScheme("time_step_init_scheme")
        // HF's vocab_size is final; pad_vocab_size_multiple is informational
        config = config.with(padVocabSizeMultiple: try r.positiveInt("pad_vocab_size_multiple") ?? 1)
        try config.readClassifier(r)
        config.unet = try r.unet("unet")
        try config.readRCPS(r)
        return config
    }

    /// The keys transformers' MambaConfig and Mamba2Config share, with their defaults (`dState`, `tied` differ).
    private static func huggingFaceBlock(_ r: ConfigReader, dModel: Int, expand: Int, dInner: Int, dState: Int,
                                         tied: Bool) throws -> MambaConfig {
        MambaConfig(
            dModel: dModel, nLayer: try r.requiredPositiveInt("num_hidden_layers", alias: "n_layer"),
            vocabSize: try r.requiredPositiveInt("vocab_size", alias: nil),
            dState: try r.positiveInt("state_size") ?? dState,
            dConv: try r.positiveInt("conv_kernel") ?? 4,
            expand: expand, dInner: dInner,
            dtRank: try r.rank("time_step_rank", dModel: dModel),
            useBias: try r.bool("use_bias") ?? false,
            useConvBias: try r.bool("use_conv_bias") ?? true,
            layerNormEpsilon: try r.float("layer_norm_epsilon") ?? 1e-5,
            residualInFp32: try r.fp32Residual("residual_in_fp32"),
            tieWordEmbeddings: try r.bool("tie_word_embeddings") ?? tied,
            padVocabSizeMultiple: 1,
            timeStepMin: try r.float("time_step_min") ?? 0.001,
            timeStepMax: try r.float("time_step_max") ?? 0.1,
            timeStepFloor: try r.float("time_step_floor") ?? 1e-4,
            initializerRange: try r.float("initializer_range") ?? 0.1,
            rescalePrenormResidual: try r.bool("rescale_prenorm_residual") ?? false,
            bosTokenId: try r.tokenID("bos_token_id"),
            eosTokenId: try r.tokenID("eos_token_id"),
            padTokenId: try r.tokenID("pad_token_id"))
    }

    /// transformers' `Mamba2Config` (`model_type: "mamba2"`), with its defaults.
    private static func fromHuggingFaceMamba2(_ r: ConfigReader) throws -> MambaConfig {
        if let activation = try r.string("hidden_act"), activation != "silu" {
            throw r.invalid("hidden_act", "is \"\(activation)\"; Mamba-2 uses \"silu\"")
        }
        if let rms = try r.bool("rms_norm"), !rms {
            throw r.invalid("rms_norm", "is false; MambaKit implements Mamba-2 with its gated RMSNorm only")
        }
        let dModel = try r.requiredPositiveInt("hidden_size", alias: "d_model")
        let expand = try r.positiveInt("expand") ?? 2
        let dInner = try r.product(expand, dModel, key: "expand")
        let headDim = try r.positiveInt("head_dim") ?? 64
        var config = try huggingFaceBlock(r, dModel: dModel, expand: expand, dInner: dInner, dState: 128, tied: false)
        config.ssmMixer = .ssd
        config.ssd = SSDConfig(numHeads: try r.positiveInt("num_heads") ?? dInner / headDim, headDim: headDim,
                               nGroups: try r.positiveInt("n_groups") ?? 8, chunkSize: try r.positiveInt("chunk_size") ?? 256,
                               timeStepLimit: try r.limit("time_step_limit") ?? [0, .infinity],
                               normBeforeGate: try r.bool("norm_before_gate") ?? false)
        try config.readClassifier(r)
        return config
    }

    /// `num_labels`, `id2label`, `classifier_pooling`, `bidirectional` (all optional).
    private mutating func readClassifier(_ r: ConfigReader) throws {
        let maxLabels = ConfigReader.limit(of: "num_labels")
        let n = try r.int("num_labels") ?? 0
        guard n >= 0 else { throw r.invalid("num_labels", "must not be negative, got \(n)") }
        guard n <= maxLabels else { throw r.invalid("num_labels", "is \(n), above the supported maximum \(maxLabels)") }
        var names = (0..<n).map { "LABEL_\($0)" }
        if case .object(let map)? = r.object["id2label"] {
            // Ids index a dense list of classes: below num_labels, or below the number of entries without it.
            let idLimit = min(max(n, map.count), maxLabels)
            for (k, v) in map {
                guard let i = Int(k), case .string(let name) = v else {
                    throw r.invalid("id2label", "expected {\"0\": \"name\", …}, got key \(k)")
                }
                guard i >= 0 && i < idLimit else {
                    throw r.invalid("id2label", "has class id \(k), outside 0..<\(idLimit) (ids must be 0 … num_labels − 1, "
                                    + "or 0 … number of entries − 1 without num_labels; at most \(maxLabels) classes)")
                }
                if i >= names.count { names += (names.count...i).map { "LABEL_\($0)" } }
                names[i] = name
            }
        }
        // A plain transformers config has num_labels 2 and LABEL_0/1 by default only when it says so;
        // MambaForCausalLM configs written by MambaKit omit the keys.
        let architectures: [String]
        if case .array(let a)? = r.object["architectures"] { architectures = a.compactMap { if case .string(let s) = $0 { return s } else { return nil } } } else { architectures = [] }
        if architectures.contains("MambaForSequenceClassification") || r.has("classifier_pooling") { labels = names }
        if let p = try r.string("classifier_pooling") {
            guard let v = Pooling(rawValue: p) else { throw r.invalid("classifier_pooling", "is \"\(p)\", expected \"mean\" or \"last\"") }
            pooling = v
        }
        bidirectional = try r.bool("bidirectional") ?? false
        if let m = try r.string("ssm_mixer"), ssmMixer != .ssd {
            guard let v = SSMMixer(rawValue: m), v != .ssd else {
                throw r.invalid("ssm_mixer", "is \"\(m)\", expected \"selective\", \"lti\" or \"complex\"")
            }
            ssmMixer = v
        }
        if bidirectional && ssmMixer != .selective {
            throw r.invalid("ssm_mixer", "\"\(ssmMixer.rawValue)\" is not supported together with bidirectional (use the selective mixer)")
        }
        if bidirectional && useBias {
            throw r.invalid("bidirectional", "is not supported together with use_bias (the shared out_proj bias would be counted twice)")
        }
    }

    /// `rcps` and `complement_map` (Caduceus' config keys; both optional).
    private mutating func readRCPS(_ r: ConfigReader) throws {
        rcps = try r.bool("rcps") ?? false
        let map = try r.complementMap("complement_map", vocabSize: vocabSize)
        if rcps {
            guard let map else {
                throw r.invalid("rcps", "is true but there is no complement_map (token id → id of its complement, e.g. {\"5\": 8, \"8\": 5, …})")
            }
            if unet != nil { throw r.invalid("rcps", "is not supported with a U-Net backbone (remove \"unet\" or \"rcps\")") }
            complementMap = map
        }
    }

    /// The original `mamba_ssm` `MambaConfig` format (as saved next to `pytorch_model.bin`).
    private static func fromMambaSSM(_ r: ConfigReader) throws -> MambaConfig {
        let dModel = try r.requiredPositiveInt("d_model", reportedAs: "hidden_size")
        let nLayer = try r.requiredPositiveInt("n_layer", reportedAs: "num_hidden_layers")
        let rawVocab = try r.requiredPositiveInt("vocab_size", alias: nil)
        let multiple = try r.positiveInt("pad_vocab_size_multiple") ?? 8   // mamba_ssm's dataclass default

        if let rms = try r.bool("rms_norm"), !rms {
            throw r.invalid("rms_norm", "is false (LayerNorm); MambaKit implements the RMSNorm variant only")
        }
        if let dIntermediate = try r.int("d_intermediate"), dIntermediate != 0 {
            throw r.invalid("d_intermediate", "is \(dIntermediate); MLP blocks (d_intermediate > 0) are not supported")
        }
        if case .array(let layers)? = r.object["attn_layer_idx"], !layers.isEmpty {
            throw r.invalid("attn_layer_idx", "lists attention layers; hybrid attention models are not supported")
        }
        _ = try r.bool("fused_add_norm")

        let ssm: ConfigReader
        switch r.object["ssm_cfg"] {
        case nil, .null?:
            ssm = ConfigReader(path: r.path, object: [:], prefix: "ssm_cfg.")
        case .object(let fields)?:
            ssm = ConfigReader(path: r.path, object: fields, prefix: "ssm_cfg.")
        case let other?:
            throw r.invalid("ssm_cfg", "is a JSON \(other.kindName), expected an object")
        }
        let layer = try ssm.string("layer") ?? "Mamba1"
        guard layer == "Mamba1" || layer == "Mamba2" else {
            throw ssm.invalid("layer", "is \"\(layer)\"; supported are \"Mamba1\" and \"Mamba2\"")
        }
        let expand = try ssm.positiveInt("expand") ?? 2
        if layer == "Mamba2" {   // mamba_ssm's Mamba2 defaults: d_state 128, headdim 64, ngroups 1, chunk_size 256
            if let h = try ssm.bool("D_has_hdim"), h { throw ssm.invalid("D_has_hdim", "is true; only one D per head (the default) is supported") }
            if let d = try ssm.int("d_ssm"), d != expand * dModel {
                throw ssm.invalid("d_ssm", "is \(d); only d_ssm = expand × d_model (the default, no MLP half) is supported")
            }
            let headDim = try ssm.positiveInt("headdim") ?? 64
            let dInner = try ssm.product(expand, dModel, key: "expand")
            var c = MambaConfig(dModel: dModel, nLayer: nLayer, vocabSize: rawVocab,
                                dState: try ssm.positiveInt("d_state") ?? 128, dConv: try ssm.positiveInt("d_conv") ?? 4,
                                expand: expand, dInner: dInner,
                                useBias: try ssm.bool("bias") ?? false, useConvBias: try ssm.bool("conv_bias") ?? true,
                                layerNormEpsilon: 1e-5, residualInFp32: try r.fp32Residual("residual_in_fp32"),
                                tieWordEmbeddings: try r.bool("tie_embeddings") ?? true, padVocabSizeMultiple: multiple,
                                timeStepMin: try ssm.float("dt_min") ?? 0.001, timeStepMax: try ssm.float("dt_max") ?? 0.1,
                                timeStepFloor: try ssm.float("dt_init_floor") ?? 1e-4,
                                initializerRange: 0.02, rescalePrenormResidual: true, bosTokenId: 0, eosTokenId: 0, padTokenId: 0)
            c.ssmMixer = .ssd
            c.ssd = SSDConfig(numHeads: dInner / headDim, headDim: headDim, nGroups: try ssm.positiveInt("ngroups") ?? 1,
                              chunkSize: try ssm.positiveInt("chunk_size") ?? 256,
                              timeStepLimit: try ssm.limit("dt_limit") ?? [0, .infinity],
                              normBeforeGate: try ssm.bool("norm_before_gate") ?? false)
            return c
        }
        return MambaConfig(
            dModel: dModel, nLayer: nLayer, vocabSize: rawVocab,
            dState: try ssm.positiveInt("d_state") ?? 16,
            dConv: try ssm.positiveInt("d_conv") ?? 4,
            expand: expand, dInner: try ssm.product(expand, dModel, key: "expand"),
            dtRank: try ssm.rank("dt_rank", dModel: dModel),
            useBias: try ssm.bool("bias") ?? false,
            useConvBias: try ssm.bool("conv_bias") ?? true,
            layerNormEpsilon: 1e-5,
            residualInFp32: try r.fp32Residual("residual_in_fp32"),
            tieWordEmbeddings: try r.bool("tie_embeddings") ?? true,
            padVocabSizeMultiple: multiple,
            timeStepScale: try ssm.float("dt_scale") ?? 1.0,
            timeStepMin: try ssm.float("dt_min") ?? 0.001,
            timeStepMax: try ssm.float("dt_max") ?? 0.1,
            timeStepFloor: try ssm.float("dt_init_floor") ?? 1e-4,
            timeStepInitScheme: try ssm.initScheme("dt_init"),
            initializerRange: 0.02,            // mamba_ssm's _init_weights default
            rescalePrenormResidual: true,      // mamba_ssm's _init_weights default
            bosTokenId: 0, eosTokenId: 0, padTokenId: 0)
    }

    private func with(padVocabSizeMultiple multiple: Int) -> MambaConfig {
        var copy = self
        copy.padVocabSizeMultiple = multiple
        return copy
    }

    /// Checks ranges that involve several keys or that the initializer does not check.
    private func validate(path: String) throws {
        func invalid(_ key: String, _ detail: String) -> CheckpointError {
            .invalidConfigValue(path: path, key: key, detail: detail)
        }
        guard layerNormEpsilon > 0 else { throw invalid("layer_norm_epsilon", "must be positive, got \(layerNormEpsilon)") }
        guard timeStepMin > 0 else { throw invalid("time_step_min", "must be positive, got \(timeStepMin)") }
        guard timeStepMax >= timeStepMin else {
            throw invalid("time_step_max", "must be at least time_step_min (\(timeStepMin)), got \(timeStepMax)")
        }
        guard timeStepFloor >= 0 else { throw invalid("time_step_floor", "must not be negative, got \(timeStepFloor)") }
        guard timeStepScale > 0 else { throw invalid("time_step_scale", "must be positive, got \(timeStepScale)") }
        guard initializerRange >= 0 else { throw invalid("initializer_range", "must not be negative, got \(initializerRange)") }
        if ssmMixer == .ssd {
            guard let s = ssd else { throw invalid("ssm_mixer", "\"ssd\" needs Mamba-2's dimensions: write model_type \"mamba2\" with num_heads, head_dim, n_groups") }
            if let problem = s.problem(dInner: dInner) { throw invalid("num_heads", problem) }
            if unet != nil { throw invalid("unet", "is not supported with Mamba-2 blocks (remove \"unet\" or use model_type \"mamba\")") }
            if bidirectional || rcps { throw invalid(bidirectional ? "bidirectional" : "rcps", "is not supported with Mamba-2 blocks (use model_type \"mamba\")") }
        }
        if let u = unet {
            if let problem = u.problem { throw invalid("unet", problem) }
            if bidirectional { throw invalid("unet", "a U-Net backbone is causal; it has no bidirectional form (remove \"bidirectional\")") }
            if rcps { throw invalid("rcps", "is not supported with a U-Net backbone (remove \"unet\" or \"rcps\")") }
        }
        if rcps, let problem = RCPairing.problem(complementMap: complementMap, vocabSize: vocabSize) {
            throw invalid("complement_map", problem)
        }
        guard let count = checkedParameterCount, count <= Self.maximumParameterCount else {
            throw CheckpointError.modelTooLarge(path: path, parameters: checkedParameterCount, limit: Self.maximumParameterCount)
        }
    }

    // MARK: Initialisation keys

    /// The `initializer_range` values ``MambaModel/randomlyInitialised(config:seed:)`` accepts:
    /// the Hugging Face default that configs carry and mamba_ssm's 0.02, which is what it applies.
    public static let acceptedInitializerRanges: [Float] = [0.1, 0.02]

    /// Throws ``ModelError/unsupportedInitialisation(key:value:detail:)`` when random initialisation
    /// would silently ignore a value of this config (see ``initializerRange``, ``residualInFp32``,
    /// ``timeStepInitScheme``).
    public func checkInitialisationKeys() throws {
        guard Self.acceptedInitializerRanges.contains(initializerRange) else {
            throw ModelError.unsupportedInitialisation(
                key: "initializer_range", value: "\(initializerRange)",
                detail: "initialisation follows mamba_ssm (embeddings N(0, 0.02), out_proj scaled by 1/√n_layer) and "
                    + "does not use initializer_range, which is kept for round-tripping only; set it to 0.1 (the "
                    + "Hugging Face default) or 0.02")
        }
        guard !(bidirectional && ssmMixer != .selective) else {
            throw ModelError.unsupportedInitialisation(
                key: "ssm_mixer", value: "\"\(ssmMixer.rawValue)\"",
                detail: "the \(ssmMixer.rawValue) mixer has no reverse direction; use it without bidirectional")
        }
        guard residualInFp32 else {
            throw ModelError.unsupportedInitialisation(
                key: "residual_in_fp32", value: "false", detail: "MambaKit computes in float32 throughout; only true is supported")
        }
        guard timeStepInitScheme == "random" || timeStepInitScheme == "constant" else {
            throw ModelError.unsupportedInitialisation(
                key: "time_step_init_scheme", value: "\"\(timeStepInitScheme)\"",
                detail: "supported are \"random\" and \"constant\" (mamba_ssm's dt_init schemes)")
        }
    }

    // MARK: Writing

    /// The Hugging Face `config.json` object.
    var huggingFaceJSON: JSONValue {
        func number(_ f: Float) -> JSONValue { .double(Double("\(f)") ?? Double(f)) }
        func token(_ id: Int?) -> JSONValue { id.map { .int($0) } ?? .null }
        if let s = ssd { return mamba2JSON(s, number: number, token: token) }
        var object: [String: JSONValue] = [
            "architectures": .array([.string(labels.isEmpty ? "MambaForCausalLM" : "MambaForSequenceClassification")]),
            "model_type": .string("mamba"),
            "hidden_size": .int(dModel),
            "num_hidden_layers": .int(nLayer),
            "vocab_size": .int(vocabSize),
            "state_size": .int(dState),
            "conv_kernel": .int(dConv),
            "expand": .int(expand),
            "intermediate_size": .int(dInner),
            "time_step_rank": .int(dtRank),
            "use_bias": .bool(useBias),
            "use_conv_bias": .bool(useConvBias),
            "hidden_act": .string("silu"),
            "layer_norm_epsilon": number(layerNormEpsilon),
            "residual_in_fp32": .bool(residualInFp32),
            "tie_word_embeddings": .bool(tieWordEmbeddings),
            "pad_vocab_size_multiple": .int(padVocabSizeMultiple),
            "time_step_scale": number(timeStepScale),
            "time_step_min": number(timeStepMin),
            "time_step_max": number(timeStepMax),
            "time_step_floor": number(timeStepFloor),
            "time_step_init_scheme": .string(timeStepInitScheme),
            "initializer_range": number(initializerRange),
            "rescale_prenorm_residual": .bool(rescalePrenormResidual),
            "bos_token_id": token(bosTokenId),
            "eos_token_id": token(eosTokenId),
            "pad_token_id": token(padTokenId),
            "use_cache": .bool(true),
            "torch_dtype": .string("float32"),
        ]
        if ssmMixer != .selective { object["ssm_mixer"] = .string(ssmMixer.rawValue) }
        if let u = unet { object["unet"] = .object(["pool": .array(u.pool.map { .int($0) }), "expand": .int(u.expand)]) }
        if rcps {
            object["rcps"] = .bool(true)
            object["complement_map"] = .object(Dictionary(uniqueKeysWithValues: complementMap.enumerated().map { ("\($0.offset)", .int($0.element)) }))
        }
        if bidirectional && labels.isEmpty { object["bidirectional"] = .bool(true) }   // a masked LM
        if !labels.isEmpty {
            object["num_labels"] = .int(labels.count)
            object["id2label"] = .object(Dictionary(uniqueKeysWithValues: labels.enumerated().map { ("\($0.offset)", .string($0.element)) }))
            object["label2id"] = .object(Dictionary(labels.enumerated().map { ($0.element, .int($0.offset)) }, uniquingKeysWith: { a, _ in a }))
            object["classifier_pooling"] = .string(pooling.rawValue)
            object["bidirectional"] = .bool(bidirectional)
        }
        return .object(object)
    }

    /// transformers' `Mamba2Config` object (only its own keys, so that `Mamba2Config.from_pretrained` reads it back;
    /// `norm_before_gate` only when true, a mamba_ssm option transformers does not have).
    private func mamba2JSON(_ s: SSDConfig, number: (Float) -> JSONValue, token: (Int?) -> JSONValue) -> JSONValue {
        var object: [String: JSONValue] = [
            "architectures": .array([.string(labels.isEmpty ? "Mamba2ForCausalLM" : "Mamba2ForSequenceClassification")]),
            "model_type": .string("mamba2"),
            "hidden_size": .int(dModel), "num_hidden_layers": .int(nLayer), "vocab_size": .int(vocabSize),
            "state_size": .int(dState), "conv_kernel": .int(dConv), "expand": .int(expand),
            "num_heads": .int(s.numHeads), "head_dim": .int(s.headDim), "n_groups": .int(s.nGroups), "chunk_size": .int(s.chunkSize),
            // ∞ as the largest float (strict JSON; the same clamp in float32): transformers reads it as a number
            "time_step_limit": .array(s.timeStepLimit.map { $0.isInfinite ? .double(Double(Float.greatestFiniteMagnitude)) : number($0) }),
            "time_step_rank": .int(dtRank), "use_bias": .bool(useBias), "use_conv_bias": .bool(useConvBias),
            "hidden_act": .string("silu"), "layer_norm_epsilon": number(layerNormEpsilon),
            "residual_in_fp32": .bool(residualInFp32), "tie_word_embeddings": .bool(tieWordEmbeddings),
            "time_step_min": number(timeStepMin), "time_step_max": number(timeStepMax), "time_step_floor": number(timeStepFloor),
            "initializer_range": number(initializerRange), "rescale_prenorm_residual": .bool(rescalePrenormResidual),
            "bos_token_id": token(bosTokenId), "eos_token_id": token(eosTokenId), "pad_token_id": token(padTokenId),
            "use_cache": .bool(true), "torch_dtype": .string("float32"),
        ]
        if s.normBeforeGate { object["norm_before_gate"] = .bool(true) }
        if !labels.isEmpty {
            object["num_labels"] = .int(labels.count)
            object["id2label"] = .object(Dictionary(uniqueKeysWithValues: labels.enumerated().map { ("\($0.offset)", .string($0.element)) }))
            object["label2id"] = .object(Dictionary(labels.enumerated().map { ($0.element, .int($0.offset)) }, uniquingKeysWith: { a, _ in a }))
            object["classifier_pooling"] = .string(pooling.rawValue)
        }
        return .object(object)
    }

    /// Writes `config.json` in the Hugging Face format (pretty-printed, sorted keys) into `directory`,
    /// creating the directory if needed. The file is replaced atomically, so transformers'
    /// `MambaConfig.from_pretrained(directory)` and ``load(from:)`` read it back.
    ///
    /// - Throws: ``CheckpointError/writeFailed(path:reason:)``; an existing config.json is then left intact.
    public func write(to directory: URL) throws {
        let url = directory.appendingPathComponent(Self.fileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: url.path, reason: "cannot create the directory: \(error.localizedDescription)")
        }
        let text = huggingFaceJSON.prettyText() + "\n"
        try AtomicFileWriter.write(to: url) { writer in
            try Array(text.utf8).withUnsafeBytes { try writer.write($0) }
        }
    }

    // MARK: Codable

    /// Decodes either config.json format (see ``load(from:)``).
    public init(from decoder: Decoder) throws {
        let json = try JSONValue(from: decoder)
        try self.init(json: json, path: "<decoder>")
    }

    /// Encodes the Hugging Face config.json object.
    public func encode(to encoder: Encoder) throws {
        try huggingFaceJSON.encode(to: encoder)
    }
}

// MARK: - ConfigReader

/// Typed, validated access to the keys of a config.json object; every error names the file and key.
private struct ConfigReader {
    let path: String
    let object: [String: JSONValue]
    var prefix: String = ""

    /// Integers above this are rejected as implausible (and to keep shape products far from overflow).
    static let maximumDimension = 1 << 24

    /// The largest value accepted for each dimension (Hugging Face and mamba_ssm names): far above any
    /// published Mamba model, and small enough that a corrupt or hostile config.json is refused by
    /// name before anything is allocated. Other integer keys are bounded by ``maximumDimension``.
    static let dimensionLimits: [String: Int] = [
        "hidden_size": 1 << 16, "d_model": 1 << 16,
        "intermediate_size": 1 << 18,
        "num_hidden_layers": 1 << 12, "n_layer": 1 << 12,
        "vocab_size": 1 << 22,
        "state_size": 1 << 12, "d_state": 1 << 12,
        "conv_kernel": 1 << 10, "d_conv": 1 << 10,
        "time_step_rank": 1 << 16, "dt_rank": 1 << 16,
        "expand": 1 << 8,
        "num_labels": 1 << 16,
    ]

    /// The largest value accepted for `key` (without the `ssm_cfg.` prefix).
    static func limit(of key: String) -> Int { dimensionLimits[key] ?? maximumDimension }

    func has(_ key: String) -> Bool {
        if let value = object[key], value != .null { return true }
        return false
    }

    func invalid(_ key: String, _ detail: String) -> CheckpointError {
        .invalidConfigValue(path: path, key: prefix + key, detail: detail)
    }

    /// The value of `key`, or nil when it is absent or `null`.
    private func value(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func int(_ key: String) throws -> Int? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let i):
            return i
        case .double(let d) where d == d.rounded():
            // A whole number written as 16.0 or 1e18; beyond Int it cannot be any dimension.
            guard let i = Int(exactly: d) else { throw invalid(key, "is \(value.compactText), far outside the supported range") }
            return i
        default:
            throw invalid(key, "expected an integer, got \(value.compactText)")
        }
    }

    func positiveInt(_ key: String) throws -> Int? {
        guard let i = try int(key) else { return nil }
        guard i > 0 else { throw invalid(key, "must be a positive integer, got \(i)") }
        let limit = Self.limit(of: key)
        guard i <= limit else { throw invalid(key, "is \(i), above the supported maximum \(limit)") }
        return i
    }

    /// A required positive integer under its HF name, or `alias` (the mamba_ssm name).
    func requiredPositiveInt(_ key: String, alias: String?) throws -> Int {
        if let i = try positiveInt(key) { return i }
        if let alias, let i = try positiveInt(alias) { return i }
        throw CheckpointError.missingConfigKey(path: path, key: key)
    }

    /// A required positive integer under the mamba_ssm name `key`, reported missing under its HF name.
    func requiredPositiveInt(_ key: String, reportedAs hfKey: String) throws -> Int {
        if let i = try positiveInt(key) { return i }
        throw CheckpointError.missingConfigKey(path: path, key: hfKey)
    }

    /// `expand × dModel`, the inner width when `intermediate_size` is not given.
    func product(_ a: Int, _ b: Int, key: String) throws -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        let limit = Self.limit(of: "intermediate_size")
        guard !overflow, p <= limit else {
            throw invalid(key, "is \(a), which makes the inner width \(a) × \(b) above the supported maximum \(limit)")
        }
        return p
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let b) = value else { throw invalid(key, "expected true or false, got \(value.compactText)") }
        return b
    }

    func float(_ key: String) throws -> Float? {
        guard let value = value(key) else { return nil }
        let d: Double
        switch value {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw invalid(key, "expected a number, got \(value.compactText)")
        }
        let f = Float(d)
        guard f.isFinite else { throw invalid(key, "must be a finite number, got \(value.compactText)") }
        return f
    }

    func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let s) = value else { throw invalid(key, "expected a string, got \(value.compactText)") }
        return s
    }

    /// A Δ rank: a positive integer or `"auto"` (⌈dModel/16⌉); absent means `"auto"`.
    func rank(_ key: String, dModel: Int) throws -> Int {
        switch value(key) {
        case nil:
            return MambaConfig.autoDtRank(dModel: dModel)
        case .string("auto")?:
            return MambaConfig.autoDtRank(dModel: dModel)
        case .string(let s)?:
            throw invalid(key, "expected a positive integer or \"auto\", got \"\(s)\"")
        default:
            return try positiveInt(key)!
        }
    }

    /// `residual_in_fp32`: absent → true; false is refused (MambaKit computes in float32 throughout).
    func fp32Residual(_ key: String) throws -> Bool {
        guard try bool(key) ?? true else {
            throw invalid(key, "is false; only true is supported (MambaKit keeps the residual stream, like everything "
                          + "else, in float32; for a float32 checkpoint true computes the same)")
        }
        return true
    }

    /// The Δ projection's initialisation scheme: absent → "random"; only mamba_ssm's "random" and "constant".
    func initScheme(_ key: String) throws -> String {
        let scheme = try string(key) ?? "random"
        guard scheme == "random" || scheme == "constant" else {
            throw invalid(key, "is \"\(scheme)\"; supported are \"random\" and \"constant\" (mamba_ssm's dt_init schemes)")
        }
        return scheme
    }

    /// A token id: absent → 0 (the HF default), `null` → nil, otherwise a non-negative integer.
    func tokenID(_ key: String) throws -> Int? {
        guard let raw = object[key] else { return 0 }
        if raw == .null { return nil }
        guard let i = try int(key), i >= 0 else { throw invalid(key, "expected a non-negative token id, got \(raw.compactText)") }
        return i
    }

    /// `complement_map`: `{"id": id, …}` (Caduceus) or `[id, …]`, padded with the identity up to
    /// `vocabSize` (absent or null: nil). Checked to be an involution of 0 ..< V.
    func complementMap(_ key: String, vocabSize V: Int) throws -> [Int]? {
        var map = Array(0..<V)
        func set(_ k: Int, _ item: JSONValue) throws {
            guard case .int(let v) = item else { throw invalid(key, "expected integer token ids, got \(item.compactText)") }
            guard k >= 0, k < V, v >= 0, v < V else {
                throw invalid(key, "maps \(k) → \(v), outside the vocabulary 0 ..< \(V)")
            }
            map[k] = v
        }
        switch object[key] {
        case nil, .null?: return nil
        case .object(let fields)?:
            for (k, item) in fields {
                guard let i = Int(k) else { throw invalid(key, "has the key \"\(k)\", expected token ids as keys") }
                try set(i, item)
            }
        case .array(let items)?:
            guard items.count <= V else { throw invalid(key, "lists \(items.count) ids for a vocabulary of \(V)") }
            for (i, item) in items.enumerated() { try set(i, item) }
        case let other?:
            throw invalid(key, "is a JSON \(other.kindName), expected an object {\"id\": complement id, …}")
        }
        if let problem = RCPairing.problem(complementMap: map, vocabSize: V) { throw invalid(key, problem) }
        return map
    }

    /// `[lo, hi]` (Δ limits; for no upper limit `Infinity` (Python's json), `{"__float__": "Infinity"}` (transformers 5)
    /// or any number ≥ the largest float), or nil when absent.
    func limit(_ key: String) throws -> [Float]? {
        switch object[key] {
        case nil, .null?: return nil
        case .array(let items)? where items.count == 2:
            return try items.map { item -> Float in
                switch item {
                case .int(let i): return Float(i)
                case .double(let d): return d >= Double(Float.greatestFiniteMagnitude) ? .infinity : Float(d)
                case .string("Infinity"): return .infinity   // Python's json.dumps of float("inf")
                case .object(let o) where o == ["__float__": .string("Infinity")]: return .infinity   // transformers 5's encoding
                default: throw invalid(key, "expected two numbers [lo, hi], got \(item.compactText)")
                }
            }
        case let other?:
            throw invalid(key, "expected two numbers [lo, hi], got \(other.compactText)")
        }
    }

    /// `"unet": {"pool": [p, …], "expand": e}` (absent or null: the flat stack).
    func unet(_ key: String) throws -> UNetConfig? {
        switch object[key] {
        case nil, .null?: return nil
        case .object(let fields)?:
            let r = ConfigReader(path: path, object: fields, prefix: prefix + key + ".")
            guard case .array(let items)? = fields["pool"] else {
                throw r.invalid("pool", "expected a list of pooling factors, e.g. [4, 4]")
            }
            let pool = try items.map { item -> Int in
                guard case .int(let p) = item else { throw r.invalid("pool", "expected integers, got \(item.compactText)") }
                return p
            }
            let u = UNetConfig(pool: pool, expand: try r.positiveInt("expand") ?? 2)
            if let problem = u.problem { throw invalid(key, problem) }
            return u
        case let other?:
            throw invalid(key, "is a JSON \(other.kindName), expected an object like {\"pool\": [4, 4], \"expand\": 2}")
        }
    }
}
