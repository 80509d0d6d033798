// BatchShard.swift — which part of a global batch one rank computes.
//
//   batch of B items (windows, examples), N ranks: rank r takes items [⌊r·B/N⌋, ⌊(r+1)·B/N⌋)
//   — contiguous, disjoint, together exactly 0 ..< B; sizes differ by at most one.
import Foundation

/// Rank `rank` of `count`: its contiguous share of every batch. Every rank draws the whole batch from the
/// same seeded stream (so the stream stays in step on all ranks and in checkpoints) and computes only its
/// share; the shares' gradients, each already scaled by 1 / (loss terms of the whole batch), sum to the
/// whole batch's gradient.
public struct BatchShard: Equatable, Hashable, Sendable {
    public let rank: Int
    public let count: Int

    /// The whole batch (one process).
    public static let whole = BatchShard(rank: 0, count: 1)

    public init(rank: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(rank), "shard \(rank) of \(count)")
        self.rank = rank; self.count = count
    }

    public var isWhole: Bool { count == 1 }

    /// This rank's items of a batch of `total`: ⌊rank·total/count⌋ ..< ⌊(rank+1)·total/count⌋.
    public func range(of total: Int) -> Range<Int> {
        (rank * total / count)..<((rank + 1) * total / count)
    }

    /// `items` cut to this rank's share.
    public func slice<T>(_ items: [T]) -> [T] { Array(items[range(of: items.count)]) }
}
