// FileChecks.swift
// Checks every reader makes before opening a data file: a FIFO, a device or a socket is refused by
// name (DataError.notARegularFile) instead of blocking on open(2) or reading forever (/dev/zero, /dev/urandom).

import Foundation

/// Checks on data files made before they are opened.
public enum FileChecks {

    /// Throws ``DataError/notARegularFile(path:fileType:kind:)`` when `path` exists but is not a regular
    /// file (a FIFO, a device, a socket, a directory; symbolic links are followed). The file is only
    /// `stat`ed, never opened, so a FIFO without a writer does not block. A path that does not exist (or
    /// cannot be `stat`ed) passes: the reader's own open then reports it in its usual terms.
    ///
    /// - Parameter kind: what the file is read as (the error's prefix and hint), e.g. `.textData`.
    public static func requireRegularFile(path: String, kind: DataKind) throws {
        guard let type = nonRegularKind(path: path) else { return }
        throw DataError.notARegularFile(path: path, fileType: type, kind: kind)
    }

    /// ``requireRegularFile(path:kind:)`` for a file URL.
    public static func requireRegularFile(_ url: URL, kind: DataKind) throws {
        try requireRegularFile(path: url.path, kind: kind)
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
