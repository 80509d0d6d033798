// BLASLoaderTests.swift — MambaKit gets fast OpenBLAS kernels without the user doing anything.
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class BLASLoaderTests: XCTestCase {
    /// The decision table: pre-AVX2 choices are replaced on AVX2/AVX-512 CPUs; good choices are kept.
    func testBetterCoreTypeDecision() {
        func better(_ picked: String?, _ isa: Int32) -> String? {
            guard let p = picked else { return mk_blas_better_coretype(nil, isa).map { String(cString: $0) } }
            return mk_blas_better_coretype(p, isa).map { String(cString: $0) }
        }
        XCTAssertEqual(better("Prescott", Int32(MK_ISA_AVX512)), "SkylakeX")
        XCTAssertEqual(better("Prescott", Int32(MK_ISA_AVX2)), "Haswell")
        XCTAssertEqual(better("Nehalem", Int32(MK_ISA_AVX2)), "Haswell")
        XCTAssertEqual(better("Sandybridge", Int32(MK_ISA_AVX512)), "SkylakeX")
        XCTAssertEqual(better(nil, Int32(MK_ISA_AVX512)), "SkylakeX")
        XCTAssertNil(better("Prescott", Int32(MK_ISA_PORTABLE)))      // nothing better on an old CPU
        XCTAssertNil(better("Cooperlake", Int32(MK_ISA_AVX512)))       // recognised CPU: keep
        XCTAssertNil(better("SkylakeX", Int32(MK_ISA_AVX512)))
        XCTAssertNil(better("Zen", Int32(MK_ISA_AVX2)))
        XCTAssertNil(better("Haswell", Int32(MK_ISA_AVX512)))
    }

    /// In this test process (which did nothing to ask for it) OpenBLAS runs kernels that use AVX2 or better
    /// whenever the CPU has them.
    func testLoadedCoreIsNotAWeakFallback() throws {
        XCTAssertTrue(MambaRuntime.hasBLAS, MambaRuntime.blasNote)
        let core = MambaRuntime.blasCoreName
        print("OpenBLAS core: \(core) — \(MambaRuntime.blasNote)")
        if mk_cpu_isa_detected() >= MK_ISA_AVX2 {
            XCTAssertNil(mk_blas_better_coretype(core, mk_cpu_isa_detected()), "OpenBLAS runs \(core) on an AVX2+ CPU")
        }
    }

    /// The CLI respects a core type the user set, and otherwise reports what it chose.
    func testCLIRespectsUserCoreTypeAndOverridesFallback() throws {
        let forced = try runCLI(["bench", "gemm", "--size", "64", "--threads", "1", "--json", "--repeats", "1"],
                                environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(forced.stdout.contains("\"corename\": \"Prescott\""), forced.stdout)
        XCTAssertTrue(forced.stdout.contains("set by the user"), forced.stdout)
        // (a machine may set OPENBLAS_CORETYPE for everything it runs: the automatic choice is made without it)
        let auto = try runCLI(["bench", "gemm", "--size", "64", "--threads", "1", "--json", "--repeats", "1"], unsetting: ["OPENBLAS_CORETYPE"])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stdout.contains("\"gflops\""), auto.stdout)
        if mk_cpu_isa_detected() >= MK_ISA_AVX2 {
            XCTAssertFalse(auto.stdout.contains("\"corename\": \"Prescott\""), auto.stdout)
        }
    }

    /// The real reload path: OpenBLAS starts on Prescott (as on a CPU it does not know), MambaKit
    /// unloads it, sets OPENBLAS_CORETYPE and loads it again with AVX-512/AVX2 kernels.
    func testFallbackIsReloadedWithBetterKernels() throws {
        guard mk_cpu_isa_detected() >= MK_ISA_AVX2 else { throw XCTSkip("CPU without AVX2: nothing better than Prescott") }
        let r = try runCLI(["bench", "gemm", "--size", "64", "--threads", "1", "--json", "--repeats", "1"],
                           environment: ["MAMBAKIT_BLAS_SIMULATE_FALLBACK": "1"], unsetting: ["OPENBLAS_CORETYPE"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = mk_cpu_isa_detected() >= MK_ISA_AVX512 ? "SkylakeX" : "Haswell"
        print(r.stdout)
        XCTAssertTrue(r.stdout.contains("\"corename\": \"\(expected)\""), r.stdout)
        XCTAssertTrue(r.stdout.contains("chose Prescott (no AVX2)"), r.stdout)
    }
}
