// UNetTests.swift — the multi-scale (SaShiMi-style U-Net) backbone: PyTorch float64 reference (logits and
// every gradient), recurrent = parallel = chunked (frames cut anywhere), causality, greedy generation,
// checkpoint round trip and config errors.
import Foundation
import MambaKit
import XCTest

final class UNetTests: XCTestCase {
    static let fixture = "unet_tiny"

    func loadFixture() throws -> (MambaModel, inputs: [Int32], targets: [Int32], batch: Int) {
        let model = try MambaModel.load(directory: Fixtures.dir(Self.fixture))
        let inputs = try Fixtures.expected(Self.fixture, "inputs").map { Int32($0) }
        let targets = try Fixtures.expected(Self.fixture, "targets").map { Int32($0) }
        return (model, inputs, targets, 2)
    }

    /// A small random U-Net LM (pool 3 × 2, so frames of 3 and 6 steps).
    func randomModel(pool: [Int] = [3, 2], seed: UInt64 = 7) throws -> MambaModel {
        var c = MambaConfig(dModel: 8, nLayer: 1, vocabSize: 13, dState: 4)
        c.unet = UNetConfig(pool: pool, expand: 2)
        return try MambaModel.randomlyInitialised(config: c, seed: seed)
    }

    func testLogitsMatchPyTorch() throws {
        let (model, inputs, _, B) = try loadFixture()
        let L = inputs.count / B
        let got = try model.logits(batch: (0..<B).map { Array(inputs[($0 * L)..<(($0 + 1) * L)]) })
        let diff = maxAbsDiff(got, try Fixtures.expected(Self.fixture, "logits"))
        print("[unet_tiny] U-Net pool [2, 2], L \(L) (incomplete frames at the end) → logits: max |Δlogit| \(diff)")
        XCTAssertLessThan(diff, 2e-5)
    }

    func testGradientsMatchPyTorch() throws {
        let (model, inputs, targets, B) = try loadFixture()
        let grads = FloatBuffer(count: model.parameters.count)
        let (lossSum, count) = try model.accumulateGradient(inputs: inputs, targets: targets, batch: B, state: model.makeState(batch: B),
                                                            tape: TrainingTape(config: model.config), grads: grads,
                                                            gradScale: 1 / Float(targets.count))
        let nll = Double(try Fixtures.expected(Self.fixture, "nll")[0])
        print("[unet_tiny] mean NLL \(lossSum / Double(count)) (PyTorch float64 \(nll))")
        XCTAssertEqual(lossSum / Double(count), nll, accuracy: 1e-5)
        var worst: (String, Float) = ("", 0)
        for s in model.layout.slices {
            let expected = try Fixtures.expected(Self.fixture, "grad." + s.name)
            let top = expected.map { abs($0) }.max() ?? 0
            let err = maxAbsDiff(Array(grads.slice(s.range)), expected) / max(top, 1e-30)
            if err > worst.1 { worst = (s.name, err) }
            XCTAssertLessThan(err, 1e-3, s.name)
        }
        print("[unet_tiny] gradients of \(model.layout.slices.count) tensors vs PyTorch float64: max relative error \(worst.1) (\(worst.0))")
    }

    /// One step at a time, and chunks of awkward sizes (frames cut anywhere, chunks shorter than a frame),
    /// give the logits of the whole sequence at once.
    func testRecurrentAndChunkedEqualParallel() throws {
        let model = try randomModel()
        var rng = SeededRandom(seed: 3)
        let ids = (0..<41).map { _ in Int32(rng.below(13)) }
        let whole = try model.logits(tokens: ids)
        let V = model.config.vocabSize
        // recurrent
        let state = model.makeState()
        var stepped: [Float] = []
        for t in ids { stepped += try model.step([t], state: state) }
        // chunks 1, 2, 5, 4, 7, … (sum 41)
        let chunkState = model.makeState()
        var chunked: [Float] = [], start = 0
        for n in [1, 2, 5, 4, 7, 3, 6, 13] where start < ids.count {
            let end = min(ids.count, start + n)
            chunked += try model.logits(tokens: Array(ids[start..<end]), state: chunkState)
            start = end
        }
        let dStep = maxAbsDiff(whole, stepped), dChunk = maxAbsDiff(whole, chunked)
        print("U-Net [3, 2], 41 tokens: recurrent vs parallel max |Δlogit| \(dStep); chunked vs parallel \(dChunk)")
        XCTAssertEqual(stepped.count, ids.count * V)
        XCTAssertLessThan(dStep, 1e-4)
        XCTAssertLessThan(dChunk, 1e-4)
        XCTAssertEqual(state.unet?.pendingCount, [41 % 3, (41 / 3) % 2])
    }

