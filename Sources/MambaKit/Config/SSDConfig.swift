// SSDConfig.swift — the Mamba-2 (SSD) block's own hyper-parameters: heads, groups, chunk size and Δ limits.

/// What a Mamba-2 block (``SSMMixer/ssd``, Dao & Gu 2024, "Transformers are SSMs") needs beyond the Mamba-1
/// dimensions: E = `numHeads` · `headDim` channels in H heads of P, one scalar A per head, B and C of N states
/// per group of heads. Keys of transformers' `Mamba2Config` (`num_heads`, `head_dim`, `n_groups`, `chunk_size`,
/// `time_step_limit`) and of `mamba_ssm`'s `ssm_cfg` (`headdim`, `ngroups`, `chunk_size`, `dt_limit`,
/// `norm_before_gate`).
///
/// Letters (Docs/Glossary.md): H heads, P head_dim, G n_groups, Q chunk_size; E = H·P.
public struct SSDConfig: Codable, Equatable, Sendable {
    /// Heads H (`num_heads`; mamba_ssm: d_inner / headdim).
    public var numHeads: Int
    /// Channels per head P (`head_dim`, mamba_ssm `headdim`; 64 in every released checkpoint).
    public var headDim: Int
    /// Groups G of heads sharing B and C (`n_groups`, mamba_ssm `ngroups`); also the groups of the gated norm.
    public var nGroups: Int
    /// Chunk length Q of the chunked (matrix-product) SSD (`chunk_size`; 256).
    public var chunkSize: Int
    /// Δ is clamped to [lo, hi] after the softplus (`time_step_limit`, mamba_ssm `dt_limit`; default (0, ∞)).
    public var timeStepLimit: [Float]
    /// Whether the gated RMSNorm normalises y before multiplying by silu(z) (mamba_ssm `norm_before_gate`;
    /// false in Mamba-2 and the only value transformers implements).
    public var normBeforeGate: Bool

    public init(numHeads: Int, headDim: Int = 64, nGroups: Int = 1, chunkSize: Int = 256,
                timeStepLimit: [Float] = [0, .infinity], normBeforeGate: Bool = false) {
        self.numHeads = numHeads; self.headDim = headDim; self.nGroups = nGroups; self.chunkSize = chunkSize
        self.timeStepLimit = timeStepLimit; self.normBeforeGate = normBeforeGate
    }

    /// What is wrong with these values for a block of inner width `dInner`, or nil.
    public func problem(dInner E: Int) -> String? {
        if headDim < 1 { return "head_dim must be positive, got \(headDim)" }
        if numHeads < 1 {
            return headDim > E
                ? "is 0: head_dim \(headDim) is wider than expand × hidden_size = \(E); set head_dim to a divisor of \(E) (e.g. \(min(E, 16)))"
                : "num_heads must be positive, got \(numHeads)"
        }
        if numHeads * headDim != E {
            return "num_heads × head_dim = \(numHeads) × \(headDim) = \(numHeads * headDim) must equal expand × hidden_size = \(E)"
        }
        if nGroups < 1 || numHeads % nGroups != 0 { return "n_groups \(nGroups) must divide num_heads \(numHeads)" }
        if chunkSize < 1 || chunkSize > 4096 { return "chunk_size \(chunkSize) is outside 1…4096" }
        if timeStepLimit.count != 2 || !(timeStepLimit[0] >= 0) || !(timeStepLimit[1] > timeStepLimit[0]) {
            return "time_step_limit must be [lo, hi] with 0 ≤ lo < hi, got \(timeStepLimit)"
        }
        return nil
    }
}

extension MambaConfig {
    /// A new Mamba-2 configuration (mamba_ssm's `Mamba2` defaults: N = 128, P = 64, one group, Q = 256, expand 2):
    /// E = expand·D channels in E/P heads. Not validated; ``MambaModel/randomlyInitialised(config:seed:)`` checks it.
    public static func mamba2(dModel: Int, nLayer: Int, vocabSize: Int, dState: Int = 128, headDim: Int = 64,
                              nGroups: Int = 1, chunkSize: Int = 256, expand: Int = 2,
                              tieWordEmbeddings: Bool = true) -> MambaConfig {
        var c = MambaConfig(dModel: dModel, nLayer: nLayer, vocabSize: vocabSize, dState: dState, expand: expand,
                            tieWordEmbeddings: tieWordEmbeddings)
        c.ssmMixer = .ssd
        c.ssd = SSDConfig(numHeads: max(1, c.dInner / max(1, headDim)), headDim: headDim, nGroups: nGroups, chunkSize: chunkSize)
        return c
    }
}
