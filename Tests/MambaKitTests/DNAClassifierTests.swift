// DNAClassifierTests.swift — DNA-level classification and LM figures: MCC/F1 against closed forms,
// reverse-complement averaged predictions, streamed bits per base against logProbs, and the CLI path
// (data dna-species → train dna-classify → eval dna-classify --json).
import Foundation
import MambaDNA
import MambaKit
import XCTest

final class DNAClassifierTests: XCTestCase {
    func testBinaryMetricsMatchClosedForm() {
        // TP = 40, FN = 10, FP = 5, TN = 45 (class 1 = positive)
        var truth: [Int] = [], pred: [Int] = []
        func add(_ t: Int, _ p: Int, _ n: Int) { truth += [Int](repeating: t, count: n); pred += [Int](repeating: p, count: n) }
        add(1, 1, 40); add(1, 0, 10); add(0, 1, 5); add(0, 0, 45)
        let m = ClassificationMetrics(predicted: pred, truth: truth, labels: ["0", "1"])
        let (tp, tn, fp, fn) = (40.0, 45.0, 5.0, 10.0)
        let mcc = (tp * tn - fp * fn) / ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)).squareRoot()
        let f1 = 2 * tp / (2 * tp + fp + fn)
        print(String(format: "  binary MCC %.12f (closed form %.12f), F1 %.12f (%.12f)", m.mcc, mcc, m.f1, f1))
        XCTAssertEqual(m.mcc, mcc, accuracy: 1e-12)
        XCTAssertEqual(m.f1, f1, accuracy: 1e-12)
        XCTAssertEqual(m.accuracy, 0.85, accuracy: 1e-12)
        XCTAssertEqual(m.confusion, [[45, 5], [10, 40]])
    }

    func testMulticlassMCCMatchesGorodkin() {
        // confusion [true][pred] = [[5,1,0],[2,3,1],[0,1,7]]; R_K by hand:
        // n = 20, c = 15, t = (6,6,8), p = (7,5,8):
        // cov = 15·20 − (42+30+64) = 164; sqrt((400 − (49+25+64))(400 − (36+36+64))) = sqrt(262·264)
        let M = [[5, 1, 0], [2, 3, 1], [0, 1, 7]]
        var truth: [Int] = [], pred: [Int] = []
        for t in 0..<3 { for p in 0..<3 { truth += [Int](repeating: t, count: M[t][p]); pred += [Int](repeating: p, count: M[t][p]) } }
        let m = ClassificationMetrics(predicted: pred, truth: truth, labels: ["a", "b", "c"])
        let expected = 164.0 / (262.0 * 264.0).squareRoot()
        // macro F1: class a 2·5/(10+2+1)=10/13, b 6/(6+2+3)=6/11, c 14/(14+1+1)=14/16
        let f1 = (10.0 / 13 + 6.0 / 11 + 14.0 / 16) / 3
        print(String(format: "  3-class MCC %.12f (hand %.12f), macro F1 %.12f (hand %.12f)", m.mcc, expected, m.f1, f1))
        XCTAssertEqual(m.mcc, expected, accuracy: 1e-12)
        XCTAssertEqual(m.f1, f1, accuracy: 1e-12)
        XCTAssertEqual(m.confusion, M)
    }

    func tinyClassifier(bidirectional: Bool) -> SequenceClassifier {
        let base = try! MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 10, dState: 4), seed: 3)
        return SequenceClassifier.fineTuning(base, labels: ["x", "y", "z"], pooling: .mean, bidirectional: bidirectional, seed: 4)
    }

    func testReverseComplementAveragedPredictionIsStrandInvariant() throws {
        var rng = SeededRandom(seed: 11)
        let seqs: [[Int32]] = (0..<6).map { i in (0..<(20 + 7 * i)).map { _ in Int32(5 + rng.below(5)) } }
        for bidirectional in [false, true] {
            let m = tinyClassifier(bidirectional: bidirectional)
            let p = try DNAClassifier.probabilities(model: m, sequences: seqs, rcAverage: true)
            let q = try DNAClassifier.probabilities(model: m, sequences: seqs.map(NucleotideTokenizer.reverseComplement), rcAverage: true)
            let plain = try DNAClassifier.probabilities(model: m, sequences: seqs, rcAverage: false)
            let plainRC = try DNAClassifier.probabilities(model: m, sequences: seqs.map(NucleotideTokenizer.reverseComplement), rcAverage: false)
            let d = maxAbsDiff(p.flatMap { $0 }, q.flatMap { $0 })
            let asym = maxAbsDiff(plain.flatMap { $0 }, plainRC.flatMap { $0 })
            print("  bidirectional=\(bidirectional): max |p_rc(x) − p_rc(rc x)| = \(d); without averaging \(asym)")
            XCTAssertLessThan(d, 1e-6)
            XCTAssertGreaterThan(asym, 1e-4)   // the model itself is not strand-symmetric, so the test can fail
            // the average is the mean of the two plain softmaxes
            let mean = zip(plain, plainRC).map { zip($0, $1).map { ($0 + $1) / 2 } }
            XCTAssertLessThan(maxAbsDiff(p.flatMap { $0 }, mean.flatMap { $0 }), 1e-6)
        }
    }

    func testStreamedBitsPerBaseMatchLogProbs() throws {
        let m = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 10, dState: 4), seed: 5)
        var rng = SeededRandom(seed: 2)
        let bases = Array("ACGTN".utf8)
        let records: [[UInt8]] = [300, 1, 77].map { n in (0..<n).map { _ in bases[rng.below(5)] } }
        let tok = NucleotideTokenizer()
        var nll = 0.0, n = 0
        for r in records {
            let ids = [NucleotideTokenizer.eos] + tok.encode(bytes: r)
            guard ids.count >= 2 else { continue }
            let lp = try m.logProbs(tokens: ids, mode: .recurrent)
            nll -= lp.reduce(0.0) { $0 + Double($1) }; n += lp.count
        }
        let reference = nll / Double(n) / log(2)
        for chunk in [1, 7, 4096] {
            let e = try DNALM.evaluate(model: m, records: records, chunkLength: chunk)
            print("  chunk \(chunk): \(e.bitsPerBase) bits/base vs logProbs \(reference) (diff \(abs(e.bitsPerBase - reference)))")
            XCTAssertEqual(e.bases, 378)
            XCTAssertEqual(e.records, 3)
            XCTAssertEqual(e.bitsPerBase, reference, accuracy: 1e-4)
        }
        // the training stream puts <eos> before every record
        let dir = temporaryDirectory(self)
        let fa = dir.appendingPathComponent("x.fa")
        try Data(">a\nACg\n>b\nnT\n".utf8).write(to: fa)
        XCTAssertEqual(try DNALM.tokenStream(paths: [fa.path]), [2, 5, 6, 7, 2, 9, 8])
        XCTAssertEqual(try DNALM.tokenStream(paths: [fa.path], maxBases: 4), [2, 5, 6, 7, 2, 9])
        let file = try DNALM.evaluate(model: m, paths: [fa.path], chunkLength: 2)
        let mem = try DNALM.evaluate(model: m, records: [Array("ACG".utf8), Array("NT".utf8)], chunkLength: 3)
        XCTAssertEqual(file.bitsPerBase, mem.bitsPerBase, accuracy: 1e-5)
    }

    func testSpeciesDataTrainAndEvalThroughTheCLI() throws {
        guard FileManager.default.isExecutableFile(atPath: mambakitExecutable.path) else { throw XCTSkip("mambakit not built") }
        let dir = temporaryDirectory(self)
        // two "species" with different base composition (AT-rich vs GC-rich), 4 kbp each
        var rng = SeededRandom(seed: 9)
        func genome(_ probs: [Double]) -> String {
            let b = Array("ACGT")
            return String((0..<4000).map { _ -> Character in
                var u = Double(rng.uniform()), k = 0
                while k < 3 && u >= probs[k] { u -= probs[k]; k += 1 }
                return b[k]
            })
        }
        let at = dir.appendingPathComponent("at.fa")
        try Data(">at\n\(genome([0.4, 0.1, 0.1, 0.4]))\n".utf8).write(to: at)
        let plain = dir.appendingPathComponent("gc.fa")
        try Data(">gc1\n\(genome([0.1, 0.4, 0.4, 0.1]))\n".utf8).write(to: plain)
        let d = try runCLI(["data", "dna-species", "--genomes", at.path, "gc=\(plain.path)", "--window", "100",
                        "--train-regions", "0:0.75", "--test-regions", "0.75:1", "--out", dir.appendingPathComponent("sp").path])
        XCTAssertEqual(d.status, 0, d.stderr)
        let built = try DNADataset.open(dir.appendingPathComponent("sp").path)
        XCTAssertEqual(try built.examples(split: "train").count, 60)
        XCTAssertEqual(try built.examples(split: "test").count, 20)
        XCTAssertEqual(DNADataset.labels(of: try built.examples(split: "test")), ["at", "gc"])
        let out = dir.appendingPathComponent("run").path
        let t = try runCLI(["train", "dna-classify", "--data", dir.appendingPathComponent("sp").path, "--d-model", "16", "--n-layer", "1",
                            "--steps", "30", "--batch-size", "8", "--seq-len", "64", "--lr", "1e-2", "--threads", "1", "--out", out])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: try Trainer.checkpointDirectory(URL(fileURLWithPath: out)).appendingPathComponent("dna.json").path))
        let e = try runCLI(["eval", "dna-classify", "--model", out, "--data", dir.appendingPathComponent("sp").path, "--json", "--rc-average", "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        print("  CLI eval: \(e.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertEqual(obj["count"] as? Int, 20)
        XCTAssertNotNil(obj["mcc"] as? Double)
        XCTAssertEqual((obj["confusion"] as? [[Int]])?.flatMap { $0 }.reduce(0, +), 20)
        XCTAssertGreaterThanOrEqual(obj["accuracy"] as! Double, 0.9)   // composition is easy to learn in 30 steps
        // a bad data file gives a typed error naming its line, and no traceback
        let bad = dir.appendingPathComponent("bad.csv")
        try Data("sequence,label\nACGT,a\nACOT,b\n".utf8).write(to: bad)
        let b = try runCLI(["eval", "dna-classify", "--model", out, "--data", bad.path])
        XCTAssertNotEqual(b.status, 0)
        XCTAssertTrue(b.stderr.contains("bad.csv:3"), b.stderr)
    }

    func testPretrainLMThenFineTuneThroughTheCLI() throws {
        guard FileManager.default.isExecutableFile(atPath: mambakitExecutable.path) else { throw XCTSkip("mambakit not built") }
        let dir = temporaryDirectory(self)
        var rng = SeededRandom(seed: 4)
        func seq(_ n: Int) -> String { randomDNA(n, &rng) }
        let fa = dir.appendingPathComponent("g.fa")
        try Data(">a\n\(seq(3000))\n>b\n\(seq(1000).lowercased())\n".utf8).write(to: fa)
        let val = dir.appendingPathComponent("v.fa")
        try Data(">v\n\(seq(500))\n".utf8).write(to: val)
        let lm = dir.appendingPathComponent("lm").path
        let t = try runCLI(["train", "dna-lm", "--data", fa.path, "--val", val.path, "--seq-len", "64", "--batch-size", "4", "--steps", "5",
                            "--d-model", "16", "--n-layer", "1", "--threads", "1", "--out", lm])
        XCTAssertEqual(t.status, 0, t.stderr)
        let e = try runCLI(["eval", "dna-lm", "--model", lm, "--data", val.path, "--json", "--chunk-length", "100", "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        print("  eval dna-lm: \(e.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertEqual(obj["bases"] as? Int, 500)
        let bpb = obj["bits_per_base"] as! Double
        XCTAssertTrue(bpb > 1.5 && bpb < 4, "\(bpb)")   // 5 steps barely move it from uniform over the 10 ids (log2 10 = 3.32 bits)
        // the same figure from the library, on the saved model
        let m = try MambaModel.load(directory: try Trainer.checkpointDirectory(URL(fileURLWithPath: lm)))
        XCTAssertEqual(try DNALM.evaluate(model: m, paths: [val.path]).bitsPerBase, bpb, accuracy: 1e-5)
        // fine-tune a classifier from the LM
        let csv = dir.appendingPathComponent("c.csv")
        try Data(("sequence,label\n" + (0..<20).map { "\(seq(30)),\($0 % 2 == 0 ? "x" : "y")" }.joined(separator: "\n") + "\n").utf8).write(to: csv)
        let c = try runCLI(["train", "dna-classify", "--data", csv.path, "--init", lm, "--bidirectional", "--steps", "3", "--batch-size", "4",
                            "--seq-len", "30", "--threads", "1", "--out", dir.appendingPathComponent("cls").path])
        XCTAssertEqual(c.status, 0, c.stderr)
        let ck = try Trainer.checkpointDirectory(dir.appendingPathComponent("cls"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ck.appendingPathComponent(ClassifierConfig.fileName).path))
        let cm = try SequenceClassifier.load(directory: ck)
        XCTAssertEqual(cm.labels, ["x", "y"])
        XCTAssertTrue(cm.head.bidirectional)
        XCTAssertEqual(cm.backboneConfig.dModel, 16)
        XCTAssertEqual(try MambaConfig.load(from: ck).numLabels, 0)   // the head is in classifier.json, not config.json
    }

    /// The Caduceus recipe through the CLI: masked-LM pretraining of an RC-equivariant BiMamba with the length
    /// warm-up (killed and resumed), masked bits per base from `eval dna-lm` equal to the library's, then an
    /// RC-equivariant classifier fine-tuned from it, whose predictions RC averaging does not change.
    func testMaskedPretrainingWithWarmupThenEquivariantFineTuneThroughTheCLI() throws {
        guard FileManager.default.isExecutableFile(atPath: mambakitExecutable.path) else { throw XCTSkip("mambakit not built") }
        let dir = temporaryDirectory(self)
        var rng = SeededRandom(seed: 6)
        func seq(_ n: Int) -> String { randomDNA(n, &rng) }
        let fa = dir.appendingPathComponent("g.fa"), val = dir.appendingPathComponent("v.fa")
        try Data(">a\n\(seq(4000))\n".utf8).write(to: fa)
        try Data(">v\n\(seq(600))\n".utf8).write(to: val)
        let lm = dir.appendingPathComponent("mlm").path
        let common = ["train", "dna-lm", "--data", fa.path, "--val", val.path, "--seq-len", "64", "--batch-size", "2",
                      "--d-model", "16", "--n-layer", "1", "--rc-equivariant", "--bidirectional", "--warmup-length", "16",
                      "--stage-steps", "2", "--threads", "1", "--out", lm, "--save-every", "3", "--mask-probability", "0.25"]
        let t = try runCLI(common + ["--steps", "3"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("masked DNA LM (RC-equivariant BiMamba)") && t.stderr.contains("16×8 from step 0, 32×4 from step 2,"), t.stderr)
        // the masking probability is saved (dna.json): a resume keeps it, a different one is refused naming the file
        let clash = try runCLI(["train", "dna-lm", "--data", fa.path, "--resume", lm, "--steps", "6", "--threads", "1", "--out", lm,
                                "--mask-probability", "0.15"])
        XCTAssertNotEqual(clash.status, 0)
        XCTAssertTrue(clash.stderr.contains("dna.json") && clash.stderr.contains("0.25"), clash.stderr)
        let r = try runCLI(["train", "dna-lm", "--data", fa.path, "--val", val.path, "--resume", lm, "--steps", "6", "--threads", "1", "--out", lm])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ck = try Trainer.checkpointDirectory(URL(fileURLWithPath: lm))
        XCTAssertEqual(try DNASettings.load(from: ck)?.maskProbability, 0.25)
        let m = try MambaModel.load(directory: ck)
        XCTAssertTrue(m.config.rcps && m.config.bidirectional)
        let e = try runCLI(["eval", "dna-lm", "--model", lm, "--data", val.path, "--json", "--chunk-length", "64", "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        print("  eval dna-lm (masked, RC-equivariant): \(e.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        let bpb = obj["bits_per_base"] as! Double
        XCTAssertEqual(obj["bases"] as? Int, 9 * 16)   // nine 64-base windows of 600 bases, round(0.25·64) = 16 masked each (the 24-base rest is dropped)
        let windows = DNALM.windows(records: [Array(try String(contentsOf: val, encoding: .utf8).split(separator: "\n")[1].utf8)], length: 64)
        XCTAssertEqual(try DNALM.maskedEvaluate(model: m, windows: windows, masking: DNALM.masking(probability: 0.25)).bitsPerBase, bpb, accuracy: 1e-5)
        // fine-tune an RC-equivariant classifier on it; RC averaging changes no prediction
        let csv = dir.appendingPathComponent("c.csv")
        try Data(("sequence,label\n" + (0..<30).map { "\(seq(40)),\($0 % 3 == 0 ? "x" : "y")" }.joined(separator: "\n") + "\n").utf8).write(to: csv)
        let c = try runCLI(["train", "dna-classify", "--data", csv.path, "--init", lm, "--steps", "3", "--batch-size", "4",
                            "--seq-len", "40", "--threads", "1", "--out", dir.appendingPathComponent("cls").path])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains("RC-equivariant"), c.stderr)
        var scores: [String] = []
        for avg in [false, true] {
            let ev = try runCLI(["eval", "dna-classify", "--model", dir.appendingPathComponent("cls").path, "--data", csv.path, "--split", "train",
                                 "--json", "--threads", "1"] + (avg ? ["--rc-average"] : []))
            XCTAssertEqual(ev.status, 0, ev.stderr)
            let o = try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as! [String: Any]
            scores.append("\(o["accuracy"]!) \(o["confusion"]!)")
        }
        XCTAssertEqual(scores[0], scores[1])
        // --rc-equivariant with an --init model that already is RC-equivariant is accepted; a warm-up longer than seq-len is not
        let bad = try runCLI(["train", "dna-lm", "--data", fa.path, "--seq-len", "32", "--steps", "1", "--init", lm, "--rc-equivariant", "--threads", "1"])
        XCTAssertEqual(bad.status, 0, bad.stderr)   // already RC-equivariant: accepted
        let wl = try runCLI(["train", "dna-lm", "--data", fa.path, "--seq-len", "32", "--steps", "1", "--d-model", "8", "--n-layer", "1", "--warmup-length", "64"])
        XCTAssertNotEqual(wl.status, 0)
        XCTAssertTrue(wl.stderr.contains("--warmup-length"), wl.stderr)
        let mp = try runCLI(["train", "dna-lm", "--data", fa.path, "--seq-len", "32", "--steps", "1", "--d-model", "8", "--n-layer", "1",
                             "--bidirectional", "--mask-probability", "0"])
        XCTAssertNotEqual(mp.status, 0)
        XCTAssertTrue(mp.stderr.contains("--mask-probability"), mp.stderr)
        // a causal --init model is not made RC-equivariant by the flag: refused by name
        let causal = dir.appendingPathComponent("causal").path
        XCTAssertEqual(try runCLI(["train", "dna-lm", "--data", fa.path, "--seq-len", "32", "--steps", "1", "--d-model", "8", "--n-layer", "1",
                                   "--threads", "1", "--out", causal]).status, 0)
        let ci = try runCLI(["train", "dna-lm", "--data", fa.path, "--seq-len", "32", "--steps", "1", "--init", causal, "--rc-equivariant", "--threads", "1"])
        XCTAssertNotEqual(ci.status, 0)
        XCTAssertTrue(ci.stderr.contains("--rc-equivariant") && ci.stderr.contains("causal"), ci.stderr)
    }
}

/// n uniformly random bases (A C G T) as a string.
private func randomDNA(_ n: Int, _ rng: inout SeededRandom) -> String {
    let b = Array("ACGT")
    return String((0..<n).map { _ in b[rng.below(4)] })
}
