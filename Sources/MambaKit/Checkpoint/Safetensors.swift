// Safetensors.swift
// Reading (memory-mapped, validated) and writing (atomic, optionally sharded) of safetensors checkpoints.
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
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if !_endian(little)
#error("MambaKit's checkpoint I/O assumes a little-endian host (x86-64, AArch64)")
#endif

// MARK: - SafetensorsDType

/// The element types a safetensors header may name that MambaKit understands.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f64 = "F64"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u8 = "U8"
    case bool = "BOOL"

    /// The size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether ``SafetensorsFile/readFloat32(_:into:)`` can read this dtype.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }

    /// Whether ``SafetensorsFile/readInt64(_:into:)`` can read this dtype.
    public var isInteger: Bool { !isFloatingPoint }
}

// MARK: - SafetensorsTensorInfo

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

// MARK: - HalfConversion

/// Bit-exact conversions between `Float` and the 16-bit IEEE binary16 (F16) and bfloat16 (BF16)
/// formats. Narrowing conversions round to nearest, ties to even; NaNs stay NaNs (quieted, with as
/// much of the payload as fits) and infinities stay infinities.
public enum HalfConversion {

    // MARK: Scalar

    /// Widens an IEEE binary16 bit pattern to `Float` (exact, including subnormals, ±inf and NaN).
    @inline(__always)
    public static func f16ToF32(_ h: UInt16) -> Float {
        let bits = UInt32(h)
        let sign = (bits & 0x8000) << 16
        let exponent = (bits >> 10) & 0x1F
        let mantissa = bits & 0x3FF
        if exponent == 0x1F {
            // Infinity or NaN: keep the payload.
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exactly representable in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        // Normal: rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Narrows a `Float` to an IEEE binary16 bit pattern, rounding to nearest even.
    /// Values of magnitude ≥ 65520 become ±infinity; NaNs stay (quiet) NaNs.
    @inline(__always)
    public static func f32ToF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            // NaN: set the quiet bit and keep the top payload bits.
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
        }
        if magnitude >= 0x477F_F000 {
            // ≥ 65520 (half-way between 65504 and 2^16): overflows to infinity.
            return sign | 0x7C00
        }
        if magnitude < 0x3880_0000 {
            // Below the smallest normal half (2^-14): the result is subnormal or zero. Adding 0.5
            // puts the value's 2^-24 multiples into the low mantissa bits of a Float whose ulp is
            // exactly 2^-24, so the hardware's round-to-nearest-even does the rounding.
            let shifted = Float(bitPattern: magnitude) + 0.5
            return sign | UInt16(truncatingIfNeeded: shifted.bitPattern &- 0x3F00_0000)
        }
        // Normal: rebias (−112 in the exponent field) and round the 13 dropped bits to nearest even.
        let odd = (magnitude >> 13) & 1
        let rounded = magnitude &+ 0xC800_0FFF &+ odd
        return sign | UInt16(truncatingIfNeeded: rounded >> 13)
    }

    /// Widens a bfloat16 bit pattern to `Float` (exact).
    @inline(__always)
    public static func bf16ToF32(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Narrows a `Float` to bfloat16, rounding to nearest even. NaNs stay (quiet) NaNs.
    @inline(__always)
    public static func f32ToBF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if x & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: x >> 16) | 0x0040
        }
        let odd = (x >> 16) & 1
        return UInt16(truncatingIfNeeded: (x &+ 0x7FFF &+ odd) >> 16)
    }

    // MARK: Bulk

    /// All 65,536 binary16 values widened to `Float`, indexed by bit pattern.
    static let f16Table: [Float] = (0...0xFFFF).map { f16ToF32(UInt16($0)) }

    /// Widens `count` little-endian binary16 values at `source` (any alignment) into `destination`.
    public static func f16ToF32(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        f16Table.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            for i in 0..<count {
                destination[i] = t[Int(source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))]
            }
        }
    }

    /// Widens `count` little-endian bfloat16 values at `source` (any alignment) into `destination`.
    public static func bf16ToF32(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let b = source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self)
            destination[i] = Float(bitPattern: UInt32(b) << 16)
        }
    }

    /// Narrows `count` floats into binary16 bit patterns (round to nearest even).
    public static func f32ToF16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<UInt16>) {
        for i in 0..<count { destination[i] = f32ToF16(source[i]) }
    }

    /// Narrows `count` floats into bfloat16 bit patterns (round to nearest even).
    public static func f32ToBF16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<UInt16>) {
        for i in 0..<count { destination[i] = f32ToBF16(source[i]) }
    }
}

