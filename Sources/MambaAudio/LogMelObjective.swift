// LogMelObjective.swift — clip classification on normalised log-mel frames with SpecAugment-style
// augmentation, for a feature-input SequenceClassifier.
//
// Each micro-batch draws batch-size examples X (L, F) with replacement, then per example:
//   crop:      L > seq-len → a random window of seq-len frames
//   mel warp:  X ← VTLP(X, α),                α ~ U(1 − W, 1 + W)  (MelWarp.swift)
//   time mask: X[t0 ..< t0 + w, :] = 0,   w ~ U{0 … min(T, ⌊L/4⌋)}, t0 ~ U{0 … L − w}
//   band mask: X[:, f0 ..< f0 + h] = 0,   h ~ U{0 … min(B, F)},      f0 ~ U{0 … F − h}
//   gain:      X += g,                    g ~ U(−G, G)   (a louder or quieter clip: ln-energy shifts
//                                                         by g·σ_m in every band m)
// 0 is each band's training mean, so a mask fills with the mean. W = 0, T = 0, B = 0, G = 0 switch a part off
// (then it draws nothing). One loss term per example; loss = Σ −log softmax(logit)[label].
import Foundation
import MambaKit

/// The augmentation of ``LogMelObjective``: W, T, B, G above.
public struct LogMelAugmentation: Equatable, Sendable {
    /// W: the warp factor α is drawn from U(1 − W, 1 + W); 0 = off.
    public var melWarp: Double
    /// The band geometry of the warp (needed when W > 0).
    public var warp: MelWarp?
    /// T: at most this many consecutive frames masked (and at most a quarter of the clip).
    public var timeMask: Int
    /// B: at most this many consecutive bands masked.
    public var bandMask: Int
    /// G: the gain's half-range, in normalised log-mel units.
    public var gain: Float
    public init(timeMask: Int = 10, bandMask: Int = 0, gain: Float = 0.3, melWarp: Double = 0, warp: MelWarp? = nil) {
        precondition(melWarp == 0 || warp != nil, "a mel warp needs the band geometry")
        self.timeMask = timeMask; self.bandMask = bandMask; self.gain = gain; self.melWarp = melWarp; self.warp = warp
    }
    /// No augmentation.
    public static let none = LogMelAugmentation(timeMask: 0, bandMask: 0, gain: 0)

    /// Augments one example of `F` bands in place, drawing from `random`.
    public func apply(_ x: inout [Float], bands F: Int, random: inout SeededRandom) {
        let steps = x.count / F
        if melWarp > 0, let w = warp {
            w.apply(&x, alpha: 1 + (Double(random.uniform()) * 2 - 1) * melWarp)
        }
        if timeMask > 0 {
            let width = random.below(min(timeMask, steps / 4) + 1)
            let start = random.below(steps - width + 1)
            for i in (start * F)..<((start + width) * F) { x[i] = 0 }
        }
        if bandMask > 0 {
            let h = random.below(min(bandMask, F) + 1)
            let f0 = random.below(F - h + 1)
            for t in 0..<steps { for m in f0..<(f0 + h) { x[t * F + m] = 0 } }
        }
        if gain > 0 {
            let g = (random.uniform() * 2 - 1) * gain
            for i in x.indices { x[i] += g }
        }
    }
}

/// Classification of log-mel frames (``LabeledFeatures``, (L, F) each) with ``LogMelAugmentation``.
public final class LogMelObjective: TrainingObjective {
    public let classifier: SequenceClassifier
    public let examples: [LabeledFeatures]
    public let augmentation: LogMelAugmentation
    let bands: Int
    let tape: TrainingTape
    public var model: any TrainableModel { classifier }

    /// - Throws: ``MambaKit/TrainingError/invalidOptions(_:)`` naming `source` for a token-input
    ///   classifier, no examples, or an example that is not whole finite frames;
    ///   ``MambaKit/ModelError/labelOutOfRange(label:example:numLabels:)``.
    public init(model: SequenceClassifier, examples: [LabeledFeatures], augmentation: LogMelAugmentation, source: String) throws {
        guard case .features(let F) = model.head.input else {
            throw TrainingError.invalidOptions("\(source): the classifier reads token ids, not log-mel frames")
        }
        guard !examples.isEmpty else { throw TrainingError.invalidOptions("\(source): no labelled examples to train on") }
        for (i, e) in examples.enumerated() {
            if e.label < 0 || e.label >= model.labels.count {
                throw ModelError.labelOutOfRange(label: e.label, example: i, numLabels: model.labels.count)
            }
            if e.features.isEmpty || e.features.count % F != 0 {
                throw TrainingError.invalidOptions("\(source): example \(i) has \(e.features.count) values, not a positive multiple of \(F) bands")
            }
            if let j = e.features.firstIndex(where: { !$0.isFinite }) {
                throw TrainingError.invalidOptions("\(source): example \(i) has a non-finite feature at value \(j)")
            }
        }
        classifier = model; self.examples = examples; self.augmentation = augmentation; bands = F
        tape = model.makeTape()
    }

    public func lossTerms(options o: TrainingOptions) -> Int { o.batchSize }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float) throws -> ObjectiveResult {
        try accumulate(options: o, random: &random, grads: grads, scale: scale, shard: .whole)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float, shard: BatchShard) throws -> ObjectiveResult {
        let F = bands
        let batch: [LabeledFeatures] = shard.slice((0..<o.batchSize).map { _ in
            var e = examples[random.below(examples.count)]
            let steps = e.features.count / F
            if steps > o.seqLen {
                let start = random.below(steps - o.seqLen + 1)
                e.features = Array(e.features[(start * F)..<((start + o.seqLen) * F)])
            }
            augmentation.apply(&e.features, bands: F, random: &random)
            return e
        })
        guard !batch.isEmpty else { return ObjectiveResult(lossSum: 0, tokens: 0, correct: 0) }
        let r = try classifier.accumulateGradient(batch, tape: tape, grads: grads, gradScale: scale)
        return ObjectiveResult(lossSum: r.lossSum, tokens: batch.reduce(0) { $0 + $1.features.count / F }, correct: r.correct)
    }
}
