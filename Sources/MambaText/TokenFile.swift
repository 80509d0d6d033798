// TokenFile.swift
// Pre-tokenised corpora on disk: a small header, then the token ids as little-endian integers.
//
// Layout (24-byte header, then the ids):
//
//   offset  size  field
//   0       6     magic "MKTOK1" (ASCII)
//   6       1     bytes per id: 2 (uint16) or 4 (uint32)
//   7       1     reserved, 0
//   8       8     count: number of ids, uint64 little-endian
//   16      8     vocabulary size the ids were written for, uint64 little-endian (every id is below it)
//   24      …     count ids, little-endian, 2 or 4 bytes each; the file ends right after them
//
// uint16 is used when the vocabulary has at most 65,536 ids (GPT-NeoX's 50,280 fit), uint32 otherwise.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if !_endian(little)
#error("TokenFile assumes a little-endian host (x86-64, AArch64)")
#endif

/// POSIX write(2) (the name `write` is taken inside TokenFileWriter).
@inline(__always)
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}

// MARK: - TokenDType

/// How ids are stored in a token file.
public enum TokenDType: UInt8, Sendable, CaseIterable {
    /// 2 bytes per id, for vocabularies of at most 65,536 ids.
    case uint16 = 2
    /// 4 bytes per id.
    case uint32 = 4

    /// Bytes per id.
    public var byteSize: Int { Int(rawValue) }

    /// The smallest type that holds every id of a vocabulary of `vocabularySize` ids.
    public static func forVocabulary(_ vocabularySize: Int) -> TokenDType {
        vocabularySize <= 1 << 16 ? .uint16 : .uint32
    }
}

// MARK: - TokenFileError

extension DataKind {
    /// A binary token file (MKTOK1) (errors: `token file error: …`).
    public static let tokenFile = DataKind(
        name: "token file", accepts: "a binary token file (MKTOK1) written by `mambakit tokenize --out` or TokenFile.write")
}

/// A problem with the contents of a token file. Every case names the file; ``description`` is one line,
/// `token file error: <path>: <problem> — <hint>`. A missing, unreadable or unwritable token file is a
/// ``DataError`` of kind ``DataKind/tokenFile`` (`fileNotFound`, `notARegularFile`, `unreadable`, `writeFailed`).
public enum TokenFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file does not start with "MKTOK1".
    case badMagic(path: String)
    /// The file is shorter than its header says: `expectedBytes` (header + count × id size) vs `actualBytes`.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The header is malformed (unknown id size, trailing bytes after the ids, …).
    case invalidHeader(path: String, detail: String)
    /// An id to be written is negative or not below the vocabulary size.
    case idOutOfRange(path: String, id: Int, vocabularySize: Int)
    /// The id stored at `position` (0-based) is not below `limit` (the vocabulary it is read for,
    /// the file's own vocabulary size, or 2³¹ for `Int32`).
    case storedIDOutOfRange(path: String, position: Int, id: Int, limit: Int)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .badMagic(let p), .truncated(let p, _, _), .invalidHeader(let p, _), .idOutOfRange(let p, _, _),
             .storedIDOutOfRange(let p, _, _, _):
            return p
        }
    }

    /// What went wrong.
    public var problem: String {
        switch self {
        case .badMagic: return "not a token file (it does not start with \"MKTOK1\")"
        case .truncated(_, let expected, let actual):
            return "truncated: the header promises \(expected) bytes but the file has \(actual)"
        case .invalidHeader(_, let detail): return "invalid header: \(detail)"
        case .idOutOfRange(_, let id, let v): return "id \(id) is outside the vocabulary 0..<\(v)"
        case .storedIDOutOfRange(_, let position, let id, let limit):
            return "the id at position \(position) is \(id), outside 0..<\(limit)"
        }
    }

    /// A one-line suggestion.
    public var hint: String {
        switch self {
        case .badMagic, .invalidHeader: return "token files are written by TokenFile.write / TokenFileWriter; re-create it"
        case .truncated: return "the write was interrupted or the copy is incomplete; re-create the file"
        case .idOutOfRange: return "pass the tokenizer's vocabularySize"
        case .storedIDOutOfRange: return "the file was written for another tokenizer or is corrupt; re-create it with this tokenizer"
        }
    }

    /// One line: `token file error: <path>: <problem> — <hint>`.
    public var description: String { "token file error: \(path): \(problem) — \(hint)" }
}

// MARK: - TokenFile

/// A token file opened for reading: the ids are memory-mapped and read on demand.
///
/// ```swift
/// try TokenFile.write(ids, vocabularySize: tokenizer.vocabularySize, to: url)
/// let file = try TokenFile(contentsOf: url)
/// file.count          // ids.count
/// file[0]             // ids[0]
/// file.ids(in: 0..<1024)
/// ```
///
/// The file is validated on opening (magic, id size, exact length), so reads never leave the mapping.
/// Ids are not checked against ``vocabularySize`` on reading.
public final class TokenFile: RandomAccessCollection, @unchecked Sendable {
    // @unchecked Sendable: immutable after init, and the mapping is read-only.

