// LineReader.swift — streamed lines of a plain or gzip-compressed text file, through zlib's gzread
// (which reads uncompressed files unchanged). Memory is one buffer plus one line, whatever the file size.
import _CZlib
import Foundation
import MambaKit

/// Reads a text file line by line, transparently decompressing gzip.
///
/// Lines are returned without their terminator; both `\n` and `\r\n` (Windows) endings are accepted.
/// ``lineNumber`` is the 1-based number of the line last returned.
public final class LineReader {
    public let path: String
    public private(set) var lineNumber = 0
    private var file: gzFile?
    private var buffer: [UInt8]
    private var start = 0, end = 0
    private var atEOF = false

    /// Opens `path` (plain or `.gz`). Throws ``DataError/fileNotFound(path:kind:)``,
    /// ``DataError/notARegularFile(path:fileType:kind:)`` or ``DataError/unreadable(path:reason:kind:)`` (kind ``DataKind/dna``).
    public init(path: String, bufferSize: Int = 1 << 17) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw DataError.fileNotFound(path: path, kind: .dna) }
        try FileChecks.requireRegularFile(path: path, kind: .dna)
        guard let f = gzopen(path, "rb") else { throw DataError.unreadable(path: path, reason: String(cString: strerror(errno)), kind: .dna) }
        gzbuffer(f, UInt32(bufferSize))
        file = f
        buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    deinit { if let f = file { gzclose(f) } }

    /// Refills the buffer, keeping unconsumed bytes; false at the end of the file.
    private func fill() throws -> Bool {
        guard !atEOF, let f = file else { return false }
        if start > 0 {
            let n = end - start
            if n > 0 { buffer.withUnsafeMutableBufferPointer { p in _ = memmove(p.baseAddress!, p.baseAddress! + start, n) } }
            start = 0; end = n
        }
        if end == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }   // a very long line
        let room = buffer.count - end
        let got = buffer.withUnsafeMutableBufferPointer { gzread(f, $0.baseAddress! + end, UInt32(room)) }
        if got < 0 {
            var code: Int32 = 0
            let msg = gzerror(f, &code).map { String(cString: $0) } ?? "read error"
            throw DataError.unreadable(path: path, reason: msg, kind: .dna)
        }
        if got == 0 {
            // zlib reports a gzip stream cut short (Z_BUF_ERROR) only through gzerror after the last read
            var code: Int32 = 0
            let msg = gzerror(f, &code).map { String(cString: $0) } ?? ""
            if code != Z_OK && code != Z_STREAM_END {
                throw DataError.unreadable(path: path, reason: "\(msg.isEmpty ? "gzip error \(code)" : msg) (truncated or corrupt .gz file)", kind: .dna)
            }
            atEOF = true
            return false
        }
        end += Int(got)
        return true
    }

    /// Calls `body` with the next line's bytes (valid only during the call); returns false at the end of the file.
    public func withNextLine<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R? {
        var scanFrom = start
        while true {
            let nl: Int? = buffer.withUnsafeBufferPointer { p -> Int? in
                guard scanFrom < end else { return nil }
                let base = p.baseAddress! + scanFrom
                guard let hit = memchr(base, 0x0A, end - scanFrom) else { return nil }
                return scanFrom + (UnsafeRawPointer(hit) - UnsafeRawPointer(base))
            }
            if let nl {
                var lineEnd = nl
                if lineEnd > start && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                lineNumber += 1
                let s = start
                start = nl + 1
                return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[s..<lineEnd])) }
            }
            let consumed = end - start
            if try !fill() {
                guard end > start else { return nil }
                var lineEnd = end
                if buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                lineNumber += 1
                let s = start
                start = end
                return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[s..<lineEnd])) }
            }
            scanFrom = start + consumed
        }
    }

    /// The next line as bytes, or nil at the end of the file.
    public func nextLine() throws -> [UInt8]? { try withNextLine { Array($0) } }
}
