// DNALM.swift — causal next-base language modelling on genomes.
//
// Training stream: every record contributes  <eos> b_1 b_2 … b_n  (the <eos> marks the record
// boundary, so the model learns where sequences start). Evaluation scores each record on its own,
// from a fresh state, in chunks with the state carried over (a chromosome never runs as one window):
//
//   bits per base = − Σ_records Σ_i log₂ p(b_i | <eos>, b_1 … b_{i−1}) / Σ_records n
import Foundation
import MambaKit

public enum DNALM {
    // MARK: Data

    /// The training token stream of the FASTA/FASTQ files at `paths` (streamed; at most `maxBases` bases).
    public static func tokenStream(paths: [String], maxBases: Int? = nil) throws -> [Int32] {
        var out: [Int32] = []
        let table = NucleotideTokenizer.table
        let limit = maxBases ?? Int.max
        var bases = 0
        for p in paths {
            let r = try SequenceReader(path: p)
            while bases < limit, let c = try r.nextChunk() {
                switch c {
                case .header: out.append(NucleotideTokenizer.eos)
                case .bases(let b):
                    let take = min(b.count, limit - bases)
                    for i in 0..<take { out.append(table[Int(b[i])]) }
                    bases += take
                }
            }
        }
        return out
    }

    // MARK: Evaluation

    public struct Evaluation: Sendable {
        public var bases: Int
        public var records: Int
        /// Mean negative log-likelihood per base (nats).
        public var nll: Double
        public var bitsPerBase: Double { nll / log(2) }
    }

    /// Scores bases streamed from a source (``StreamingScorer``): `next()` gives the next chunk (a new
    /// record starts at `.header`). State is carried across chunks within a record.
    static func evaluate(model: MambaModel, chunkLength: Int, maxBases: Int?, next: () throws -> SequenceChunk?) throws -> Evaluation {
        let table = NucleotideTokenizer.table
        let scorer = try StreamingScorer(model: model, chunkLength: chunkLength)
        var begun = false, bases = 0
        let limit = maxBases ?? Int.max
        var ids: [Int32] = []
        outer: while bases < limit, let c = try next() {
            switch c {
            case .header:
                try scorer.begin(context: NucleotideTokenizer.eos)
                begun = true
            case .bases(let b):
                guard begun else { continue }
                let n = min(b.count, limit - bases)
                ids.removeAll(keepingCapacity: true)
                for i in 0..<n { ids.append(table[Int(b[i])]) }
                try scorer.feed(ids)
                bases += n
                if bases >= limit { break outer }
            }
        }
        let s = scorer.finish()
        guard s.count > 0 else { throw DataError.empty(path: "", what: "bases to score", kind: .dna) }
        return Evaluation(bases: s.count, records: s.sequences, nll: s.meanNats)
    }

    /// Bits per base of `model` on the FASTA/FASTQ files at `paths`, streamed (state carried across
    /// chunks of `chunkLength` bases within each record).
    public static func evaluate(model: MambaModel, paths: [String], chunkLength: Int = 4096, maxBases: Int? = nil) throws -> Evaluation {
        var readers = try paths.map { try SequenceReader(path: $0) }
        do {
            return try evaluate(model: model, chunkLength: chunkLength, maxBases: maxBases) {
                while let r = readers.first {
                    if let c = try r.nextChunk() { return c }
                    readers.removeFirst()
                }
                return nil
            }
        } catch DataError.empty(_, let what, let kind) {
            throw DataError.empty(path: paths.joined(separator: ", "), what: what, kind: kind)
        }
    }

    /// Bits per base on in-memory records (upper-case bases).
    public static func evaluate(model: MambaModel, records: [[UInt8]], chunkLength: Int = 4096, maxBases: Int? = nil) throws -> Evaluation {
        var chunks: [SequenceChunk] = []
        for r in records where !r.isEmpty { chunks.append(.header(name: "", description: "", line: 0)); chunks.append(.bases(r)) }
        var k = 0
        return try evaluate(model: model, chunkLength: chunkLength, maxBases: maxBases) {
            defer { k += 1 }
            return k < chunks.count ? chunks[k] : nil
        }
    }
}