    /// The file header's size in bytes.
    public static let headerSize = 24
    static let magic: [UInt8] = Array("MKTOK1".utf8)

    /// The file that was opened.
    public let url: URL
    /// How the ids are stored.
    public let dtype: TokenDType
    /// The vocabulary size recorded when the file was written.
    public let vocabularySize: Int
    /// The number of ids.
    public let count: Int

    private let file: ReadOnlyMapping
    private let data: UnsafeRawPointer

    /// Memory-maps and validates the token file at `url`.
    public init(contentsOf url: URL) throws {
        let path = url.path
        try FileChecks.requireRegularFile(path: path, kind: .tokenFile)
        let file = try ReadOnlyMapping(path: path, notFound: { DataError.fileNotFound(path: path, kind: .tokenFile) },
                                       unreadable: { DataError.unreadable(path: path, reason: $0, kind: .tokenFile) })
        let size = file.bytes.count
        if size == 0 { throw TokenFileError.truncated(path: path, expectedBytes: Self.headerSize, actualBytes: 0) }
        let bytes = file.bytes
        let magicLength = Swift.min(size, Self.magic.count)
        guard Array(bytes[0..<magicLength]) == Array(Self.magic[0..<magicLength]) else {
            throw TokenFileError.badMagic(path: path)
        }
        guard size >= Self.headerSize else {
            throw TokenFileError.truncated(path: path, expectedBytes: Self.headerSize, actualBytes: size)
        }
        guard let dtype = TokenDType(rawValue: bytes[6]) else {
            throw TokenFileError.invalidHeader(path: path, detail: "unknown id size \(bytes[6]) (expected 2 or 4)")
        }
        let count = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let vocabularySize = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: UInt64(dtype.byteSize))
        guard !overflow, dataBytes <= UInt64(Int.max - Self.headerSize) else {
            throw TokenFileError.invalidHeader(path: path, detail: "count \(count) is too large")
        }
        let expected = Self.headerSize + Int(dataBytes)
        guard size >= expected else {
            throw TokenFileError.truncated(path: path, expectedBytes: expected, actualBytes: size)
        }
        guard size == expected else {
            throw TokenFileError.invalidHeader(path: path, detail: "\(size - expected) bytes after the \(count) ids")
        }
        guard vocabularySize <= 1 << 32 else {
            throw TokenFileError.invalidHeader(path: path, detail: "vocabulary size \(vocabularySize) is too large")
        }
        self.dtype = dtype
        self.count = Int(count)
        self.vocabularySize = Int(vocabularySize)
        self.url = url
        self.file = file
        data = bytes.baseAddress! + Self.headerSize
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The id at `index`.
    ///
    /// A stored id at or above 2³¹ (only possible in a 4-byte file whose header claims a vocabulary
    /// that large) does not fit `Int32` and comes back with its bit pattern, i.e. negative, which every
    /// decoder skips; ``int32IDs(below:)`` rejects such ids instead.
    public subscript(index: Int) -> Int32 {
        Int32(truncatingIfNeeded: storedID(at: index))
    }

    /// The stored id at `index`, widened without loss (for error messages).
    private func storedID(at index: Int) -> Int {
        precondition(index >= 0 && index < count, "TokenFile index \(index) out of range 0..<\(count)")
        switch dtype {
        case .uint16: return Int(data.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        case .uint32: return Int(data.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
        }
    }

    /// The ids in `range`, copied (each as the subscript returns it).
    public func ids(in range: Range<Int>) -> [Int32] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "TokenFile range \(range) out of 0..<\(count)")
        var out = [Int32](repeating: 0, count: range.count)
        out.withUnsafeMutableBufferPointer { o in
            switch dtype {
            case .uint16:
                let p = data.assumingMemoryBound(to: UInt16.self)  // offset 24: 2-byte aligned
                for k in 0..<range.count { o[k] = Int32(p[range.lowerBound + k]) }
            case .uint32:
                let p = data.assumingMemoryBound(to: UInt32.self)  // offset 24: 4-byte aligned
                for k in 0..<range.count { o[k] = Int32(truncatingIfNeeded: p[range.lowerBound + k]) }
            }
        }
        return out
    }

    /// All ids, copied (each as the subscript returns it; ``int32IDs(below:)`` checks them).
    public func allIDs() -> [Int32] { ids(in: 0..<count) }

    /// All ids as `Int32`s (what a model takes), each checked to be below `limit` (the vocabulary
    /// the ids are read for), below the file's own ``vocabularySize`` and inside `Int32`.
    /// - Throws: ``TokenFileError/storedIDOutOfRange(path:position:id:limit:)`` naming the first bad id's position.
    public func int32IDs(below limit: Int) throws -> [Int32] {
        let bound = Swift.min(limit, vocabularySize, Int(Int32.max) + 1)
        var out = [Int32](repeating: 0, count: count)
        var bad: Int?
        out.withUnsafeMutableBufferPointer { o in
            func copy<T: FixedWidthInteger>(_ type: T.Type) {
                let p = data.assumingMemoryBound(to: T.self)   // offset 24: aligned for 2 and 4 bytes
                for k in 0..<count {
                    let id = Int(p[k])
                    if id >= bound { bad = k; return }
                    o[k] = Int32(truncatingIfNeeded: id)
                }
            }
            switch dtype {
            case .uint16: copy(UInt16.self)
            case .uint32: copy(UInt32.self)
            }
        }
        if let k = bad {
            throw TokenFileError.storedIDOutOfRange(path: url.path, position: k, id: storedID(at: k), limit: bound)
        }
        return out
    }

