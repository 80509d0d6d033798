// MPICommunicator.swift — the ranks of a run started by mpirun, over Open MPI loaded at run time
// (_MambaKernels/mpi.c): MPI_COMM_WORLD, MPI_ERRORS_RETURN, an optional watchdog on every collective.
import Foundation
import _MambaKernels

/// MPI_COMM_WORLD of Open MPI. Create it through ``Distributed/world()``, which detects the launcher;
/// there is one per process.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// The libmpi that was loaded.
    public let library: String
    /// Elements per MPI_Allreduce call when a gradient block is summed (buckets; the last may be shorter).
    public var bucketElements = 1 << 22

    /// Loads libmpi and initialises MPI (idempotent in the C layer).
    /// - Throws: ``DistributedError/unavailable(_:)`` naming the library and the fix.
    init() throws {
        try Self.check({ mk_mpi_init($0, $1) }, as: DistributedError.unavailable)
        rank = Int(mk_mpi_rank()); size = Int(mk_mpi_size())
        library = String(cString: mk_mpi_library())
    }

    static func check(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int32,
                      as wrap: (String) -> DistributedError = DistributedError.callFailed) throws {
        var err = [CChar](repeating: 0, count: 1024)
        let rc = err.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
        if rc != 0 { throw wrap(String(cString: err)) }
    }

    /// Seconds any collective may wait before this rank reports which call hung and exits (status 1, so
    /// mpirun ends the job); 0 = wait forever.
    public func setCollectiveTimeout(_ seconds: Double) { mk_mpi_set_timeout(seconds) }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        let bucket = bucketElements
        try Self.check { mk_mpi_allreduce_sum_float(p, buffer.count, bucket, $0, $1) }
    }

    public func allreduceSum(_ values: inout [Double]) throws { try reduce(&values, op: 0) }
    public func allreduceMax(_ values: inout [Double]) throws { try reduce(&values, op: 1) }

    func reduce(_ values: inout [Double], op: Int32) throws {
        guard !values.isEmpty else { return }
        try values.withUnsafeMutableBufferPointer { v in
            try Self.check { mk_mpi_allreduce_double(v.baseAddress!, v.count, op, $0, $1) }
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try Self.check { mk_mpi_bcast(p, buffer.count, Int32(root), $0, $1) }
    }

    public func barrier() throws { try Self.check { mk_mpi_barrier($0, $1) } }

    public func abort(code: Int32) -> Never {
        mk_mpi_abort(code)
        exit(code)   // mk_mpi_abort does not return; this satisfies the type checker
    }

    /// MPI_Finalize (every rank, once, at the end of a run); collectives fail afterwards.
    public func finalize() { mk_mpi_finalize() }
}
