// SafetensorsTensorInfo.swift
// The header entry of one tensor: dtype, shape and byte range.

/// The header entry of one tensor in a safetensors file.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    /// The tensor's name, e.g. `backbone.layers.0.mixer.in_proj.weight`.
    public let name: String
    /// The stored element type.
    public let dtype: SafetensorsDType
    /// The shape, outermost dimension first (row-major). Empty for a scalar.
    public let shape: [Int]
    /// The tensor's bytes, relative to the start of the data section.
    public let dataOffsets: Range<Int>
    /// The number of elements (the product of `shape`; 1 for a scalar).
    public let count: Int

    /// The number of bytes the tensor occupies (`count * dtype.byteSize`).
    public var byteCount: Int { dataOffsets.count }

    /// Creates a tensor description. `count` is derived from `shape`.
    public init(name: String, dtype: SafetensorsDType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
        self.count = shape.reduce(1, *)
    }
}
