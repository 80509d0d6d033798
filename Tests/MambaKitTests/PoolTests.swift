// PoolTests.swift — the persistent thread pool behind Parallel.forParts (pool.c): every part runs exactly
// once, nested and concurrent sections run inline, results equal libdispatch's.
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class PoolTests: XCTestCase {
    /// Counts of the parts each section ran, through the C entry point directly.
    func testEveryPartRunsExactlyOnce() {
        for parts in [1, 2, 3, 7, 16] {
            for _ in 0..<200 {
                var counts = [Int32](repeating: 0, count: parts)
                counts.withUnsafeMutableBufferPointer { c in
                    mk_pool_run(Int32(parts), { ctx, p in
                        let a = ctx!.assumingMemoryBound(to: Int32.self)
                        OSAtomicIncrement(a + Int(p))
                    }, c.baseAddress)
                }
                XCTAssertEqual(counts, [Int32](repeating: 1, count: parts), "parts \(parts)")
            }
        }
    }

    /// Sections inside sections, and sections from several threads at once, still cover every index once.
    func testNestedAndConcurrentSections() {
        let n = 10_000
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: n * 4)
        hits.initialize(repeating: 0, count: n * 4)
        defer { hits.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            Parallel.forRanges(n, threads: 3, minWork: 1) { outer in
                Parallel.forRanges(outer.count, threads: 2, minWork: 1) { inner in   // nested: runs inline
                    for i in inner { OSAtomicIncrement(hits + caller * n + outer.lowerBound + i) }
                }
            }
        }
        var wrong = 0
        for i in 0..<(n * 4) where hits[i] != 1 { wrong += 1 }
        XCTAssertEqual(wrong, 0, "indices not hit exactly once")
    }
}

/// An atomic increment (the test's counters are written from several threads).
@inline(__always) func OSAtomicIncrement(_ p: UnsafeMutablePointer<Int32>) {
    _ = p.withMemoryRebound(to: Int32.self, capacity: 1) { q in mk_atomic_add_i32(q, 1) }
}
