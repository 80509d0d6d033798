// ParameterLayout.swift — every parameter of a model as a named slice of one block.
//
// Parameters live in one contiguous Float buffer (llm.c style); gradients and optimiser
// moments reuse the same layout, so AdamW, clipping and checkpointing are single loops.
// Layers register their slices when a model is composed (``add(_:_:)``), under their
// checkpoint keys: for the language model these are the Hugging Face `MambaForCausalLM`
// keys, one-to-one.

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
    /// Excluded from weight decay (A_log, A_imag, D, biases and Mamba-2's dt_bias, norm weights): mamba_ssm's `_no_weight_decay` convention;
    /// and the LTI mixer's log_dt, B, C (the S4 convention: no weight decay on the SSM's own parameters).
    public var noWeightDecay: Bool {
        name.hasSuffix(".A_log") || name.hasSuffix(".A_imag") || name.hasSuffix(".D") || name.hasSuffix(".bias") || name.hasSuffix(".dt_bias") || name.hasSuffix("norm.weight")
            || name.hasSuffix("norm_f.weight") || name.hasSuffix(".log_dt") || name.hasSuffix(".mixer.B")
            || name.hasSuffix(".mixer.C")
    }
}

/// The layout of all parameters of a model: slices in the order the layers registered them.
public struct ParameterLayout: Sendable {
    public private(set) var slices: [ParameterSlice] = []
    /// Total floats.
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    /// An empty layout; layers add their slices as a model is composed.
    public init() {}

    /// The layout of a `MambaForCausalLM` (or, with labels in the config, a token classifier) for `config`.
    public init(config: MambaConfig) { self = MambaModel.composition(config: config).layout }

    /// Registers a tensor and returns its offset. Names must be unique.
    public mutating func add(_ name: String, _ shape: [Int]) -> Int {
        precondition(index[name] == nil, "parameter \(name) registered twice")
        let s = ParameterSlice(name: name, shape: shape, offset: count)
        index[name] = slices.count
        slices.append(s)
        count += s.count
        return s.offset
    }

    /// The slice for a checkpoint key, or nil.
    public func slice(named name: String) -> ParameterSlice? { index[name].map { slices[$0] } }

    /// Copies into `dst` (a block laid out like this one) every tensor that `source` (the layout of `src`)
    /// has under the same name and shape; returns the names copied. Fine-tuning starts this way.
    public func copyMatching(from source: ParameterLayout, _ src: UnsafePointer<Float>,
                             into dst: UnsafeMutablePointer<Float>) -> [String] {
        var copied: [String] = []
        for s in slices {
            guard let theirs = source.slice(named: s.name), theirs.shape == s.shape else { continue }
            (dst + s.offset).update(from: src + theirs.offset, count: s.count)
            copied.append(s.name)
        }
        return copied
    }

    /// Offset of `backbone.norm_f.weight` (D).
    public var normF: Int { slice(named: "backbone.norm_f.weight")?.offset ?? -1 }

    /// Other names the same tensor has in checkpoints (mamba_ssm writes `backbone.embedding.weight`).
    public static func aliases(of name: String) -> [String] {
        if name == "backbone.embeddings.weight" { return ["backbone.embedding.weight"] }
        return []
    }
}
