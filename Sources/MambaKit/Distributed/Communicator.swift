// Communicator.swift — what data-parallel training needs from the processes of a run: who am I, how
// many are we, sum a gradient block over all of us, start everyone from rank 0's values.
import Foundation

/// The processes ("ranks") of a data-parallel run. ``SingleProcessCommunicator`` is the ordinary case
/// (one rank, every call a no-op); ``MPICommunicator`` is a run started by `mpirun`. Every collective
/// call must be made by all ranks in the same order.
public protocol Communicator: AnyObject {
    /// This process's index, 0 ..< size.
    var rank: Int { get }
    /// Processes in the run.
    var size: Int { get }
    /// In place: `buffer[i] ← Σ_ranks buffer[i]`, the same bits on every rank afterwards.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// In place: `values[i] ← Σ_ranks values[i]` (loss sums, counts).
    func allreduceSum(_ values: inout [Double]) throws
    /// In place: `values[i] ← max_ranks values[i]`.
    func allreduceMax(_ values: inout [Double]) throws
    /// Rank `root`'s bytes to every rank.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
    /// Ends every rank of the run with `code` (after an error on one of them). Does not return.
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// Whether this is rank 0, the one that writes metrics, curves and checkpoints.
    public var isRoot: Bool { rank == 0 }
    /// Whether the run has more than one rank.
    public var isDistributed: Bool { size > 1 }
    /// This rank's share of a batch (``BatchShard``).
    public var shard: BatchShard { BatchShard(rank: rank, count: size) }

    /// `buffer[i] ← Σ_ranks buffer[i]` over a whole ``FloatBuffer`` (a gradient block).
    public func allreduceSum(_ buffer: FloatBuffer) throws {
        try allreduceSum(UnsafeMutableBufferPointer(start: buffer.pointer, count: buffer.count))
    }

    /// Rank `root`'s floats to every rank (parameters, optimiser moments).
    public func broadcast(_ buffer: FloatBuffer, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawBufferPointer(start: buffer.pointer, count: buffer.count * MemoryLayout<Float>.stride), root: root)
    }

    /// Rank `root`'s doubles to every rank.
    public func broadcast(_ values: inout [Double], root: Int = 0) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }
}