    /// Changing token t changes no logit before t (and some at or after it).
    func testCausality() throws {
        let model = try randomModel()
        var rng = SeededRandom(seed: 4)
        let ids = (0..<36).map { _ in Int32(rng.below(13)) }
        let base = try model.logits(tokens: ids)
        let V = model.config.vocabSize
        for t in [0, 1, 2, 3, 5, 6, 11, 12, 17, 35] {
            var other = ids
            other[t] = (other[t] + 1) % 13
            let changed = try model.logits(tokens: other)
            XCTAssertEqual(Array(changed[0..<(t * V)]), Array(base[0..<(t * V)]), "a logit before \(t) changed")
            XCTAssertGreaterThan(maxAbsDiff(Array(changed[(t * V)...]), Array(base[(t * V)...])), 0)
        }
    }

    /// Greedy generation through the recurrent U-Net (inner levels stepping once per frame) picks, at every
    /// step, the argmax of the parallel forward over the same sequence.
    func testGreedyGenerationMatchesParallel() throws {
        let model = try randomModel(pool: [2, 2], seed: 9)
        let state = model.makeState()
        var logits = try model.prefill([1, 2, 3], state: state)
        var seq: [Int32] = [1, 2, 3]
        for _ in 0..<29 {
            let next = Int32(logits.indices.max(by: { logits[$0] < logits[$1] })!)
            seq.append(next)
            logits = try model.step([next], state: state)
        }
        let V = model.config.vocabSize
        let all = try model.logits(tokens: seq)
        var mismatches = 0
        for t in 2..<(seq.count - 1) {
            let row = Array(all[(t * V)..<((t + 1) * V)])
            if Int32(row.indices.max(by: { row[$0] < row[$1] })!) != seq[t + 1] { mismatches += 1 }
        }
        print("U-Net greedy generation of 29 samples: \(mismatches) disagreements with the parallel argmax")
        XCTAssertEqual(mismatches, 0)
    }

    /// Truncated backprop across a chunk boundary that cuts frames at both levels: the gradient of a second
    /// chunk's loss (from the state the first chunk left, held constant: its pending steps and last frames)
    /// matches central finite differences of that loss; and the chunks' losses add up to the whole window's.
    func testChunkedTrainingGradientMatchesFiniteDifferences() throws {
        let model = try randomModel()
        var rng = SeededRandom(seed: 5)
        let ids = (0..<31).map { _ in Int32(rng.below(13)) }
        let inputs = Array(ids.dropLast()), targets = Array(ids.dropFirst())
        let tape = TrainingTape(config: model.config)
        let scratch = FloatBuffer(count: model.parameters.count)
        let whole = try model.accumulateGradient(inputs: inputs, targets: targets, batch: 1, state: model.makeState(),
                                                 tape: tape, grads: scratch, gradScale: 1)
        let after7 = model.makeState()
        let first = try model.accumulateGradient(inputs: Array(inputs[0..<7]), targets: Array(targets[0..<7]), batch: 1,
                                                 state: after7, tape: tape, grads: scratch, gradScale: 1)
        XCTAssertEqual(after7.unet?.pendingCount, [1, 0])          // 7 = 2 frames of 3 + 1; 2 frames = 1 of 2
        func secondChunkLoss(_ grads: FloatBuffer) throws -> Double {
            try model.accumulateGradient(inputs: Array(inputs[7...]), targets: Array(targets[7...]), batch: 1,
                                         state: after7.copy(), tape: tape, grads: grads, gradScale: 1).lossSum
        }
        let grads = FloatBuffer(count: model.parameters.count)
        let second = try secondChunkLoss(grads)
        print("U-Net loss of 30 predictions whole \(whole.lossSum), in chunks 7 + 23: \(first.lossSum + second)")
        XCTAssertEqual(whole.lossSum, first.lossSum + second, accuracy: 1e-3)
        var worst = 0.0
        for name in ["backbone.down.0.pool.weight", "backbone.up.0.pool.bias", "backbone.down.1.pool.weight",
                     "backbone.up.1.pool.weight", "backbone.center.layers.0.mixer.in_proj.weight",
                     "backbone.down.0.layers.0.mixer.out_proj.weight", "backbone.embeddings.weight"] {
            let slice = model.layout.slice(named: name)!
            let i = slice.range.max(by: { abs(grads[$0]) < abs(grads[$1]) })!
            let h: Float = 1e-2, old = model.parameters[i]
            model.parameters[i] = old + h; model.refreshDerived()
            let up = try secondChunkLoss(scratch)
            model.parameters[i] = old - h; model.refreshDerived()
            let down = try secondChunkLoss(scratch)
            model.parameters[i] = old; model.refreshDerived()
            let fd = (up - down) / Double(2 * h)
            let rel = abs(fd - Double(grads[i])) / max(abs(fd), 1e-6)
            worst = max(worst, rel)
            XCTAssertLessThan(rel, 2e-2, "\(name): backprop \(grads[i]) vs finite differences \(fd)")
        }
        print("U-Net second-chunk gradient vs central finite differences (Float32, h 1e-2): max relative error \(worst)")
    }

