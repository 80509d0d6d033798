// FileChecks.swift
// Checks every reader makes before opening a data file: a FIFO, a device or a socket is refused by
// name instead of blocking on open(2) or reading forever (/dev/zero, /dev/urandom).

import Foundation

/// A path given as data names something other than a regular file (a FIFO, a device, a socket, a
/// directory where a file was expected).
///
/// ``description`` is one line: `<what> error: <path>: not a regular file (it is a …) — <hint>`.
public struct NotARegularFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path that was refused.
    public var path: String
    /// What it is instead, e.g. "a named pipe (FIFO)" or "a character device".
    public var kind: String
    /// What the file was to be read as, e.g. "text data" or "audio" (the error's prefix).
    public var what: String

    public init(path: String, kind: String, what: String) {
        self.path = path
        self.kind = kind
        self.what = what
    }

    public var description: String {
        "\(what) error: \(path): not a regular file (it is \(kind)) — pass an ordinary file; "
            + "MambaKit does not read pipes, devices or sockets as data"
    }
}

/// Checks on data files made before they are opened.
public enum FileChecks {

    /// Throws ``NotARegularFileError`` when `path` exists but is not a regular file (symbolic links
    /// are followed). The file is only `stat`ed, never opened, so a FIFO without a writer does not
    /// block. A path that does not exist (or cannot be `stat`ed) passes: the reader's own open then
    /// reports it in its usual terms.
    ///
    /// - Parameter what: what the file is read as, used as the error's prefix (`"text data"`,
    ///   `"audio"`, …).
    public static func requireRegularFile(path: String, what: String) throws {
        try requireRegularFile(path: path) { NotARegularFileError(path: path, kind: $0, what: what) }
    }

    /// ``requireRegularFile(path:what:)`` for a file URL.
    public static func requireRegularFile(_ url: URL, what: String) throws {
        try requireRegularFile(path: url.path, what: what)
    }

    /// The same check for a reader with its own error type: throws `error(reason)` where `reason` is
    /// e.g. "not a regular file (it is a named pipe (FIFO))" (for an `unreadable(path:reason:)` case).
    public static func requireRegularFile<E: Error>(path: String, orThrow error: (_ reason: String) -> E) throws {
        guard let kind = nonRegularKind(path: path) else { return }
        throw error("not a regular file (it is \(kind))")
    }

    /// What `path` is when it exists but is not a regular file ("a named pipe (FIFO)", "a character
    /// device", …); nil for a regular file or a path that cannot be `stat`ed.
    public static func nonRegularKind(path: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        let type = status.st_mode & S_IFMT
        return type == S_IFREG ? nil : kindName(type)
    }

    /// "a named pipe (FIFO)", "a character device", … for a `st_mode & S_IFMT` value.
    static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFIFO: return "a named pipe (FIFO)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFDIR: return "a directory"
        default: return "of file type 0o\(String(type, radix: 8))"
        }
    }
}
