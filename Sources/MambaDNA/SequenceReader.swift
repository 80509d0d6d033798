// SequenceReader.swift — streamed FASTA and FASTQ reading (plain or gzip), record by record or
// chunk by chunk, so a multi-gigabyte genome is never held in memory whole.
//
// FASTA: `>name description` header lines, then sequence lines wrapped at any width (or not at all);
// `;` comment lines and blank lines are ignored. FASTQ: `@name`, sequence line(s), `+[name]`, quality
// line(s) of exactly the sequence's length. Both: `\r\n` endings, lower-case (soft-masked) bases,
// IUPAC ambiguity codes; bases are returned upper case with `U` read as `T`; spaces and tabs inside
// sequence lines are skipped. Anything else is a ``DataError`` or a ``DNAError`` naming the file and line.
import Foundation
import MambaKit

/// One FASTA or FASTQ record.
public struct SequenceRecord: Sendable, Equatable {
    /// The header's first word (without `>`/`@`).
    public var name: String
    /// The header's text after the first word ("" when none).
    public var description: String
    /// Upper-case IUPAC bases (ASCII).
    public var sequence: [UInt8]
    /// FASTQ quality characters (Phred+33 as in the file); nil for FASTA.
    public var quality: [UInt8]?
    /// The header's line number (1-based).
    public var line: Int

    public init(name: String, description: String = "", sequence: [UInt8], quality: [UInt8]? = nil, line: Int = 0) {
        self.name = name; self.description = description; self.sequence = sequence; self.quality = quality; self.line = line
    }

    /// The bases as a String.
    public var sequenceString: String { String(decoding: sequence, as: UTF8.self) }
}

/// FASTA or FASTQ.
public enum SequenceFormat: String, Sendable { case fasta, fastq }

/// A piece of a sequence file in reading order: a record's header, then its bases in one or more chunks.
public enum SequenceChunk: Equatable {
    case header(name: String, description: String, line: Int)
    case bases([UInt8])
}

/// Reads FASTA/FASTQ files (format detected from the first non-blank line; gzip detected by zlib).
///
/// ```swift
/// let r = try SequenceReader(path: "genome.fa.gz")
/// while let rec = try r.next() { … }                  // whole records
/// while let c = try r.nextChunk() { … }               // or streamed: .header, .bases, .bases, …
/// ```
public final class SequenceReader {
    public let path: String
    public let format: SequenceFormat
    private let lines: LineReader
    private var pendingLine: [UInt8]? = nil        // a line read ahead (format detection)
    private var pendingLineNumber = 0
    private var pendingHeader: (String, String, Int)? = nil
    private var pendingBases: [UInt8]? = nil       // FASTQ: the sequence after its header chunk
    private var lastQuality: [UInt8]? = nil
    private var sawHeader = false

    public init(path: String) throws {
        self.path = path
        lines = try LineReader(path: path)
        var first: [UInt8]? = nil
        while let l = try lines.nextLine() {
            if l.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            first = l; break
        }
        pendingLine = first
        pendingLineNumber = lines.lineNumber
        if let f = first, f.first == UInt8(ascii: "@") { format = .fastq } else { format = .fasta }
    }

    /// The number (1-based) of the line last read.
    public var lineNumber: Int { pendingLine != nil ? pendingLineNumber : lines.lineNumber }

    private func readLine() throws -> (bytes: [UInt8], line: Int)? {
        if let l = pendingLine { pendingLine = nil; return (l, pendingLineNumber) }
        guard let l = try lines.nextLine() else { return nil }
        return (l, lines.lineNumber)
    }

    /// Upper-case IUPAC bases of a sequence line; throws on other characters.
    private func bases(_ l: [UInt8], line: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(l.count)
        let table = Nucleotides.normalized
        for (i, b) in l.enumerated() {
            let v = table[Int(b)]
            if v != 0 { out.append(v); continue }
            if b == 0x20 || b == 0x09 { continue }
            throw DNAError.invalidBase(path: path, line: line, column: i + 1, character: Self.show(b))
        }
        return out
    }

    static func show(_ b: UInt8) -> String {
        (0x21..<0x7F).contains(b) ? String(UnicodeScalar(b)) : String(format: "\\x%02X", b)
    }

