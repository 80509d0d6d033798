// BenchAllreduce.swift — `mpirun -np N mambakit bench allreduce`: the in-place float sum over ranks that
// data-parallel training does on its gradient block, timed at sizes from 4 KiB to 64 MiB.
import Foundation
import MambaKit

extension BenchCommand {
    /// For each size (floats, 2^10 … 2^24): the best time of one MPI_Allreduce (sum, in place) over the ranks
    /// after a barrier, as every rank measures it (the slowest rank's time is reported), the algorithm
    /// bandwidth bytes / t and the "bus bandwidth" 2(N−1)/N · bytes / t (what a ring all-reduce moves per
    /// rank; comparable across rank counts). One JSON line per size from rank 0. One process: nothing to
    /// measure, one line saying so.
    func benchAllreduce() throws {
        let world = try Distributed.world()
        defer { Distributed.finish() }
        let n = world.size
        guard n > 1 else {
            emit([("bench", "\"allreduce\""), ("ranks", "1"), ("note", jsonString("one process: start it with mpirun -np N (N ≥ 2)"))])
            return
        }
        for exponent in stride(from: 10, through: 24, by: 2) {
            let count = 1 << exponent
            let buffer = FloatBuffer(count: count)
            for i in 0..<count { buffer[i] = Float(i % 7) }
            let reps = max(repeats, count >= 1 << 22 ? 5 : 20)
            var best = Double.infinity
            for _ in 0..<(reps + 1) {   // the first is a warm-up (connections, registration)
                try world.barrier()
                let t0 = DispatchTime.now().uptimeNanoseconds
                try world.allreduceSum(buffer)
                var t = [Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9]
                try world.allreduceMax(&t)
                best = min(best, t[0])
            }
            let bytes = Double(count * MemoryLayout<Float>.stride)
            if world.isRoot {
                emit([("bench", "\"allreduce\""), ("ranks", "\(n)"), ("floats", "\(count)"), ("bytes", "\(Int(bytes))"),
                      ("seconds", String(format: "%.6f", best)),
                      ("algorithm_gb_per_second", String(format: "%.3f", bytes / best / 1e9)),
                      ("bus_gb_per_second", String(format: "%.3f", 2 * Double(n - 1) / Double(n) * bytes / best / 1e9))])
            }
        }
    }
}
