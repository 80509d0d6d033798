// SpeciesWindows.swift — windows of L bases from disjoint regions of genomes, for species
// classification (the Mamba paper's Great Apes task). Genomes are streamed twice (once to measure,
// once to cut), so only the windows are ever held in memory.
//
// Region syntax: `START:END`, fractions of the genome's length T (all records concatenated in file
// order): `0:0.8` is bases [0, 0.8·T), `0.8:1` the rest. Windows are cut at evenly spaced starts
// within the region, never overlapping, never crossing the region's end.
import Foundation
import MambaKit

/// A genome file and its class label (`label=path`, or a bare path labelled by its file name's stem).
public struct GenomeSource: Sendable, Equatable {
    public var label: String
    public var path: String
    public init(label: String, path: String) { self.label = label; self.path = path }

    /// Parses `label=path` or `path` (label: the file name up to its first dot, e.g. `human` for `human.fa.gz`).
    public init(argument: String) {
        if let eq = argument.firstIndex(of: "="), !argument[..<eq].contains("/") {
            label = String(argument[..<eq]); path = String(argument[argument.index(after: eq)...])
        } else {
            path = argument
            let name = (argument as NSString).lastPathComponent
            label = name.split(separator: ".").first.map(String.init) ?? name
        }
    }
}

/// A region `[start, end)` of a genome, as fractions of its length.
public struct GenomeRegion: Sendable, Equatable, CustomStringConvertible {
    public var start: Double
    public var end: Double

    public init(start: Double, end: Double) { self.start = start; self.end = end }

    /// Parses `START:END` with 0 ≤ START < END ≤ 1.
    public init(parsing spec: String) throws {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = Double(parts[0].trimmingCharacters(in: .whitespaces)),
              let b = Double(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw DNAError.badRegion(spec: spec, detail: "expected two numbers separated by ':'")
        }
        guard a >= 0, b <= 1, a < b else { throw DNAError.badRegion(spec: spec, detail: "need 0 ≤ START < END ≤ 1") }
        start = a; end = b
    }

    /// Base range of this region in a genome of `total` bases.
    public func bases(of total: Int) -> Range<Int> {
        let a = Int((start * Double(total)).rounded(.down)), b = Int((end * Double(total)).rounded(.down))
        return a..<max(a, b)
    }

    public func overlaps(_ o: GenomeRegion) -> Bool { start < o.end && o.start < end }

    public var description: String { "\(start):\(end)" }
}

public enum SpeciesWindows {
    /// Window start positions: `count` evenly spaced non-overlapping windows of `window` bases in `range`
    /// (all ⌊|range| / window⌋ back-to-back windows when `count` is 0 or at least that many).
    public static func starts(in range: Range<Int>, window: Int, count: Int) -> [Int] {
        let available = range.count / window
        guard available > 0 else { return [] }
        if count <= 0 || count >= available { return (0..<available).map { range.lowerBound + $0 * window } }
        let n = count
        if n == 1 { return [range.lowerBound] }
        let span = range.count - window   // last start - first start
        return (0..<n).map { range.lowerBound + Int((Double($0) * Double(span) / Double(n - 1)).rounded(.down)) }
    }

    /// Windows of `window` upper-case bases from `region` of the genome in `path` (records concatenated).
    /// - Parameter count: windows wanted (0 = all non-overlapping windows of the region).
    /// - Returns: the windows and the genome's total length.
    public static func windows(path: String, region: GenomeRegion, window: Int, count: Int) throws -> (windows: [[UInt8]], genomeLength: Int) {
        precondition(window > 0)
        let total = try SequenceReader.recordLengths(path: path).reduce(0) { $0 + $1.length }
        guard total > 0 else { throw DataError.empty(path: path, what: "sequence records", kind: .dna) }
        let range = region.bases(of: total)
        let s = starts(in: range, window: window, count: count)
        guard !s.isEmpty else {
            throw DataError.tooShort(path: path, count: range.count, need: window, unit: "bases in the region",
                                     hint: "that is fewer than one window; use a smaller --window or a larger region", kind: .dna)
        }
        var out = s.map { _ in [UInt8]() }
        for i in out.indices { out[i].reserveCapacity(window) }
        let reader = try SequenceReader(path: path)
        var pos = 0, next = 0          // genome position of the chunk's first base; first unfinished window
        while next < s.count, let c = try reader.nextChunk() {
            guard case .bases(let b) = c else { continue }
            let chunkEnd = pos + b.count
            var w = next
            while w < s.count, s[w] < chunkEnd {
                let lo = max(s[w], pos), hi = min(s[w] + window, chunkEnd)
                if lo < hi { out[w] += b[(lo - pos)..<(hi - pos)] }
                if s[w] + window <= chunkEnd { if w == next { next += 1 } }
                w += 1
            }
            pos = chunkEnd
        }
        return (out, total)
    }

    /// Labelled windows of several genomes: `count` windows of each genome's `region`.
    public static func dataset(genomes: [GenomeSource], region: GenomeRegion, window: Int, count: Int) throws -> [LabeledDNA] {
        var out: [LabeledDNA] = []
        for g in genomes {
            let (w, _) = try windows(path: g.path, region: region, window: window, count: count)
            out += w.enumerated().map { LabeledDNA(sequence: $0.element, label: g.label, origin: "\(g.path):window \($0.offset)") }
        }
        return out
    }

    /// Writes `examples` as CSV `sequence,label` (with a header) to `url`, atomically.
    public static func writeCSV(_ examples: [LabeledDNA], to url: URL) throws {
        var data = Data("sequence,label\n".utf8)
        data.reserveCapacity(examples.reduce(16) { $0 + $1.sequence.count + $1.label.utf8.count + 2 })
        for e in examples {
            data.append(contentsOf: e.sequence)
            data.append(UInt8(ascii: ","))
            data.append(contentsOf: Array(e.label.utf8))
            data.append(UInt8(ascii: "\n"))
        }
        do { try data.write(to: url, options: .atomic) } catch {
            throw DataError.writeFailed(path: url.path, reason: error.localizedDescription, kind: .dna)
        }
    }
}
