// DataError.swift — the one vocabulary of data problems (missing, unreadable or malformed files, empty
// data, unknown labels, …) shared by the text, audio and DNA front ends. Every case names the file and
// the kind of data it was read as; front-end-specific problems stay in the front ends' own errors.

/// A problem with a data file or directory: every front end (MambaText, MambaAudio, MambaDNA) throws
/// these for the problems they share.
///
/// Every case names the file (``path``; and ``line``, when there is one) and the ``DataKind`` it was
/// read as. ``description`` is one line,
///
/// ```text
/// <kind> error: <path>[:<line>]: <what went wrong> — <how to fix it>
/// ```
///
/// e.g. `audio data error: clips/: no audio files (.wav .flac .ogg …) in this directory or below it — …`.
/// Problems only one front end has keep their own error types (`DNAError.invalidBase`,
/// `AudioError.implausibleHeader`, `TokenFileError.truncated`, …).
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file or directory at `path`.
    case fileNotFound(path: String, kind: DataKind)
    /// `path` exists but is not a regular file: `fileType` is what it is instead ("a named pipe
    /// (FIFO)", "a character device", "a directory", …). See ``FileChecks/requireRegularFile(path:kind:)``.
    case notARegularFile(path: String, fileType: String, kind: DataKind)
    /// The file exists but cannot be opened, decoded or decompressed.
    case unreadable(path: String, reason: String, kind: DataKind)
    /// A structural problem (at `line`, 1-based, when known): a row with too few fields, an
    /// unterminated quote, bytes that are not text, …; `hint` says how to fix it.
    case malformed(path: String, line: Int?, detail: String, hint: String, kind: DataKind)
    /// The file or directory holds no `what` (e.g. "samples", "sequence records", ".txt files").
    case empty(path: String, what: String, kind: DataKind)
    /// The data has no split called `split`; `available` lists those it has (empty: none).
    case missingSplit(path: String, split: String, available: [String], kind: DataKind)
    /// A labelled data set with fewer than two classes.
    case tooFewClasses(path: String, labels: [String], kind: DataKind)
    /// An example's label is not one of `known` (the model's classes) (at `line`, when known).
    case unknownLabel(path: String, line: Int?, label: String, known: [String], kind: DataKind)
    /// Fewer items than needed: `count` `unit` (e.g. "samples", "tokens") where `need` are needed;
    /// `hint` names the option to change.
    case tooShort(path: String, count: Int, need: Int, unit: String, hint: String, kind: DataKind)
    /// An output file could not be written.
    case writeFailed(path: String, reason: String, kind: DataKind)

    /// The file (or directory, or list of files) the error is about.
    public var path: String {
        switch self {
        case .fileNotFound(let p, _), .notARegularFile(let p, _, _), .unreadable(let p, _, _), .malformed(let p, _, _, _, _),
             .empty(let p, _, _), .missingSplit(let p, _, _, _), .tooFewClasses(let p, _, _), .unknownLabel(let p, _, _, _, _),
             .tooShort(let p, _, _, _, _, _), .writeFailed(let p, _, _):
            return p
        }
    }

    /// The line the error is about (1-based), when there is one.
    public var line: Int? {
        switch self {
        case .malformed(_, let l, _, _, _), .unknownLabel(_, let l, _, _, _): return l
        default: return nil
        }
    }

    /// What the file was read as (the error's prefix).
    public var kind: DataKind {
        switch self {
        case .fileNotFound(_, let k), .notARegularFile(_, _, let k), .unreadable(_, _, let k), .malformed(_, _, _, _, let k),
             .empty(_, _, let k), .missingSplit(_, _, _, let k), .tooFewClasses(_, _, let k), .unknownLabel(_, _, _, _, let k),
             .tooShort(_, _, _, _, _, let k), .writeFailed(_, _, let k):
            return k
        }
    }

    /// What went wrong, without the prefix, the path or the hint.
    public var problem: String {
        switch self {
        case .fileNotFound: return "no such file or directory"
        case .notARegularFile(_, let type, _): return "not a regular file (it is \(type))"
        case .unreadable(_, let reason, _): return "cannot read it: \(reason)"
        case .malformed(_, _, let detail, _, _): return detail
        case .empty(_, let what, _): return "no \(what)"
        case .missingSplit(_, let split, let available, _):
            return "no split '\(split)'" + (available.isEmpty ? " (the data has no splits)" : " (splits: \(available.joined(separator: ", ")))")
        case .tooFewClasses(_, let labels, _):
            return "found \(labels.count) class(es) (\(labels.joined(separator: ", ")))"
        case .unknownLabel(_, _, let label, let known, _):
            return "label '\(label)' is not one of the model's classes (\(known.joined(separator: ", ")))"
        case .tooShort(_, let count, let need, let unit, _, _): return "\(count) \(unit), but at least \(need) are needed"
        case .writeFailed(_, let reason, _): return "cannot write it: \(reason)"
        }
    }

    /// How to fix it, in one line.
    public var hint: String {
        switch self {
        case .fileNotFound(_, let k): return "check the path (expected \(k.accepts))"
        case .notARegularFile(_, _, let k):
            return "pass an ordinary file (expected \(k.accepts)); MambaKit does not read pipes, devices or sockets as data"
        case .unreadable(_, _, let k): return "check that it is \(k.accepts), and that it can be read"
        case .malformed(_, _, _, let hint, _): return hint
        case .empty(_, _, let k): return "check the path and the format (expected \(k.accepts))"
        case .missingSplit: return "choose another with --split"
        case .tooFewClasses:
            return "a classifier needs at least two labels; check the class directories or the label column"
        case .unknownLabel:
            return "every evaluation class must occur in training; evaluate on data with the model's labels"
        case .tooShort(_, _, _, _, let hint, _): return hint
        case .writeFailed: return "check that the directory exists, is writable and has free space"
        }
    }

    /// One line: `<kind> error: <path>[:<line>]: <problem> — <hint>`.
    public var description: String {
        let place = line.map { "\(path):\($0)" } ?? path
        return "\(kind.name) error: \(place): \(problem) — \(hint)"
    }
}
