// SyntheticTaskTests.swift — the task generators: seeded, the intended layout and distributions, the
// target recoverable from the input by a plain oracle; the objective trains through the LM path.
import Foundation
import MambaKit
import MambaTasks
import XCTest

final class SyntheticTaskTests: XCTestCase {
    /// The oracle for each task: what a perfect model answers, computed from the input alone.
    func selectiveCopyingOracle(_ e: TaskExample, spread: Int) -> [Int32] {
        e.inputs[0..<spread].filter { $0 != SelectiveCopying.noise }
    }

    func testSelectiveCopying() {
        let task = SelectiveCopying(spread: 256, tokens: 16, dataTokens: 16)
        let a = task.examples(200, seed: 3), b = task.examples(200, seed: 3), c = task.examples(200, seed: 4)
        XCTAssertEqual(a, b); XCTAssertNotEqual(a, c)
        var positionCounts = [Int](repeating: 0, count: 4), tokenCounts = [Int](repeating: 0, count: 16)
        for e in a {
            XCTAssertEqual(e.inputs.count, 272); XCTAssertEqual(e.scored, Array(256..<272))
            XCTAssertTrue(e.inputs[256...].allSatisfy { $0 == SelectiveCopying.marker })
            XCTAssertEqual(selectiveCopyingOracle(e, spread: 256), e.targets.filter { $0 >= 0 })   // recoverable
            for (p, t) in e.inputs[0..<256].enumerated() where t != SelectiveCopying.noise { positionCounts[p / 64] += 1; tokenCounts[Int(t) - 2] += 1 }
        }
        // 3,200 tokens: each quarter of the spread ≈ 800, each data token ≈ 200 (4σ bounds)
        print("selective copying: tokens per quarter \(positionCounts), per data token \(tokenCounts)")
        for n in positionCounts { XCTAssertEqual(Double(n), 800, accuracy: 4 * (800 * 0.75).squareRoot()) }
        for n in tokenCounts { XCTAssertEqual(Double(n), 200, accuracy: 4 * (200 * 15.0 / 16).squareRoot()) }
    }

    func testInductionHeads() {
        let task = InductionHeads(length: 64, dataTokens: 16)
        let a = task.examples(500, seed: 1)
        XCTAssertEqual(a, task.examples(500, seed: 1))
        var early = 0
        for e in a {
            let triggers = e.inputs.indices.filter { e.inputs[$0] == InductionHeads.trigger }
            XCTAssertEqual(triggers.count, 2); XCTAssertEqual(triggers.last, 63); XCTAssertEqual(e.scored, [63])
            XCTAssertEqual(e.targets[63], e.inputs[triggers[0] + 1])           // the oracle: the token after the first trigger
            XCTAssertNotEqual(e.targets[63], InductionHeads.trigger)
            if triggers[0] < 31 { early += 1 }
        }
        XCTAssertEqual(Double(early), 250, accuracy: 4 * (500 * 0.25).squareRoot())   // trigger position uniform on 0..<62
        XCTAssertEqual(task.at(length: 1 << 20).length, 1 << 20)
    }

    func testAssociativeRecall() {
        let task = AssociativeRecall(length: 128, pairs: 8, keyTokens: 32, valueTokens: 32)
        let a = task.examples(300, seed: 2)
        XCTAssertEqual(a, task.examples(300, seed: 2))
        for e in a {
            var table: [Int32: Int32] = [:]
            for i in 0..<8 {
                let k = e.inputs[2 * i], v = e.inputs[2 * i + 1]
                XCTAssertTrue((1...32).contains(k)); XCTAssertTrue((33...64).contains(v)); XCTAssertNil(table[k])   // distinct keys
                table[k] = v
            }
            XCTAssertEqual(e.scored.count, 8); XCTAssertTrue(e.scored.allSatisfy { $0 >= 16 })
            for p in e.scored { XCTAssertEqual(table[e.inputs[p]], e.targets[p]) }                      // the oracle: look it up
            for p in 16..<128 where !e.scored.contains(p) { XCTAssertEqual(e.inputs[p], AssociativeRecall.filler) }
        }
    }

