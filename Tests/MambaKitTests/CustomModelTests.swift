// CustomModelTests.swift — a model composed from layers on continuous input features
// (InputProjection → MambaBlocks → norm_f → PooledHead): logits, every gradient and the input
// gradient against PyTorch float64 autograd (Scripts/make_custom_fixtures.py), padding invariance,
// save/load, learning and exact resume through a TrainingObjective; the public hidden-state
// boundary against the model's own forward.
import Foundation
import MambaKit
import XCTest

final class CustomModelTests: XCTestCase {
    static let fixtures = ["custom_features_mean", "custom_features_bidir_last"]

    struct Spec: Decodable {
        var d_model: Int, n_layer: Int, d_state: Int, expand: Int, d_conv: Int, dt_rank: Int, d_inner: Int
        var features: Int, num_labels: Int, pooling: String, bidirectional: Bool, layer_norm_epsilon: Float
        var labels: [Int], lengths: [Int]
    }

    func load(_ name: String) throws -> (SequenceClassifier, Spec, [[Float]]) {
        let dir = Fixtures.dir(name)
        let spec = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: dir.appendingPathComponent("spec.json")))
        let config = MambaConfig(dModel: spec.d_model, nLayer: spec.n_layer, vocabSize: 1, dState: spec.d_state,
                                 dConv: spec.d_conv, expand: spec.expand, dInner: spec.d_inner, dtRank: spec.dt_rank,
                                 layerNormEpsilon: spec.layer_norm_epsilon)
        let head = ClassifierConfig(labels: (0..<spec.num_labels).map { "class_\($0)" }, pooling: Pooling(rawValue: spec.pooling)!,
                                    bidirectional: spec.bidirectional, input: .features(spec.features))
        let model = SequenceClassifier(backbone: config, head: head)
        try model.layout.read(from: SafetensorsCheckpoint(directory: dir), directory: dir, into: model.parameters)
        model.refreshDerived()
        let inputs = try SafetensorsFile(url: dir.appendingPathComponent("inputs.safetensors"))
        let features = try spec.lengths.indices.map { try inputs.floats("features.\($0)") }
        return (model, spec, features)
    }

    /// Logits of a right-padded batch match the reference, which ran each example alone in float64.
    func testLogitsMatchPyTorch() throws {
        for name in Self.fixtures {
            let (model, _, features) = try load(name)
            let got = try model.logits(features: features).flatMap { $0 }
            let ref = try SafetensorsFile(url: Fixtures.dir(name).appendingPathComponent("expected.safetensors"))
            let diff = maxAbsDiff(got, try ref.floats("logits"))
            print("[\(name)] features → logits: max |Δlogit| \(diff)")
            XCTAssertLessThan(diff, 2e-5, name)
        }
    }

    /// Every parameter gradient and the gradient w.r.t. the input features match PyTorch.
    func testGradientsMatchPyTorch() throws {
        for name in Self.fixtures {
            let (model, spec, features) = try load(name)
            let examples = zip(features, spec.labels).map { LabeledFeatures(features: $0, label: $1) }
            let grads = FloatBuffer(count: model.parameters.count)
            var dFeatures: [[Float]] = []
            let (lossSum, _) = try model.accumulateGradient(examples, tape: model.makeTape(), grads: grads,
                                                            gradScale: 1 / Float(examples.count), dFeatures: &dFeatures)
            let ref = try SafetensorsFile(url: Fixtures.dir(name).appendingPathComponent("expected.safetensors"))
            XCTAssertEqual(lossSum / Double(examples.count), Double(try ref.floats("loss")[0]), accuracy: 1e-5)
            var worst: (String, Float) = ("", 0)
            func check(_ label: String, _ got: [Float], _ expected: [Float]) {
                let top = expected.map { abs($0) }.max() ?? 0
                // relative to the tensor's largest entry; a structurally zero gradient is checked absolutely
                let err = top > 0 ? maxAbsDiff(got, expected) / top : maxAbsDiff(got, expected)
                if err > worst.1 { worst = (label, err) }
                XCTAssertLessThanOrEqual(err, top > 0 ? 1e-3 : 1e-6, "\(name) \(label)")
            }
            for s in model.layout.slices { check(s.name, Array(grads.slice(s.range)), try ref.floats("grad." + s.name)) }
            for i in features.indices { check("features.\(i)", dFeatures[i], try ref.floats("grad.features.\(i)")) }
            print("[\(name)] gradients (\(model.layout.slices.count) tensors + \(features.count) inputs): max relative error \(worst.1) (\(worst.0))")
        }
    }

    /// An example's logits are the same alone and in a padded batch; save → load gives the same model.
    func testPaddingAndSaveLoad() throws {
        for name in Self.fixtures {
            let (model, _, features) = try load(name)
            let batched = try model.logits(features: features)
            var worst: Float = 0
            for (i, f) in features.enumerated() { worst = max(worst, maxAbsDiff(try model.logits(features: [f])[0], batched[i])) }
            print("[\(name)] alone vs padded batch: max |Δlogit| \(worst)")
            XCTAssertLessThan(worst, 1e-5)
            let dir = temporaryDirectory(self)
            try model.save(to: dir)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("classifier.json").path))
            let back = try SequenceClassifier.load(directory: dir)
            XCTAssertEqual(back.head, model.head)
            XCTAssertEqual(Array(back.parameters.buffer), Array(model.parameters.buffer))
            XCTAssertEqual(try back.logits(features: features), batched)
        }
    }

    /// The public boundary: Backbone.hiddenStates + backward equals what the classifier computes.
    func testHiddenStateBoundary() throws {
        let (model, spec, features) = try load("custom_features_mean")
        let F = spec.features
        let x = features[0], L = x.count / F
        let h = try model.backbone.hiddenStates(features: x)
        XCTAssertEqual(h.count, L * spec.d_model)
        // mean pooling + head by hand from the public hidden states
        let W = model.tensor("classifier.weight")!, b = model.tensor("classifier.bias")!
        let D = spec.d_model
        let pooled = (0..<D).map { i in (0..<L).reduce(Float(0)) { $0 + h[$1 * D + i] } / Float(L) }
        let logits = (0..<spec.num_labels).map { k in (0..<D).reduce(b[k]) { $0 + W[k * D + $1] * pooled[$1] } }
        let diff = maxAbsDiff(logits, try model.logits(features: [x])[0])
        print("hidden-state boundary: logits from public hidden states vs classifier: max |Δ| \(diff)")
        XCTAssertLessThan(diff, 1e-5)
        // backward from dHidden = ∂(Σ h)/∂h = 1 gives the gradient of Σ h; compare with a finite difference in
        // one input_proj bias entry (Σ h is smooth; float32, so a loose tolerance)
        let tape = model.makeTape(), grads = FloatBuffer(count: model.parameters.count)
        _ = try model.backbone.hiddenStates(features: x, tape: tape)
        x.withUnsafeBufferPointer { model.backbone.backward(dHidden: [Float](repeating: 1, count: L * D), input: .features($0), tape: tape, gradients: grads) }
        let off = model.layout.slice(named: "input_proj.bias")!.offset + 3
        let eps: Float = 1e-2, p0 = model.parameters[off]
        func total() throws -> Double { try model.backbone.hiddenStates(features: x).reduce(0.0) { $0 + Double($1) } }
        model.parameters[off] = p0 + eps; let up = try total()
        model.parameters[off] = p0 - eps; let down = try total()
        model.parameters[off] = p0
        let fd = (up - down) / Double(2 * eps)
        print("hidden-state boundary: d(Σh)/d input_proj.bias[3] backward \(grads[off]) vs central difference \(fd)")
        XCTAssertEqual(Double(grads[off]), fd, accuracy: 2e-2 * max(1, abs(fd)))
    }

    /// A small feature classifier learns a task that needs the whole sequence, and resumes exactly.
    func testTrainingLearnsAndResumes() throws {
        var rng = SeededRandom(seed: 9)
        let F = 3
        func example() -> LabeledFeatures {   // class 1: one step somewhere has a large first feature
            let n = 6 + rng.below(10)
            var x = (0..<(n * F)).map { _ in rng.normal() * 0.5 }
            let label = rng.below(2)
            if label == 1 { x[rng.below(n) * F] = 4 }
            return LabeledFeatures(features: x, label: label)
        }
        let train = (0..<300).map { _ in example() }, test = (0..<200).map { _ in example() }
        let config = MambaConfig(dModel: 16, nLayer: 2, vocabSize: 1)
        let head = ClassifierConfig(labels: ["no", "yes"], pooling: .mean, input: .features(F))
        let model = try SequenceClassifier.randomlyInitialised(backbone: config, head: head, seed: 1)
        var o = TrainingOptions()
        o.seqLen = 32; o.batchSize = 16; o.steps = 150; o.threads = 2
        o.adamw.learningRate = 5e-3; o.adamw.weightDecay = 0; o.adamw.warmupSteps = 10
        let trainer = try Trainer(objective: FeatureClassificationObjective(model: model, examples: train, source: "synthetic"), options: o)
        for _ in 0..<150 { _ = try trainer.trainStep() }
        let predicted = try model.logits(features: test.map(\.features)).map { $0[1] > $0[0] ? 1 : 0 }
        let m = ClassificationMetrics(predicted: predicted, truth: test.map(\.label), labels: ["no", "yes"])
        print("feature classifier: held-out accuracy after 150 steps \(m.accuracy)")
        XCTAssertGreaterThan(m.accuracy, 0.85)   // chance is 0.5

        var o2 = o; o2.steps = 6; o2.threads = 1; o2.batchSize = 4
        let a = try Trainer(objective: FeatureClassificationObjective(
            model: try SequenceClassifier.randomlyInitialised(backbone: config, head: head, seed: 2), examples: train, source: "s"), options: o2)
        for _ in 0..<3 { _ = try a.trainStep() }
        let dir = temporaryDirectory(self)
        try a.saveCheckpoint(to: dir)
        let b = try Trainer.resume(from: dir) { ck, _ in
            try FeatureClassificationObjective(model: SequenceClassifier.load(directory: ck), examples: train, source: "s")
        }
        for _ in 0..<3 { _ = try a.trainStep(); _ = try b.trainStep() }
        XCTAssertEqual(Array(a.trainee.parameters.buffer), Array(b.trainee.parameters.buffer))
    }

    /// Older token classifiers (labels in config.json) load as a SequenceClassifier with the same logits.
    func testLegacyClassifierLoads() throws {
        let dir = Fixtures.dir("classifier_bidir_mean")
        let legacy = try MambaModel.load(directory: dir), composed = try SequenceClassifier.load(directory: dir)
        XCTAssertEqual(composed.head.labels, legacy.config.labels)
        XCTAssertTrue(composed.head.bidirectional)
        let seqs: [[Int32]] = [[1, 2, 3], [4, 5, 6, 7, 8]]
        let diff = maxAbsDiff(try composed.logits(tokens: seqs).flatMap { $0 }, try legacy.classifierLogits(seqs).flatMap { $0 })
        print("legacy classifier as SequenceClassifier: max |Δlogit| \(diff)")
        XCTAssertEqual(diff, 0)
        XCTAssertThrowsError(try SequenceClassifier.load(directory: Fixtures.dir("tiny_f32"))) { XCTAssertTrue("\($0)".contains("config.json")) }
    }

    /// A token classifier built the composed way (SequenceClassifier.fineTuning, saved with
    /// classifier.json) trains exactly as the older MambaModel classifier (makeClassifier, labels in
    /// config.json) from the same seed: the same losses and weights step by step, and the saved
    /// directory reloads with the same logits. The reference is the older, independent code path.
    func testComposedTokenClassifierTrainsAsTheLegacyOne() throws {
        var rng = SeededRandom(seed: 8)
        let examples = (0..<64).map { _ in
            LabeledSequence(tokens: (0..<(5 + rng.below(20))).map { _ in Int32(rng.below(10)) }, label: rng.below(3))
        }
        for bidirectional in [false, true] {
            let lm = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 10, dState: 4), seed: 3)
            let legacy = lm.makeClassifier(labels: ["a", "b", "c"], pooling: .mean, bidirectional: bidirectional, seed: 4)
            let composed = SequenceClassifier.fineTuning(lm, labels: ["a", "b", "c"], pooling: .mean, bidirectional: bidirectional, seed: 4)
            XCTAssertEqual(composed.layout.slices.map(\.name), legacy.layout.slices.map(\.name))
            XCTAssertEqual(Array(composed.parameters.buffer), Array(legacy.parameters.buffer))
            var o = TrainingOptions()
            o.seqLen = 16; o.batchSize = 8; o.steps = 5; o.threads = 2
            let augment: (inout [Int32], inout SeededRandom) -> Void = { t, r in if r.below(2) == 1 { t.reverse() } }
            let a = try Trainer(model: legacy, examples: examples, options: o, augment: augment, source: "synthetic")
            let b = try Trainer(model: composed, examples: examples, options: o, augment: augment, source: "synthetic")
            var maxLossDiff = 0.0
            for _ in 0..<o.steps {
                let ra = try a.trainStep(), rb = try b.trainStep()
                maxLossDiff = max(maxLossDiff, abs(ra.loss - rb.loss))
            }
            let dw = maxAbsDiff(Array(composed.parameters.buffer), Array(legacy.parameters.buffer))
            let dir = temporaryDirectory(self)
            try composed.save(to: dir)
            XCTAssertNotNil(try ClassifierConfig.read(from: dir))
            XCTAssertEqual(try MambaConfig.load(from: dir).numLabels, 0)
            let back = try SequenceClassifier.load(directory: dir)
            let seqs = examples.prefix(9).map(\.tokens)
            let dl = maxAbsDiff(try back.classifierLogits(seqs, batchSize: 4).flatMap { $0 }, try legacy.classifierLogits(seqs, batchSize: 4).flatMap { $0 })
            print("[bidirectional \(bidirectional)] composed vs legacy classifier after \(o.steps) steps: max |Δloss| \(maxLossDiff), max |Δw| \(dw), reloaded max |Δlogit| \(dl)")
            XCTAssertEqual(maxLossDiff, 0)
            XCTAssertEqual(dw, 0)
            XCTAssertEqual(dl, 0)
            // a classifier directory is not read as a language model by mistake
            XCTAssertThrowsError(try MambaModel.load(directory: dir)) { XCTAssertTrue("\($0)".contains("classifier.json"), "\($0)") }
        }
    }
}
