// fuzz-tokenfile — MambaText's binary TokenFile on arbitrary bytes; every id read back.
import Foundation
import FuzzSupport
import MambaText

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenFile(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = writeInput(fuzzData(bytes, size), named: "input.tokens")
    expectingErrors {
        let file = try TokenFile(contentsOf: url)
        let ids = file.allIDs()
        if !file.isEmpty { _ = file[file.count - 1]; _ = file.ids(in: 0..<min(file.count, 16)) }
        _ = ids.count
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzTokenFile) }
}
