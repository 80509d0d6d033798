// fuzz-audio — AudioFile.read (libsndfile: WAV, FLAC, AIFF, ... detected from the header) on
// arbitrary bytes. The first input byte picks the file extension libsndfile sees.
import Foundation
import FuzzSupport
import MambaAudio

private let extensions = ["wav", "flac", "aiff", "au"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAudio(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = fuzzData(bytes, size)
    let ext = extensions[Int(data.first ?? 0) % extensions.count]
    let path = writeInput(data, named: "input.\(ext)").path
    expectingErrors { _ = try AudioFile.read(path) }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzAudio) }
}
