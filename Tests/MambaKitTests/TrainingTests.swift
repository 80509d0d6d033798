// TrainingTests.swift — gradients against PyTorch autograd, AdamW against torch.optim.AdamW,
// exact resume, falling loss, non-finite guards, truncated backprop.
import Foundation
import MambaKit
import XCTest

final class TrainingTests: XCTestCase {
    /// Every gradient tensor of the mean NLL matches PyTorch (float64 autograd) fixtures.
    func testGradientsMatchPyTorch() throws {
        for name in Fixtures.modelNames {
            let model = try MambaModel.load(directory: Fixtures.dir(name))
            model.threads = 2
            let tokens = try Fixtures.tokens(name)
            let (nll, g) = try model.meanNLLGradient(tokens: tokens)
            let ref = try SafetensorsFile(url: Fixtures.dir(name).appendingPathComponent("grads.safetensors"))
            XCTAssertEqual(nll, Double(try ref.floats("nll")[0]), accuracy: 1e-4, name)
            var worst: (String, Float) = ("", 0)
            for s in model.layout.slices {
                let expected = try ref.floats(s.name)
                let got = Array(g.slice(s.range))
                let scale = max(expected.map { abs($0) }.max() ?? 0, 1e-12)
                let rel = maxAbsDiff(got, expected) / scale
                if rel > worst.1 { worst = (s.name, rel) }
                XCTAssertLessThanOrEqual(rel, 1e-3, "\(name) \(s.name)")
            }
            print("[\(name)] gradients: max relative error \(worst.1) (\(worst.0)); nll \(nll)")
        }
    }

    /// Three AdamW steps with clipping, warm-up and cosine decay match torch.optim.AdamW.
    func testAdamWMatchesPyTorch() throws {
        let dir = Fixtures.dir("adamw_tiny")
        let model = try MambaModel.load(directory: dir)
        let tokens = try Fixtures.tokens("adamw_tiny")
        let ref = try SafetensorsFile(url: dir.appendingPathComponent("expected_adamw.safetensors"))
        var o = TrainingOptions()
        o.seqLen = tokens.count - 1; o.batchSize = 1; o.steps = 3; o.threads = 2
        o.adamw.learningRate = 1e-2; o.adamw.beta1 = 0.9; o.adamw.beta2 = 0.95; o.adamw.eps = 1e-8
        o.adamw.weightDecay = 0.1; o.adamw.gradClip = 0.5; o.adamw.warmupSteps = 2; o.adamw.schedule = .cosine
        let trainer = try Trainer(model: model, tokens: tokens, options: o)
        let losses = try ref.floats("loss"), norms = try ref.floats("grad_norm"), lrs = try ref.floats("lr")
        for i in 0..<3 {
            let r = try trainer.trainStep()
            print("AdamW step \(r.step): loss \(r.loss) (PyTorch \(losses[i])), norm \(r.gradNorm) (\(norms[i])), lr \(r.learningRate) (\(lrs[i]))")
            XCTAssertEqual(r.loss, Double(losses[i]), accuracy: 1e-4)
            XCTAssertEqual(r.gradNorm, Double(norms[i]), accuracy: 1e-3 * Double(norms[i]))
            XCTAssertEqual(r.learningRate, lrs[i], accuracy: 1e-7)
        }
        var worst: Float = 0
        for s in model.layout.slices {
            let expected = try ref.floats(s.name)
            let d = maxAbsDiff(Array(model.parameters.slice(s.range)), expected)
            worst = max(worst, d)
            XCTAssertLessThanOrEqual(d, 1e-4, s.name)
        }
        print("AdamW: parameters after 3 steps, max |Swift - PyTorch| = \(worst)")
    }

    func tinyModel(seed: UInt64 = 3) -> MambaModel {
        try! MambaModel.randomlyInitialised(config: MambaConfig(dModel: 32, nLayer: 2, vocabSize: 20, dState: 8), seed: seed)
    }

    /// A repeating pattern, learnable in a few dozen steps.
    func patternTokens(_ n: Int) -> [Int32] { (0..<n).map { Int32(($0 * 7 + ($0 / 5)) % 13) } }

    func options(steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.seqLen = 32; o.batchSize = 3; o.steps = steps; o.threads = 2; o.seed = 11
        o.adamw.learningRate = 1e-2; o.adamw.warmupSteps = 3
        return o
    }

    func testLossFalls() throws {
        let trainer = try Trainer(model: tinyModel(), tokens: patternTokens(2000), options: options(steps: 40))
        var first = 0.0, last = 0.0
        for i in 0..<40 {
            let r = try trainer.trainStep()
            if i == 0 { first = r.loss }
            last = r.loss
        }
        print("loss: first step \(first), step 40 \(last)")
        XCTAssertLessThan(last, 0.5 * first)
    }

