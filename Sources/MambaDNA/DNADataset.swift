// DNADataset.swift — labelled DNA sequences from CSV/TSV tables or class directories, with splits.
//
// Accepted layouts (plain or .gz files):
//   FILE.csv / FILE.tsv                       one split ("all"): rows `sequence,label` (header optional)
//   DIR/{train,dev,valid,test}.{csv,tsv}      splits as files (the GUE layout)
//   DIR/{train,test,…}/<label>/*.fa|fq        splits of class directories
//   DIR/<label>/*.fa|fq                       one split ("all"): every record of DIR/<label>/ is labelled <label>
import Foundation
import MambaKit

/// One labelled sequence and where it came from.
public struct LabeledDNA: Sendable, Equatable {
    /// Upper-case IUPAC bases (ASCII).
    public var sequence: [UInt8]
    public var label: String
    /// `file:line` of the row or record.
    public var origin: String
    public init(sequence: [UInt8], label: String, origin: String = "") {
        self.sequence = sequence; self.label = label; self.origin = origin
    }
}

/// A labelled DNA data set: named splits, each read on demand from a table or class directories.
public struct DNADataset: Sendable {
    /// What was opened.
    public let source: String
    /// Canonical split name (``LabeledData/canonicalSplit(_:)``: `dev` → `valid`) → the file (table) or
    /// directory (classes) holding it; `"all"` when unsplit.
    public let splits: [String: String]

    static let tableExtensions = ["csv", "tsv", "csv.gz", "tsv.gz", "txt", "txt.gz"]
    static let sequenceExtensions = ["fa", "fasta", "fna", "fas", "fq", "fastq", "seq"].flatMap { [$0, $0 + ".gz"] }

