// Runtime.swift — what the kernels run on: instruction set and BLAS.
import Foundation
import _MambaKernels

/// Facts about the compute back end, for `mambakit info`/`bench` and for tests.
public enum MambaRuntime {
    /// OpenBLAS's name for the kernels it uses (e.g. "SkylakeX", "Haswell"), or "portable".
    public static var blasCoreName: String { String(cString: mk_blas_corename()) }
    /// How the BLAS core type was chosen (see Docs/BLAS.md).
    public static var blasNote: String { String(cString: mk_blas_note()) }
    /// The BLAS library loaded, or "" when MambaKit's portable sgemm is used.
    public static var blasLibrary: String { String(cString: mk_blas_library()) }
    /// Whether an optimised BLAS was found.
    public static var hasBLAS: Bool { mk_blas_init() != 0 }
    /// Instruction set the C kernels dispatch to: "avx512", "avx2" or "portable".
    public static var isa: String { String(cString: mk_isa_name(mk_cpu_isa())) }
    /// Threads OpenBLAS uses for one matrix product.
    public static var blasThreads: Int {
        get { Int(mk_blas_get_threads()) }
        set { mk_blas_set_threads(Int32(newValue)) }
    }
    /// MAMBAKIT_PROFILE set: training steps print the time of each phase to stderr (read once).
    public static let profiling = ProcessInfo.processInfo.environment["MAMBAKIT_PROFILE"] != nil
}
