// WeightStore.swift — the matrices of one model held in a 16- or 8-bit format, by parameter offset.

/// The matrices of a model that are held in ``format`` instead of f32, keyed by the offset of their
/// slice in the parameter block (the `weight:` offsets layers pass to ``LayerContext``). Immutable once
/// made; shared by copies of a model. Their f32 slices in the parameter block are zero and hold no memory.
public final class WeightStore: @unchecked Sendable {
    public let format: WeightFormat
    /// By parameter offset (the model's layout names each).
    public let matrices: [Int: StoredMatrix]

    init(format: WeightFormat, matrices: [Int: StoredMatrix]) {
        self.format = format; self.matrices = matrices
    }

    /// Bytes of all stored matrices.
    public var byteCount: Int { matrices.values.reduce(0) { $0 + $1.byteCount } }
}
