// MambaModel+Weights.swift — holding a model's matrices in f16, bf16 or int8 for inference; loading and
// saving them as they are (no f32 copy, no re-quantising).
import Foundation
import _MambaKernels

extension MambaModel {
    /// The format the matrices (``WeightFormat/matrixKeys``) are held in; `.f32` for the parameter block.
    public var weightFormat: WeightFormat { backbone.weightStore?.format ?? .f32 }

    /// Bytes of weights one generation step reads: the f32 parameters plus the stored matrices (the
    /// f32 slices of stored matrices are not counted: they are released).
    public var weightBytes: Int {
        guard let s = backbone.weightStore else { return 4 * layout.count }
        let storedFloats = layout.slices.filter { s.matrices[$0.offset] != nil }.reduce(0) { $0 + $1.count }
        return 4 * (layout.count - storedFloats) + s.byteCount
    }

    /// The slices a format other than f32 applies to (2-D in_proj, x_proj, dt_proj, out_proj, embedding, LM head).
    var matrixSlices: [ParameterSlice] { layout.slices.filter { WeightFormat.applies(to: $0.name, shape: $0.shape) } }

    /// Holds the matrices in `format` from now on (inference only: training needs `.f32`). Converting from
    /// f32 rounds (f16/bf16: to nearest even; int8: per block of 32, as llama.cpp's q8_0) and releases the
    /// f32 slices; converting back to `.f32` widens the stored values into the parameter block.
    public func convertWeights(to format: WeightFormat) {
        if let s = backbone.weightStore {   // back to f32 first
            for slice in matrixSlices { s.matrices[slice.offset]?.dequantise(rows: 0..<slice.shape[0], into: parameters.pointer + slice.offset) }
            backbone.weightStore = nil
        }
        hold(format, given: [:])
    }

    /// Makes `format` (not f32) the matrices' format: the matrices in `given` (by offset, already in `format`)
    /// as they are, every other matrix slice converted from the parameter block and its f32 pages released.
    func hold(_ format: WeightFormat, given: [Int: StoredMatrix]) {
        guard format != .f32 else { return }
        var matrices = given
        for slice in matrixSlices where matrices[slice.offset] == nil {
            matrices[slice.offset] = StoredMatrix(converting: parameters.pointer + slice.offset, rows: slice.shape[0],
                                                  columns: slice.shape[1], to: format)
            parameters.releasePages(slice.range)
        }
        backbone.weightStore = WeightStore(format: format, matrices: matrices)
    }

    /// Shares `source`'s stored matrices (copies of a model, ``copy()``), releasing their f32 slices here.
    func shareWeights(of source: MambaModel) {
        guard let s = source.backbone.weightStore else { return }
        for slice in matrixSlices where s.matrices[slice.offset] != nil { parameters.releasePages(slice.range) }
        backbone.weightStore = s
    }

    /// Values of a stored matrix by checkpoint name (widened to f32), nil when it is not stored.
    func storedTensor(_ name: String) -> [Float]? {
        guard let s = backbone.weightStore, let slice = layout.slice(named: name), let m = s.matrices[slice.offset] else { return nil }
        return m.floats()
    }

    // MARK: - Loading

    /// Safetensors names of an int8 matrix `name`: the (M, Kp) int8 values and the (M, Kp/32) binary16 scales.
    public static func quantisedTensorNames(_ name: String) -> (values: String, scales: String) { (name + ".q8", name + ".q8_scales") }

    /// Loads a checkpoint directory (see ``load(directory:)``) with its matrices in `weights`:
    /// - nil: as stored — int8 when the file holds int8 matrices (`<name>.q8`), else f32 (F16/BF16 tensors widened);
    /// - `.f16` / `.bf16` from tensors already in that dtype: their bytes are copied as they are, no f32 copy is made;
    /// - `.int8` from an int8 checkpoint: the stored values and scales, not re-quantised;
    /// - otherwise each matrix is read as f32, converted, and its f32 slice released.
    /// - Throws: ``CheckpointError`` naming the file and tensor when one is missing, of another shape or dtype.
    public static func load(directory: URL, weights: WeightFormat?) throws -> MambaModel {
        try checkNotClassifier(directory)
        let config = try MambaConfig.load(from: directory)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        // Every tensor the config needs (int8 ones under their own names) is checked against the headers
        // (whose byte ranges the reader has checked against the file sizes) before anything is allocated.
        let layout = ParameterLayout(config: config)
        let matrixSlices = layout.slices.filter { WeightFormat.applies(to: $0.name, shape: $0.shape) }
        let quantised = matrixSlices.filter { checkpoint.contains(quantisedTensorNames($0.name).values) }
        for slice in quantised { try checkQuantised(checkpoint, name: slice.name, rows: slice.shape[0], columns: slice.shape[1]) }
        let names = try layout.resolve(in: checkpoint, directory: directory, skipping: Set(quantised.map(\.name)))
        let target = weights ?? (quantised.isEmpty ? .f32 : .int8)

        let model = MambaModel(config: config)
        var given: [Int: StoredMatrix] = [:]   // matrices read in the target format as they are
        for slice in quantised {
            let q = try readQuantised(checkpoint, name: slice.name, rows: slice.shape[0], columns: slice.shape[1])
            if target == .int8 { given[slice.offset] = q } else { q.dequantise(rows: 0..<slice.shape[0], into: model.parameters.pointer + slice.offset) }
        }
        for slice in layout.slices {
            guard let name = names[slice.name] else { continue }   // int8: read above
            let info = try checkpoint.info(name)
            if WeightFormat.applies(to: slice.name, shape: slice.shape), (target == .f16 && info.dtype == .f16) || (target == .bf16 && info.dtype == .bf16) {
                let m = StoredMatrix(format: target, rows: slice.shape[0], columns: slice.shape[1])   // no f32 copy
                m.data.copyMemory(from: try checkpoint.rawBytes(name).baseAddress!, byteCount: m.dataBytes)
                given[slice.offset] = m
            } else {
                try checkpoint.readFloat32(name, into: model.parameters.slice(slice.range))
            }
        }
        model.hold(target, given: given)
        model.checkpointNames = names
        model.refreshDerived()
        return model
    }

