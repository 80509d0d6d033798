// Parallel.swift — split channel ranges across threads.
import Dispatch
import Foundation
import _MambaKernels

/// Splits index ranges over a fixed number of threads. MambaKit threads split *channels*
/// (d_inner) for the scan and the convolution, and *rows* for row-wise kernels; matrix
/// products are threaded by OpenBLAS itself.
public enum Parallel {
    /// Threads used when a caller does not say: the number of active processors.
    public static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }
    /// The most threads a run may ask for (`--threads`, trainer_state.json).
    public static let maximumThreads = 256
    /// Whether sections run on MambaKit's spinning thread pool (pool.c) rather than libdispatch;
    /// `MAMBAKIT_POOL=0` in the environment chooses libdispatch.
    static let usePool = ProcessInfo.processInfo.environment["MAMBAKIT_POOL"] != "0"

    /// Calls `body` on disjoint sub-ranges of `0..<count` covering it, on up to `threads`
    /// threads. Sub-range bounds are multiples of `align` (except the end). Runs inline when
    /// one thread is asked for or the work (`count * costPerItem`) is below `minWork`.
    public static func forRanges(
        _ count: Int, threads: Int, align: Int = 1, costPerItem: Int = 1, minWork: Int = 32_768,
        _ body: (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        if threads <= 1 || count * costPerItem < minWork {
            body(0..<count)
            return
        }
        forParts(count, threads: threads, align: align) { _, r in if !r.isEmpty { body(r) } }
    }

    /// Like ``forRanges(_:threads:align:costPerItem:minWork:_:)`` but also passes the part index (0..<parts), for per-thread scratch buffers.
    /// Returns the number of parts used (so callers know how many scratch buffers to reduce).
    @discardableResult
    public static func forParts(
        _ count: Int, threads: Int, align: Int = 1, _ body: (_ part: Int, _ range: Range<Int>) -> Void
    ) -> Int {
        guard count > 0 else { return 0 }
        let blocks = (count + align - 1) / align
        let parts = max(1, min(threads, blocks))
        if parts == 1 { body(0, 0..<count); return 1 }
        let part: (Int) -> Void = { p in
            let b0 = blocks * p / parts, b1 = blocks * (p + 1) / parts
            let lo = min(count, b0 * align), hi = min(count, b1 * align)
            body(p, lo..<hi)
        }
        if usePool {
            // the persistent pool (pool.c): no system call between sections that follow each other closely
            withoutActuallyEscaping(part) { f in
                var task = f
                withUnsafeMutablePointer(to: &task) { ctx in
                    mk_pool_run(Int32(parts), { ctx, p in ctx!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(p)) }, ctx)
                }
            }
        } else {
            DispatchQueue.concurrentPerform(iterations: parts, execute: part)
        }
        return parts
    }
}
