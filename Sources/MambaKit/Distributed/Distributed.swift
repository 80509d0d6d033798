// Distributed.swift — is this process one rank of an MPI job? The world communicator, found once.
import Foundation
import _MambaKernels

/// How a process finds its ranks: started by `mpirun` (Open MPI's OMPI_COMM_WORLD_SIZE, or a PMIx
/// launcher's PMIX_RANK in the environment) it is a rank of an MPI job and ``world()`` initialises MPI;
/// otherwise it is a single process and nothing is loaded. `MAMBAKIT_MPI=0` forces a single process.
public enum Distributed {
    /// Whether an MPI launcher started this process (from the environment; nothing is loaded).
    public static var launchedByMPI: Bool { mk_mpi_launched() != 0 }

    /// Ranks of this job on this host (OMPI_COMM_WORLD_LOCAL_SIZE), 1 outside mpirun.
    public static var localRanks: Int { launchedByMPI ? Int(mk_mpi_local_size_from_environment()) : 1 }

    /// Threads per rank when none are asked for: the host's cores shared among its ranks (at least 1),
    /// so `mpirun -np 2` on 2 cores runs 1 thread per rank instead of oversubscribing.
    public static var defaultThreadsPerRank: Int { max(1, Parallel.defaultThreads / localRanks) }

    /// This process's rank from the launcher's environment, before MPI is initialised (0 outside mpirun):
    /// for deciding early who prints.
    public static var rankFromEnvironment: Int {
        let env = ProcessInfo.processInfo.environment
        return Int(env["OMPI_COMM_WORLD_RANK"] ?? env["PMIX_RANK"] ?? "") ?? 0
    }

    nonisolated(unsafe) private static var cached: (any Communicator)?
    private static let lock = NSLock()

    /// The communicator of this process: ``MPICommunicator`` under an MPI launcher (MPI initialised on
    /// the first call), else a ``SingleProcessCommunicator``.
    /// - Throws: ``DistributedError/unavailable(_:)`` when started by a launcher but libmpi cannot be
    ///   loaded (the message names the library and `apt-get install libopenmpi-dev openmpi-bin`).
    public static func world() throws -> any Communicator {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        let c: any Communicator = launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
        cached = c
        return c
    }

    /// MPI_Finalize when this process initialised MPI (at the end of a distributed run, on every rank).
    public static func finish() {
        lock.lock(); defer { lock.unlock() }
        (cached as? MPICommunicator)?.finalize()
    }
}
