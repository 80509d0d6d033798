// FuzzSupport — helpers shared by the libFuzzer harnesses.
import FuzzDriver
import Foundation

/// The C type of a libFuzzer target.
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer over `target` with this process's arguments (the `-max_total_time=…` options and
/// corpus directories of libFuzzer) and exits with its status.
public func runFuzzer(_ target: FuzzTarget) -> Never {
    let status = mk_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, target)
    exit(status)
}

/// A directory private to this fuzzing process, removed at a normal exit (a crashed process leaves
/// it behind in $TMPDIR). Inputs reuse the same few file names, so it stays small.
public let fuzzDirectory: URL = {
    let dir = URL(fileURLWithPath: NSTemporaryDirectory())
        .appendingPathComponent("mambakit-fuzz-\(getpid())", isDirectory: true)
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: fuzzDirectory) }
    return dir
}()

/// The fuzzer's bytes as `Data` (an empty input has a nil pointer).
public func fuzzData(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Data {
    guard let bytes, count > 0 else { return Data() }
    return Data(bytes: bytes, count: count)
}

/// Writes the fuzzer's bytes to `fuzzDirectory/name` (replacing it) and returns its URL.
@discardableResult
public func writeInput(_ data: Data, named name: String, in directory: URL = fuzzDirectory) -> URL {
    let url = directory.appendingPathComponent(name)
    do { try data.write(to: url) } catch { fatalError("fuzz harness cannot write \(url.path): \(error)") }
    return url
}

/// Runs `body`, ignoring any thrown error: a thrown error is the correct answer to bad input;
/// only a trap, a sanitizer report, a hang or a memory blow-up is a finding.
@inline(never)
public func expectingErrors(_ body: () throws -> Void) {
    do { try body() } catch { _ = error }
}