    /// Writes `ids` to `url` (replacing any file there, atomically), with the smallest id type for
    /// `vocabularySize`. Throws ``TokenFileError/idOutOfRange(path:id:vocabularySize:)`` if an id is
    /// outside `0..<vocabularySize`; the target is then left untouched.
    public static func write<C: Collection>(_ ids: C, vocabularySize: Int, to url: URL) throws where C.Element == Int32 {
        let writer = try TokenFileWriter(url: url, vocabularySize: vocabularySize)
        do {
            try writer.append(ids)
            try writer.finish()
        } catch {
            writer.cancel()
            throw error
        }
    }
}

// MARK: - TokenFileWriter

/// Writes a token file incrementally (for corpora that do not fit in memory): ids go to a temporary
/// file next to the target, which ``finish()`` completes and renames into place. Until then, and
/// after ``cancel()`` or a failure, the target is untouched.
public final class TokenFileWriter {
    /// The file being written.
    public let url: URL
    /// The id type chosen for the vocabulary.
    public let dtype: TokenDType
    /// The vocabulary size the ids must fit.
    public let vocabularySize: Int
    /// Ids appended so far.
    public private(set) var count = 0

    private var fd: Int32
    private let temporaryPath: String
    private var buffer = [UInt8]()
    private var finished = false

    /// Starts writing `url` for ids in `0..<vocabularySize` (1 ... 2³²).
    public init(url: URL, vocabularySize: Int) throws {
        guard vocabularySize >= 1 && vocabularySize <= 1 << 32 else {
            throw DataError.writeFailed(path: url.path, reason: "vocabulary size \(vocabularySize) is not in 1...4294967296", kind: .tokenFile)
        }
        self.url = url
        self.vocabularySize = vocabularySize
        dtype = TokenDType.forVocabulary(vocabularySize)
        let directory = url.deletingLastPathComponent().path
        temporaryPath = directory + "/." + url.lastPathComponent + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw DataError.writeFailed(path: url.path, reason: "cannot create a file in \(directory): \(String(cString: strerror(errno)))", kind: .tokenFile)
        }
        buffer.reserveCapacity(1 << 20)
        buffer.append(contentsOf: [UInt8](repeating: 0, count: TokenFile.headerSize))  // filled in by finish()
    }

    deinit {
        if !finished { cancel() }
    }

    /// Appends ids, each in `0..<vocabularySize`.
    public func append<C: Collection>(_ ids: C) throws where C.Element == Int32 {
        precondition(!finished, "TokenFileWriter used after finish() or cancel()")
        for id in ids {
            guard id >= 0 && Int(id) < vocabularySize else {
                throw TokenFileError.idOutOfRange(path: url.path, id: Int(id), vocabularySize: vocabularySize)
            }
            switch dtype {
            case .uint16:
                buffer.append(UInt8(truncatingIfNeeded: id))
                buffer.append(UInt8(truncatingIfNeeded: id >> 8))
            case .uint32:
                buffer.append(UInt8(truncatingIfNeeded: id))
                buffer.append(UInt8(truncatingIfNeeded: id >> 8))
                buffer.append(UInt8(truncatingIfNeeded: id >> 16))
                buffer.append(UInt8(truncatingIfNeeded: id >> 24))
            }
            count += 1
            if buffer.count >= 1 << 20 { try flush() }
        }
    }

    /// Writes the header, flushes to disk and moves the file into place.
    public func finish() throws {
        precondition(!finished, "TokenFileWriter used after finish() or cancel()")
        try flush()
        var header = TokenFile.magic
        header.append(dtype.rawValue)
        header.append(0)
        withUnsafeBytes(of: UInt64(count).littleEndian) { header.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(vocabularySize).littleEndian) { header.append(contentsOf: $0) }
        let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == header.count else { throw fail("cannot write the header") }
        guard fsync(fd) == 0 else { throw fail("fsync failed") }
        close(fd)
        fd = -1
        guard rename(temporaryPath, url.path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporaryPath)
            finished = true
            throw DataError.writeFailed(path: url.path, reason: "rename failed: \(message)", kind: .tokenFile)
        }
        finished = true
    }

    /// Abandons the file: removes the temporary file and leaves the target untouched.
    public func cancel() {
        if fd >= 0 { close(fd); fd = -1 }
        if !finished { unlink(temporaryPath) }
        finished = true
    }

    private func flush() throws {
        var offset = 0
        try buffer.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail(String(cString: strerror(errno)))
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func fail(_ reason: String) -> DataError {
        DataError.writeFailed(path: url.path, reason: reason, kind: .tokenFile)
    }
}