    private static func splitHeader(_ l: [UInt8]) -> (String, String) {
        let text = String(decoding: l.dropFirst(), as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard let sp = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (text, "") }
        return (String(text[..<sp]), String(text[sp...]).trimmingCharacters(in: .whitespaces))
    }

    // MARK: - Chunks

    /// The next header or run of bases; nil at the end of the file.
    public func nextChunk() throws -> SequenceChunk? {
        if let h = pendingHeader { pendingHeader = nil; return .header(name: h.0, description: h.1, line: h.2) }
        if let b = pendingBases { pendingBases = nil; return .bases(b) }
        return format == .fasta ? try nextFASTAChunk() : try nextFASTQChunk()
    }

    private func nextFASTAChunk() throws -> SequenceChunk? {
        while let (l, n) = try readLine() {
            guard let first = l.first else { continue }
            if first == UInt8(ascii: ">") {
                sawHeader = true
                let (name, desc) = Self.splitHeader(l)
                return .header(name: name, description: desc, line: n)
            }
            if first == UInt8(ascii: ";") { continue }
            let b = try bases(l, line: n)
            if b.isEmpty { continue }
            guard sawHeader else {
                throw DataError.malformed(path: path, line: n, detail: "sequence line before any '>' header",
                                         hint: "every FASTA record starts with a '>name' line; add one above this line", kind: .dna)
            }
            return .bases(b)
        }
        return nil
    }

    private func nextFASTQChunk() throws -> SequenceChunk? {
        var header: ([UInt8], Int)? = nil
        while let (l, n) = try readLine() {
            if l.isEmpty { continue }
            header = (l, n); break
        }
        guard let (h, hn) = header else { return nil }
        guard h.first == UInt8(ascii: "@") else {
            throw DataError.malformed(path: path, line: hn, detail: "expected a FASTQ record header starting with '@'",
                                     hint: "FASTQ records are 4 lines: @name, bases, +, qualities; check for a truncated previous record", kind: .dna)
        }
        var seq = [UInt8]()
        var plusLine = 0
        while true {
            guard let (l, n) = try readLine() else {
                throw DataError.malformed(path: path, line: lines.lineNumber, detail: "FASTQ record '\(Self.splitHeader(h).0)' ends before its '+' line",
                                         hint: "the file is truncated; drop the last record", kind: .dna)
            }
            if l.first == UInt8(ascii: "+") { plusLine = n; break }
            seq += try bases(l, line: n)
        }
        var qual = [UInt8]()
        var lastLine = plusLine
        while qual.count < seq.count {
            guard let (l, n) = try readLine() else { break }
            qual += l; lastLine = n
        }
        if qual.count != seq.count {
            throw DNAError.qualityLength(path: path, line: lastLine == plusLine ? plusLine + 1 : lastLine, sequence: seq.count, quality: qual.count)
        }
        let (name, desc) = Self.splitHeader(h)
        pendingBases = seq
        lastQuality = qual
        return .header(name: name, description: desc, line: hn)
    }

    // MARK: - Records

    /// The next whole record; nil at the end of the file.
    public func next() throws -> SequenceRecord? {
        guard let c = try nextChunk() else { return nil }
        guard case let .header(name, desc, line) = c else {
            preconditionFailure("bases before a header are rejected by nextChunk")
        }
        var rec = SequenceRecord(name: name, description: desc, sequence: [], line: line)
        let quality = format == .fastq ? lastQuality : nil
        while let c = try nextChunk() {
            switch c {
            case .bases(let b): rec.sequence += b
            case .header(let n, let d, let l): pendingHeader = (n, d, l); rec.quality = quality; return rec
            }
        }
        rec.quality = quality
        return rec
    }

    /// All records of a file (for small files; stream big ones with ``next()`` or ``nextChunk()``).
    public static func readAll(path: String) throws -> [SequenceRecord] {
        let r = try SequenceReader(path: path)
        var out: [SequenceRecord] = []
        while let rec = try r.next() { out.append(rec) }
        return out
    }

    /// Total bases per record, streamed (one pass, constant memory).
    public static func recordLengths(path: String) throws -> [(name: String, length: Int)] {
        let r = try SequenceReader(path: path)
        var out: [(String, Int)] = []
        while let c = try r.nextChunk() {
            switch c {
            case .header(let n, _, _): out.append((n, 0))
            case .bases(let b): out[out.count - 1].1 += b.count
            }
        }
        return out
    }
}
