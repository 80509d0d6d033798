// BenchConvert.swift — `mambakit bench convert`: reading half-precision safetensors into float32 (the path every
// f16/bf16 checkpoint load takes), in values/s. Was a timed unit test (testBulkConversionThroughput); speed
// belongs in a benchmark, the test keeps only the values.
import Foundation
import MambaKit

extension BenchCommand {
    /// Writes one tensor of 8 Mi values (16 MiB) as F16 and as BF16 to a temporary directory, then times
    /// `SafetensorsFile.readFloat32` (open, map, convert) for each; one thread, best of --repeats.
    func benchConvert() throws {
        let count = 8 << 20
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mambakit-bench-convert-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let values = (0..<count).map { Float($0 % 4093) * 0.001 - 2 }   // (count)
        var out = [Float](repeating: 0, count: count)                  // (count)
        for dtype in [SafetensorsDType.f16, .bf16] {
            let url = dir.appendingPathComponent("\(dtype.rawValue).safetensors")
            try SafetensorsWriter.write([.init(name: "h", values: values)], dtype: dtype, to: url)
            let s = try bestTime {
                let file = try SafetensorsFile(url: url)
                try out.withUnsafeMutableBufferPointer { try file.readFloat32("h", into: $0) }
            }
            emit([("bench", "\"convert\""), ("dtype", jsonString(dtype.rawValue)), ("threads", "1"), ("values", "\(count)"),
                  ("values_per_second", String(format: "%.4g", Double(count) / s)),
                  ("gigabytes_per_second", String(format: "%.4g", Double(count * 2) / s / 1e9))])
        }
    }
}
