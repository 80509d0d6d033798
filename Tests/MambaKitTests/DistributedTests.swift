// DistributedTests.swift — data-parallel training (Docs/Distributed.md): the batch shards, each built-in
// objective's shards against its whole batch (in process), and `mpirun -np 2 mambakit train text` against
// one process (equivalence, resume at another rank count, a killed or stuck rank ends the job).
import Foundation
import MambaKit
import MambaTasks
import MambaText
import XCTest

final class DistributedTests: XCTestCase {
    // MARK: - Shards

    /// For every batch size and rank count: the shards are contiguous, disjoint and cover 0 ..< B exactly
    /// (no overlap, no gaps), in rank order, with sizes differing by at most one.
    func testShardsCoverTheBatchWithoutOverlapOrGaps() {
        for n in 1...9 {
            for total in 0...64 {
                var covered = [Int](repeating: 0, count: total)
                var next = 0, sizes: [Int] = []
                for r in 0..<n {
                    let range = BatchShard(rank: r, count: n).range(of: total)
                    XCTAssertEqual(range.lowerBound, next, "shard \(r) of \(n), batch \(total): not contiguous with shard \(r - 1)")
                    for i in range { covered[i] += 1 }
                    next = range.upperBound; sizes.append(range.count)
                }
                XCTAssertEqual(next, total, "batch \(total) over \(n) ranks: the shards end at \(next)")
                XCTAssertTrue(covered.allSatisfy { $0 == 1 }, "batch \(total) over \(n) ranks: items covered \(covered)")
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1)
            }
        }
        XCTAssertEqual(BatchShard(rank: 1, count: 3).slice(Array(10..<17)), [12, 13])   // ⌊7/3⌋ = 2 … ⌊14/3⌋ = 4
    }

    // MARK: - Each objective: Σ over shards = the whole batch

    /// Runs one micro-batch of `make()`'s objective whole and as each of `n` shards (each from a copy of
    /// the same generator, as every rank has one): the generator ends in the same state for every shard,
    /// the shards' loss sums, tokens and correct counts add up to the whole batch's, and their gradients
    /// sum to its gradient. A shard that overlapped another or left an item out would count it twice or
    /// not at all, and the sums would differ by that item's share.
    func checkShards(_ name: String, n: Int, options o: TrainingOptions, tolerance: Float = 2e-5,
                     make: () throws -> any TrainingObjective) throws {
        let whole = try make()
        try whole.beginStep(0, options: o)
        let terms = Float(whole.lossTerms(options: o))
        var random = SeededRandom(seed: 77)
        let gWhole = FloatBuffer(count: whole.model.parameters.count)
        let rWhole = try whole.accumulate(options: o, random: &random, grads: gWhole, scale: 1 / terms)
        let gSum = FloatBuffer(count: gWhole.count)
        var lossSum = 0.0, tokens = 0, correct = 0
        for r in 0..<n {
            let objective = try make()
            try objective.beginStep(0, options: o)
            var rr = SeededRandom(seed: 77)
            let g = FloatBuffer(count: gWhole.count)
            let part = try objective.accumulate(options: o, random: &rr, grads: g, scale: 1 / terms, shard: BatchShard(rank: r, count: n))
            XCTAssertEqual(rr.stateWords, random.stateWords, "\(name): shard \(r) of \(n) left the data stream elsewhere than the whole batch")
            XCTAssertGreaterThan(part.tokens, 0, "\(name): shard \(r) of \(n) is empty")
            for i in 0..<g.count { gSum[i] += g[i] }
            lossSum += part.lossSum; tokens += part.tokens; correct += part.correct ?? 0
        }
        let gMax = gWhole.array.map(abs).max()!
        let diff = maxAbsDiff(gSum.array, gWhole.array)
        print("\(name), \(n) shards: loss sum \(lossSum) vs \(rWhole.lossSum) (whole); gradient max |Σ shards − whole| \(diff) (max |g| \(gMax))")
        XCTAssertEqual(lossSum, rWhole.lossSum, accuracy: 1e-5 * abs(rWhole.lossSum), name)
        XCTAssertEqual(tokens, rWhole.tokens, name)
        XCTAssertEqual(correct, rWhole.correct ?? 0, name)
        XCTAssertGreaterThan(gMax, 0)
        XCTAssertLessThanOrEqual(diff, tolerance * gMax, name)
    }

    func lm(vocab: Int = 20, bidirectional: Bool = false) -> MambaModel {
        var c = MambaConfig(dModel: 16, nLayer: 2, vocabSize: vocab, dState: 8)
        c.bidirectional = bidirectional
        return try! MambaModel.randomlyInitialised(config: c, seed: 5)
    }

    func testLanguageModelShards() throws {
        let tokens: [Int32] = (0..<3000).map { (i: Int) -> Int32 in Int32((i * 7 + i / 5) % 13) }
        var o = TrainingOptions(); o.seqLen = 24; o.batchSize = 7; o.threads = 1
        for n in [2, 3] { try checkShards("language model", n: n, options: o) { try LanguageModelObjective(model: lm(), tokens: tokens, seqLen: 24) } }
        o.chunkLength = 10   // truncated backprop: chunks of each rank's windows
        try checkShards("language model, chunks of 10", n: 2, options: o) { try LanguageModelObjective(model: lm(), tokens: tokens, seqLen: 24) }
        o.lengthWarmup = LengthWarmup(startLength: 12, stageSteps: 5)   // stage 0: windows of 12, batch 14
        try checkShards("language model, length warm-up", n: 4, options: o) { try LanguageModelObjective(model: lm(), tokens: tokens, seqLen: 24) }
    }

    func testClassificationShards() throws {
        var rng = SeededRandom(seed: 9)
        let examples = (0..<40).map { _ in LabeledSequence(tokens: (0..<(5 + rng.below(30))).map { _ in Int32(rng.below(20)) }, label: rng.below(3)) }
        var o = TrainingOptions(); o.seqLen = 16; o.batchSize = 5; o.threads = 1   // longer examples are cropped at random
        let augment: (inout [Int32], inout SeededRandom) -> Void = { t, r in if r.below(2) == 1 { t.reverse() } }
        for n in [2, 5] {
            try checkShards("classification", n: n, options: o) {
                let c = try SequenceClassifier.randomlyInitialised(backbone: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 20, dState: 8),
                                                                   head: ClassifierConfig(labels: ["a", "b", "c"], pooling: .mean, input: .tokens(vocabSize: 20)), seed: 2)
                return try ClassificationObjective(model: c, examples: examples, augment: augment, source: "test")
            }
        }
    }

    func testMaskedLMShards() throws {
        var rng = SeededRandom(seed: 4)
        let stream = (0..<2000).map { _ in Int32(5 + rng.below(4)) }
        var o = TrainingOptions(); o.seqLen = 32; o.batchSize = 6; o.threads = 1
        try checkShards("masked LM", n: 3, options: o) {
            try MaskedLMObjective(model: lm(vocab: 12, bidirectional: true), tokens: stream, seqLen: 32,
                                  masking: MaskingScheme(maskToken: 11, randomTokens: [5, 6, 7, 8]))
        }
    }

    func testFeatureClassificationAndTaskShards() throws {
        var rng = SeededRandom(seed: 6)
        let features = (0..<30).map { _ in LabeledFeatures(features: (0..<((4 + rng.below(20)) * 3)).map { _ in rng.normal() }, label: rng.below(2)) }
        var o = TrainingOptions(); o.seqLen = 12; o.batchSize = 4; o.threads = 1
        try checkShards("feature classification", n: 2, options: o) {
            let c = try SequenceClassifier.randomlyInitialised(backbone: MambaConfig(dModel: 16, nLayer: 1, vocabSize: 1),
                                                               head: ClassifierConfig(labels: ["x", "y"], pooling: .mean, input: .features(3)), seed: 3)
            return try FeatureClassificationObjective(model: c, examples: features, source: "test")
        }
        let task = SelectiveCopying(spread: 32, tokens: 4, dataTokens: 6)
        try checkShards("selective copying", n: 2, options: o) {
            try SyntheticTaskObjective(model: lm(vocab: task.vocabSize), task: task)
        }
    }

    /// An objective of one's own that does not split its batch is refused by name under several ranks
    /// (and still trains in one process).
    func testObjectiveWithoutShardsIsRefused() throws {
        final class Whole: TrainingObjective {
            let inner: LanguageModelObjective
            init(_ m: MambaModel) throws { inner = try LanguageModelObjective(model: m, tokens: (0..<200).map { Int32($0 % 13) }, seqLen: 8) }
            var model: any TrainableModel { inner.model }
            func beginStep(_ step: Int, options: TrainingOptions) throws { try inner.beginStep(step, options: options) }
            func lossTerms(options: TrainingOptions) -> Int { inner.lossTerms(options: options) }
            func accumulate(options: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer, scale: Float) throws -> ObjectiveResult {
                try inner.accumulate(options: options, random: &random, grads: grads, scale: scale)
            }
        }
        let w = try Whole(lm())
        var o = TrainingOptions(); o.seqLen = 8; o.batchSize = 2; o.threads = 1
        try w.beginStep(0, options: o)
        var r = SeededRandom(seed: 1)
        let g = FloatBuffer(count: w.model.parameters.count)
        XCTAssertNoThrow(try w.accumulate(options: o, random: &r, grads: g, scale: 1, shard: .whole))
        XCTAssertThrowsError(try w.accumulate(options: o, random: &r, grads: g, scale: 1, shard: BatchShard(rank: 0, count: 2))) { e in
            XCTAssertTrue("\(e)".contains("does not split its micro-batch"), "\(e)")
        }
    }

    // MARK: - mpirun

    static let mpirun: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    func requireMPIRun() throws -> String {
        guard let m = Self.mpirun else {
            throw XCTSkip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev; Scripts/setup.sh does it): the MPI tests need it")
        }
        return m
    }

    /// A small text corpus (a few verses' worth of varied words), the same every run.
    func corpus(in dir: URL) throws -> URL {
        var rng = SeededRandom(seed: 21)
        let words = ["and", "the", "earth", "was", "without", "form", "void", "darkness", "upon", "face", "of", "deep", "spirit", "moved", "waters", "light"]
        var text = ""
        while text.utf8.count < 24_000 {
            text += (0..<(6 + rng.below(10))).map { _ in words[rng.below(words.count)] }.joined(separator: " ") + ".\n"
        }
        let url = dir.appendingPathComponent("corpus.txt")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func textArguments(_ data: URL, out: URL, steps: Int, extra: [String] = []) -> [String] {
        ["train", "text", "--data", data.path, "--d-model", "32", "--n-layer", "2", "--d-state", "8", "--seq-len", "32",
         "--batch-size", "4", "--steps", "\(steps)", "--lr", "3e-3", "--schedule", "constant", "--eval-every", "4",
         "--eval-tokens", "1500", "--threads", "1", "--log-every", "1", "--seed", "5", "--out", out.path] + extra
    }

    /// Runs `command` (a path and arguments), capturing output, and fails the test (rather than hang) when it
    /// has not ended after `deadline` seconds. `whileRunning` is called every 50 ms with the process id.
    func run(_ command: [String], deadline: Double = 120, whileRunning: ((Int32) -> Void)? = nil) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("mk-out-\(UUID().uuidString)")
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("mk-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outFile.path, contents: nil)
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outFile); try? FileManager.default.removeItem(at: errFile) }
        p.standardOutput = try FileHandle(forWritingTo: outFile)
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        let start = Date()
        while p.isRunning {
            if Date().timeIntervalSince(start) > deadline {
                p.terminate(); usleep(500_000); kill(p.processIdentifier, SIGKILL)
                XCTFail("\(command.prefix(8).joined(separator: " ")) … still running after \(deadline) s: it hangs")
                break
            }
            whileRunning?(p.processIdentifier)
            usleep(50_000)
        }
        p.waitUntilExit()
        return ProcessResult(status: p.terminationStatus, stdout: (try? String(contentsOf: outFile, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
    }

    func mpi(_ mpirun: String, ranks: Int, _ args: [String], deadline: Double = 120,
             whileRunning: ((Int32) -> Void)? = nil) throws -> ProcessResult {
        try run([mpirun, "--oversubscribe", "--allow-run-as-root", "-np", "\(ranks)", mambakitExecutable.path] + args,
                deadline: deadline, whileRunning: whileRunning)
    }

    func single(_ args: [String]) throws -> ProcessResult { try run([mambakitExecutable.path] + args) }

    /// (step, loss, val_loss?) of every line of metrics.jsonl.
    func metrics(_ out: URL) throws -> [(step: Int, loss: Double, val: Double?)] {
        try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return (o["step"] as! Int, (o["loss"] as! NSNumber).doubleValue, (o["val_loss"] as? NSNumber)?.doubleValue)
        }
    }

    func masterWeights(_ out: URL) throws -> [Float] {
        try SafetensorsFile(url: Trainer.checkpointDirectory(out).appendingPathComponent("optimizer.safetensors")).floats("master_weights")
    }

    /// Losses agree to 1e-4 relative and the final float32 parameters to 1e-4 absolute (the parameters
    /// move by ≈ lr = 3e-3 a step): the two runs sum the same per-window gradients in another order
    /// (each rank's sgemm over its own windows, then MPI's sum, against one sgemm over all windows), so
    /// they differ by float32 rounding, ~1e-7 relative per sum, which AdamW's m/√v passes on at most
    /// scaled by lr per step; measured maxima are printed.
    func assertEquivalent(_ a: URL, _ b: URL, what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let ma = try metrics(a), mb = try metrics(b)
        XCTAssertEqual(ma.map(\.step), mb.map(\.step), what, file: file, line: line)
        var lossDiff = 0.0
        for (x, y) in zip(ma, mb) { lossDiff = max(lossDiff, abs(x.loss - y.loss) / abs(x.loss)) }
        let pa = try masterWeights(a), pb = try masterWeights(b)
        let pDiff = maxAbsDiff(pa, pb)
        print("\(what): \(ma.count) steps, max relative loss difference \(lossDiff), max |Δθ| \(pDiff) over \(pa.count) parameters")
        XCTAssertLessThanOrEqual(lossDiff, 1e-4, what, file: file, line: line)
        XCTAssertLessThanOrEqual(pDiff, 1e-4, what, file: file, line: line)
    }

    /// `mpirun -np 2 … --batch-size 4` (2 windows per rank) trains what one process with --batch-size 4
    /// trains: same losses and parameters to float tolerance; rank 0 alone wrote metrics and the checkpoint;
    /// the split validation equals the two halves scored in process.
    func testTwoRanksMatchOneProcess() throws {
        let mpirun = try requireMPIRun()
        let dir = temporaryDirectory(self)
        let data = try corpus(in: dir)
        let one = dir.appendingPathComponent("one"), two = dir.appendingPathComponent("two")
        let r1 = try single(textArguments(data, out: one, steps: 8))
        XCTAssertEqual(r1.status, 0, r1.stderr)
        let r2 = try mpi(mpirun, ranks: 2, textArguments(data, out: two, steps: 8))
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("data-parallel over 2 ranks"), r2.stderr)
        XCTAssertEqual(r2.stdout.components(separatedBy: "saved ").count - 1, 1, "only rank 0 reports the checkpoint: \(r2.stdout)")
        XCTAssertEqual(try metrics(two).count, 8, "rank 0 alone writes metrics.jsonl, one line a step")
        try assertEquivalent(one, two, what: "1 process × batch 4 vs 2 ranks × 2")

        // Validation split over the ranks: predictions 0 ..< P/2 on rank 0, P/2 ..< P on rank 1, each from a fresh state.
        let ck = try Trainer.checkpointDirectory(two)
        let model = try MambaModel.load(directory: ck)
        let tok = try TokenizerStore.load("byte")
        let val = try TextCorpus.load(path: data.path, tokenizer: tok).split(validationFraction: 0.1).validation
        var nats = 0.0, count = 0.0
        for r in 0..<2 {
            let e = try TextLM.evaluate(model: model, corpus: val, tokenizer: tok, maxTokens: 1500, communicator: FixedRank(rank: r, size: 2))
            nats += e.nll * Double(e.tokens); count += Double(e.tokens)
        }
        let whole = try TextLM.evaluate(model: model, corpus: val, tokenizer: tok, maxTokens: 1500)
        let reported = try XCTUnwrap(try metrics(two).last?.val)
        print("split validation: reported \(reported), halves in process \(nats / count), one streamed pass \(whole.nll) (\(Int(count)) vs \(whole.tokens) predictions)")
        XCTAssertEqual(Int(count), whole.tokens, "every token predicted once")
        XCTAssertEqual(reported, nats / count, accuracy: 1e-6)
        XCTAssertEqual(reported, whole.nll, accuracy: 0.02 * whole.nll, "one cut in 1,500 tokens changes little")
    }

    /// A run checkpointed at 2 ranks resumes in one process, and one checkpointed in one process resumes
    /// at 2 ranks; both end where an uninterrupted one-process run ends (to float tolerance).
    func testResumeAtAnotherRankCount() throws {
        let mpirun = try requireMPIRun()
        let dir = temporaryDirectory(self)
        let data = try corpus(in: dir)
        let straight = dir.appendingPathComponent("straight"), a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        XCTAssertEqual(try single(textArguments(data, out: straight, steps: 8)).status, 0)
        // 2 ranks → 1 process
        let a1 = try mpi(mpirun, ranks: 2, textArguments(data, out: a, steps: 4))
        XCTAssertEqual(a1.status, 0, a1.stderr)
        let a2 = try single(["train", "text", "--data", data.path, "--resume", a.path, "--steps", "8", "--eval-every", "4", "--eval-tokens", "1500", "--out", a.path])
        XCTAssertEqual(a2.status, 0, a2.stderr)
        try assertEquivalent(straight, a, what: "4 steps at 2 ranks, then 4 in 1 process")
        // 1 process → 2 ranks
        XCTAssertEqual(try single(textArguments(data, out: b, steps: 4)).status, 0)
        let b2 = try mpi(mpirun, ranks: 2, ["train", "text", "--data", data.path, "--resume", b.path, "--steps", "8", "--eval-every", "4",
                                            "--eval-tokens", "1500", "--threads", "1", "--out", b.path])
        XCTAssertEqual(b2.status, 0, b2.stderr)
        XCTAssertEqual(try metrics(b).map(\.step), Array(1...8))
        try assertEquivalent(straight, b, what: "4 steps in 1 process, then 4 at 2 ranks")
    }

    /// `train dna-classify` (ClassificationObjective with RC augmentation, examples cropped at random) at 2
    /// ranks against one process: same losses and parameters to the same tolerance, and the validation
    /// split over the ranks (each predicts its share of the held-out sequences) gives the same accuracy and MCC.
    func testDNAClassifierTwoRanksMatchOneProcess() throws {
        let mpirun = try requireMPIRun()
        let dir = temporaryDirectory(self)
        var rng = SeededRandom(seed: 8)
        func rows(_ n: Int) -> String {
            "sequence,label\n" + (0..<n).map { _ in
                let gc = rng.below(2) == 1
                let bases = (0..<(20 + rng.below(40))).map { _ in
                    let rich = rng.uniform() < 0.7
                    return gc == rich ? ["G", "C"][rng.below(2)] : ["A", "T"][rng.below(2)]
                }.joined()
                return bases + "," + (gc ? "gc" : "at")
            }.joined(separator: "\n") + "\n"
        }
        let data = dir.appendingPathComponent("gc")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try rows(200).write(to: data.appendingPathComponent("train.csv"), atomically: true, encoding: .utf8)
        try rows(41).write(to: data.appendingPathComponent("dev.csv"), atomically: true, encoding: .utf8)   // 20 + 21 per rank
        func args(_ out: URL) -> [String] {
            ["train", "dna-classify", "--data", data.path, "--d-model", "16", "--n-layer", "2", "--seq-len", "40", "--batch-size", "6",
             "--steps", "6", "--lr", "3e-3", "--eval-every", "3", "--threads", "1", "--seed", "3", "--out", out.path]
        }
        let one = dir.appendingPathComponent("one"), two = dir.appendingPathComponent("two")
        let r1 = try single(args(one)); XCTAssertEqual(r1.status, 0, r1.stderr)
        let r2 = try mpi(mpirun, ranks: 2, args(two)); XCTAssertEqual(r2.status, 0, r2.stderr)
        try assertEquivalent(one, two, what: "dna-classify: 1 process × batch 6 vs 2 ranks × 3")
        func validation(_ out: URL) throws -> [[Double]] {
            try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap { line in
                let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                guard let a = o["val_accuracy"] as? NSNumber, let m = o["val_mcc"] as? NSNumber else { return nil }
                return [a.doubleValue, m.doubleValue]
            }
        }
        let v1 = try validation(one), v2 = try validation(two)
        print("dna-classify validation (accuracy, MCC) at steps 3 and 6: one process \(v1), 2 ranks \(v2)")
        XCTAssertEqual(v1.count, 2); XCTAssertEqual(v1, v2)
    }

    /// Ranks of the mpirun job `pid` (its child processes), by rank.
    func ranks(of pid: Int32) -> [Int: Int32] {
        var out: [Int: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == pid,
                  let env = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            for v in env.split(separator: 0) where v.starts(with: Array("OMPI_COMM_WORLD_RANK=".utf8)) {
                if let r = Int(String(decoding: v.dropFirst("OMPI_COMM_WORLD_RANK=".count), as: UTF8.self)) { out[r] = child }
            }
        }
        return out
    }

    /// Rank 1 is killed (SIGKILL) in the middle of a long run: the job ends with a nonzero status instead of
    /// rank 0 waiting forever in its all-reduce (Open MPI's mpirun ends the job when a rank dies).
    func testKilledRankEndsTheJob() throws {
        let mpirun = try requireMPIRun()
        let dir = temporaryDirectory(self)
        let data = try corpus(in: dir), out = dir.appendingPathComponent("run")
        var killed = false
        let r = try mpi(mpirun, ranks: 2, textArguments(data, out: out, steps: 100_000), deadline: 60) { pid in
            guard !killed, ((try? String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").contains("\n"),
                  let victim = self.ranks(of: pid)[1] else { return }
            kill(victim, SIGKILL); killed = true
        }
        XCTAssertTrue(killed, "rank 1 was never found to kill: \(r.stderr)")
        XCTAssertNotEqual(r.status, 0)
        print("killed rank: mpirun exited with \(r.status); its last words: \(r.stderr.split(separator: "\n").suffix(3).joined(separator: " | "))")
    }

    /// Rank 1 is stopped (SIGSTOP: alive, but never joins the next all-reduce): rank 0's watchdog reports the
    /// call that hung after --collective-timeout seconds and exits, and mpirun ends the job.
    func testStuckRankTimesOut() throws {
        let mpirun = try requireMPIRun()
        let dir = temporaryDirectory(self)
        let data = try corpus(in: dir), out = dir.appendingPathComponent("run")
        var stopped: Int32? = nil
        let r = try mpi(mpirun, ranks: 2, textArguments(data, out: out, steps: 100_000, extra: ["--collective-timeout", "3"]), deadline: 60) { pid in
            guard stopped == nil, ((try? String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").contains("\n"),
                  let victim = self.ranks(of: pid)[1] else { return }
            kill(victim, SIGSTOP); stopped = victim
        }
        if let s = stopped { kill(s, SIGKILL) }   // in case mpirun left it behind
        XCTAssertNotNil(stopped, "rank 1 was never found to stop: \(r.stderr)")
        XCTAssertNotEqual(r.status, 0)
        // the gradient sum, or the loss sums or validation's reduction if rank 1 stopped just before those
        XCTAssertTrue(r.stderr.contains("mpi error: rank 0 of 2: MPI_Allreduce") && r.stderr.contains("has not completed after 3 s"), r.stderr)
    }

    /// Started as a rank (the launcher's variables set) but with no loadable libmpi: one line naming the
    /// library and the packages to install.
    func testMissingMPILibraryIsNamed() throws {
        let dir = temporaryDirectory(self)
        let data = try corpus(in: dir)
        let r = try runCLI(textArguments(data, out: dir.appendingPathComponent("x"), steps: 1),
                           environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0", "MAMBAKIT_MPI_LIBRARY": "/nonexistent/libmpi.so.40"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent/libmpi.so.40") && r.stderr.contains("apt-get install libopenmpi-dev openmpi-bin"), r.stderr)
    }
}

/// Rank `rank` of `size` whose reductions leave the values as they are: one rank's share of a split
/// computation, run in process.
final class FixedRank: Communicator {
    let rank: Int, size: Int
    init(rank: Int, size: Int) { self.rank = rank; self.size = size }
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    func allreduceSum(_ values: inout [Double]) throws {}
    func allreduceMax(_ values: inout [Double]) throws {}
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    func barrier() throws {}
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}