    /// A run killed half-way and resumed from its checkpoint ends with the same weights, bit for bit.
    func testResumeIsBitIdentical() throws {
        let tokens = patternTokens(3000)
        let straight = try Trainer(model: tinyModel(), tokens: tokens, options: options(steps: 8))
        for _ in 0..<8 { _ = try straight.trainStep() }

        let dir = temporaryDirectory(self)
        let first = try Trainer(model: tinyModel(), tokens: tokens, options: options(steps: 8))
        for _ in 0..<3 { _ = try first.trainStep() }
        try first.saveCheckpoint(to: dir)
        for _ in 0..<2 { _ = try first.trainStep() }          // work after the checkpoint is lost ("killed")
        let resumed = try Trainer.resume(from: dir, tokens: tokens)
        XCTAssertEqual(resumed.step, 3)
        while resumed.step < 8 { _ = try resumed.trainStep() }
        XCTAssertEqual(resumed.model.parameters.array, straight.model.parameters.array)
        XCTAssertEqual(resumed.optimizer.m.array, straight.optimizer.m.array)
        // The saved model is an ordinary checkpoint.
        let ck = try Trainer.checkpointDirectory(dir)
        XCTAssertNoThrow(try MambaModel.load(directory: ck))
    }

    /// A NaN loss stops the step naming it, leaves parameters and the last checkpoint untouched;
    /// --skip-nonfinite skips instead.
    func testNonFiniteStepIsRefused() throws {
        let dir = temporaryDirectory(self)
        let model = tinyModel()
        let trainer = try Trainer(model: model, tokens: patternTokens(500), options: options(steps: 5))
        _ = try trainer.trainStep()
        let ck = try trainer.saveCheckpoint(to: dir)
        let savedWeights = try Data(contentsOf: ck.appendingPathComponent("model.safetensors"))
        model.parameters[model.layout.normF] = .nan
        let before = model.parameters.array
        XCTAssertThrowsError(try trainer.trainStep()) { e in
            XCTAssertEqual(e as? TrainingError, .nonFinite(step: 2, what: "the loss"))
            XCTAssertTrue("\(e)".contains("step 2"))
        }
        XCTAssertEqual(model.parameters.array.map { $0.bitPattern }, before.map { $0.bitPattern })
        XCTAssertEqual(try Data(contentsOf: ck.appendingPathComponent("model.safetensors")), savedWeights)
        trainer.options.skipNonFinite = true
        let r = try trainer.trainStep()
        XCTAssertTrue(r.skipped)
        XCTAssertEqual(model.parameters.array.map { $0.bitPattern }, before.map { $0.bitPattern })
    }

    /// Truncated backprop: a chunk as long as the window is the plain step; shorter chunks still
    /// see the whole window (same loss) with the state carried across chunks.
    func testTruncatedBackpropChunks() throws {
        let tokens = patternTokens(1000)
        var o = options(steps: 1)
        o.adamw.gradClip = 0
        let plain = try Trainer(model: tinyModel(), tokens: tokens, options: o)
        o.chunkLength = 32
        let same = try Trainer(model: tinyModel(), tokens: tokens, options: o)
        XCTAssertEqual(try plain.trainStep().loss, try same.trainStep().loss)
        XCTAssertEqual(plain.model.parameters.array, same.model.parameters.array)
        var oc = options(steps: 1)
        oc.chunkLength = 8
        let chunked = try Trainer(model: tinyModel(), tokens: tokens, options: oc)
        let plain2 = try Trainer(model: tinyModel(), tokens: tokens, options: options(steps: 1))
        // Forward values (the loss) do not depend on chunking; gradients are truncated.
        XCTAssertEqual(try chunked.trainStep().loss, try plain2.trainStep().loss, accuracy: 1e-5)
    }

    func testCLIGradMatchesFixture() throws {
        let name = "mamba_ssm_sharded"
        let out = temporaryDirectory(self).appendingPathComponent("g.safetensors")
        let r = try runCLI(["grad", "--model", Fixtures.dir(name).path, "--tokens",
                            Fixtures.dir(name).appendingPathComponent("tokens.txt").path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try SafetensorsFile(url: out)
        let ref = try SafetensorsFile(url: Fixtures.dir(name).appendingPathComponent("grads.safetensors"))
        // Saved under the checkpoint's own names: this mamba_ssm checkpoint calls the embedding `backbone.embedding.weight`.
        XCTAssertTrue(got.contains("backbone.embedding.weight"))
        let e = try got.floats("backbone.embedding.weight"), eRef = try ref.floats("backbone.embeddings.weight")
        XCTAssertLessThanOrEqual(maxAbsDiff(e, eRef) / eRef.map { abs($0) }.max()!, 1e-3)
    }

    func testCLITrainAndResume() throws {
        let dir = temporaryDirectory(self)
        let tokensURL = dir.appendingPathComponent("tokens.txt")
        try patternTokens(600).map { String($0) }.joined(separator: " ").write(to: tokensURL, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        let common = ["train", "--tokens", tokensURL.path, "--seq-len", "32", "--batch-size", "2", "--lr", "0.01",
                      "--threads", "2", "--out", out.path, "--log-every", "5"]
        let a = try runCLI(common + ["--d-model", "32", "--n-layer", "2", "--vocab-size", "16", "--steps", "10"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("step 10/10"), a.stderr)
        let b = try runCLI(common + ["--resume", out.path, "--steps", "15"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stderr.contains("from step 10"), b.stderr)
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 15)
        let score = try runCLI(["score", "--model", try Trainer.checkpointDirectory(out).path, "--tokens", tokensURL.path, "--json"])
        XCTAssertEqual(score.status, 0, score.stderr)
    }
}