    /// The objective counts only scored positions: a model trained for a few steps moves its loss, and
    /// the accuracy scorer's chunked recurrent pass agrees with one pass.
    func testObjectiveAndScorer() throws {
        let task = InductionHeads(length: 32, dataTokens: 8)
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: task.vocabSize), seed: 1)
        var o = TrainingOptions(); o.batchSize = 8; o.seqLen = task.length; o.steps = 20; o.threads = 2
        let trainer = try Trainer(objective: SyntheticTaskObjective(model: model, task: task), options: o)
        let first = try trainer.trainStep().loss
        XCTAssertEqual(first, Foundation.log(Double(task.vocabSize)), accuracy: 1.0)   // near uniform at the start
        for _ in 0..<19 { _ = try trainer.trainStep() }
        let whole = try task.accuracy(of: model, count: 20, seed: 9, chunkLength: 1 << 20)
        let chunked = try task.accuracy(of: model, count: 20, seed: 9, chunkLength: 5)
        XCTAssertEqual(whole, chunked)
        // Per-example scores add up to the accuracy; a margin is positive exactly where the position is right,
        // and equals the target's logit minus the best other one, recomputed here from one full pass.
        var right = 0, wholeRight = 0, seen: [Int] = [], maxDifference: Float = 0
        let examples = task.examples(20, seed: 9)
        let again = try task.accuracy(of: model, count: 20, seed: 9, chunkLength: 7) { i, e, score in
            XCTAssertEqual(e, examples[i]); seen.append(i)
            XCTAssertEqual(score.scored, 1)
            right += score.right; if score.right == score.scored { wholeRight += 1 }
            XCTAssertEqual(score.margin > 0, score.right == 1, "example \(i): margin \(score.margin)")
            let V = model.config.vocabSize, last = e.inputs.count - 1
            let row = Array(try model.logits(tokens: e.inputs)[(last * V)..<((last + 1) * V)])
            let target = Int(e.targets[last])
            let other = row.indices.filter { $0 != target }.map { row[$0] }.max()!
            XCTAssertEqual(score.margin, row[target] - other, accuracy: 1e-4)
            maxDifference = max(maxDifference, abs(score.margin - (row[target] - other)))
        }
        print("per-example margin (chunks of 7) against one full pass: max difference \(maxDifference)")
        XCTAssertEqual(seen, Array(0..<20)); XCTAssertEqual(again, whole)
        XCTAssertEqual(Double(right) / 20, whole.positions); XCTAssertEqual(Double(wholeRight) / 20, whole.examples)
        XCTAssertThrowsError(try SyntheticTaskObjective(model: MambaModel(config: MambaConfig(dModel: 8, nLayer: 1, vocabSize: 4)), task: task))
    }

    /// `mambakit task train` then `task eval` at two lengths; a model without task.json is refused by name.
    func testTaskCommands() throws {
        let out = temporaryDirectory(self).appendingPathComponent("ih")
        let t = try runCLI(["task", "train", "induction-heads", "--length", "32", "--d-model", "16", "--n-layer", "1",
                            "--steps", "6", "--batch-size", "4", "--threads", "1", "--eval-count", "4", "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("val accuracy"), t.stderr)
        let e = try runCLI(["task", "eval", "--model", out.path, "--lengths", "32,64", "--count", "4", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let lines = e.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for (line, n) in zip(lines, [32, 64]) {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertEqual(o["length"] as? Int, n)
            XCTAssertTrue((0...1).contains(o["accuracy"] as! Double))
        }
        // --examples: one JSON line per example and length, with the trigger where the generator put it.
        let file = out.deletingLastPathComponent().appendingPathComponent("examples.jsonl")
        let x = try runCLI(["task", "eval", "--model", out.path, "--lengths", "32,64", "--count", "4", "--json", "--examples", file.path])
        XCTAssertEqual(x.status, 0, x.stderr); XCTAssertEqual(x.stdout.split(separator: "\n").count, 2)
        let rows = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(rows.count, 8)
        for (k, o) in rows.enumerated() {
            let n = k < 4 ? 32 : 64, i = k % 4
            XCTAssertEqual(o["length"] as? Int, n); XCTAssertEqual(o["index"] as? Int, i)
            let trigger = InductionHeads(length: n, dataTokens: 16).examples(4, seed: 0x7E57)[i].inputs.firstIndex(of: InductionHeads.trigger)!
            XCTAssertEqual(o["trigger"] as? Int, trigger); XCTAssertEqual(o["distance"] as? Int, n - 1 - trigger)
            XCTAssertEqual(o["scored"] as? Int, 1)
            XCTAssertEqual((o["right"] as! Int) == 1, (o["margin"] as! Double) > 0)
        }
        for (line, n) in zip(lines, [32, 64]) {   // the per-length accuracy is the mean of its examples' rights
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let mean = Double(rows.filter { $0["length"] as? Int == n }.map { $0["right"] as! Int }.reduce(0, +)) / 4
            XCTAssertEqual(o["accuracy"] as? Double, mean)
        }
        for (option, path) in [("--examples", out.appendingPathComponent("no/such/dir/x.jsonl").path), ("--svg", out.path)] {
            let r = try runCLI(["task", "eval", "--model", out.path, "--lengths", "1048576", "--count", "4", option, path])
            XCTAssertNotEqual(r.status, 0)   // refused at once (2^20 × 4 would take seconds), in one line naming the option
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(option) && r.stderr.contains(path), r.stderr)
            XCTAssertTrue(r.stdout.isEmpty, r.stdout)
        }
        let bad = try runCLI(["task", "eval", "--model", Fixtures.dir("tiny_f32").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("task.json"), bad.stderr)
        let badTask = try runCLI(["task", "train", "mqar", "--items", "500", "--d-model", "8", "--n-layer", "1"])
        XCTAssertNotEqual(badTask.status, 0)
        XCTAssertEqual(badTask.stderr.split(separator: "\n").count, 1, badTask.stderr)
    }

    /// The length warm-up doubles on schedule up to the task's length, is saved in task.json, drives the
    /// objective's generator, and a run resumed mid-warm-up ends bit-identical to an uninterrupted one.
    func testLengthWarmup() throws {
        let w = LengthWarmup(startLength: 16, stageSteps: 10)
        XCTAssertEqual([0, 9, 10, 25, 39, 40, 1000].map { w.length(atStep: $0, target: 100) }, [16, 16, 32, 64, 100, 100, 100])
        XCTAssertEqual(w.fullLengthStep(target: 100), 30)
        XCTAssertEqual(w.length(atStep: 5, target: 8), 8, "never above the target")

        var spec = TaskSpec.defaults(.selectiveCopying).at(length: 64)
        spec.items = 4
        spec.warmup = LengthWarmup(startLength: 16, stageSteps: 2)
        let dir = temporaryDirectory(self)
        try spec.write(to: dir)
        XCTAssertEqual(try TaskSpec.read(from: dir), spec)
        XCTAssertTrue(try String(contentsOf: dir.appendingPathComponent("task.json"), encoding: .utf8).contains("stage_steps"))

        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 8, nLayer: 1, vocabSize: 18), seed: 3)
        let objective = try SyntheticTaskObjective(model: model, spec: spec)
        var lengths: [Int] = []
        for step in 0..<7 { try objective.beginStep(step, options: TrainingOptions()); lengths.append(objective.task.length) }
        XCTAssertEqual(lengths, [20, 20, 36, 36, 68, 68, 68], "spread 16, 32, 64 plus 4 markers")

        let out = temporaryDirectory(self)
        func train(_ extra: [String], out: URL) throws -> ProcessResult {
            try runCLI(["task", "train", "selective-copying", "--length", "64", "--items", "4", "--warmup-length", "16",
                        "--stage-steps", "2", "--d-model", "8", "--n-layer", "1", "--batch-size", "2", "--threads", "1",
                        "--eval-count", "2", "--schedule", "constant", "--out", out.path] + extra)
        }
        let whole = try train(["--steps", "8"], out: out.appendingPathComponent("whole"))
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stderr.contains("length warm-up from 16"), whole.stderr)
        let first = try train(["--steps", "3"], out: out.appendingPathComponent("split"))   // constant lr: the schedule is the same
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try runCLI(["task", "train", "selective-copying", "--resume", out.appendingPathComponent("split").path,
                                 "--steps", "8", "--threads", "1", "--eval-count", "2", "--out", out.appendingPathComponent("split").path])
        XCTAssertEqual(second.status, 0, second.stderr)
        let a = try SafetensorsFile(url: try Trainer.checkpointDirectory(out.appendingPathComponent("whole")).appendingPathComponent("model.safetensors"))
        let b = try SafetensorsFile(url: try Trainer.checkpointDirectory(out.appendingPathComponent("split")).appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try a.floats("backbone.layers.0.mixer.in_proj.weight"), try b.floats("backbone.layers.0.mixer.in_proj.weight"))
    }

    /// `--mixer lti` trains the time-invariant mixer and saves `ssm_mixer`; it is refused with --config/--init.
    func testMixerOption() throws {
        let out = temporaryDirectory(self).appendingPathComponent("lti")
        let t = try runCLI(["task", "train", "induction-heads", "--length", "40", "--mixer", "lti", "--d-model", "8",
                            "--n-layer", "1", "--steps", "2", "--batch-size", "2", "--threads", "1", "--eval-count", "2",
                            "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("lti mixer"), t.stderr)
        let ck = try Trainer.checkpointDirectory(out)
        XCTAssertEqual(try MambaConfig.load(from: ck).ssmMixer, .lti)
        XCTAssertNotNil(try MambaModel.load(directory: ck).tensor("backbone.layers.0.mixer.log_dt"))
        let bad = try runCLI(["task", "train", "induction-heads", "--mixer", "lti", "--config", ck.appendingPathComponent("config.json").path])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--mixer"), bad.stderr)
        // a warm-up the task does not fit in (MQAR's 16 pairs need 48 positions) and a zero stage length
        for args in [["mqar", "--warmup-length", "16"], ["induction-heads", "--warmup-length", "16", "--stage-steps", "0"]] {
            let r = try runCLI(["task", "train"] + args + ["--d-model", "8", "--n-layer", "1"])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(args.count > 3 ? "--stage-steps" : "--warmup-length"), r.stderr)
        }
    }
}
