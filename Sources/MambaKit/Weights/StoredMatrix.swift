// StoredMatrix.swift — one (M, K) weight matrix held in f16, bf16 or int8, and its linear map.
//
//   few rows (T ≤ 8, generation):  out (T, M) = x (T, K) · Wᵀ by mk_linear_quant, threads over M
//   many rows (prefill, scoring):  W widened to f32 a tile of rows at a time, out[:, tile] = x · tileᵀ by
//                                  sgemm; for int8 the rows of x are first quantised and widened back, so
//                                  both paths compute the same products (x̂ · Ŵᵀ) up to f32 rounding
import _MambaKernels

/// A weight matrix (M, K) in a 16- or 8-bit ``WeightFormat`` (not f32: that is the parameter block).
///
/// Memory: f16/bf16 `data` (M, K) UInt16; int8 `data` (M, Kp) Int8 with Kp = ceil(K/64)·64 (zero padding)
/// and `scales` (M, Kp/32) binary16, one per block of 32 — `WeightFormat.int8`'s layout, also the layout
/// of the safetensors tensors `<name>.q8` and `<name>.q8_scales` (see Docs/CheckpointFormat.md).
public final class StoredMatrix: @unchecked Sendable {
    public let format: WeightFormat
    public let rows: Int, columns: Int
    /// Row length of `data` in elements: K, or Kp for int8.
    public let rowLength: Int
    let data: UnsafeMutableRawPointer
    let scales: UnsafeMutablePointer<UInt16>?

    /// An uninitialised matrix in `format` (fill `data` / `scales`).
    init(format: WeightFormat, rows M: Int, columns K: Int) {
        precondition(format != .f32, "f32 matrices live in the parameter block")
        self.format = format; rows = M; columns = K
        rowLength = format == .int8 ? Int(mk_q8_padded(Int32(K))) : K
        let elementBytes = format == .int8 ? 1 : 2
        data = UnsafeMutableRawPointer.allocate(byteCount: max(1, M * rowLength * elementBytes), alignment: 64)
        scales = format == .int8 ? UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, M * (rowLength / 32))) : nil
    }

    deinit { data.deallocate(); scales?.deallocate() }

    /// `w` (M, K) f32 converted: f16/bf16 rounded to nearest even, int8 quantised (mk_quantize_q8_weights).
    public convenience init(converting w: UnsafePointer<Float>, rows M: Int, columns K: Int, to format: WeightFormat) {
        self.init(format: format, rows: M, columns: K)
        switch format {
        case .f16: HalfConversion.f32ToF16(w, count: M * K, into: data.assumingMemoryBound(to: UInt16.self))
        case .bf16: HalfConversion.f32ToBF16(w, count: M * K, into: data.assumingMemoryBound(to: UInt16.self))
        case .int8: mk_quantize_q8_weights(w, Int32(M), Int32(K), data.assumingMemoryBound(to: Int8.self), scales!)
        case .f32: break
        }
    }

    /// Bytes of `data` (and `scales`).
    public var byteCount: Int { format.bytes(rows: rows, columns: columns) }
    /// Bytes of `data` alone.
    var dataBytes: Int { rows * rowLength * (format == .int8 ? 1 : 2) }
    /// Number of binary16 scales (int8), else 0.
    var scaleCount: Int { format == .int8 ? rows * (rowLength / 32) : 0 }

    /// Rows `r` widened to f32 into `out` (r.count, K).
    public func dequantise(rows r: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        mk_dequantize_rows(format.kernelFormat!, data, scales, Int32(columns), Int32(r.lowerBound), Int32(r.upperBound), out)
    }

    /// All of it as f32 (M, K).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * columns) { b, n in
            if rows > 0 { dequantise(rows: 0..<rows, into: b.baseAddress!) }
            n = rows * columns
        }
    }

    /// Floats of f32 scratch the many-row path uses per tile of rows.
    static let tileFloats = 1 << 20

    /// out (T, M) = x (T, K) · Wᵀ (+ bias (M)); `threads` split M for few rows (OpenBLAS has its own setting).
    func linear(_ x: UnsafePointer<Float>, ldIn: Int, rows T: Int, bias: UnsafePointer<Float>?,
                out: UnsafeMutablePointer<Float>, ldOut: Int, threads: Int) {
        let M = rows, K = columns, f = format.kernelFormat!
        if T <= LayerContext.smallBatchRows {
            let Kp = Int(mk_q8_padded(Int32(K)))
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: format == .int8 ? T * Kp : 1) { xq in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: format == .int8 ? T * Kp / 32 : 1) { xd in
                    if format == .int8 { mk_quantize_rows_q8(x, Int32(ldIn), Int32(T), Int32(K), xq.baseAddress!, xd.baseAddress!) }
                    let xqp = UnsafePointer(xq.baseAddress!), xdp = UnsafePointer(xd.baseAddress!)
                    Parallel.forRanges(M, threads: threads, align: 16, costPerItem: K, minWork: 1 << 16) { r in
                        var p = mk_linear_quant_params(x: x, ld_x: Int32(ldIn), xq: xqp, xd: xdp, format: f, W: data,
                                                       scales: scales, bias: bias, out: out, ld_out: Int32(ldOut), Bsz: Int32(T), K: Int32(K))
                        mk_linear_quant(&p, Int32(r.lowerBound), Int32(r.upperBound))
                    }
                }
            }
            return
        }
        // Many rows: for int8, x̂ = dequant(quant(x)) first (the decode path's activation rounding). Scratch from
        // malloc (reused by the allocator call after call), not FloatBuffer (fresh zero pages every call).
        var xIn = x, ld = ldIn
        let xHat: UnsafeMutablePointer<Float>? = format == .int8 ? .allocate(capacity: T * K) : nil   // (T, K)
        defer { xHat?.deallocate() }
        if let xHat {
            Parallel.forRanges(T, threads: threads, costPerItem: K) { r in
                mk_q8_round_rows(x + r.lowerBound * ldIn, Int32(ldIn), Int32(r.count), Int32(K), xHat + r.lowerBound * K, Int32(K))
            }
            xIn = UnsafePointer(xHat); ld = K
        }
        let tileRows = max(16, min(M, Self.tileFloats / max(1, K)))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * K)   // (tileRows, K)
        defer { tile.deallocate() }
        var j0 = 0
        while j0 < M {
            let n = min(tileRows, M - j0)
            Parallel.forRanges(n, threads: threads, align: 16, costPerItem: K) { r in
                self.dequantise(rows: (j0 + r.lowerBound)..<(j0 + r.upperBound), into: tile + r.lowerBound * K)
            }
            mk_sgemm(0, 1, Int32(T), Int32(n), Int32(K), 1, xIn, Int32(ld), tile, Int32(K), 0, out + j0, Int32(ldOut))
            j0 += n
        }
        if let b = bias { LayerContext.addBias(b, rows: T, features: M, to: out, ldOut: ldOut) }
    }
}
