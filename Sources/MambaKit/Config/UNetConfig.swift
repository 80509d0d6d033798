// UNetConfig.swift — the shape of a SaShiMi-style multi-scale backbone (config.json `unet`, a MambaKit
// extension): how many pooling stages, by which factors, and how the width grows per stage.

/// A multi-scale U-Net backbone (Goel et al. 2022, "It's Raw! Audio Generation with State-Space Models";
/// the Mamba paper's audio backbone, §4.4): level 0 runs at the input rate with width D, level s+1 at
/// 1/p_s of level s's rate with width `expand`·D_s. Each level has `n_layer` Mamba blocks on the way down
/// and `n_layer` on the way up; the innermost level has `n_layer` centre blocks. See ``UNet``.
///
/// config.json: `"unet": {"pool": [4, 4], "expand": 2}`; with it, the config's `n_layer` counts the
/// blocks of *one* stage, not of the whole model.
public struct UNetConfig: Codable, Equatable, Sendable {
    /// Pooling factor p_s of each stage, outermost first (SaShiMi and the Mamba paper: two stages).
    public var pool: [Int]
    /// Width multiplier per stage (SaShiMi's `expand`; the Mamba paper doubles D per stage: 2).
    public var expand: Int

    public init(pool: [Int] = [4, 4], expand: Int = 2) {
        self.pool = pool; self.expand = expand
    }

    /// Samples per frame of the innermost level: Π p_s.
    public var totalPooling: Int { pool.reduce(1, *) }

    /// Accepted ranges (the config reader and the CLI check them).
    public static let maxStages = 4, poolRange = 2...64, expandRange = 1...4

    /// What is wrong with these values, or nil.
    public var problem: String? {
        if pool.isEmpty { return "pool must list at least one pooling factor" }
        if pool.count > Self.maxStages { return "pool lists \(pool.count) stages; at most \(Self.maxStages)" }
        if let p = pool.first(where: { !Self.poolRange.contains($0) }) {
            return "pooling factor \(p) is outside \(Self.poolRange.lowerBound)…\(Self.poolRange.upperBound)"
        }
        if !Self.expandRange.contains(expand) {
            return "expand \(expand) is outside \(Self.expandRange.lowerBound)…\(Self.expandRange.upperBound)"
        }
        return nil
    }
}
