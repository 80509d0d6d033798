// DNAError.swift — the typed errors of the DNA front end. Every case names the file (and line, when
// there is one) and says how to fix the input.
import Foundation

/// An error raised while reading DNA data (FASTA, FASTQ, CSV/TSV, class directories) or building
/// DNA data sets.
///
/// ``description`` is one line: `dna error: <file>[:<line>]: <what went wrong> — <how to fix it>`.
public enum DNAError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file or directory at `path`.
    case fileNotFound(path: String)
    /// The file exists but cannot be opened or decompressed.
    case unreadable(path: String, reason: String)
    /// A structural problem at `line` (1-based), e.g. sequence lines before any `>` header.
    case malformed(path: String, line: Int, detail: String, hint: String)
    /// A character that is not an IUPAC nucleotide code at `line`, `column` (both 1-based).
    case invalidBase(path: String, line: Int, column: Int, character: String)
    /// A FASTQ record whose quality string is not as long as its sequence.
    case qualityLength(path: String, line: Int, sequence: Int, quality: Int)
    /// The data holds no usable example / record.
    case empty(path: String, what: String)
    /// A labelled data set with fewer than two classes.
    case tooFewClasses(path: String, labels: [String])
    /// A label that the model does not know (evaluation with a model trained on other classes).
    case unknownLabel(path: String, line: Int, label: String, known: [String])
    /// A bad `start:end` region specification.
    case badRegion(spec: String, detail: String)
    /// A genome (region) too short for even one window.
    case tooShort(path: String, bases: Int, window: Int)
    /// An output file could not be written.
    case writeFailed(path: String, reason: String)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .fileNotFound(let p), .unreadable(let p, _), .malformed(let p, _, _, _), .invalidBase(let p, _, _, _),
             .qualityLength(let p, _, _, _), .empty(let p, _), .tooFewClasses(let p, _), .unknownLabel(let p, _, _, _),
             .tooShort(let p, _, _), .writeFailed(let p, _):
            return p
        case .badRegion(let spec, _): return spec
        }
    }

    /// The line the error is about (1-based), when there is one.
    public var line: Int? {
        switch self {
        case .malformed(_, let l, _, _), .invalidBase(_, let l, _, _), .qualityLength(_, let l, _, _), .unknownLabel(_, let l, _, _):
            return l
        default: return nil
        }
    }

    public var description: String {
        let place = line.map { "\(path):\($0)" } ?? path
        switch self {
        case .fileNotFound:
            return "dna error: \(place): no such file or directory — check the path"
        case .unreadable(_, let reason):
            return "dna error: \(place): cannot read: \(reason) — check that it is a readable (optionally gzip-compressed) file"
        case .malformed(_, _, let detail, let hint):
            return "dna error: \(place): \(detail) — \(hint)"
        case .invalidBase(_, _, let column, let c):
            return "dna error: \(place): column \(column): '\(c)' is not an IUPAC nucleotide code (A C G T U R Y S W K M B D H V N) — remove or replace it (e.g. with N)"
        case .qualityLength(_, _, let s, let q):
            return "dna error: \(place): FASTQ quality has \(q) characters but the sequence has \(s) bases — the record is truncated or corrupt; fix or drop it"
        case .empty(_, let what):
            return "dna error: \(place): no \(what) found — check the file format (FASTA '>' headers, FASTQ '@' records, or CSV/TSV sequence,label rows)"
        case .tooFewClasses(_, let labels):
            return "dna error: \(place): found \(labels.count) class(es) \(labels) — a classifier needs at least two labels"
        case .unknownLabel(_, _, let label, let known):
            return "dna error: \(place): label '\(label)' is not one of the model's classes \(known) — evaluate on data with the same labels"
        case .badRegion(let spec, let detail):
            return "dna error: region '\(spec)': \(detail) — write regions as START:END fractions of each genome, e.g. 0:0.8 and 0.8:1"
        case .tooShort(_, let bases, let window):
            return "dna error: \(place): only \(bases) bases in the region, fewer than one window of \(window) — use a smaller --window or a larger region"
        case .writeFailed(_, let reason):
            return "dna error: \(place): cannot write: \(reason) — check the directory exists and is writable"
        }
    }
}
