// ReadOnlyMapping.swift
// A whole regular file memory-mapped read-only: the open / fstat / mmap sequence shared by the
// safetensors reader and the token-file reader, each reporting failures in its own error type.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file mapped read-only (`MAP_PRIVATE`) for as long as the object lives.
///
/// The path is checked with ``FileChecks/requireRegularFile(path:orThrow:)`` before it is opened
/// (so a FIFO never blocks the open), and again with `fstat` on the open descriptor.
public final class ReadOnlyMapping: @unchecked Sendable {
    // @unchecked Sendable: immutable after init, and the mapping is read-only.

    /// The mapped bytes; `count` is the file size. An empty file is not mapped (`baseAddress` nil).
    public let bytes: UnsafeRawBufferPointer

    /// Opens and maps `path`. Failures are reported through the reader's own cases: `notFound()`
    /// when there is no such file, `unreadable(reason)` when it is not a regular file or cannot be
    /// opened, inspected or mapped.
    public init(path: String, notFound: () -> Error, unreadable: (_ reason: String) -> Error) throws {
        try FileChecks.requireRegularFile(path: path, orThrow: unreadable)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw code == ENOENT ? notFound() : unreadable(posixMessage(code))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw unreadable(posixMessage(errno)) }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else { throw unreadable("not a regular file (it is \(FileChecks.kindName(type)))") }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw unreadable("mmap failed: \(posixMessage(errno))")
        }
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