    /// The headers of `<name>.q8` (M, Kp) I8 and `<name>.q8_scales` (M, Kp/32) F16 against the config's (M, K).
    static func checkQuantised(_ checkpoint: SafetensorsCheckpoint, name: String, rows M: Int, columns K: Int) throws {
        let n = quantisedTensorNames(name), Kp = Int(mk_q8_padded(Int32(K)))
        for (tensor, dtype, shape) in [(n.values, SafetensorsDType.i8, [M, Kp]), (n.scales, .f16, [M, Kp / 32])] {
            let info = try checkpoint.info(tensor)
            guard info.dtype == dtype else {
                throw CheckpointError.unsupportedDType(path: checkpoint.path(of: tensor), name: tensor,
                                                       dtype: "\(info.dtype.rawValue) (an int8 matrix needs \(dtype.rawValue) here)")
            }
            guard info.shape == shape else {
                throw CheckpointError.shapeMismatch(path: checkpoint.path(of: tensor), name: tensor, expected: shape, found: info.shape)
            }
        }
    }

    /// An int8 matrix from `<name>.q8` and `<name>.q8_scales` (checked by ``checkQuantised``).
    static func readQuantised(_ checkpoint: SafetensorsCheckpoint, name: String, rows M: Int, columns K: Int) throws -> StoredMatrix {
        let n = quantisedTensorNames(name)
        let m = StoredMatrix(format: .int8, rows: M, columns: K)
        m.data.copyMemory(from: try checkpoint.rawBytes(n.values).baseAddress!, byteCount: m.dataBytes)
        UnsafeMutableRawPointer(m.scales!).copyMemory(from: try checkpoint.rawBytes(n.scales).baseAddress!, byteCount: 2 * m.scaleCount)
        return m
    }

    // MARK: - Saving

    /// The tensors ``save(to:dtype:)`` writes: f32 (or `dtype`) slices of the parameter block, and each stored
    /// matrix as it is held — f16/bf16 under its own name in that dtype, int8 as `<name>.q8` + `<name>.q8_scales`.
    func checkpointTensors() -> [SafetensorsWriter.Tensor] {
        var out: [SafetensorsWriter.Tensor] = []
        for s in layout.slices {
            guard let m = backbone.weightStore?.matrices[s.offset] else {
                out.append(.init(name: s.name, shape: s.shape, data: UnsafeBufferPointer(start: parameters.pointer + s.offset, count: s.count)))
                continue
            }
            switch m.format {
            case .int8:
                let n = Self.quantisedTensorNames(s.name)
                out.append(.init(name: n.values, shape: [m.rows, m.rowLength], dtype: .i8,
                                 bytes: UnsafeRawBufferPointer(start: m.data, count: m.dataBytes)))
                out.append(.init(name: n.scales, shape: [m.rows, m.rowLength / 32], dtype: .f16,
                                 bytes: UnsafeRawBufferPointer(start: m.scales!, count: 2 * m.scaleCount)))
            default:
                out.append(.init(name: s.name, shape: s.shape, dtype: m.format == .f16 ? .f16 : .bf16,
                                 bytes: UnsafeRawBufferPointer(start: m.data, count: m.dataBytes)))
            }
        }
        return out
    }

    /// Refuses a sequence-classifier directory (its head is in classifier.json).
    static func checkNotClassifier(_ directory: URL) throws {
        let sidecar = directory.appendingPathComponent(ClassifierConfig.fileName)
        if FileManager.default.fileExists(atPath: sidecar.path) {
            throw CheckpointError.wrongModelKind(
                path: directory.path, holds: "a sequence classifier (its head is in classifier.json), not a language model",
                fix: "load it with SequenceClassifier.load(directory:) (mambakit: an `eval …-classify` command)")
        }
    }
}
