// SafetensorsWriter.swift
// Writing safetensors files (F32/F16/BF16) atomically, optionally sharded with an index.

import Foundation

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
            /// Bytes already in `dtype` (e.g. int8 weights, binary16 scales), written as they are whatever
            /// the file's dtype; caller-owned memory that stays valid until the write returns.
            case raw(SafetensorsDType, UnsafeRawBufferPointer)
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

        /// A tensor of bytes already in `dtype` (shape row-major, `bytes.count` = product × dtype size).
        public init(name: String, shape: [Int], dtype: SafetensorsDType, bytes: UnsafeRawBufferPointer) {
            self.name = name
            self.shape = shape
            self.values = .raw(dtype, bytes)
        }

        /// The number of values supplied.
        public var valueCount: Int {
            switch values {
            case .array(let a): return a.count
            case .buffer(let b): return b.count
            case .raw(let t, let b): return b.count / t.byteSize
            }
        }

        /// The dtype this tensor is written in: its own for raw bytes, else the file's.
        func dtype(file: SafetensorsDType) -> SafetensorsDType {
            if case .raw(let t, _) = values { return t }
            return file
        }

        /// Bytes of this tensor in the file.
        func byteCount(file: SafetensorsDType) -> Int { valueCount * dtype(file: file).byteSize }

        func write(dtype: SafetensorsDType, to writer: inout AtomicFileWriter) throws {
            switch values {
            case .array(let a): try a.withUnsafeBufferPointer { try SafetensorsWriter.writeValues($0, dtype: dtype, to: &writer) }
            case .buffer(let b): try SafetensorsWriter.writeValues(b, dtype: dtype, to: &writer)
            case .raw(_, let b): if !b.isEmpty { try writer.write(b) }
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
            for tensor in tensors { try tensor.write(dtype: dtype, to: &writer) }
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
            let bytes = tensor.byteCount(file: dtype)
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
            if case .raw(let t, let b) = tensor.values, b.count != expected * t.byteSize {
                throw CheckpointError.writeFailed(
                    path: path, reason: "tensor \"\(tensor.name)\" has \(b.count) bytes but shape \(tensor.shape) in \(t.rawValue) needs \(expected * t.byteSize)")
            }
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
            let bytes = tensor.byteCount(file: dtype)
            if !first { json += "," }
            first = false
            json += JSONValue.quoted(tensor.name)
            json += ":{\"dtype\":\"\(tensor.dtype(file: dtype).rawValue)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var bytes = Array(json.utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    fileprivate static func writeValues(_ values: UnsafeBufferPointer<Float>, dtype: SafetensorsDType, to writer: inout AtomicFileWriter) throws {
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
