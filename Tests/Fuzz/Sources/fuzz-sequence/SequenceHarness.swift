// fuzz-sequence — MambaDNA's SequenceReader (FASTA/FASTQ, plain or gzip) on arbitrary bytes:
// whole records, then the streamed record lengths.
import Foundation
import FuzzSupport
import MambaDNA

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSequence(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = writeInput(fuzzData(bytes, size), named: "input.fa").path
    expectingErrors { _ = try SequenceReader.readAll(path: path) }
    expectingErrors { _ = try SequenceReader.recordLengths(path: path) }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzSequence) }
}
