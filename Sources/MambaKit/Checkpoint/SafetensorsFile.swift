// SafetensorsFile.swift
// Reading one memory-mapped, validated safetensors file.
//
// File layout (https://github.com/huggingface/safetensors, "Format"):
//
//   [u64 little-endian n] [n bytes of UTF-8 JSON header] [data section]
//
// The header is a JSON object mapping tensor names to
// `{"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}`, where the offsets are
// byte offsets relative to the start of the data section, plus an optional `"__metadata__"`
// object of string → string. Tensor data is row-major and little-endian.

import Foundation

#if !_endian(little)
#error("MambaKit's checkpoint I/O assumes a little-endian host (x86-64, AArch64)")
#endif

/// One memory-mapped, validated `.safetensors` file.
///
/// The initializer maps the file read-only and checks the whole header against the file before
/// returning: the header length fits in the file, the header is a JSON object, every entry has a
/// known dtype, a non-negative shape and `[begin, end]` offsets with `end − begin = count × dtype size`,
/// every tensor lies inside the data section, and no two tensors overlap. Reads therefore never
/// touch memory outside the mapping.
///
/// Tensor bytes are only paged in when read. Pointers returned by ``rawBytes(_:)`` stay valid for as
/// long as the `SafetensorsFile` object is alive.
public final class SafetensorsFile: @unchecked Sendable {
    // @unchecked Sendable: all stored state is immutable after init and the mapping is read-only.

    // MARK: Properties

    /// The file that was opened.
    public let url: URL
    /// The `"__metadata__"` object of the header (empty when absent).
    public let metadata: [String: String]
    /// Every tensor in the file, by name.
    public let tensors: [String: SafetensorsTensorInfo]
    /// The tensor names, sorted.
    public let names: [String]
    /// The size of the file in bytes.
    public let fileSize: Int
    /// The length of the JSON header in bytes (the `n` of the 8-byte prefix).
    public let headerByteCount: Int

    private let file: ReadOnlyMapping

    /// The first byte of the data section.
    private var dataStart: UnsafeRawPointer { file.bytes.baseAddress! + 8 + headerByteCount }

    // MARK: Opening

    /// Memory-maps and validates the safetensors file at `url`.
    ///
    /// - Throws: ``CheckpointError/fileNotFound(path:lookedFor:)``, ``CheckpointError/unreadable(path:reason:)``,
    ///   ``CheckpointError/invalidHeader(path:detail:)`` or ``CheckpointError/unsupportedDType(path:name:dtype:)``.
    public init(url: URL) throws {
        let path = url.path
        let file = try ReadOnlyMapping(path: path, notFound: { CheckpointError.fileNotFound(path: path) },
                                       unreadable: { CheckpointError.unreadable(path: path, reason: $0) })
        let size = file.bytes.count
        guard size >= 8 else {
            throw CheckpointError.invalidHeader(
                path: path, detail: "the file is \(size) bytes long, too short for the 8-byte header length")
        }
        let parsed = try SafetensorsHeader.parse(file.bytes, path: path)

        self.url = url
        self.file = file
        self.fileSize = size
        self.headerByteCount = parsed.headerByteCount
        self.metadata = parsed.metadata
        self.tensors = parsed.tensors
        self.names = parsed.tensors.keys.sorted()
    }

    // MARK: Lookup

