// Checkpoint+Model.swift — load and save a MambaModel in the Hugging Face layout.
import Foundation

extension MambaModel {
    /// Loads `config.json` and the weights (`model.safetensors`, or the shards named by
    /// `model.safetensors.index.json`) from a directory. Accepts the Hugging Face and the original
    /// `mamba_ssm` config keys and tensor names, and F32/F16/BF16 weights (converted to Float32); a
    /// checkpoint saved with int8 matrices loads with them (``load(directory:weights:)``).
    ///
    /// A directory with `classifier.json` holds a ``SequenceClassifier`` (its config.json has no labels)
    /// and is refused here rather than read as a language model; older classifiers (labels in
    /// config.json) load as a ``MambaModel`` classifier.
    ///
    /// - Throws: ``CheckpointError`` naming the file and tensor when something is missing or malformed.
    public static func load(directory: URL) throws -> MambaModel { try load(directory: directory, weights: nil) }

    /// Writes `config.json` (Hugging Face keys) and `model.safetensors` (HF tensor names, the tied
    /// head omitted as transformers does) into `directory`, creating it. Each file is written
    /// atomically, so an interrupted save leaves the previous files intact. Matrices held in f16, bf16 or
    /// int8 (``weightFormat``) are written as they are held (see ``checkpointTensors()``), the rest in `dtype`.
    public func save(to directory: URL, dtype: SafetensorsDType = .f32) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: directory.path, reason: "\(error.localizedDescription)")
        }
        var metadata = ["format": "pt"]
        if weightFormat != .f32 { metadata["mambakit_weights"] = weightFormat.rawValue }
        try SafetensorsWriter.write(checkpointTensors(), dtype: dtype, metadata: metadata,
                                    to: directory.appendingPathComponent("model.safetensors"))
        try config.write(to: directory)
    }
}

extension ParameterLayout {
    /// The checkpoint's name of every slice of this layout (its own name or an alias), with every
    /// shape checked against the header — nothing is allocated or read. Slices in `skipping` (int8
    /// matrices, stored under other names) are left out.
    ///
    /// - Throws: ``CheckpointError`` naming the file and tensor when one is missing or of another shape.
    public func resolve(in checkpoint: SafetensorsCheckpoint, directory: URL, skipping: Set<String> = []) throws -> [String: String] {
        var names: [String: String] = [:]
        for slice in slices where !skipping.contains(slice.name) {
            let candidates = [slice.name] + Self.aliases(of: slice.name)
            guard let name = candidates.first(where: { checkpoint.contains($0) }) else {
                throw CheckpointError.missingTensor(path: directory.path, name: slice.name)
            }
            let info = try checkpoint.info(name)
            guard Self.acceptableShapes(for: slice).contains(info.shape) else {
                throw CheckpointError.shapeMismatch(
                    path: checkpoint.path(of: name), name: name, expected: slice.shape, found: info.shape)
            }
            names[slice.name] = name
        }
        return names
    }

    /// Reads every slice into `parameters` under the names ``resolve(in:directory:)`` found.
    public func read(from checkpoint: SafetensorsCheckpoint, names: [String: String], into parameters: FloatBuffer) throws {
        for slice in slices { try checkpoint.readFloat32(names[slice.name]!, into: parameters.slice(slice.range)) }
    }

    /// ``resolve(in:directory:)`` then ``read(from:names:into:)``; returns the names.
    @discardableResult
    public func read(from checkpoint: SafetensorsCheckpoint, directory: URL, into parameters: FloatBuffer) throws -> [String: String] {
        let names = try resolve(in: checkpoint, directory: directory)
        try read(from: checkpoint, names: names, into: parameters)
        return names
    }

    /// Shapes under which a tensor may be stored: conv1d weights are (E, 1, K) in PyTorch, (E, K) in some exports.
    static func acceptableShapes(for slice: ParameterSlice) -> [[Int]] {
        if slice.shape.count == 3 && slice.shape[1] == 1 { return [slice.shape, [slice.shape[0], slice.shape[2]]] }
        return [slice.shape]
    }
}
