// ShardedPredictions.swift — a classifier's validation split over the ranks of a data-parallel run:
// each rank predicts its share of the examples, the predictions are summed into one array on every rank.
import Foundation

extension Communicator {
    /// The predicted class of every one of `count` examples, computed split over the ranks: rank r calls
    /// `predict(range)` for its ``BatchShard`` of 0 ..< count (contiguous, at most one example more than
    /// another rank's) and writes the labels at their indices into an array of zeros; an all-reduce (sum)
    /// of that array gives every rank all `count` predictions. One process: `predict(0 ..< count)`.
    /// Predictions are per example, so the split changes only which examples share a batch inside
    /// `predict` (padding-invariant batches: the same logits up to float rounding).
    /// - Throws: what `predict` throws; ``DistributedError/callFailed(_:)``;
    ///   ``DistributedError/ranksDisagree(_:)`` when `predict` returns a count other than its range's.
    public func shardedPredictions(count: Int, _ predict: (Range<Int>) throws -> [Int]) throws -> [Int] {
        guard isDistributed else { return try predict(0..<count) }
        let mine = shard.range(of: count)
        var all = [Double](repeating: 0, count: count)   // (count): labels, 0 outside this rank's share
        if !mine.isEmpty {
            let labels = try predict(mine)
            guard labels.count == mine.count else {
                throw DistributedError.ranksDisagree("rank \(rank) predicted \(labels.count) labels for \(mine.count) examples")
            }
            for (i, l) in zip(mine, labels) { all[i] = Double(l) }
        }
        try allreduceSum(&all)
        return all.map { Int($0.rounded()) }
    }
}
