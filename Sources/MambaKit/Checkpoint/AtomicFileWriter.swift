// AtomicFileWriter.swift — files that appear whole or not at all (checkpoints, configs).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - Atomic file writing (shared with MambaConfig)

/// Writes a file atomically: temporary file in the same directory → fsync → rename over the target
/// → fsync the directory. On failure the temporary file is removed and the target is untouched.
struct AtomicFileWriter {
    let target: URL
    private let temporaryPath: String
    private let fd: Int32

    /// Creates the temporary file next to `target`.
    private init(target: URL) throws {
        self.target = target
        let directory = target.deletingLastPathComponent().path
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        temporaryPath = directory + "/" + AtomicFile.temporaryPrefix(of: target) + "\(getpid()).\(suffix).tmp"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw CheckpointError.writeFailed(
                path: target.path, reason: "cannot create a temporary file in \(directory): \(posixMessage(errno))")
        }
    }

    /// Appends `bytes` to the temporary file.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(fd, pointer, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.writeFailed(path: target.path, reason: posixMessage(errno))
            }
            pointer += written
            remaining -= written
        }
    }

    /// Runs `body` to fill the temporary file, then atomically moves it to `url`.
    static func write(to url: URL, _ body: (inout AtomicFileWriter) throws -> Void) throws {
        var writer = try AtomicFileWriter(target: url)
        do {
            try body(&writer)
            try writer.commit()
        } catch {
            close(writer.fd)
            unlink(writer.temporaryPath)
            throw error
        }
    }

    private func commit() throws {
        if fsync(fd) != 0 {
            throw CheckpointError.writeFailed(path: target.path, reason: "fsync failed: \(posixMessage(errno))")
        }
        if rename(temporaryPath, target.path) != 0 {
            throw CheckpointError.writeFailed(path: target.path, reason: "rename failed: \(posixMessage(errno))")
        }
        close(fd)
        // Make the rename durable (best effort: some file systems cannot fsync a directory).
        AtomicFile.syncDirectory(target.deletingLastPathComponent())
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemWrite = Musl.write
#else
private let systemWrite = Darwin.write
#endif


/// Atomic writes of whole files (temporary file, fsync, rename).
public enum AtomicFile {
    /// Temporaries of `target` are named `.<name>.<pid>.<random>.tmp` beside it.
    static func temporaryPrefix(of target: URL) -> String { "." + target.lastPathComponent + "." }

    /// Removes the temporaries a killed write of `target` left beside it (never the target itself).
    public static func removeLeftoverTemporaries(of target: URL) {
        let fm = FileManager.default, directory = target.deletingLastPathComponent()
        let prefix = temporaryPrefix(of: target)
        for item in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] where item.hasPrefix(prefix) && item.hasSuffix(".tmp") {
            try? fm.removeItem(at: directory.appendingPathComponent(item))
        }
    }

    /// Writes `data` to `url` atomically (temporary file, fsync, rename, fsync of the directory).
    /// - Throws: ``CheckpointError/writeFailed(path:reason:)`` naming the file.
    public static func write(_ data: Data, to url: URL) throws {
        try AtomicFileWriter.write(to: url) { writer in
            try data.withUnsafeBytes { try writer.write($0) }
        }
    }

    /// fsyncs a directory so that renames inside it are durable (best effort).
    public static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }
}