// MARK: - SafetensorsFile

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

    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int

    /// The first byte of the data section.
    private var dataStart: UnsafeRawPointer { UnsafeRawPointer(mapping) + 8 + headerByteCount }

    // MARK: Opening

    /// Memory-maps and validates the safetensors file at `url`.
    ///
    /// - Throws: ``CheckpointError/fileNotFound(path:lookedFor:)``, ``CheckpointError/unreadable(path:reason:)``,
    ///   ``CheckpointError/invalidHeader(path:detail:)`` or ``CheckpointError/unsupportedDType(path:name:dtype:)``.
    public init(url: URL) throws {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw CheckpointError.fileNotFound(path: path) }
            throw CheckpointError.unreadable(path: path, reason: posixMessage(code))
        }
        defer { close(fd) }

        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw CheckpointError.unreadable(path: path, reason: posixMessage(errno))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        guard size >= 8 else {
            throw CheckpointError.invalidHeader(
                path: path, detail: "the file is \(size) bytes long, too short for the 8-byte header length")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw CheckpointError.unreadable(path: path, reason: "mmap failed: \(posixMessage(errno))")
        }

        let parsed: SafetensorsHeader
        do {
            parsed = try SafetensorsHeader.parse(UnsafeRawBufferPointer(start: mapped, count: size), path: path)
        } catch {
            munmap(mapped, size)
            throw error
        }

        self.url = url
        self.mapping = mapped
        self.mappedLength = size
        self.fileSize = size
        self.headerByteCount = parsed.headerByteCount
        self.metadata = parsed.metadata
        self.tensors = parsed.tensors
        self.names = parsed.tensors.keys.sorted()
    }

    deinit {
        munmap(mapping, mappedLength)
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

// MARK: - Header parsing

/// The validated content of a safetensors header.
struct SafetensorsHeader {
    var headerByteCount: Int
    var metadata: [String: String]
    var tensors: [String: SafetensorsTensorInfo]

    /// Parses and validates the header of the complete file `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> SafetensorsHeader {
        func bad(_ detail: String) -> CheckpointError { .invalidHeader(path: path, detail: detail) }

        let fileSize = bytes.count
        guard fileSize >= 8, let base = bytes.baseAddress else {
            throw bad("the file is \(fileSize) bytes long, too short for the 8-byte header length")
        }
        let declared = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(fileSize - 8) else {
            throw bad("the header length is \(declared) bytes but only \(fileSize - 8) bytes follow the length prefix")
        }
        let headerLength = Int(declared)
        let dataSize = fileSize - 8 - headerLength

        let json: JSONValue
        do {
            json = try JSONValue.parse(Data(bytes: base + 8, count: headerLength))
        } catch let failure as JSONValue.ParseFailure {
            throw bad("the header is not valid JSON (\(failure.message))")
        }
        guard case .object(let entries) = json else {
            throw bad("the header is a JSON \(json.kindName), expected an object")
        }

        var metadata: [String: String] = [:]
        var tensors: [String: SafetensorsTensorInfo] = [:]
        tensors.reserveCapacity(entries.count)

        for (name, entry) in entries {
            if name == "__metadata__" {
                guard case .object(let fields) = entry else {
                    throw bad("\"__metadata__\" is a JSON \(entry.kindName), expected an object of strings")
                }
                for (key, value) in fields {
                    guard case .string(let text) = value else {
                        throw bad("\"__metadata__\".\"\(key)\" is a JSON \(value.kindName), expected a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            guard case .object(let fields) = entry else {
                throw bad("entry \"\(name)\" is a JSON \(entry.kindName), expected an object")
            }
            // dtype
            guard let dtypeValue = fields["dtype"] else { throw bad("tensor \"\(name)\" has no \"dtype\"") }
            guard case .string(let dtypeName) = dtypeValue else {
                throw bad("tensor \"\(name)\": \"dtype\" is a JSON \(dtypeValue.kindName), expected a string")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw CheckpointError.unsupportedDType(path: path, name: name, dtype: dtypeName)
            }
            // shape
            guard let shapeValue = fields["shape"] else { throw bad("tensor \"\(name)\" has no \"shape\"") }
            guard case .array(let dims) = shapeValue else {
                throw bad("tensor \"\(name)\": \"shape\" is a JSON \(shapeValue.kindName), expected an array")
            }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            var count = 1
            var countOverflowed = false
            for dim in dims {
                guard case .int(let d) = dim, d >= 0 else {
                    throw bad("tensor \"\(name)\": shape \(JSONValue.array(dims).compactText) has an entry that is not a non-negative integer")
                }
                shape.append(d)
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                count = product
                countOverflowed = countOverflowed || overflow
            }
            // data_offsets
            guard let offsetsValue = fields["data_offsets"] else { throw bad("tensor \"\(name)\" has no \"data_offsets\"") }
            guard case .array(let offsets) = offsetsValue, offsets.count == 2,
                  case .int(let begin) = offsets[0], case .int(let end) = offsets[1] else {
                throw bad("tensor \"\(name)\": \"data_offsets\" is \(offsetsValue.compactText), expected [begin, end] integers")
            }
            guard begin >= 0, begin <= end else {
                throw bad("tensor \"\(name)\": data_offsets [\(begin), \(end)] are not 0 ≤ begin ≤ end")
            }
            let (expectedBytes, bytesOverflowed) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !countOverflowed, !bytesOverflowed, end - begin == expectedBytes else {
                throw bad("tensor \"\(name)\": data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(countOverflowed || bytesOverflowed ? "more than Int.max" : String(expectedBytes))")
            }
            guard end <= dataSize else {
                throw bad("tensor \"\(name)\": data_offsets [\(begin), \(end)] end beyond the \(dataSize)-byte data section")
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
        }

        // No two tensors may share bytes.
        let ordered = tensors.values.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        // Sorted by start, each tensor must begin at or after the furthest end seen so far.
        var furthest: SafetensorsTensorInfo?
        for info in ordered {
            guard let p = furthest else { furthest = info; continue }
            if info.dataOffsets.lowerBound < p.dataOffsets.upperBound {
                throw bad("tensors \"\(p.name)\" [\(p.dataOffsets.lowerBound), \(p.dataOffsets.upperBound)] and \"\(info.name)\" [\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)] overlap")
            }
            if info.dataOffsets.upperBound >= p.dataOffsets.upperBound { furthest = info }
        }
        return SafetensorsHeader(headerByteCount: headerLength, metadata: metadata, tensors: tensors)
    }
}

// MARK: - SafetensorsCheckpoint

/// The weights of a model directory: either a single `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json` (the Hugging Face layout).
///
/// All files are memory-mapped and validated when the checkpoint is opened; the tensors themselves
/// are paged in only when read.
public struct SafetensorsCheckpoint: Sendable {

    /// The name of a single-file checkpoint inside a model directory.
    public static let singleFileName = "model.safetensors"
    /// The name of the shard index inside a model directory.
    public static let indexFileName = "model.safetensors.index.json"

    // MARK: Properties

    /// The model directory.
    public let directory: URL
    /// The shard index, when the checkpoint is sharded.
    public let indexURL: URL?
    /// The opened files (one, or one per shard in index order).
    public let files: [SafetensorsFile]
    /// The metadata: the `__metadata__` of a single file, or the index's `"metadata"` (values as strings).
    public let metadata: [String: String]
    /// All tensor names, sorted.
    public let names: [String]

    private let fileIndexByName: [String: Int]

    // MARK: Opening

    /// Opens the checkpoint in `directory`.
    ///
    /// Looks for `model.safetensors` first, then `model.safetensors.index.json` with its shards.
    /// `directory` may also be the URL of a `.safetensors` file, which is then opened alone.
    ///
    /// - Throws: ``CheckpointError/fileNotFound(path:lookedFor:)`` when neither file exists;
    ///   ``CheckpointError/missingShard(indexPath:shard:)`` or ``CheckpointError/invalidIndex(path:detail:)``
    ///   for an inconsistent index; any error of ``SafetensorsFile/init(url:)``.
    public init(directory: URL) throws {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue {
            let file = try SafetensorsFile(url: directory)
            self.init(directory: directory.deletingLastPathComponent(), indexURL: nil, files: [file],
                      metadata: file.metadata, fileIndexByName: Dictionary(uniqueKeysWithValues: file.names.map { ($0, 0) }))
            return
        }

        let single = directory.appendingPathComponent(Self.singleFileName)
        if FileManager.default.fileExists(atPath: single.path) {
            let file = try SafetensorsFile(url: single)
            self.init(directory: directory, indexURL: nil, files: [file], metadata: file.metadata,
                      fileIndexByName: Dictionary(uniqueKeysWithValues: file.names.map { ($0, 0) }))
            return
        }

        let index = directory.appendingPathComponent(Self.indexFileName)
        guard FileManager.default.fileExists(atPath: index.path) else {
            throw CheckpointError.fileNotFound(path: directory.path, lookedFor: [Self.singleFileName, Self.indexFileName])
        }
        try self.init(directory: directory, index: index)
    }

    private init(directory: URL, indexURL: URL?, files: [SafetensorsFile], metadata: [String: String], fileIndexByName: [String: Int]) {
        self.directory = directory
        self.indexURL = indexURL
        self.files = files
        self.metadata = metadata
        self.fileIndexByName = fileIndexByName
        self.names = fileIndexByName.keys.sorted()
    }

    private init(directory: URL, index: URL) throws {
        let indexPath = index.path
        let data: Data
        do {
            data = try Data(contentsOf: index)
        } catch {
            throw CheckpointError.unreadable(path: indexPath, reason: error.localizedDescription)
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch let failure as JSONValue.ParseFailure {
            throw CheckpointError.invalidJSON(path: indexPath, detail: failure.message)
        }
        guard case .object(let root) = json else {
            throw CheckpointError.invalidJSON(path: indexPath, detail: "the top level is a JSON \(json.kindName), expected an object")
        }
        guard let mapValue = root["weight_map"] else {
            throw CheckpointError.invalidIndex(path: indexPath, detail: "there is no \"weight_map\" object")
        }
        guard case .object(let map) = mapValue else {
            throw CheckpointError.invalidIndex(path: indexPath, detail: "\"weight_map\" is a JSON \(mapValue.kindName), expected an object")
        }
        var metadata: [String: String] = [:]
        if case .object(let fields)? = root["metadata"] {
            for (key, value) in fields { metadata[key] = value.compactText(unquotedStrings: true) }
        }

        // Open each distinct shard once, in file-name order.
        var shardOf: [String: String] = [:]
        for (name, value) in map {
            guard case .string(let shard) = value else {
                throw CheckpointError.invalidIndex(path: indexPath, detail: "weight_map[\"\(name)\"] is a JSON \(value.kindName), expected a shard file name")
            }
            shardOf[name] = shard
        }
        var files: [SafetensorsFile] = []
        var fileIndexByShard: [String: Int] = [:]
        for shard in Set(shardOf.values).sorted() {
            let url = directory.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw CheckpointError.missingShard(indexPath: indexPath, shard: shard)
            }
            fileIndexByShard[shard] = files.count
            files.append(try SafetensorsFile(url: url))
        }

        var fileIndexByName: [String: Int] = [:]
        fileIndexByName.reserveCapacity(shardOf.count)
        for (name, shard) in shardOf {
            let i = fileIndexByShard[shard]!
            guard files[i].contains(name) else {
                throw CheckpointError.invalidIndex(
                    path: indexPath, detail: "weight_map puts tensor \"\(name)\" in \"\(shard)\", but that shard has no such tensor")
            }
            fileIndexByName[name] = i
        }
        self.init(directory: directory, indexURL: index, files: files, metadata: metadata, fileIndexByName: fileIndexByName)
    }

    // MARK: Access

    /// Whether the checkpoint has a tensor called `name`.
    public func contains(_ name: String) -> Bool { fileIndexByName[name] != nil }

    /// The path of the file holding tensor `name` (for error messages). For an unknown name, the
    /// index path of a sharded checkpoint or the single file's path.
    public func path(of name: String) -> String {
        if let i = fileIndexByName[name] { return files[i].url.path }
        return indexURL?.path ?? files.first?.url.path ?? directory.path
    }

    /// The header entry of tensor `name`.
    /// - Throws: ``CheckpointError/missingTensor(path:name:)``.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        try file(for: name).info(name)
    }

    /// Reads tensor `name` as `Float`s into `destination` (see ``SafetensorsFile/readFloat32(_:into:)``).
    public func readFloat32(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try file(for: name).readFloat32(name, into: destination)
    }

    /// Reads tensor `name` as `Float`s into `destination` after checking its exact shape
    /// (see ``SafetensorsFile/readFloat32(_:shape:into:)``).
    public func readFloat32(_ name: String, shape: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        try file(for: name).readFloat32(name, shape: shape, into: destination)
    }

    /// Tensor `name` converted to `Float`s.
    public func floats(_ name: String) throws -> [Float] {
        try file(for: name).floats(name)
    }

    /// Reads integer tensor `name` as `Int64`s into `destination` (see ``SafetensorsFile/readInt64(_:into:)``).
    public func readInt64(_ name: String, into destination: UnsafeMutableBufferPointer<Int64>) throws {
        try file(for: name).readInt64(name, into: destination)
    }

    /// The stored bytes of tensor `name`, valid while this checkpoint (or its files) are alive.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        try file(for: name).rawBytes(name)
    }

    private func file(for name: String) throws -> SafetensorsFile {
        guard let i = fileIndexByName[name] else {
            throw CheckpointError.missingTensor(path: indexURL?.path ?? files.first?.url.path ?? directory.path, name: name)
        }
        return files[i]
    }
}

// MARK: - SafetensorsWriter

/// Writes safetensors files atomically: the data goes to a temporary file in the target directory,
/// which is fsync'ed and then renamed over the target (and the directory fsync'ed), so a crash or a
/// failure never leaves a partly written file at the target path.
public enum SafetensorsWriter {

    // MARK: Tensor

    /// A named `Float` tensor to write.
    public struct Tensor {
        /// Where the values come from.
        public enum Values {
            /// An array (kept alive by the tensor).
            case array([Float])
            /// Memory owned by the caller, which must stay valid until the write returns.
            case buffer(UnsafeBufferPointer<Float>)
        }

        public var name: String
        public var shape: [Int]
        public var values: Values

        /// A tensor whose values are in an array (row-major, `values.count` = product of `shape`).
        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = .array(values)
        }

        /// A one-dimensional tensor of shape `[values.count]`.
        public init(name: String, values: [Float]) {
            self.init(name: name, shape: [values.count], values: values)
        }

        /// A tensor whose values are in caller-owned memory that stays valid until the write returns.
        public init(name: String, shape: [Int], data: UnsafeBufferPointer<Float>) {
            self.name = name
            self.shape = shape
            self.values = .buffer(data)
        }

        /// The number of values supplied.
        public var valueCount: Int {
            switch values {
            case .array(let a): return a.count
            case .buffer(let b): return b.count
            }
        }

        func withValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
            switch values {
            case .array(let a): return try a.withUnsafeBufferPointer(body)
            case .buffer(let b): return try body(b)
            }
        }
    }

    // MARK: Single file

    /// Writes `tensors` (in the given order) to the safetensors file `url`, replacing it atomically.
    ///
    /// - Parameters:
    ///   - dtype: `.f32`, `.f16` or `.bf16` (narrowing rounds to nearest even; NaN stays NaN).
    ///   - metadata: the header's `__metadata__` (omitted when empty).
    /// - Throws: ``CheckpointError/writeFailed(path:reason:)``; the previous file at `url`, if any, is kept.
    public static func write(_ tensors: [Tensor], dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        try validate(tensors, dtype: dtype, path: url.path)
        let header = headerBytes(for: tensors, dtype: dtype, metadata: metadata)
        try AtomicFileWriter.write(to: url) { writer in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try writer.write($0) }
            try header.withUnsafeBytes { try writer.write($0) }
            for tensor in tensors {
                try tensor.withValues { try writeValues($0, dtype: dtype, to: &writer) }
            }
        }
    }

    // MARK: Sharded

    /// Writes `tensors` as shards `model-0000i-of-0000n.safetensors` of at most `maxShardBytes` of tensor
    /// data each (a single larger tensor gets a shard of its own), plus `model.safetensors.index.json`
    /// mapping every tensor to its shard — the Hugging Face sharded layout. The index is always written,
    /// even for one shard; it is written last, so readers never see an index naming absent shards.
    ///
    /// `directory` is created if needed. Each file is replaced atomically. Note that a
    /// `model.safetensors` already in `directory` takes precedence when the directory is loaded.
    ///
    /// - Returns: the URLs of the shards written, in order.
    @discardableResult
    public static func writeSharded(_ tensors: [Tensor], dtype: SafetensorsDType = .f32,
                                    metadata: [String: String] = ["format": "pt"],
                                    maxShardBytes: Int, directory: URL) throws -> [URL] {
        let indexURL = directory.appendingPathComponent(SafetensorsCheckpoint.indexFileName)
        guard maxShardBytes > 0 else {
            throw CheckpointError.writeFailed(path: indexURL.path, reason: "maxShardBytes must be positive, got \(maxShardBytes)")
        }
        try validate(tensors, dtype: dtype, path: indexURL.path)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: directory.path, reason: "cannot create the directory: \(error.localizedDescription)")
        }

        // Greedy grouping in the given order.
        var groups: [[Tensor]] = [[]]
        var groupBytes = 0
        var totalBytes = 0
        for tensor in tensors {
            let bytes = tensor.valueCount * dtype.byteSize
            totalBytes += bytes
            if !groups[groups.count - 1].isEmpty && groupBytes + bytes > maxShardBytes {
                groups.append([])
                groupBytes = 0
            }
            groups[groups.count - 1].append(tensor)
            groupBytes += bytes
        }

        let n = groups.count
        var shardURLs: [URL] = []
        var weightMap: [String: JSONValue] = [:]
        for (i, group) in groups.enumerated() {
            let shardName = "model-\(zeroPadded(i + 1))-of-\(zeroPadded(n)).safetensors"
            let url = directory.appendingPathComponent(shardName)
            try write(group, dtype: dtype, metadata: metadata, to: url)
            shardURLs.append(url)
            for tensor in group { weightMap[tensor.name] = .string(shardName) }
        }
        let index = JSONValue.object([
            "metadata": .object(["total_size": .int(totalBytes)]),
            "weight_map": .object(weightMap),
        ])
        let text = index.prettyText() + "\n"
        try AtomicFileWriter.write(to: indexURL) { writer in
            try Array(text.utf8).withUnsafeBytes { try writer.write($0) }
        }
        return shardURLs
    }

    // MARK: Helpers

    private static func zeroPadded(_ value: Int) -> String {
        let digits = String(value)
        return digits.count >= 5 ? digits : String(repeating: "0", count: 5 - digits.count) + digits
    }

    private static func validate(_ tensors: [Tensor], dtype: SafetensorsDType, path: String) throws {
        guard dtype == .f32 || dtype == .f16 || dtype == .bf16 else {
            throw CheckpointError.writeFailed(path: path, reason: "can only write F32, F16 or BF16, not \(dtype.rawValue)")
        }
        var seen = Set<String>()
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name != "__metadata__" else {
                throw CheckpointError.writeFailed(path: path, reason: "invalid tensor name \"\(tensor.name)\"")
            }
            guard seen.insert(tensor.name).inserted else {
                throw CheckpointError.writeFailed(path: path, reason: "tensor name \"\(tensor.name)\" is used twice")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError.writeFailed(path: path, reason: "tensor \"\(tensor.name)\" has a negative dimension in shape \(tensor.shape)")
            }
            let expected = tensor.shape.reduce(1, *)
            guard expected == tensor.valueCount else {
                throw CheckpointError.writeFailed(
                    path: path, reason: "tensor \"\(tensor.name)\" has \(tensor.valueCount) values but shape \(tensor.shape) needs \(expected)")
            }
        }
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes.
    private static func headerBytes(for tensors: [Tensor], dtype: SafetensorsDType, metadata: [String: String]) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += JSONValue.quoted("__metadata__") + ":{"
            json += metadata.keys.sorted().map { JSONValue.quoted($0) + ":" + JSONValue.quoted(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for tensor in tensors {
            let bytes = tensor.valueCount * dtype.byteSize
            if !first { json += "," }
            first = false
            json += JSONValue.quoted(tensor.name)
            json += ":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var bytes = Array(json.utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    private static func writeValues(_ values: UnsafeBufferPointer<Float>, dtype: SafetensorsDType, to writer: inout AtomicFileWriter) throws {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        switch dtype {
        case .f32:
            try writer.write(UnsafeRawBufferPointer(values))
        case .f16, .bf16:
            let chunk = 1 << 16
            var scratch = [UInt16](repeating: 0, count: min(chunk, values.count))
            var start = 0
            while start < values.count {
                let n = min(chunk, values.count - start)
                try scratch.withUnsafeMutableBufferPointer { out in
                    if dtype == .f16 {
                        HalfConversion.f32ToF16(base + start, count: n, into: out.baseAddress!)
                    } else {
                        HalfConversion.f32ToBF16(base + start, count: n, into: out.baseAddress!)
                    }
                    try writer.write(UnsafeRawBufferPointer(start: out.baseAddress, count: n * 2))
                }
                start += n
            }
        default:
            break // rejected by validate
        }
    }
}

