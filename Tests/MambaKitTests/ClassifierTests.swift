// ClassifierTests.swift — sequence classification: logits and every gradient against PyTorch float64
// autograd (mean/last pooling, unidirectional and BiMamba), padding invariance, checkpoints,
// fine-tuning from a language model, learning, metrics against the closed form.
import Foundation
import MambaKit
import XCTest

final class ClassifierTests: XCTestCase {
    static let fixtures = ["classifier_bidir_mean", "classifier_last"]

    struct Inputs: Decodable { var sequences: [[Int32]]; var labels: [Int] }

    func inputs(_ name: String) throws -> Inputs {
        try JSONDecoder().decode(Inputs.self, from: Data(contentsOf: Fixtures.dir(name).appendingPathComponent("inputs.json")))
    }

    /// Logits of a right-padded batch match the reference, which ran each sequence alone in float64.
    func testLogitsMatchPyTorch() throws {
        for name in Self.fixtures {
            let model = try MambaModel.load(directory: Fixtures.dir(name))
            XCTAssertEqual(model.config.numLabels, 3)
            let inp = try inputs(name)
            let got = try model.classifierLogits(inp.sequences, batchSize: 16).flatMap { $0 }
            let diff = maxAbsDiff(got, try Fixtures.expected(name, "logits"))
            print("[\(name)] pooling \(model.config.pooling) bidirectional \(model.config.bidirectional): max |Δlogit| \(diff)")
            XCTAssertLessThan(diff, 2e-5, name)
        }
    }

    /// Every gradient (backbone, reverse mixers, head) of the mean cross-entropy matches PyTorch.
    func testGradientsMatchPyTorch() throws {
        for name in Self.fixtures {
            let model = try MambaModel.load(directory: Fixtures.dir(name))
            let inp = try inputs(name)
            let examples = zip(inp.sequences, inp.labels).map { LabeledSequence(tokens: $0, label: $1) }
            let grads = FloatBuffer(count: model.parameters.count)
            let tape = TrainingTape(config: model.config)
            let (lossSum, _) = try model.accumulateClassificationGradient(examples, tape: tape, grads: grads,
                                                                          gradScale: 1 / Float(examples.count))
            let ref = try SafetensorsFile(url: Fixtures.dir(name).appendingPathComponent("expected.safetensors"))
            XCTAssertEqual(lossSum / Double(examples.count), Double(try ref.floats("loss")[0]), accuracy: 1e-5)
            var worst: (String, Float) = ("", 0)
            for s in model.layout.slices {
                let expected = try ref.floats("grad." + s.name)
                let scale = max(expected.map { abs($0) }.max() ?? 0, 1e-12)
                let rel = maxAbsDiff(Array(grads.slice(s.range)), expected) / scale
                if rel > worst.1 { worst = (s.name, rel) }
                XCTAssertLessThanOrEqual(rel, 1e-3, "\(name) \(s.name)")
            }
            XCTAssertEqual(model.layout.slices.contains { $0.name.contains("mixer_rev") }, model.config.bidirectional)
            print("[\(name)] classification gradients (\(model.layout.slices.count) tensors): max relative error \(worst.1) (\(worst.0))")
        }
    }

