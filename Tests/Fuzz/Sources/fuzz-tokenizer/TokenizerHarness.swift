// fuzz-tokenizer — MambaText's BPE tokenizer loader (BPETokenizer(jsonData:)) on an arbitrary
// tokenizer.json; a tokenizer that loads then encodes and decodes a fixed text.
import Foundation
import FuzzSupport
import MambaText

private let sample = "Hello, world! 123 naïve café  \t\n<|endoftext|> \u{1F600}"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = fuzzData(bytes, size)
    expectingErrors {
        let tokenizer = try BPETokenizer(jsonData: data, path: "<fuzz tokenizer.json>")
        let ids = tokenizer.encode(sample, allowSpecial: true)
        _ = tokenizer.decode(ids)
        _ = tokenizer.decode(ids, skipSpecialTokens: true)
        for id in ids.prefix(64) { _ = tokenizer.tokenBytes(id) }
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzTokenizer) }
}
