// DNAError.swift — the errors only the DNA front end has (and its DataKind). Every case names the file
// (and line, when there is one) and says how to fix the input; the problems every front end shares are
// DataErrors of kind .dna.
import Foundation
import MambaKit

extension DataKind {
    /// DNA data: FASTA/FASTQ records, CSV/TSV tables, class directories (errors: `dna error: …`).
    public static let dna = DataKind(
        name: "dna",
        accepts: "FASTA ('>' headers) or FASTQ ('@' records), CSV/TSV sequence,label rows (plain or gzip), or a directory of them")
}

/// An error only DNA data has: a character that is not a nucleotide, a FASTQ quality string of the
/// wrong length, a bad genome region. A missing, unreadable or malformed file, empty data, an unknown
/// label, too few classes, a genome too short or an unwritable output are ``DataError``s of kind
/// ``DataKind/dna``.
///
/// ``description`` is one line: `dna error: <file>[:<line>]: <what went wrong> — <how to fix it>`.
public enum DNAError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A character that is not an IUPAC nucleotide code at `line`, `column` (both 1-based).
    case invalidBase(path: String, line: Int, column: Int, character: String)
    /// A FASTQ record whose quality string is not as long as its sequence.
    case qualityLength(path: String, line: Int, sequence: Int, quality: Int)
    /// A bad `start:end` region specification.
    case badRegion(spec: String, detail: String)

    /// The file the error is about (the region specification for ``badRegion(spec:detail:)``).
    public var path: String {
        switch self {
        case .invalidBase(let p, _, _, _), .qualityLength(let p, _, _, _): return p
        case .badRegion(let spec, _): return spec
        }
    }

    /// The line the error is about (1-based), when there is one.
    public var line: Int? {
        switch self {
        case .invalidBase(_, let l, _, _), .qualityLength(_, let l, _, _): return l
        case .badRegion: return nil
        }
    }

    public var description: String {
        let place = line.map { "\(path):\($0)" } ?? path
        switch self {
        case .invalidBase(_, _, let column, let c):
            return "dna error: \(place): column \(column): '\(c)' is not an IUPAC nucleotide code (A C G T U R Y S W K M B D H V N) — remove or replace it (e.g. with N)"
        case .qualityLength(_, _, let s, let q):
            return "dna error: \(place): FASTQ quality has \(q) characters but the sequence has \(s) bases — the record is truncated or corrupt; fix or drop it"
        case .badRegion(let spec, let detail):
            return "dna error: region '\(spec)': \(detail) — write regions as START:END fractions of each genome, e.g. 0:0.8 and 0.8:1"
        }
    }
}
