// MambaModel.swift — a Mamba language model: config + one parameter block.
import Foundation
import _MambaKernels

/// The language model's name as a composition: a ``Backbone`` over token ids and an ``LMHead``.
public typealias MambaLM = MambaModel

/// A Mamba LM (`MambaForCausalLM`): a ``Backbone`` over token ids (embedding, `nLayer` residual
/// blocks of RMSNorm → S6 mixer, a final RMSNorm) and an ``LMHead`` (tied to the embedding unless the
/// config says otherwise). All parameters are Float32 in one block (see ``ParameterLayout``).
///
/// For backward compatibility a config with labels (`id2label`) makes a token classifier instead: the
/// same backbone with a ``PooledHead`` (see ``SequenceClassifier`` for the composable form, which also
/// takes continuous features).
///
/// One instance runs one forward at a time (it reuses its workspace); use one instance per
/// thread, or ``copy()``, to run several.
public final class MambaModel {
    public let config: MambaConfig
    public let layout: ParameterLayout
    /// All parameters, `layout.count` floats.
    public let parameters: FloatBuffer
    /// Embedding, blocks and final norm, over `parameters`.
    public let backbone: Backbone
    /// The LM head (nil for a classifier).
    public let lmHead: LMHead?
    /// The classification head (configs with labels), nil for a language model.
    public let classifierHead: PooledHead?
    /// Threads for the scan, the convolution and the row-wise kernels (OpenBLAS has its own setting).
    public var threads: Int {
        get { backbone.threads }
        set { backbone.threads = newValue }
    }
    /// Name each tensor had in the checkpoint it was loaded from, by Hugging Face name (e.g. a
    /// `mamba_ssm` checkpoint's `backbone.embedding.weight`); empty for a model made in memory.
    public internal(set) var checkpointNames: [String: String] = [:]

    /// The checkpoint's own name of a tensor (its Hugging Face name when not loaded from a file).
    public func checkpointName(of name: String) -> String { checkpointNames[name] ?? name }

    /// The layers of a model for `config`, registered in checkpoint order.
    struct Composition {
        var layout = ParameterLayout()
        var layers: Backbone.Layers! = nil
        var lmHead: LMHead? = nil
        var classifierHead: PooledHead? = nil
    }

    static func composition(config c: MambaConfig) -> Composition {
        var k = Composition()
        k.layers = Backbone.Layers(config: c, input: .tokens(vocabSize: c.vocabSize), layout: &k.layout)
        if c.numLabels > 0 {
            k.classifierHead = PooledHead(classes: c.numLabels, dim: c.dModel, pooling: c.pooling, layout: &k.layout)
        } else {
            k.lmHead = LMHead(tiedTo: c.tieWordEmbeddings ? k.layers.embedding : nil, vocabSize: c.vocabSize,
                              dim: c.dModel, layout: &k.layout)
        }
        return k
    }

    /// A model with all parameters zero (fill them, then call ``refreshDerived()``).
    public init(config: MambaConfig) {
        self.config = config
        let k = Self.composition(config: config)
        layout = k.layout
        parameters = FloatBuffer(count: layout.count)
        backbone = Backbone(config: config, input: .tokens(vocabSize: config.vocabSize), layers: k.layers, parameters: parameters)
        lmHead = k.lmHead
        classifierHead = k.classifierHead
    }

    /// Number of parameters (the tied head counted once).
    public var parameterCount: Int { layout.count }

    /// Recomputes values derived from the parameters (A = -exp(A_log)); call after changing parameters.
    public func refreshDerived() { backbone.refreshDerived() }

    /// A fresh, empty recurrent state for `batch` sequences.
    public func makeState(batch: Int = 1) -> MambaState { MambaState(config: config, batch: batch) }

    /// A deep copy (parameters copied), e.g. to run on another thread.
    public func copy() -> MambaModel {
        let m = MambaModel(config: config)
        m.parameters.pointer.update(from: parameters.pointer, count: parameters.count)
        m.shareWeights(of: self)
        m.refreshDerived()
        m.threads = threads
        return m
    }

