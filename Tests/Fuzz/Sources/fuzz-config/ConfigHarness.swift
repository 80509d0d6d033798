// fuzz-config — MambaConfig.load(from:) on an arbitrary config.json.
import Foundation
import FuzzSupport
import MambaKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = writeInput(fuzzData(bytes, size), named: "config.json")
    expectingErrors {
        let config = try MambaConfig.load(from: url)
        _ = config.description
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzConfig) }
}
