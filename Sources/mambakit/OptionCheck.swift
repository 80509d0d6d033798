// OptionCheck.swift — the one place numeric options are checked: a bad value is refused with one line
// naming the option, the value and the allowed range (`--threads 0: must be 1…256`).
import ArgumentParser
import Foundation
import MambaKit

/// A refused option value, as the `ValidationError` the option groups' `validate()` throws;
/// `MambaKitCommand.main` prints its message as one line (no usage text) and exits 64.
func optionError(option: String, value: String, allowed: String) -> ValidationError {
    ValidationError("\(option) \(value): \(allowed)")
}

/// Range checks for option values; nil (an option not given) always passes.
enum Check {
    /// Thread counts: 1…256.
    static let threads = 1...Parallel.maximumThreads
    /// Tokens in one micro-batch (batch-size × seq-len): the tape and activations must fit in memory.
    static let maxBatchTokens = 1 << 26
    /// Width of a model.
    static let maxDModel = 65536

    static func int(_ value: Int?, _ option: String, _ range: ClosedRange<Int>) throws {
        guard let v = value, !range.contains(v) else { return }
        let allowed: String
        if range.upperBound == Int.max { allowed = "must be ≥ \(range.lowerBound)" }
        else { allowed = "must be \(range.lowerBound)…\(range.upperBound)" }
        throw optionError(option: option, value: "\(v)", allowed: allowed)
    }

    /// A finite number in `range`; `excludingLower`/`excludingUpper` make that end open ("> 0", "< 1").
    static func number<F: BinaryFloatingPoint>(_ value: F?, _ option: String, _ range: ClosedRange<Double>,
                                               excludingLower: Bool = false, excludingUpper: Bool = false) throws {
        guard let f = value else { return }
        let v = Double(f)
        let ok = v.isFinite && range.contains(v) && !(excludingLower && v == range.lowerBound)
            && !(excludingUpper && v == range.upperBound)
        guard !ok else { return }
        let lower = (excludingLower ? "> " : "≥ ") + format(range.lowerBound)
        let upper = range.upperBound == .infinity ? "" : (excludingUpper ? " and < " : " and ≤ ") + format(range.upperBound)
        let shown = v.isFinite && v == v.rounded() && abs(v) < 1e15 ? format(v) : "\(f)"   // Float's own digits: 1.1, not 1.100000023841858
        throw optionError(option: option, value: shown, allowed: "must be a finite number \(lower)\(upper)")
    }

    /// A positive, finite duration in seconds, at most `max`.
    static func seconds(_ value: Double?, _ option: String, max: Double) throws {
        try number(value, option, 0...max, excludingLower: true)
    }

    /// A fraction in [0, 1) (e.g. of a data set held out).
    static func fraction(_ value: Double?, _ option: String) throws {
        guard let v = value, !(v.isFinite && v >= 0 && v < 1) else { return }
        throw optionError(option: option, value: format(v), allowed: "must be a fraction in [0, 1)")
    }

    /// A non-empty string (a path).
    static func nonEmpty(_ value: String?, _ option: String) throws {
        guard let v = value, v.isEmpty else { return }
        throw optionError(option: option, value: "''", allowed: "must be a non-empty path")
    }

    /// A file to be written: a non-empty path that is not a directory, in a directory that exists — checked
    /// before any work, so a long run does not end by failing to save what it computed.
    static func outputFile(_ value: String?, _ option: String) throws {
        guard let v = value else { return }
        try nonEmpty(v, option)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: v, isDirectory: &isDirectory), isDirectory.boolValue {
            throw optionError(option: option, value: v, allowed: "is a directory; give a file name")
        }
        let parent = URL(fileURLWithPath: v).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw optionError(option: option, value: v, allowed: "its directory \(parent) does not exist; create it first")
        }
    }

    /// 2.0 → "2", 0.25 → "0.25", nan → "nan".
    static func format(_ x: Double) -> String {
        x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