    /// A tensor's values by checkpoint name.
    public func tensor(_ name: String) -> [Float]? {
        guard let s = layout.slice(named: name) else { return nil }
        return storedTensor(name) ?? Array(parameters.slice(s.range))
    }

    // MARK: - Initialisation (mamba_ssm's scheme)

    /// A randomly initialised model, as `mamba_ssm` initialises one (seeded, reproducible):
    /// embeddings N(0, 0.02); linear weights U(±1/sqrt(fan_in)) (PyTorch's default), out_proj
    /// divided by sqrt(nLayer); conv1d U(±1/sqrt(K)); dt_proj weight U(±R^-0.5·dt_scale), or
    /// R^-0.5·dt_scale everywhere for `timeStepInitScheme == "constant"`;
    /// dt_proj bias = softplus⁻¹(dt), dt log-uniform in [dt_min, dt_max] floored at dt_init_floor;
    /// A_log = log(1…N); D = 1; norms 1; other biases 0.
    ///
    /// The scheme is mamba_ssm's whatever the config's Hugging Face `initializer_range` and
    /// `rescale_prenorm_residual` say (see ``MambaConfig/initializerRange``).
    ///
    /// - Throws: ``ModelError/unsupportedInitialisation(key:value:detail:)`` for a config value that
    ///   would be silently ignored: `initializerRange` other than 0.1 (HF default) or 0.02 (applied),
    ///   `residualInFp32 == false`, or a `timeStepInitScheme` other than "random" and "constant".
    public static func randomlyInitialised(config c: MambaConfig, seed: UInt64) throws -> MambaModel {
        try c.checkInitialisationKeys()
        let m = MambaModel(config: c)
        var rng = SeededRandom(seed: seed)
        m.backbone.initialise(random: &rng)
        if let h = m.lmHead, !h.tied {
            let p = m.parameters.pointer
            for i in 0..<(c.vocabSize * c.dModel) { p[h.weight + i] = 0.02 * rng.normal() }
        }
        m.initialiseClassification(seed: seed)
        m.refreshDerived()
        return m
    }

    /// Reverse-direction mixers start as copies of the forward ones (the same initial distribution
    /// for a new model; for a pretrained backbone, its learned filters run both ways); the
    /// classification head is U(±1/sqrt(D)) (PyTorch's `nn.Linear` default) with zero bias.
    func initialiseClassification(seed: UInt64) {
        copyForwardMixersToReverse()
        initialiseHead(seed: seed)
    }

    func copyForwardMixersToReverse() {
        for o in backbone.blocks { if let f = o.mixer { o.reverse?.ssm.copyValues(from: f, parameters.pointer) } }
    }

    func initialiseHead(seed: UInt64) { classifierHead?.initialise(parameters.pointer, seed: seed) }

    // MARK: - Classification

    /// A sequence classifier built on this model's backbone: the embedding, layers and final norm are
    /// copied (so a pretrained language model can be fine-tuned), the LM head is dropped, and a new
    /// linear head (C, D) over pooled hidden states is added; `bidirectional` adds reverse-direction
    /// mixers (Caduceus BiMamba: in_proj and out_proj shared), initialised as copies of the forward
    /// ones. When this model already is a classifier of the same shape, its tensors are kept.
    public func makeClassifier(labels: [String], pooling: Pooling, bidirectional: Bool, seed: UInt64) -> MambaModel {
        var c = config
        c.labels = labels; c.pooling = pooling; c.bidirectional = bidirectional; c.tieWordEmbeddings = true
        let m = MambaModel(config: c)
        m.initialiseHead(seed: seed)
        // everything this model has of the same shape
        let copied = m.layout.copyMatching(from: layout, parameters.pointer, into: m.parameters.pointer)
        if !copied.contains(where: { $0.contains(".mixer_rev.") }) { m.copyForwardMixersToReverse() }
        m.refreshDerived()
        m.threads = threads
        m.checkpointNames = [:]
        return m
    }
}
