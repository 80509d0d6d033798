// RCEquivarianceTests.swift — Caduceus-PS (rcps): masked-LM and pooled-classifier logits and every gradient
// against a float64 PyTorch reference written from Caduceus' definition (Scripts/make_caduceus_fixtures.py);
// exact RC equivariance on random inputs and after training; BERT masking; sequence-length warm-up; errors.
import Foundation
import MambaDNA
import MambaKit
import XCTest

final class RCEquivarianceTests: XCTestCase {
    struct MLMInputs: Decodable { var inputs: [[Int32]]; var targets: [[Int32]] }
    struct ClsInputs: Decodable { var sequences: [[Int32]]; var labels: [Int] }

    func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: Fixtures.dir(name).appendingPathComponent("inputs.json")))
    }

    /// Right-pads `rows` with `pad` into (B, L), with their lengths.
    func padded(_ rows: [[Int32]], pad: Int32) -> ([Int32], Int, [Int]) {
        let L = rows.map(\.count).max()!
        return (rows.flatMap { $0 + [Int32](repeating: pad, count: L - $0.count) }, L, rows.map(\.count))
    }

    /// Worst relative gradient error over all tensors (each scaled by its largest reference value).
    func compareGradients(_ grads: FloatBuffer, layout: ParameterLayout, fixture: String, file: StaticString = #filePath, line: UInt = #line) throws -> (String, Float) {
        let ref = try SafetensorsFile(url: Fixtures.dir(fixture).appendingPathComponent("expected.safetensors"))
        var worst: (String, Float) = ("", 0)
        for s in layout.slices {
            let expected = try ref.floats("grad." + s.name)
            let scale = max(expected.map { abs($0) }.max() ?? 0, 1e-12)
            let rel = maxAbsDiff(Array(grads.slice(s.range)), expected) / scale
            if rel > worst.1 { worst = (s.name, rel) }
            XCTAssertLessThanOrEqual(rel, 1e-3, "\(fixture) \(s.name)", file: file, line: line)
        }
        return worst
    }

    // MARK: - Against PyTorch

    func testMaskedLMMatchesPyTorch() throws {
        let name = "caduceus_mlm"
        let model = try MambaModel.load(directory: Fixtures.dir(name))
        XCTAssertTrue(model.config.rcps && model.config.bidirectional)
        let inp = try decode(MLMInputs.self, name)
        let logits = try model.maskedLMLogits(inp.inputs, batchSize: 16).flatMap { $0 }
        let dLogits = maxAbsDiff(logits, try Fixtures.expected(name, "logits"))
        XCTAssertLessThan(dLogits, 2e-5)

        let (ids, _, lengths) = padded(inp.inputs, pad: 0)
        let (targets, _, _) = padded(inp.targets, pad: -1)
        let count = targets.filter { $0 >= 0 }.count
        let grads = FloatBuffer(count: model.parameters.count)
        let r = try model.accumulateMaskedLMGradient(inputs: ids, targets: targets, batch: inp.inputs.count, lengths: lengths,
                                                     tape: TrainingTape(config: model.config), grads: grads, gradScale: 1 / Float(count))
        XCTAssertEqual(r.count, count)
        let loss = r.lossSum / Double(count), refLoss = Double(try Fixtures.expected(name, "loss")[0])
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5)
        let worst = try compareGradients(grads, layout: model.layout, fixture: name)
        print("[\(name)] RC-equivariant masked LM: max |Δlogit| \(dLogits), loss \(loss) vs \(refLoss); gradients of \(model.layout.slices.count) tensors: max relative error \(worst.1) (\(worst.0))")
    }

    func testPooledClassifierMatchesPyTorch() throws {
        let name = "caduceus_cls"
        let model = try SequenceClassifier.load(directory: Fixtures.dir(name))
        XCTAssertTrue(model.backboneConfig.rcps && model.head.bidirectional)
        let inp = try decode(ClsInputs.self, name)
        let logits = try model.logits(tokens: inp.sequences, batchSize: 16).flatMap { $0 }
        let dLogits = maxAbsDiff(logits, try Fixtures.expected(name, "logits"))
        XCTAssertLessThan(dLogits, 2e-5)
        let examples = zip(inp.sequences, inp.labels).map { LabeledSequence(tokens: $0, label: $1) }
        let grads = FloatBuffer(count: model.parameters.count)
        let r = try model.accumulateGradient(examples, tape: model.makeTape(), grads: grads, gradScale: 1 / Float(examples.count))
        XCTAssertEqual(r.lossSum / Double(examples.count), Double(try Fixtures.expected(name, "loss")[0]), accuracy: 1e-5)
        let worst = try compareGradients(grads, layout: model.layout, fixture: name)
        print("[\(name)] RC-invariant pooled classifier: max |Δlogit| \(dLogits); gradients of \(model.layout.slices.count) tensors: max relative error \(worst.1) (\(worst.0))")
    }

    // MARK: - Equivariance

    static let comp = NucleotideTokenizer.complementID.map(Int.init)

    func rcpsConfig(bidirectional: Bool = true) -> MambaConfig {
        var c = MambaConfig(dModel: 16, nLayer: 2, vocabSize: 10, dState: 4)
        c.bidirectional = bidirectional; c.rcps = true; c.complementMap = Self.comp
        return c
    }

    func randomBases(_ n: Int, _ rng: inout SeededRandom) -> [Int32] { (0..<n).map { _ in Int32(5 + rng.below(5)) } }

    /// Max over sequences of |logits(rc(x))[i, v] − logits(x)[len−1−i, comp(v)]|.
    func lmEquivarianceError(_ m: MambaModel, _ seqs: [[Int32]]) throws -> Float {
        let f = try m.maskedLMLogits(seqs), r = try m.maskedLMLogits(seqs.map(NucleotideTokenizer.reverseComplement))
        var worst: Float = 0
        for (a, b) in zip(f, r) {
            let n = a.count / 10
            for i in 0..<n { for v in 0..<10 { worst = max(worst, abs(b[i * 10 + v] - a[(n - 1 - i) * 10 + Self.comp[v]])) } }
        }
        return worst
    }

    func testEquivarianceOnRandomInputsAndAfterTraining() throws {
        let m = try MambaModel.randomlyInitialised(config: rcpsConfig(), seed: 7)
        var rng = SeededRandom(seed: 3)
        let seqs = [13, 5, 21, 8].map { randomBases($0, &rng) }
        let before = try lmEquivarianceError(m, seqs)

        // hidden states (B, L, 2D) in Caduceus' layout: hidden(rc(x)) = flip of length and channels of hidden(x)
        let x = seqs[2], D = 16, L = x.count
        let h = try m.backbone.hiddenStates(tokens: x), hr = try m.backbone.hiddenStates(tokens: NucleotideTokenizer.reverseComplement(x))
        var dHidden: Float = 0
        for i in 0..<L { for c in 0..<(2 * D) { dHidden = max(dHidden, abs(hr[i * 2 * D + c] - h[(L - 1 - i) * 2 * D + (2 * D - 1 - c)])) } }
        // an asymmetric model gives different outputs for x and rc(x): the check is not vacuous
        let plain = try m.maskedLMLogits([x])[0], plainRC = try m.maskedLMLogits([NucleotideTokenizer.reverseComplement(x)])[0]
        XCTAssertGreaterThan(maxAbsDiff(plain, plainRC), 1e-3)

        // train a few masked-LM steps, then check again
        var o = TrainingOptions(); o.seqLen = 32; o.batchSize = 4; o.steps = 4; o.threads = 1; o.adamw.learningRate = 1e-2
        let stream = (0..<2000).map { _ in Int32(5 + rng.below(4)) }
        let masking = MaskingScheme(maskToken: NucleotideTokenizer.mask, randomTokens: [5, 6, 7, 8])
        let trainer = try Trainer(objective: MaskedLMObjective(model: m, tokens: stream, seqLen: 32, masking: masking), options: o)
        let start = m.parameters.array
        for _ in 0..<4 { _ = try trainer.trainStep() }
        XCTAssertNotEqual(m.parameters.array, start)
        let after = try lmEquivarianceError(m, seqs)
        print("RC equivariance (rcps BiMamba, D=16, 2 layers): masked-LM logits max error \(before) before, \(after) after 4 training steps; hidden states \(dHidden)")
        XCTAssertLessThanOrEqual(before, 1e-5); XCTAssertLessThanOrEqual(after, 1e-5); XCTAssertLessThanOrEqual(dHidden, 1e-5)
    }

    /// An RC-equivariant classifier is RC-invariant, so test-time RC averaging changes none of its predictions.
    func testClassifierIsInvariantAndRCAveragingChangesNothing() throws {
        for bidirectional in [true, false] {
            let c = try SequenceClassifier.randomlyInitialised(
                backbone: rcpsConfig(bidirectional: bidirectional),
                head: ClassifierConfig(labels: ["a", "b", "c"], pooling: .mean, bidirectional: bidirectional, input: .tokens(vocabSize: 10)), seed: 5)
            // a sharper, centred head, so that a random classifier predicts several classes
            let w = c.layout.slice(named: "classifier.weight")!, bias = c.layout.slice(named: "classifier.bias")!
            for i in w.range { c.parameters.pointer[i] *= 200 }
            var rng = SeededRandom(seed: 9)
            let seqs: [[Int32]] = (0..<40).map { _ in   // base composition varies between sequences
                let gc = rng.uniform()
                return (0..<(6 + rng.below(30))).map { _ in rng.uniform() < gc ? Int32(6 + rng.below(2)) : (rng.below(2) == 0 ? 5 : 8) }
            }
            let raw = try c.logits(tokens: seqs)
            for k in 0..<3 { c.parameters.pointer[bias.offset + k] -= raw.map { $0[k] }.reduce(0, +) / Float(raw.count) }
            let f = try c.logits(tokens: seqs), r = try c.logits(tokens: seqs.map(NucleotideTokenizer.reverseComplement))
            // relative to the logits' scale: the two streams are summed in the other order for rc(x)
            let d = maxAbsDiff(f.flatMap { $0 }, r.flatMap { $0 }) / max(1, f.flatMap { $0 }.map(abs).max()!)
            let plain = try DNAClassifier.predict(model: c, sequences: seqs, rcAverage: false)
            let averaged = try DNAClassifier.predict(model: c, sequences: seqs, rcAverage: true)
            let pf = try DNAClassifier.probabilities(model: c, sequences: seqs, rcAverage: false).flatMap { $0 }
            let pa = try DNAClassifier.probabilities(model: c, sequences: seqs, rcAverage: true).flatMap { $0 }
            print("rcps classifier (bidirectional \(bidirectional)): max |logit(x) − logit(rc(x))| / max |logit| \(d); RC averaging changed \(zip(plain, averaged).filter { $0 != $1 }.count) of \(seqs.count) predictions, max |Δp| \(maxAbsDiff(pf, pa))")
            XCTAssertLessThanOrEqual(d, 1e-6)
            XCTAssertEqual(plain, averaged)
            XCTAssertGreaterThan(Set(plain).count, 1, "a classifier that predicts one class would make the check vacuous")
        }
    }

    // MARK: - Masking and warm-up

    func testMaskingScheme() {
        let s = MaskingScheme(maskToken: 3, randomTokens: [5, 6, 7, 8])
        var rng = SeededRandom(seed: 1), again = SeededRandom(seed: 1)
        var masked = 0, random = 0, kept = 0, predicted = 0
        let tokens: [Int32] = (0..<200).map { Int32(5 + $0 % 4) }
        for trial in 0..<200 {
            let (inp, tgt) = s.apply(tokens[...], random: &rng)
            if trial == 0 { XCTAssertEqual(s.apply(tokens[...], random: &again).inputs, inp) }   // same seed → same masks
            XCTAssertEqual(tgt.filter { $0 >= 0 }.count, 30)                               // round(0.15 · 200)
            for i in 0..<200 {
                if tgt[i] < 0 { XCTAssertEqual(inp[i], tokens[i]); continue }
                XCTAssertEqual(tgt[i], tokens[i])
                predicted += 1
                if inp[i] == 3 { masked += 1 } else if inp[i] == tokens[i] { kept += 1 } else { random += 1 }
            }
        }
        // random replacements may draw the same token (¼ of them): kept ≈ 0.1 + 0.025, random ≈ 0.075
        let n = Double(predicted)
        for (count, p, what) in [(masked, 0.8, "mask"), (random, 0.075, "random"), (kept, 0.125, "kept")] {
            let sigma = (n * p * (1 - p)).squareRoot()
            print("masking: \(what) \(count) of \(predicted) (expected \(Int(n * p)) ± \(Int(sigma)))")
            XCTAssertLessThan(abs(Double(count) - n * p), 4 * sigma, what)
        }
        XCTAssertEqual(s.predicted(count: 3), 1)
        XCTAssertNotNil(MaskingScheme(maskToken: 3, randomTokens: [], probability: 0.15).problem)
    }

    func testLengthWarmupScheduleAndResume() throws {
        let w = LengthWarmup(startLength: 16, stageSteps: 2)
        let stages = (0..<9).map { w.stage(step: $0, seqLen: 64, batchSize: 2) }
        XCTAssertEqual(stages.map(\.length), [16, 16, 32, 32, 64, 64, 64, 64, 64])
        XCTAssertEqual(stages.map(\.batch), [8, 8, 4, 4, 2, 2, 2, 2, 2])
        XCTAssertTrue(stages.allSatisfy { $0.length * $0.batch == 128 })
        XCTAssertNotNil(w.problem(seqLen: 8))

        // next-token (causal) and masked-LM (rcps) runs with warm-up, killed and resumed: bit-identical
        var rng = SeededRandom(seed: 4)
        let stream = (0..<3000).map { _ in Int32(5 + rng.below(4)) }
        var o = TrainingOptions(); o.seqLen = 64; o.batchSize = 2; o.steps = 6; o.threads = 1; o.lengthWarmup = w
        let masking = MaskingScheme(maskToken: 3, randomTokens: [5, 6, 7, 8])
        for rcps in [false, true] {
            func fresh() throws -> Trainer {
                let m = try MambaModel.randomlyInitialised(config: rcps ? rcpsConfig() : MambaConfig(dModel: 16, nLayer: 2, vocabSize: 10, dState: 4), seed: 2)
                return rcps ? try Trainer(objective: MaskedLMObjective(model: m, tokens: stream, seqLen: 64, masking: masking), options: o)
                            : try Trainer(model: m, tokens: stream, options: o)
            }
            let straight = try fresh()
            var tokensPerStep: [Int] = []
            for _ in 0..<6 { tokensPerStep.append(try straight.trainStep().tokens) }
            XCTAssertEqual(Set(tokensPerStep), [128], "tokens per step stay B·L through the stages")
            let dir = temporaryDirectory(self)
            let first = try fresh()
            for _ in 0..<3 { _ = try first.trainStep() }
            try first.saveCheckpoint(to: dir)
            let resumed = rcps
                ? try Trainer.resume(from: dir) { ck, _ in try MaskedLMObjective(model: MambaModel.load(directory: ck), tokens: stream, seqLen: 64, masking: masking) }
                : try Trainer.resume(from: dir, tokens: stream)
            XCTAssertEqual(resumed.options.lengthWarmup, w)
            while resumed.step < 6 { _ = try resumed.trainStep() }
            XCTAssertEqual(resumed.model.parameters.array, straight.model.parameters.array, "rcps \(rcps)")
        }
    }

    // MARK: - Errors

    func testErrorsNameTheProblem() throws {
        let dir = temporaryDirectory(self)
        func write(_ extra: String) throws -> String {
            let json = #"{"model_type": "mamba", "hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 10, "bidirectional": true"# + extra + "}"
            try json.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            do { _ = try MambaConfig.load(from: dir); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(try write(#", "rcps": true"#).contains("complement_map"))
        XCTAssertTrue(try write(#", "rcps": true, "complement_map": {"5": 8}"#).contains("involution"))
        XCTAssertTrue(try write(#", "rcps": true, "complement_map": {"5": 12, "12": 5}"#).contains("outside the vocabulary"))
        XCTAssertEqual(try write(#", "rcps": true, "complement_map": {"5": 8, "8": 5, "6": 7, "7": 6}"#), "")

        let m = try MambaModel.randomlyInitialised(config: rcpsConfig(), seed: 1)
        XCTAssertThrowsError(try m.step([5], state: m.makeState())) { XCTAssertTrue("\($0)".contains("causal"), "\($0)") }
        var o = TrainingOptions(); o.seqLen = 16
        XCTAssertThrowsError(try Trainer(model: m, tokens: [Int32](repeating: 5, count: 100), options: o)) {
            XCTAssertTrue("\($0)".contains("masked-LM"), "\($0)")
        }
        let causal = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 8, nLayer: 1, vocabSize: 10), seed: 1)
        XCTAssertThrowsError(try MaskedLMObjective(model: causal, tokens: [Int32](repeating: 5, count: 100), seqLen: 16,
                                                   masking: MaskingScheme(maskToken: 3, randomTokens: [5]))) {
            XCTAssertTrue("\($0)".contains("both directions"), "\($0)")
        }
        // a chunk after the first is refused: the second stream needs the sequence's end
        let st = m.makeState()
        _ = try m.backbone.hiddenStates(tokens: [5, 6, 7], state: st)
        XCTAssertThrowsError(try m.backbone.hiddenStates(tokens: [5], state: st)) { XCTAssertTrue("\($0)".contains("whole"), "\($0)") }
    }
}
