// ThreadsOption.swift — `--threads`: how many threads the kernels and OpenBLAS use.
import ArgumentParser
import MambaKit

struct ThreadsOption: ParsableArguments {
    @Option(help: "Threads, 1…256 (default: all cores).") var threads: Int?

    func validate() throws { try Check.int(threads, "--threads", Check.threads) }

    /// The threads to use: --threads, else all cores.
    var count: Int { threads ?? Parallel.defaultThreads }

    /// Gives `model` and OpenBLAS the threads of --threads (as `Trainer` does for training);
    /// without --threads both keep their defaults (all cores).
    func apply(to model: any TrainableModel) {
        guard let t = threads else { return }
        model.threads = t
        MambaRuntime.blasThreads = t
    }
}
