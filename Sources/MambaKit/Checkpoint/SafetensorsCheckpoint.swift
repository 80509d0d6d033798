// SafetensorsCheckpoint.swift
// The weights of a model directory: one safetensors file, or the shards of a Hugging Face index.

import Foundation

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
            self.init(directory: directory.deletingLastPathComponent(), single: try SafetensorsFile(url: directory))
            return
        }

        let single = directory.appendingPathComponent(Self.singleFileName)
        if FileManager.default.fileExists(atPath: single.path) {
            self.init(directory: directory, single: try SafetensorsFile(url: single))
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

    private init(directory: URL, single file: SafetensorsFile) {
        self.init(directory: directory, indexURL: nil, files: [file], metadata: file.metadata,
                  fileIndexByName: Dictionary(uniqueKeysWithValues: file.names.map { ($0, 0) }))
    }

    private init(directory: URL, index: URL) throws {
        let indexPath = index.path
        let json = try JSONValue.read(contentsOf: index)
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
