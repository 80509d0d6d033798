// MambaModel.swift — a Mamba language model: config + one parameter block.
import Foundation
import _MambaKernels

/// A Mamba LM (`MambaForCausalLM`): token embedding, `nLayer` residual blocks of
/// RMSNorm → S6 mixer, a final RMSNorm and an LM head (tied to the embedding unless the
/// config says otherwise). All parameters are Float32 in one block (see ``ParameterLayout``).
///
/// One instance runs one forward at a time (it reuses its workspace); use one instance per
/// thread, or ``copy()``, to run several.
public final class MambaModel {
    public let config: MambaConfig
    public let layout: ParameterLayout
    /// All parameters, `layout.count` floats.
    public let parameters: FloatBuffer
    /// Derived: A = -exp(A_log) for every layer, (nLayer, E, N), followed for bidirectional models by
    /// the reverse mixers' (nLayer, E, N). Refreshed by ``refreshDerived()``.
    let negA: FloatBuffer
    /// Threads for the scan, the convolution and the row-wise kernels (OpenBLAS has its own setting).
    public var threads: Int = Parallel.defaultThreads
    var workspace = ForwardWorkspace()
    /// Name each tensor had in the checkpoint it was loaded from, by Hugging Face name (e.g. a
    /// `mamba_ssm` checkpoint's `backbone.embedding.weight`); empty for a model made in memory.
    public internal(set) var checkpointNames: [String: String] = [:]

    /// The checkpoint's own name of a tensor (its Hugging Face name when not loaded from a file).
    public func checkpointName(of name: String) -> String { checkpointNames[name] ?? name }

    /// A model with all parameters zero (fill them, then call ``refreshDerived()``).
    public init(config: MambaConfig) {
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = FloatBuffer(count: layout.count)
        negA = FloatBuffer(count: (config.bidirectional ? 2 : 1) * config.nLayer * config.dInner * config.dState)
    }

    /// Number of parameters (the tied head counted once).
    public var parameterCount: Int { layout.count }

    /// Recomputes values derived from the parameters (A = -exp(A_log)); call after changing parameters.
    public func refreshDerived() {
        let EN = config.dInner * config.dState
        for (l, off) in layout.layers.enumerated() {
            mk_neg_exp(parameters.pointer + off.forward.aLog, negA.pointer + l * EN, EN)
            if let r = off.reverse { mk_neg_exp(parameters.pointer + r.aLog, negA.pointer + (config.nLayer + l) * EN, EN) }
        }
    }

    /// The LM head (V, D): the embedding when tied.
    var headOffset: Int { layout.lmHead ?? layout.embedding }

    /// A fresh, empty recurrent state for `batch` sequences.
    public func makeState(batch: Int = 1) -> MambaState { MambaState(config: config, batch: batch) }

    /// A deep copy (parameters copied), e.g. to run on another thread.
    public func copy() -> MambaModel {
        let m = MambaModel(config: config)
        m.parameters.pointer.update(from: parameters.pointer, count: parameters.count)
        m.refreshDerived()
        m.threads = threads
        return m
    }

    /// A tensor's values by checkpoint name.
    public func tensor(_ name: String) -> [Float]? {
        guard let s = layout.slice(named: name) else { return nil }
        return Array(parameters.slice(s.range))
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
        let p = m.parameters.pointer
        let D = c.dModel, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv, V = c.vocabSize
        func uniform(_ off: Int, _ n: Int, _ bound: Float) {
            for i in 0..<n { p[off + i] = rng.uniform(-bound, bound) }
        }
        func fill(_ off: Int, _ n: Int, _ v: Float) { for i in 0..<n { p[off + i] = v } }
        for i in 0..<(V * D) { p[m.layout.embedding + i] = 0.02 * rng.normal() }
        for o in m.layout.layers {
            fill(o.norm, D, 1)
            uniform(o.inProj, 2 * E * D, 1 / Float(D).squareRoot())
            let f = o.forward
            uniform(f.conv1d, E * K, 1 / Float(K).squareRoot())
            if let b = f.conv1dBias { uniform(b, E, 1 / Float(K).squareRoot()) }
            uniform(f.xProj, (R + 2 * N) * E, 1 / Float(E).squareRoot())
            let dtInitStd = c.timeStepScale / Float(R).squareRoot()
            if c.timeStepInitScheme == "constant" { fill(f.dtProj, E * R, dtInitStd) } else { uniform(f.dtProj, E * R, dtInitStd) }
            let lo = Foundation.log(c.timeStepMin), hi = Foundation.log(c.timeStepMax)
            for e in 0..<E {
                let dt = max(Foundation.exp(rng.uniform() * (hi - lo) + lo), c.timeStepFloor)
                p[f.dtProjBias + e] = dt + Foundation.log(-Foundation.expm1(-dt))   // softplus⁻¹(dt)
            }
            for e in 0..<E { for n in 0..<N { p[f.aLog + e * N + n] = Foundation.log(Float(n + 1)) } }
            fill(f.D, E, 1)
            uniform(o.outProj, D * E, 1 / Float(E).squareRoot() / Float(c.nLayer).squareRoot())
        }
        fill(m.layout.normF, D, 1)
        if let h = m.layout.lmHead { for i in 0..<(V * D) { p[h + i] = 0.02 * rng.normal() } }
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
        let c = config, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv
        let p = parameters.pointer
        for o in layout.layers {
            guard let r = o.reverse else { continue }
            let f = o.forward
            (p + r.conv1d).update(from: p + f.conv1d, count: E * K)
            if let rb = r.conv1dBias, let fb = f.conv1dBias { (p + rb).update(from: p + fb, count: E) }
            (p + r.xProj).update(from: p + f.xProj, count: (R + 2 * N) * E)
            (p + r.dtProj).update(from: p + f.dtProj, count: E * R)
            (p + r.dtProjBias).update(from: p + f.dtProjBias, count: E)
            (p + r.aLog).update(from: p + f.aLog, count: E * N)
            (p + r.D).update(from: p + f.D, count: E)
        }
    }

    func initialiseHead(seed: UInt64) {
        guard let w = layout.classifier, let b = layout.classifierBias else { return }
        let C = config.numLabels, D = config.dModel, p = parameters.pointer
        var rng = SeededRandom(seed: seed ^ 0x636C_6173_7369_6679)   // "classify"
        let bound = 1 / Float(D).squareRoot()
        for i in 0..<(C * D) { p[w + i] = rng.uniform(-bound, bound) }
        for i in 0..<C { p[b + i] = 0 }
    }

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
        let src = parameters.pointer, dst = m.parameters.pointer
        var copiedReverse = false
        for s in m.layout.slices {                 // everything this model has of the same shape
            guard let mine = layout.slice(named: s.name), mine.shape == s.shape else { continue }
            (dst + s.offset).update(from: src + mine.offset, count: s.count)
            if s.name.contains(".mixer_rev.") { copiedReverse = true }
        }
        if !copiedReverse { m.copyForwardMixersToReverse() }
        m.refreshDerived()
        m.threads = threads
        m.checkpointNames = [:]
        return m
    }
}