    func testSaveLoadRoundTrip() throws {
        let model = try randomModel()
        let dir = temporaryDirectory(self)
        try model.save(to: dir)
        let back = try MambaModel.load(directory: dir)
        XCTAssertEqual(back.config.unet, UNetConfig(pool: [3, 2], expand: 2))
        XCTAssertEqual(back.layout.slices.map(\.name), model.layout.slices.map(\.name))
        let ids: [Int32] = [1, 5, 2, 7, 3, 3, 0, 12, 4]
        XCTAssertEqual(try back.logits(tokens: ids), try model.logits(tokens: ids))
        XCTAssertEqual(model.parameterCount, model.config.parameterCount)
        XCTAssertTrue(model.config.description.contains("U-Net pool=3x2"), model.config.description)
    }

    func testBadUNetConfigNamesTheKey() throws {
        let dir = temporaryDirectory(self)
        for (unet, needle) in [("{\"pool\": []}", "at least one"), ("{\"pool\": [1, 4]}", "pooling factor 1"),
                               ("{\"pool\": [4], \"expand\": 9}", "expand 9"), ("[4, 4]", "expected an object"),
                               ("{\"pool\": [4.5]}", "expected integers")] {
            let text = "{\"hidden_size\": 8, \"num_hidden_layers\": 1, \"vocab_size\": 5, \"unet\": \(unet)}"
            let url = dir.appendingPathComponent("config.json")
            try text.write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try MambaConfig.load(from: url)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("unet") && message.contains(needle) && message.contains(url.path), message)
            }
        }
    }

    /// `train --unet-pool` makes and trains a U-Net (saved config says so); bad pools are one-line errors.
    func testCLITrainsAUNetAndRefusesBadPools() throws {
        let tmp = temporaryDirectory(self)
        let tokens = tmp.appendingPathComponent("t.txt")
        var rng = SeededRandom(seed: 11)
        try (0..<400).map { _ in "\(rng.below(16))" }.joined(separator: " ").write(to: tokens, atomically: true, encoding: .utf8)
        let out = tmp.appendingPathComponent("run")
        let r = try runCLI(["train", "--tokens", tokens.path, "--d-model", "8", "--n-layer", "1", "--vocab-size", "16",
                            "--unet-pool", "2,3", "--steps", "3", "--seq-len", "30", "--batch-size", "2", "--chunk-len", "7",
                            "--threads", "1", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let model = try MambaModel.load(directory: try Trainer.checkpointDirectory(out))
        XCTAssertEqual(model.config.unet, UNetConfig(pool: [2, 3], expand: 2))
        for (args, needle) in [(["--unet-pool", "1,4"], "--unet-pool 1,4"), (["--unet-pool", "4,x"], "--unet-pool 4,x"),
                               (["--unet-pool", "4", "--unet-expand", "9"], "--unet-expand 9")] {
            let bad = try runCLI(["train", "--tokens", tokens.path, "--d-model", "8", "--n-layer", "1", "--vocab-size", "16"] + args)
            XCTAssertEqual(bad.status, 64, bad.stderr)
            XCTAssertEqual(bad.stderr.split(separator: "\n").filter { !$0.isEmpty }.count, 1, bad.stderr)
            XCTAssertTrue(bad.stderr.contains(needle), bad.stderr)
        }
    }
}