    /// Opens a table file or a directory (see the layouts above).
    public static func open(_ path: String) throws -> DNADataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw DataError.fileNotFound(path: path, kind: .dna) }
        if !isDir.boolValue {
            try FileChecks.requireRegularFile(path: path, kind: .dna)
            return DNADataset(source: path, splits: ["all": path])
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        var splits: [String: String] = [:]
        for e in entries {
            let full = (path as NSString).appendingPathComponent(e)
            var sub: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: full, isDirectory: &sub)
            let stem = e.split(separator: ".").first.map(String.init) ?? e
            guard LabeledData.isSplitName(stem) else { continue }
            if sub.boolValue && e == stem { splits[LabeledData.canonicalSplit(stem)] = full }
            if !sub.boolValue && tableExtensions.contains(where: { e.lowercased() == stem.lowercased() + "." + $0 }) {
                splits[LabeledData.canonicalSplit(stem)] = full
            }
        }
        if splits.isEmpty { splits["all"] = path }
        return DNADataset(source: path, splits: splits)
    }

    /// The split's examples. `name` falls back to `"all"` for an unsplit set when `allIfUnsplit`;
    /// `"dev"` and `"valid"`/`"validation"`/`"val"` are synonyms.
    public func examples(split name: String, allIfUnsplit: Bool = true) throws -> [LabeledDNA] {
        var target = splits[LabeledData.canonicalSplit(name)]
        if target == nil, allIfUnsplit, splits.count == 1, let all = splits["all"] { target = all }
        guard let t = target else {
            throw DataError.missingSplit(path: source, split: name, available: splits.keys.sorted(), kind: .dna)
        }
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: t, isDirectory: &isDir)
        let ex = isDir.boolValue ? try Self.readClassDirectory(t) : try Self.readTable(t)
        guard !ex.isEmpty else { throw DataError.empty(path: t, what: "labelled sequences", kind: .dna) }
        return ex
    }

    /// True when the set has a split called `name` (or a synonym of it).
    public func hasSplit(_ name: String) -> Bool {
        splits[LabeledData.canonicalSplit(name)] != nil
    }

    /// The class names of `examples`, sorted (numerically when all are integers, e.g. GUE's 0/1).
    public static func labels(of examples: [LabeledDNA]) -> [String] {
        LabeledData.labelList(examples.map(\.label))
    }

    /// Class ids of `examples` in `labels`; a label outside `labels` is an error naming its row.
    public static func labelIndices(_ examples: [LabeledDNA], labels: [String]) throws -> [Int] {
        let index = LabeledData.labelIndex(labels)
        return try examples.map { e in
            guard let i = index[e.label] else {
                let parts = e.origin.split(separator: ":")
                let line = parts.count > 1 ? Int(parts.last!) : nil
                let file = parts.count > 1 ? parts.dropLast().joined(separator: ":") : e.origin
                throw DataError.unknownLabel(path: file, line: line, label: e.label, known: labels, kind: .dna)
            }
            return i
        }
    }

    // MARK: - Tables

    /// Rows of a CSV or TSV file (optionally gzip): a sequence column and a label column.
    ///
    /// The delimiter is a tab for `.tsv` files (or when the first line has tabs and no commas), else a
    /// comma. The first line is a header when its sequence field is not a DNA string or is a column name
    /// (`sequence`, `seq`, `dna`); with a header, the columns named `sequence`/`seq`/`dna` and
    /// `label`/`class`/`species`/`y`/`target` are used, else the first and second columns.
    public static func readTable(_ path: String) throws -> [LabeledDNA] {
        let reader = try LineReader(path: path)
        var out: [LabeledDNA] = []
        var delimiter: UInt8 = UInt8(ascii: ",")
        var seqCol = 0, labelCol = 1
        var first = true
        let seqNames: Set<String> = ["sequence", "seq", "dna", "sequences"]
        let labelNames: Set<String> = ["label", "labels", "class", "species", "y", "target"]
        while let line = try reader.nextLine() {
            if line.isEmpty || line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let n = reader.lineNumber
            if first {
                first = false
                delimiter = LabeledData.delimiter(path: path, firstLine: line)
                let fields = try split(line, delimiter, path: path, line: n)
                let names = fields.map { String(decoding: $0, as: UTF8.self).lowercased().trimmingCharacters(in: .whitespaces) }
                let isHeader = names.contains { seqNames.contains($0) } || !(fields.first.map(isDNA) ?? false)
                if isHeader {
                    if let i = names.firstIndex(where: { seqNames.contains($0) }) { seqCol = i }
                    if let i = names.firstIndex(where: { labelNames.contains($0) }) { labelCol = i } else { labelCol = seqCol == 0 ? 1 : 0 }
                    continue
                }
            }
            let fields = try split(line, delimiter, path: path, line: n)
            guard fields.count > max(seqCol, labelCol) else {
                throw DataError.malformed(path: path, line: n, detail: "\(fields.count) field(s), need a sequence and a label",
                                         hint: "each row is sequence\(delimiter == 9 ? "<TAB>" : ",")label", kind: .dna)
            }
            var seq = [UInt8]()
            seq.reserveCapacity(fields[seqCol].count)
            for (i, b) in fields[seqCol].enumerated() {
                let v = Nucleotides.normalized[Int(b)]
                if v == 0 {
                    if b == 0x20 { continue }
                    throw DNAError.invalidBase(path: path, line: n, column: i + 1, character: SequenceReader.show(b))
                }
                seq.append(v)
            }
            guard !seq.isEmpty else {
                throw DataError.malformed(path: path, line: n, detail: "empty sequence", hint: "drop the row or give its bases", kind: .dna)
            }
            let label = String(decoding: fields[labelCol], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else {
                throw DataError.malformed(path: path, line: n, detail: "empty label", hint: "give every row a class label", kind: .dna)
            }
            out.append(LabeledDNA(sequence: seq, label: label, origin: "\(path):\(n)"))
        }
        return out
    }

    /// Fields of a line (RFC 4180 quoting, ``LabeledData/fields(_:delimiter:)``).
    static func split(_ line: [UInt8], _ d: UInt8, path: String, line n: Int) throws -> [ArraySlice<UInt8>] {
        guard let f = LabeledData.fields(line, delimiter: d) else {
            throw DataError.malformed(path: path, line: n, detail: "a quoted field is not closed", hint: "close the quote (a quote inside a quoted field is written \"\")", kind: .dna)
        }
        return f.map { ArraySlice($0) }
    }

    static func isDNA(_ f: ArraySlice<UInt8>) -> Bool { !f.isEmpty && f.allSatisfy { Nucleotides.isValid($0) } }

    // MARK: - Class directories

    /// Every record of every FASTA/FASTQ file in `DIR/<label>/` (recursively), labelled `<label>`.
    public static func readClassDirectory(_ path: String) throws -> [LabeledDNA] {
        let fm = FileManager.default
        var out: [LabeledDNA] = []
        for label in try fm.contentsOfDirectory(atPath: path).sorted() where !label.hasPrefix(".") {
            let dir = (path as NSString).appendingPathComponent(label)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
            let files = (fm.enumerator(atPath: dir)?.allObjects as? [String] ?? []).sorted()
                .filter { f in sequenceExtensions.contains { f.lowercased().hasSuffix("." + $0) } }
            for f in files {
                let full = (dir as NSString).appendingPathComponent(f)
                let r = try SequenceReader(path: full)
                while let rec = try r.next() {
                    if rec.sequence.isEmpty { continue }
                    out.append(LabeledDNA(sequence: rec.sequence, label: label, origin: "\(full):\(rec.line)"))
                }
            }
        }
        return out
    }
}
