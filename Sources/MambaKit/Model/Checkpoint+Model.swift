// Checkpoint+Model.swift — load and save a MambaModel in the Hugging Face layout.
import Foundation

extension MambaModel {
    /// Loads `config.json` and the weights (`model.safetensors`, or the shards named by
    /// `model.safetensors.index.json`) from a directory. Accepts the Hugging Face and the original
    /// `mamba_ssm` config keys and tensor names, and F32/F16/BF16 weights (converted to Float32).
    ///
    /// - Throws: ``CheckpointError`` naming the file and tensor when something is missing or malformed.
    public static func load(directory: URL) throws -> MambaModel {
        let config = try MambaConfig.load(from: directory)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        // Every tensor the config needs is checked against the headers (whose byte ranges the reader
        // has checked against the file sizes) before the parameter block is allocated.
        var names: [String: String] = [:]
        for slice in ParameterLayout(config: config).slices {
            let candidates = [slice.name] + ParameterLayout.aliases(of: slice.name)
            guard let name = candidates.first(where: { checkpoint.contains($0) }) else {
                throw CheckpointError.missingTensor(path: directory.path, name: slice.name)
            }
            let info = try checkpoint.info(name)
            let accepted = acceptableShapes(for: slice)
            guard accepted.contains(info.shape) else {
                throw CheckpointError.shapeMismatch(
                    path: checkpoint.path(of: name), name: name, expected: slice.shape, found: info.shape)
            }
            names[slice.name] = name
        }
        let model = MambaModel(config: config)
        for slice in model.layout.slices {
            try checkpoint.readFloat32(names[slice.name]!, into: model.parameters.slice(slice.range))
        }
        model.checkpointNames = names
        model.refreshDerived()
        return model
    }

    /// Shapes under which a tensor may be stored: conv1d weights are (E, 1, K) in PyTorch, (E, K) in some exports.
    static func acceptableShapes(for slice: ParameterSlice) -> [[Int]] {
        if slice.shape.count == 3 && slice.shape[1] == 1 { return [slice.shape, [slice.shape[0], slice.shape[2]]] }
        return [slice.shape]
    }

    /// Writes `config.json` (Hugging Face keys) and `model.safetensors` (HF tensor names, the tied
    /// head omitted as transformers does) into `directory`, creating it. Each file is written
    /// atomically, so an interrupted save leaves the previous files intact.
    public func save(to directory: URL, dtype: SafetensorsDType = .f32) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: directory.path, reason: "\(error.localizedDescription)")
        }
        let tensors = layout.slices.map { s in
            SafetensorsWriter.Tensor(
                name: s.name, shape: s.shape,
                data: UnsafeBufferPointer(start: parameters.pointer + s.offset, count: s.count))
        }
        try SafetensorsWriter.write(tensors, dtype: dtype, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors"))
        try config.write(to: directory)
    }
}