    /// A sequence's logits are the same alone and inside a padded batch with longer sequences, both
    /// directions, both poolings.
    func testPaddingDoesNotChangeResults() throws {
        for name in Self.fixtures {
            let model = try MambaModel.load(directory: Fixtures.dir(name))
            let seqs = try inputs(name).sequences
            let batched = try model.classifierLogits(seqs, batchSize: 16)
            var worst: Float = 0
            for (i, s) in seqs.enumerated() {
                let alone = try model.classifierLogits([s], batchSize: 1)[0]
                worst = max(worst, maxAbsDiff(alone, batched[i]))
            }
            print("[\(name)] alone vs padded batch: max |Δlogit| \(worst)")
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }

    /// A classifier checkpoint (config keys + head + reverse mixers) loads back to the same model.
    func testCheckpointRoundTrip() throws {
        let model = try MambaModel.load(directory: Fixtures.dir("classifier_bidir_mean"))
        let dir = temporaryDirectory(self)
        try model.save(to: dir)
        let back = try MambaModel.load(directory: dir)
        XCTAssertEqual(back.config, model.config)
        XCTAssertEqual(back.config.labels, ["class_0", "class_1", "class_2"])
        XCTAssertEqual(back.config.pooling, .mean)
        XCTAssertTrue(back.config.bidirectional)
        XCTAssertEqual(Array(back.parameters.buffer), Array(model.parameters.buffer))
        XCTAssertEqual(back.config.parameterCount, back.parameterCount)
    }

    /// makeClassifier keeps a language model's backbone (fine-tuning), adds a head and reverse mixers
    /// that start as copies of the forward ones; a bidirectional model refuses next-token training.
    func testMakeClassifierFromLanguageModel() throws {
        let lm = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 32, nLayer: 2, vocabSize: 10), seed: 3)
        let clf = lm.makeClassifier(labels: ["a", "b"], pooling: .last, bidirectional: true, seed: 4)
        XCTAssertEqual(clf.config.numLabels, 2)
        for s in lm.layout.slices where s.name != "lm_head.weight" {
            XCTAssertEqual(clf.tensor(s.name), lm.tensor(s.name), s.name)
        }
        XCTAssertEqual(clf.tensor("backbone.layers.1.mixer_rev.A_log"), lm.tensor("backbone.layers.1.mixer.A_log"))
        XCTAssertNotNil(clf.tensor("classifier.weight"))
        XCTAssertThrowsError(try Trainer(model: clf, tokens: [Int32](repeating: 1, count: 100), options: TrainingOptions()))
        XCTAssertThrowsError(try lm.classifierLogits([[1, 2]])) { XCTAssertEqual($0 as? ModelError, .notAClassifier) }
    }

    /// A small classifier learns a task that needs the whole sequence (does token 7 occur?) with
    /// variable lengths, and a checkpoint resumes the run.
    func testTrainingLearnsAndResumes() throws {
        var rng = SeededRandom(seed: 5)
        func example() -> LabeledSequence {
            let n = 8 + rng.below(17)
            var t = (0..<n).map { _ in Int32(1 + rng.below(6)) }
            let label = rng.below(2)
            if label == 1 { t[rng.below(n)] = 7 }
            return LabeledSequence(tokens: t, label: label)
        }
        let train = (0..<400).map { _ in example() }, test = (0..<200).map { _ in example() }
        for bidirectional in [false, true] {
            let base = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 32, nLayer: 2, vocabSize: 8), seed: 1)
            let model = base.makeClassifier(labels: ["no", "yes"], pooling: .mean, bidirectional: bidirectional, seed: 2)
            var o = TrainingOptions()
            o.seqLen = 64; o.batchSize = 16; o.steps = 200; o.threads = 2
            o.adamw.learningRate = 5e-3; o.adamw.weightDecay = 0; o.adamw.warmupSteps = 10
            let trainer = try Trainer(model: model, examples: train, options: o, source: "synthetic")
            for _ in 0..<200 { _ = try trainer.trainStep() }
            let logits = try model.classifierLogits(test.map(\.tokens))
            let predicted = logits.map { $0[1] > $0[0] ? 1 : 0 }
            let m = ClassificationMetrics(predicted: predicted, truth: test.map(\.label), labels: ["no", "yes"])
            print("[bidirectional \(bidirectional)] held-out accuracy after 200 steps \(m.accuracy), MCC \(m.mcc)")
            XCTAssertGreaterThan(m.accuracy, 0.85)   // chance is 0.5
        }
        // resume is exact
        let base = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 1, vocabSize: 8), seed: 1)
        var o = TrainingOptions()
        o.seqLen = 16; o.batchSize = 4; o.steps = 6; o.threads = 1
        let augment: (inout [Int32], inout SeededRandom) -> Void = { t, r in if r.below(2) == 1 { t.reverse() } }
        let a = try Trainer(model: base.makeClassifier(labels: ["no", "yes"], pooling: .last, bidirectional: true, seed: 2),
                            examples: train, options: o, augment: augment, source: "synthetic")
        for _ in 0..<3 { _ = try a.trainStep() }
        let dir = temporaryDirectory(self)
        try a.saveCheckpoint(to: dir)
        let b = try Trainer.resume(from: dir, examples: train, augment: augment, source: "synthetic")
        for _ in 0..<3 { _ = try a.trainStep(); _ = try b.trainStep() }
        XCTAssertEqual(Array(a.model.parameters.buffer), Array(b.model.parameters.buffer))
    }

    /// Labels outside the head and empty examples are refused with the example named.
    func testBadExamples() throws {
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 1, vocabSize: 8), seed: 1)
            .makeClassifier(labels: ["a", "b"], pooling: .mean, bidirectional: false, seed: 1)
        XCTAssertThrowsError(try Trainer(model: model, examples: [LabeledSequence(tokens: [1, 2], label: 2)],
                                         options: TrainingOptions(), source: "x.csv")) {
            XCTAssertEqual($0 as? ModelError, .labelOutOfRange(label: 2, example: 0, numLabels: 2))
        }
        XCTAssertThrowsError(try Trainer(model: model, examples: [LabeledSequence(tokens: [], label: 0)],
                                         options: TrainingOptions(), source: "x.csv")) {
            XCTAssertTrue("\($0)".contains("x.csv"))
        }
    }

    /// Metrics against hand-computed values.
    func testMetricsClosedForm() {
        // binary: TP = 3, TN = 4, FP = 1, FN = 2
        let truth: [Int] = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
        let pred: [Int] = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
        let m = ClassificationMetrics(predicted: pred, truth: truth, labels: ["neg", "pos"])
        XCTAssertEqual(m.confusion, [[4, 1], [2, 3]])
        XCTAssertEqual(m.accuracy, 0.7, accuracy: 1e-12)
        let mccBinary: Double = 10.0 / Double(600).squareRoot()   // (TP·TN − FP·FN) / sqrt(4·5·5·6)
        XCTAssertEqual(m.mcc, mccBinary, accuracy: 1e-12)
        XCTAssertEqual(m.f1, 6.0 / 9.0, accuracy: 1e-12)          // 2TP / (2TP + FP + FN)
        XCTAssertEqual(m.perClass["pos"]!, 0.6, accuracy: 1e-12)
        // three classes: R_K by its definition, F1 macro
        let t3: [Int] = [0, 0, 1, 1, 2, 2, 2]
        let p3: [Int] = [0, 1, 1, 1, 2, 0, 2]
        let m3 = ClassificationMetrics(predicted: p3, truth: t3, labels: ["a", "b", "c"])
        // c = 5, n = 7, t = (2, 2, 3), p = (2, 3, 2): (5·7 − (4 + 6 + 6)) / sqrt((49 − 17)(49 − 17))
        XCTAssertEqual(m3.mcc, 19.0 / 32.0, accuracy: 1e-12)
        let f1Macro: Double = (0.5 + 0.8 + 0.8) / 3   // per class 2TP/(2TP+FP+FN): 2/4, 4/5, 4/5
        XCTAssertEqual(m3.f1, f1Macro, accuracy: 1e-12)
        XCTAssertTrue(m3.json().contains("\"confusion\": [[1, 1, 0], [0, 2, 0], [1, 0, 2]]"))
    }
}
