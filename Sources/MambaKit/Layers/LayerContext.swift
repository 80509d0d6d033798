// LayerContext.swift — what every layer's forward and backward sees: the one parameter block, its
// gradient block, the derived values (A = −exp(A_log)) and the thread count.
//
// Layers are small structs that hold only the offsets of their named slices (their checkpoint keys)
// in the model's single parameter block (llm.c style). A model composes layers, owns the block, and
// passes a context to each call, so AdamW, clipping, checkpointing and an all-reduce stay single loops
// over one buffer whatever the composition.
import _MambaKernels

/// The parameter block (and, in training, the gradient block laid out like it) seen by layers.
public struct LayerContext {
    /// All parameters of the model, `layout.count` floats.
    public let parameters: UnsafeMutablePointer<Float>
    /// Gradients laid out like `parameters`; backward passes **add** into it. Nil in inference.
    public let gradients: UnsafeMutablePointer<Float>?
    /// Values derived from parameters (A = −exp(A_log) per block), refreshed by the owning model.
    public let derived: UnsafeMutablePointer<Float>
    /// Threads for the scan, the convolution and the row-wise kernels (OpenBLAS has its own setting).
    public let threads: Int
    /// How time-invariant (LTI) mixers evaluate a chunk: the FFT convolution or the recurrence.
    public var ltiEvaluation: LTIEvaluation = .automatic
    /// How Mamba-2 mixers compute the SSD of a chunk: chunked matrix products or the recurrence.
    public var ssdEvaluation: SSDEvaluation = .automatic
    /// Matrices held in f16, bf16 or int8 (inference), by parameter offset; nil when all are f32.
    public var weights: WeightStore? = nil

    /// The gradient block; only backward passes call this.
    var grads: UnsafeMutablePointer<Float> {
        guard let g = gradients else { preconditionFailure("a backward pass needs a gradient block") }
        return g
    }

    /// Rows up to which ``linear`` streams the weights itself (``mk_linear_small``) instead of calling GEMM.
    static let smallBatchRows = 8

    /// out (T, M) = inp (T, K) · W(M, K)ᵀ (+ bias), W and bias at offsets of the parameter block. GEMM
    /// through OpenBLAS for many rows; for few rows (generation) a kernel that reads each weight once,
    /// threaded over output features. A matrix in ``weights`` runs from its 16- or 8-bit copy (``StoredMatrix``).
    @inline(__always)
    func linear(_ inp: UnsafePointer<Float>, ldIn: Int, rows T: Int, weight: Int, outFeatures M: Int,
                inFeatures K: Int, bias: Int?, out: UnsafeMutablePointer<Float>, ldOut: Int) {
        if let m = weights?.matrices[weight] {
            m.linear(inp, ldIn: ldIn, rows: T, bias: bias.map { UnsafePointer(parameters + $0) }, out: out, ldOut: ldOut,
                     threads: threads)
            return
        }
        let W = parameters + weight
        if T <= Self.smallBatchRows {
            let b: UnsafePointer<Float>? = bias.map { UnsafePointer(parameters + $0) }
            Parallel.forRanges(M, threads: threads, align: 16, costPerItem: K, minWork: 1 << 16) { r in
                var lin = mk_linear_small_params(x: inp, ld_x: Int32(ldIn), W: W, bias: b, out: out, ld_out: Int32(ldOut),
                                                 Bsz: Int32(T), K: Int32(K))
                mk_linear_small(&lin, Int32(r.lowerBound), Int32(r.upperBound))
            }
            return
        }
        mk_sgemm(0, 1, Int32(T), Int32(M), Int32(K), 1, inp, Int32(ldIn), W, Int32(K), 0, out, Int32(ldOut))
        if let b = bias { Self.addBias(parameters + b, rows: T, features: M, to: out, ldOut: ldOut) }
    }

    /// out[t, j] += bias[j] for t < T, j < M (the many-row paths, after GEMM).
    static func addBias(_ bias: UnsafePointer<Float>, rows T: Int, features M: Int, to out: UnsafeMutablePointer<Float>, ldOut: Int) {
        for t in 0..<T { let o = out + t * ldOut; for j in 0..<M { o[j] += bias[j] } }
    }

    /// Backward of ``linear`` without bias: dW (M, K) += dOutᵀ · inp, and, when `dIn` is given,
    /// dIn (T, K) = dOut · W (`accumulate`: +=).
    func linearBackward(_ inp: UnsafePointer<Float>, ldIn: Int, rows T: Int, weight: Int, outFeatures M: Int,
                        inFeatures K: Int, dOut: UnsafePointer<Float>, ldDOut: Int,
                        dIn: UnsafeMutablePointer<Float>?, ldDIn: Int, accumulate: Bool = false) {
        if let dIn {
            mk_sgemm(0, 0, Int32(T), Int32(K), Int32(M), 1, dOut, Int32(ldDOut), parameters + weight, Int32(K),
                     accumulate ? 1 : 0, dIn, Int32(ldDIn))
        }
        mk_sgemm(1, 0, Int32(M), Int32(K), Int32(T), 1, dOut, Int32(ldDOut), inp, Int32(ldIn), 1, grads + weight, Int32(K))
    }
}