    /// Whether the file has a tensor called `name`.
    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The header entry of tensor `name`.
    /// - Throws: ``CheckpointError/missingTensor(path:name:)``.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let info = tensors[name] else {
            throw CheckpointError.missingTensor(path: url.path, name: name)
        }
        return info
    }

    /// The stored bytes of tensor `name`, valid while this object is alive.
    /// - Throws: ``CheckpointError/missingTensor(path:name:)``.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try info(name)
        return UnsafeRawBufferPointer(start: dataStart + info.dataOffsets.lowerBound, count: info.byteCount)
    }

    // MARK: Floating-point reads

    /// Reads tensor `name` as `Float`s into `destination`, converting from F32, F16, BF16 or F64.
    ///
    /// - Parameter destination: must have exactly as many elements as the tensor.
    /// - Throws: ``CheckpointError/missingTensor(path:name:)``; ``CheckpointError/shapeMismatch(path:name:expected:found:)``
    ///   when the element counts differ (`expected` is `[destination.count]`);
    ///   ``CheckpointError/unsupportedDType(path:name:dtype:)`` for integer tensors.
    public func readFloat32(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let info = try info(name)
        guard destination.count == info.count else {
            throw CheckpointError.shapeMismatch(path: url.path, name: name, expected: [destination.count], found: info.shape)
        }
        try convertFloat32(info, into: destination)
    }

    /// Reads tensor `name` as `Float`s into `destination` after checking that its shape is exactly `shape`.
    /// - Throws: as ``readFloat32(_:into:)``, and ``CheckpointError/shapeMismatch(path:name:expected:found:)``
    ///   naming both shapes when they differ.
    public func readFloat32(_ name: String, shape: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        let info = try info(name)
        guard info.shape == shape else {
            throw CheckpointError.shapeMismatch(path: url.path, name: name, expected: shape, found: info.shape)
        }
        try readFloat32(name, into: destination)
    }

    /// Tensor `name` converted to `Float`s, row-major.
    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        return try [Float](unsafeUninitializedCapacity: info.count) { buffer, initialized in
            try convertFloat32(info, into: buffer)
            initialized = info.count
        }
    }

    private func convertFloat32(_ info: SafetensorsTensorInfo, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let count = info.count
        guard count > 0, let out = destination.baseAddress else {
            if !info.dtype.isFloatingPoint {
                throw CheckpointError.unsupportedDType(path: url.path, name: info.name, dtype: info.dtype.rawValue)
            }
            return
        }
        let source = dataStart + info.dataOffsets.lowerBound
        switch info.dtype {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            HalfConversion.f16ToF32(source, count: count, into: out)
        case .bf16:
            HalfConversion.bf16ToF32(source, count: count, into: out)
        case .f64:
            for i in 0..<count {
                out[i] = Float(source.loadUnaligned(fromByteOffset: 8 &* i, as: Double.self))
            }
        case .i64, .i32, .i16, .i8, .u8, .bool:
            throw CheckpointError.unsupportedDType(path: url.path, name: info.name, dtype: info.dtype.rawValue)
        }
    }

    // MARK: Integer reads

    /// Reads integer tensor `name` (I64, I32, I16, I8, U8 or BOOL) into `destination` as `Int64`s.
    /// - Throws: ``CheckpointError/missingTensor(path:name:)``, ``CheckpointError/shapeMismatch(path:name:expected:found:)``
    ///   when the counts differ, ``CheckpointError/unsupportedDType(path:name:dtype:)`` for floating-point tensors.
    public func readInt64(_ name: String, into destination: UnsafeMutableBufferPointer<Int64>) throws {
        let info = try info(name)
        guard destination.count == info.count else {
            throw CheckpointError.shapeMismatch(path: url.path, name: name, expected: [destination.count], found: info.shape)
        }
        guard info.dtype.isInteger else {
            throw CheckpointError.unsupportedDType(path: url.path, name: name, dtype: info.dtype.rawValue)
        }
        guard let out = destination.baseAddress else { return }
        let source = dataStart + info.dataOffsets.lowerBound
        let count = info.count
        switch info.dtype {
        case .i64:
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 8)
        case .i32:
            for i in 0..<count { out[i] = Int64(source.loadUnaligned(fromByteOffset: 4 &* i, as: Int32.self)) }
        case .i16:
            for i in 0..<count { out[i] = Int64(source.loadUnaligned(fromByteOffset: 2 &* i, as: Int16.self)) }
        case .i8:
            for i in 0..<count { out[i] = Int64(source.load(fromByteOffset: i, as: Int8.self)) }
        case .u8:
            for i in 0..<count { out[i] = Int64(source.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in 0..<count { out[i] = source.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        case .f32, .f16, .bf16, .f64:
            break // unreachable: rejected above
        }
    }

    /// Integer tensor `name` as `Int64`s, row-major.
    public func int64s(_ name: String) throws -> [Int64] {
        let info = try info(name)
        return try [Int64](unsafeUninitializedCapacity: info.count) { buffer, initialized in
            try readInt64(name, into: buffer)
            initialized = info.count
        }
    }
}
