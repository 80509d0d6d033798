// DNALM.swift — DNA language modelling on genomes: causal next-base prediction, and masked-LM
// pretraining for bidirectional and RC-equivariant (Caduceus) models.
//
// Training stream: every record contributes  <eos> b_1 b_2 … b_n  (the <eos> marks the record
// boundary, so the model learns where sequences start). Evaluation scores each record on its own,
// from a fresh state, in chunks with the state carried over (a chromosome never runs as one window):
//
//   bits per base = − Σ_records Σ_i log₂ p(b_i | <eos>, b_1 … b_{i−1}) / Σ_records n
//
// Masked LM (Caduceus' recipe): 15 % of positions predicted, of them 80 % <mask>, 10 % a random base
// (A C G T), 10 % kept; held-out score = bits per masked base over windows of the training length cut
// from the held-out records, masked with a fixed seed (the same positions at every validation):
//
//   masked bits per base = − Σ_{masked i} log₂ p(b_i | x̃) / #masked
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

    // MARK: Masked LM

    /// The nucleotide tokenizer's complement map (A↔T, C↔G, the rest fixed) over a vocabulary of `vocabSize` ≥ 10
    /// ids (ids above the tokenizer's map to themselves), for an RC-equivariant model's `complement_map`.
    public static func complementMap(vocabSize: Int) -> [Int] {
        (0..<vocabSize).map { $0 < NucleotideTokenizer.complementID.count ? Int(NucleotideTokenizer.complementID[$0]) : $0 }
    }

    /// Caduceus' masking of DNA ids: <mask> 80 %, a random base of A C G T 10 %, kept 10 %.
    public static func masking(probability: Double = 0.15) -> MaskingScheme {
        MaskingScheme(maskToken: NucleotideTokenizer.mask, randomTokens: [NucleotideTokenizer.a, NucleotideTokenizer.c,
                      NucleotideTokenizer.g, NucleotideTokenizer.t], probability: probability)
    }

    /// Windows of `length` ids cut end to end from `records` (each record's bases; shorter remainders are dropped,
    /// a record shorter than `length` is one shorter window), at most `maxBases` bases in all.
    public static func windows(records: [[UInt8]], length: Int, maxBases: Int? = nil) -> [[Int32]] {
        let table = NucleotideTokenizer.table
        var out: [[Int32]] = [], bases = 0
        let limit = maxBases ?? Int.max
        for r in records where !r.isEmpty {
            var i = 0
            repeat {
                let n = min(length, r.count - i, limit - bases)
                guard n > 0 else { break }
                out.append(r[i..<(i + n)].map { table[Int($0)] })
                bases += n; i += n
            } while i + length <= r.count
            if bases >= limit { break }
        }
        return out
    }

    /// Masked-LM bits per base of a bidirectional or RC-equivariant `model` on `windows`, masked by `masking`
    /// with the generator seeded `seed`.
    public static func maskedEvaluate(model: MambaModel, windows: [[Int32]], masking: MaskingScheme, seed: UInt64 = 0x6D6C6D) throws -> Evaluation {
        guard !windows.isEmpty else { throw DataError.empty(path: "", what: "bases to score", kind: .dna) }
        let bs = max(1, min(32, 65536 / max(1, windows.map(\.count).max() ?? 1)))
        let r = try model.maskedLMLoss(windows: windows, masking: masking, seed: seed, batchSize: bs)
        return Evaluation(bases: r.count, records: windows.count, nll: r.lossSum / Double(max(1, r.count)))
    }

    // MARK: Evaluation

    public struct Evaluation: Sendable {
        /// Bases scored (for a masked LM: the masked positions).
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
