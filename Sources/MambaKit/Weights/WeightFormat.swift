// WeightFormat.swift — the precisions a model's matrices can be held in for inference.
import _MambaKernels

/// How the large matrices of a model (in_proj, x_proj, dt_proj, out_proj, the embedding and the LM head)
/// are held in memory for inference. Everything else (A_log, D, conv1d, norms, biases) stays f32, and
/// so do activations, states and every accumulation.
///
/// | format | bytes per weight | what the kernels do |
/// |---|---|---|
/// | `f32`  | 4 | the parameter block itself (training works only here) |
/// | `f16`  | 2 | IEEE binary16, widened in registers (F16C / AVX-512F `vcvtph2ps`) |
/// | `bf16` | 2 | bfloat16, widened by a 16-bit shift (exact) |
/// | `int8` | 34/32 | llama.cpp's q8_0: blocks of 32 int8 with one binary16 scale; activations quantised per row and block on the fly, int8 dot products (AVX2 `vpmaddubsw`, AVX-512 VNNI `vpdpbusd`) |
public enum WeightFormat: String, Codable, CaseIterable, Sendable {
    case f32, f16, bf16, int8

    /// The kernels' format code (MK_WF_*); nil for f32.
    var kernelFormat: Int32? {
        switch self {
        case .f32: return nil
        case .f16: return Int32(MK_WF_F16)
        case .bf16: return Int32(MK_WF_BF16)
        case .int8: return Int32(MK_WF_Q8)
        }
    }

    /// Bytes per weight of an (M, K) matrix in this format, scales and padding included.
    public func bytes(rows M: Int, columns K: Int) -> Int {
        switch self {
        case .f32: return 4 * M * K
        case .f16, .bf16: return 2 * M * K
        case .int8: let Kp = Int(mk_q8_padded(Int32(K))); return M * Kp + 2 * M * (Kp / 32)
        }
    }

    /// The matrices a format other than f32 applies to: by checkpoint key suffix (mamba_ssm's names).
    public static let matrixKeys = ["in_proj.weight", "x_proj.weight", "dt_proj.weight", "out_proj.weight",
                                    "embeddings.weight", "embedding.weight", "lm_head.weight"]

    /// Whether the parameter `name` of shape `shape` is held in this format (2-D matrices of ``matrixKeys``).
    static func applies(to name: String, shape: [Int]) -> Bool {
        shape.count == 2 && matrixKeys.contains { name.hasSuffix($0) }
    }

    /// The kernel that runs the few-row products in this format on this CPU (e.g. "avx512-vnni").
    public var kernel: String {
        guard let f = kernelFormat else { return String(cString: mk_isa_name(mk_cpu_isa())) }
        return String(cString: mk_linear_quant_kernel(f))
    }
}