/// `strerror` text for an errno value.
func posixMessage(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

// MARK: - JSON values (shared with MambaConfig)

/// A parsed JSON value that keeps booleans, integers and other numbers apart.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Why a document is not valid JSON (JSONSerialization's reason).
    struct ParseFailure: Error {
        var message: String
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses a complete JSON document (any top-level kind).
    static func parse(_ data: Data) throws -> JSONValue {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let info = (error as NSError).userInfo
            let reason = (info[NSDebugDescriptionErrorKey] as? String) ?? error.localizedDescription
            throw ParseFailure(message: reason)
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ParseFailure(message: "\(error)")
        }
    }

    /// "object", "array", "string", … for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Compact JSON text (object keys sorted). With `unquotedStrings`, a top-level string is returned bare.
    func compactText(unquotedStrings: Bool) -> String {
        if unquotedStrings, case .string(let s) = self { return s }
        return compactText
    }

    /// Compact JSON text (object keys sorted).
    var compactText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Self.numberText(d)
        case .string(let s): return Self.quoted(s)
        case .array(let a): return "[" + a.map(\.compactText).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { Self.quoted($0) + ":" + o[$0]!.compactText }.joined(separator: ",") + "}"
        }
    }

    /// Pretty-printed JSON text (two-space indent, object keys sorted), as Python's `json.dumps(indent=2, sort_keys=True)`.
    func prettyText(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { inner + $0.prettyText(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let o) where !o.isEmpty:
            return "{\n" + o.keys.sorted().map { inner + Self.quoted($0) + ": " + o[$0]!.prettyText(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return compactText
        }
    }

    /// A finite number in JSON syntax (shortest round-tripping form; non-finite values become null).
    static func numberText(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

// MARK: - Encoding JSON values

extension JSONValue: Encodable {
    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}
