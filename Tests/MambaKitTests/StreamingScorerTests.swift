// StreamingScorerTests.swift — the one streaming scorer (bits per byte / sample / base, state carried)
// against a naive full-sequence evaluation: one parallel pass over the whole sequence, log-softmax of
// every row in Double.
import Foundation
import MambaKit
import XCTest

final class StreamingScorerTests: XCTestCase {
    /// −Σ log p(x_t | x_<t) of each sequence from one unchunked pass, summed over sequences (the reference).
    func naiveNats(_ model: MambaModel, _ sequences: [[Int32]]) throws -> (nats: Double, count: Int) {
        let V = model.config.vocabSize
        var nats = 0.0, count = 0
        for q in sequences {
            let lg = try model.logits(tokens: Array(q.dropLast()))          // (n−1, V), one pass
            for t in 1..<q.count {
                let row = lg[((t - 1) * V)..<(t * V)].map(Double.init)
                let m = row.max()!
                let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
                nats -= row[Int(q[t])] - lse
                count += 1
            }
        }
        return (nats, count)
    }

    func testMatchesNaiveFullSequenceEvaluation() throws {
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 32, nLayer: 2, vocabSize: 40, dState: 8), seed: 6)
        var rng = SeededRandom(seed: 12)
        let sequences: [[Int32]] = [300, 2, 97, 513].map { n in (0..<n).map { _ in Int32(rng.below(40)) } }
        let ref = try naiveNats(model, sequences)
        var worst = 0.0
        for chunk in [1, 7, 64, 4096] {
            let whole = try StreamingScorer.score(model: model, sequences: sequences, chunkLength: chunk)
            XCTAssertEqual(whole.count, ref.count)
            XCTAssertEqual(whole.sequences, sequences.count)
            // the same sequences fed in pieces of random sizes (a FASTA record streamed in chunks)
            let s = try StreamingScorer(model: model, chunkLength: chunk)
            for q in sequences {
                try s.begin(context: q[0])
                var i = 1
                while i < q.count { let n = min(q.count - i, 1 + rng.below(90)); try s.feed(q[i..<(i + n)]); i += n }
            }
            let pieces = s.finish()
            let d = max(abs(whole.nats - ref.nats), abs(pieces.nats - ref.nats)) / ref.nats
            worst = max(worst, d)
            print(String(format: "  chunk %4d: naive %.9f nats, scorer %.9f, in pieces %.9f; max relative |Δ| %.2e",
                         chunk, ref.nats, whole.nats, pieces.nats, d))
            XCTAssertLessThan(d, 1e-5)
            XCTAssertEqual(pieces.count, ref.count)
        }
        print("StreamingScorer vs naive full-sequence evaluation: max relative |Δ nats| \(worst)")
        // the per-token figure and bits
        let s = try StreamingScorer.score(model: model, sequences: sequences)
        XCTAssertEqual(s.bitsPerToken, s.nats / Foundation.log(2.0) / Double(s.count), accuracy: 1e-12)
        XCTAssertEqual(s.bitsPer(2 * s.count), s.bitsPerToken / 2, accuracy: 1e-12)
    }

    /// A whole sequence runs exactly logProbs' chunks, so its sum is bit-identical to logProbs'.
    func testWholeSequenceIsBitIdenticalToLogProbs() throws {
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 20, dState: 4), seed: 2)
        var rng = SeededRandom(seed: 3)
        let q = (0..<700).map { _ in Int32(rng.below(20)) }
        for chunk in [5, 256, 1024] {
            let lp = try model.logProbs(tokens: q, chunkLength: chunk)
            let s = try StreamingScorer.score(model: model, sequences: [q], chunkLength: chunk)
            XCTAssertEqual(s.nats, -lp.reduce(0.0) { $0 + Double($1) })
            XCTAssertEqual(s.count, lp.count)
        }
    }

    func testRefusesFeedingBeforeBeginAndClassifiers() throws {
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 1, vocabSize: 8), seed: 1)
        let s = try StreamingScorer(model: model)
        XCTAssertThrowsError(try s.feed([Int32(1)])) { XCTAssertTrue("\($0)".contains("begin(context:)")) }
        try s.begin(context: 1)
        XCTAssertThrowsError(try s.feed([Int32(9)])) { XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(token: 9, position: 0, vocabSize: 8, source: nil)) }
        let clf = model.makeClassifier(labels: ["a", "b"], pooling: .mean, bidirectional: false, seed: 1)
        XCTAssertThrowsError(try StreamingScorer(model: clf)) { XCTAssertEqual($0 as? ModelError, .notALanguageModel) }
    }
}
