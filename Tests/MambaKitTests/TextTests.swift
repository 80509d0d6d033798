// TextTests.swift — text data, evaluation with state passing, sampling, and the text commands.
import Foundation
import MambaKit
import MambaText
import XCTest

final class TextTests: XCTestCase {
    let sample = String(repeating: "In the beginning God created the heaven and the earth. And the earth was without form, and void. ", count: 40)

    func write(_ text: String, _ name: String) throws -> URL {
        let url = temporaryDirectory(self).appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testCorpusErrors() throws {
        let dir = temporaryDirectory(self)
        let empty = dir.appendingPathComponent("empty.txt")
        FileManager.default.createFile(atPath: empty.path, contents: Data())
        XCTAssertThrowsError(try TextCorpus.load(path: empty.path, tokenizer: ByteTokenizer())) {
            XCTAssertEqual($0 as? DataError, .empty(path: empty.path, what: "text (the file is empty)", kind: .textData))
        }
        let bin = dir.appendingPathComponent("x.dat")
        try Data([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2]).write(to: bin)
        XCTAssertThrowsError(try TextCorpus.load(path: bin.path, tokenizer: ByteTokenizer())) { e in
            guard case DataError.malformed(bin.path, nil, let detail, _, .textData) = e, detail.contains("does not look like text") else {
                return XCTFail("\(e)")
            }
        }
        XCTAssertThrowsError(try TextCorpus.load(path: dir.appendingPathComponent("none.txt").path, tokenizer: ByteTokenizer())) {
            XCTAssertEqual($0 as? DataError, .fileNotFound(path: dir.appendingPathComponent("none.txt").path, kind: .textData))
            XCTAssertTrue("\($0)".hasPrefix("text data error: \(dir.path)/none.txt: no such file or directory — check the path (expected "), "\($0)")
        }
        // Invalid UTF-8 inside text is replaced, not a crash.
        let bad = dir.appendingPathComponent("bad.txt")
        try Data(Array("caf".utf8) + [0xE9] + Array(" ok".utf8)).write(to: bad)
        XCTAssertEqual(try TextCorpus.readText(path: bad.path), "caf\u{FFFD} ok")
        // A directory of .txt files is joined in name order.
        let d2 = dir.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: d2, withIntermediateDirectories: true)
        try "b".write(to: d2.appendingPathComponent("2.txt"), atomically: true, encoding: .utf8)
        try "a".write(to: d2.appendingPathComponent("1.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try TextCorpus.readText(path: d2.path), "a\nb")
    }

    func smallModel() -> MambaModel {
        try! MambaModel.randomlyInitialised(config: MambaConfig(dModel: 32, nLayer: 2, vocabSize: 258, dState: 8), seed: 4)
    }

    /// Long texts are scored in windows with the state carried over: the same numbers as one pass,
    /// and bits per byte is the total NLL in bits over the UTF-8 bytes.
    func testEvaluationWithStatePassingEqualsOnePass() throws {
        let tok = ByteTokenizer()
        let corpus = TextCorpus(tokens: tok.encode(sample), byteCount: sample.utf8.count, source: "sample")
        let model = smallModel()
        let one = try TextLM.evaluate(model: model, corpus: corpus, tokenizer: tok, chunkLength: 1 << 20)
        let windows = try TextLM.evaluate(model: model, corpus: corpus, tokenizer: tok, chunkLength: 37)
        XCTAssertEqual(one.tokens, sample.utf8.count)        // every byte predicted (end-of-text first)
        XCTAssertEqual(windows.nll, one.nll, accuracy: 1e-6)
        XCTAssertEqual(one.bitsPerByte, one.nll / Foundation.log(2.0), accuracy: 1e-12)   // byte-level: tokens = bytes
        XCTAssertEqual(one.perplexity, Foundation.exp(one.nll), accuracy: 1e-9)
    }

    func testSampler() {
        let logits: [Float] = [0.1, 2.0, -1.0, 1.9, 0.5]
        var greedy = SamplingOptions(); greedy.temperature = 0
        var s = Sampler(options: greedy, seed: 1)
        XCTAssertEqual(s.next(logits: logits, history: []), 1)
        var topk = SamplingOptions(); topk.topK = 1
        s = Sampler(options: topk, seed: 2)
        for _ in 0..<20 { XCTAssertEqual(s.next(logits: logits, history: []), 1) }
        var pen = SamplingOptions(); pen.temperature = 0; pen.repetitionPenalty = 2
        s = Sampler(options: pen, seed: 3)
        XCTAssertEqual(s.next(logits: logits, history: [1]), 3)   // 2.0/2 = 1.0 < 1.9
        var warm = SamplingOptions(); warm.temperature = 1; warm.topP = 0.9
        var a = Sampler(options: warm, seed: 9), b = Sampler(options: warm, seed: 9)
        let xs = (0..<50).map { _ in a.next(logits: logits, history: []) }
        XCTAssertEqual(xs, (0..<50).map { _ in b.next(logits: logits, history: []) })   // seeded
        XCTAssertTrue(Set(xs).isSubset(of: [1, 3, 4, 0]))
        // Frequencies follow the softmax (closed form) at temperature 1 without truncation.
        var plain = SamplingOptions(); plain.temperature = 1
        var c = Sampler(options: plain, seed: 5)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<20000 { counts[Int(c.next(logits: logits, history: []))] += 1 }
        let z = logits.map { Foundation.exp(Double($0)) }.reduce(0, +)
        let freqDiff = (0..<5).map { abs(Double(counts[$0]) / 20000 - Foundation.exp(Double(logits[$0])) / z) }.max()!
        print("sampler at temperature 1: max |frequency − softmax| \(freqDiff) over 20,000 draws")
        for i in 0..<5 { XCTAssertEqual(Double(counts[i]) / 20000, Foundation.exp(Double(logits[i])) / z, accuracy: 0.015) }
    }

    func testTextCommands() throws {
        let dir = temporaryDirectory(self)
        let data = try write(sample, "train.txt")
        let out = dir.appendingPathComponent("run")
        let r = try runCLI(["train", "text", "--data", data.path, "--tokenizer", "byte", "--d-model", "32", "--n-layer", "2",
                            "--seq-len", "32", "--batch-size", "2", "--steps", "6", "--eval-every", "3", "--eval-tokens", "200",
                            "--lr", "0.01", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let metrics = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 6)
        XCTAssertTrue(metrics.contains("\"val_loss\""))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("loss_curve.svg").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: try Trainer.checkpointDirectory(out).appendingPathComponent(TokenizerStore.byteMarker).path))

        let e = try runCLI(["eval", "text", "--model", out.path, "--data", data.path, "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["bytes"] as? Int, sample.utf8.count)
        XCTAssertNotNil(obj["bits_per_byte"] as? Double)

        let g = try runCLI(["generate", "--model", out.path, "--prompt", "In the", "--max-tokens", "20", "--seed", "3"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertTrue(g.stdout.hasPrefix("In the"), g.stdout)
        XCTAssertTrue(g.stderr.contains("tokens/s"), g.stderr)

        let t = try runCLI(["tokenize", "--tokenizer", "byte", "--input", data.path, "--json"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let ids = (try JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as! [String: Any])["ids"] as! [Int]
        XCTAssertEqual(ids, Array(sample.utf8).map(Int.init))
        let idsFile = try write(ids.map(String.init).joined(separator: " "), "ids.txt")
        let d = try runCLI(["tokenize", "--tokenizer", "byte", "--input", idsFile.path, "--decode"])
        XCTAssertEqual(d.stdout, sample)
        // A binary token file trains too.
        let bin = dir.appendingPathComponent("train.bin")
        XCTAssertEqual(try runCLI(["tokenize", "--tokenizer", "byte", "--input", data.path, "--out", bin.path]).status, 0)
        let rb = try runCLI(["train", "text", "--data", bin.path, "--d-model", "16", "--n-layer", "1", "--seq-len", "16",
                             "--batch-size", "1", "--steps", "2", "--eval-every", "0"])
        XCTAssertEqual(rb.status, 0, rb.stderr)
    }

    func testTextCommandErrors() throws {
        let dir = temporaryDirectory(self)
        let empty = dir.appendingPathComponent("empty.txt")
        FileManager.default.createFile(atPath: empty.path, contents: Data())
        let r = try runCLI(["train", "text", "--data", empty.path, "--d-model", "16", "--n-layer", "1", "--steps", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(empty.path) && r.stderr.contains("empty"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        let short = try write("tiny", "short.txt")
        let s = try runCLI(["train", "text", "--data", short.path, "--d-model", "16", "--n-layer", "1", "--seq-len", "64", "--val-fraction", "0"])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.stderr.contains("seq-len"), s.stderr)
    }
}
