// ParameterLayout.swift — every parameter of a Mamba LM as a named slice of one block.
//
// Parameters live in one contiguous Float buffer (llm.c style); gradients and optimiser
// moments reuse the same layout, so AdamW, clipping and checkpointing are single loops.
// Names are the Hugging Face `MambaForCausalLM` checkpoint keys, one-to-one.

/// A named slice of the parameter block.
public struct ParameterSlice: Sendable, Equatable {
    /// Checkpoint key, e.g. `backbone.layers.3.mixer.in_proj.weight`.
    public let name: String
    /// Shape as stored in checkpoints (conv1d weight is (E, 1, K)).
    public let shape: [Int]
    /// Offset in floats from the start of the block.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
    /// Excluded from weight decay (A_log, D, biases, norm weights): mamba_ssm's `_no_weight_decay` convention.
    public var noWeightDecay: Bool {
        name.hasSuffix(".A_log") || name.hasSuffix(".D") || name.hasSuffix(".bias") || name.hasSuffix("norm.weight")
            || name.hasSuffix("norm_f.weight")
    }
}

/// Offsets of one layer's tensors (in floats, into the parameter block). Optional ones are nil when the config omits them.
public struct LayerOffsets: Sendable {
    public let norm: Int        // (D)
    public let inProj: Int      // (2E, D)
    public let inProjBias: Int? // (2E)
    /// The forward direction's conv/SSM tensors (conv1d, x_proj, dt_proj, A_log, D).
    public let forward: SSMOffsets
    public let outProj: Int     // (D, E)
    public let outProjBias: Int? // (D)
    /// The reverse-direction mixer's own tensors (bidirectional configs), nil otherwise.
    public let reverse: SSMOffsets?
}

/// The tensors of one scan direction of a mixer: everything between the shared in_proj and out_proj.
public struct SSMOffsets: Sendable {
    public let conv1d: Int      // (E, 1, K)
    public let conv1dBias: Int? // (E)
    public let xProj: Int       // (R + 2N, E)
    public let dtProj: Int      // (E, R)
    public let dtProjBias: Int  // (E)
    public let aLog: Int        // (E, N)
    public let D: Int           // (E)
}

/// The layout of all parameters for a config.
public struct ParameterLayout: Sendable {
    public let config: MambaConfig
    public private(set) var slices: [ParameterSlice] = []
    public private(set) var layers: [LayerOffsets] = []
    /// (V, D) token embedding, also the LM head when tied.
    public private(set) var embedding = 0
    /// (D) final RMSNorm weight.
    public private(set) var normF = 0
    /// (V, D) LM head, nil when tied to the embedding.
    public private(set) var lmHead: Int? = nil
    /// (C, D) classification head and its (C) bias, when the config has labels.
    public private(set) var classifier: Int? = nil
    public private(set) var classifierBias: Int? = nil
    /// Total floats.
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    public init(config c: MambaConfig) {
        self.config = c
        let D = c.dModel, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv, V = c.vocabSize
        embedding = add("backbone.embeddings.weight", [V, D])
        for i in 0..<c.nLayer {
            let p = "backbone.layers.\(i)."
            let norm = add(p + "norm.weight", [D])
            let inProj = add(p + "mixer.in_proj.weight", [2 * E, D])
            let inProjBias = c.useBias ? add(p + "mixer.in_proj.bias", [2 * E]) : nil
            let conv = add(p + "mixer.conv1d.weight", [E, 1, K])
            let convBias = c.useConvBias ? add(p + "mixer.conv1d.bias", [E]) : nil
            let xProj = add(p + "mixer.x_proj.weight", [R + 2 * N, E])
            let dtProj = add(p + "mixer.dt_proj.weight", [E, R])
            let dtProjBias = add(p + "mixer.dt_proj.bias", [E])
            let aLog = add(p + "mixer.A_log", [E, N])
            let dSkip = add(p + "mixer.D", [E])
            let outProj = add(p + "mixer.out_proj.weight", [D, E])
            let outProjBias = c.useBias ? add(p + "mixer.out_proj.bias", [D]) : nil
            var reverse: SSMOffsets? = nil
            if c.bidirectional {   // Caduceus BiMamba: in_proj / out_proj shared with the forward mixer
                let r = p + "mixer_rev."
                reverse = SSMOffsets(
                    conv1d: add(r + "conv1d.weight", [E, 1, K]),
                    conv1dBias: c.useConvBias ? add(r + "conv1d.bias", [E]) : nil,
                    xProj: add(r + "x_proj.weight", [R + 2 * N, E]), dtProj: add(r + "dt_proj.weight", [E, R]),
                    dtProjBias: add(r + "dt_proj.bias", [E]), aLog: add(r + "A_log", [E, N]), D: add(r + "D", [E]))
            }
            let forward = SSMOffsets(conv1d: conv, conv1dBias: convBias, xProj: xProj, dtProj: dtProj,
                                     dtProjBias: dtProjBias, aLog: aLog, D: dSkip)
            layers.append(LayerOffsets(norm: norm, inProj: inProj, inProjBias: inProjBias, forward: forward,
                                       outProj: outProj, outProjBias: outProjBias, reverse: reverse))
        }
        normF = add("backbone.norm_f.weight", [D])
        if !c.tieWordEmbeddings { lmHead = add("lm_head.weight", [V, D]) }
        if c.numLabels > 0 {
            classifier = add("classifier.weight", [c.numLabels, D])
            classifierBias = add("classifier.bias", [c.numLabels])
        }
    }

    private mutating func add(_ name: String, _ shape: [Int]) -> Int {
        let s = ParameterSlice(name: name, shape: shape, offset: count)
        index[name] = slices.count
        slices.append(s)
        count += s.count
        return s.offset
    }

    /// The slice for a checkpoint key, or nil.
    public func slice(named name: String) -> ParameterSlice? { index[name].map { slices[$0] } }

    /// Other names the same tensor has in checkpoints (mamba_ssm writes `backbone.embedding.weight`).
    public static func aliases(of name: String) -> [String] {
        if name == "backbone.embeddings.weight" { return ["backbone.embedding.weight"] }
        return []
    }
}
