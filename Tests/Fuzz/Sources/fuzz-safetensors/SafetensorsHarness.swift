// fuzz-safetensors — SafetensorsFile(url:) on arbitrary bytes, then every tensor read in full.
import Foundation
import FuzzSupport
import MambaKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = writeInput(fuzzData(bytes, size), named: "input.safetensors")
    expectingErrors {
        let file = try SafetensorsFile(url: url)
        for name in file.names {
            let info = try file.info(name)
            let raw = try file.rawBytes(name)
            var sum: UInt8 = 0
            for b in raw { sum &+= b }          // touch every stored byte
            _ = sum
            if info.dtype.isFloatingPoint {
                _ = try file.floats(name)
                _ = try? file.int64s(name)      // must throw, not misread
            } else {
                _ = try file.int64s(name)
                _ = try? file.floats(name)
            }
        }
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzSafetensors) }
}
