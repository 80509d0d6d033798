// ErrorTests.swift — bad input gives a typed error naming the file/tensor, and the CLI one clear line.
import Foundation
import MambaKit
import XCTest

final class ErrorTests: XCTestCase {
    /// Copies a fixture model directory to a temporary place we may damage.
    func copyFixture(_ name: String) throws -> URL {
        let dir = temporaryDirectory(self).appendingPathComponent(name)
        try FileManager.default.copyItem(at: Fixtures.dir(name), to: dir)
        return dir
    }

    func testMissingDirectoryAndFiles() throws {
        let nowhere = URL(fileURLWithPath: "/nonexistent/mambakit-model")
        XCTAssertThrowsError(try MambaModel.load(directory: nowhere)) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/mambakit-model"), "\(e)")
        }
        let dir = try copyFixture("tiny_f32")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            guard case CheckpointError.fileNotFound = e else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("model.safetensors"), "\(e)")
        }
    }

    func testConfigThatDisagreesWithWeightsNamesTheTensor() throws {
        let dir = try copyFixture("tiny_f32")
        var config = try MambaConfig.load(from: dir)
        config.dState = 8   // weights were made with 16
        try config.write(to: dir)
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            guard case let CheckpointError.shapeMismatch(_, name, expected, found) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "backbone.layers.0.mixer.x_proj.weight")
            XCTAssertEqual(expected, [3 + 16, 64])
            XCTAssertEqual(found, [3 + 32, 64])
            XCTAssertTrue("\(e)".contains("model.safetensors"), "\(e)")
        }
    }

    /// A config far larger than its weights (but under the parameter limit: 8 layers of width 16384,
    /// ~52 GB as Float32) is checked against the safetensors headers before the parameter block is allocated.
    func testConfigIsCheckedAgainstTensorsBeforeAllocating() throws {
        let dir = try copyFixture("tiny_f32")
        let config = MambaConfig(dModel: 16384, nLayer: 8, vocabSize: 1000)
        XCTAssertLessThan(config.parameterCount, MambaConfig.maximumParameterCount)
        try config.write(to: dir)
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            guard case let CheckpointError.shapeMismatch(_, name, expected, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "backbone.embeddings.weight")
            XCTAssertEqual(expected, [1000, 16384])
            XCTAssertTrue("\(e)".contains("model.safetensors"), "\(e)")
        }
    }

    func testMissingTensorIsNamed() throws {
        let src = try MambaModel.load(directory: Fixtures.dir("tiny_f32"))
        let dir = temporaryDirectory(self)
        // Write all tensors but one.
        let tensors = src.layout.slices.filter { $0.name != "backbone.layers.1.mixer.D" }.map {
            SafetensorsWriter.Tensor(name: $0.name, shape: $0.shape,
                                     data: UnsafeBufferPointer(start: src.parameters.pointer + $0.offset, count: $0.count))
        }
        try SafetensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        try src.config.write(to: dir)
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            guard case let CheckpointError.missingTensor(_, name) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "backbone.layers.1.mixer.D")
        }
    }

    func testIntegerTensorIsRejectedAsDType() throws {
        let src = try MambaModel.load(directory: Fixtures.dir("f16_weights"))
        let dir = temporaryDirectory(self)
        try src.save(to: dir)
        // Rewrite the file by hand: the same header, but norm_f stored as I32 (same byte size as F32).
        let url = dir.appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: url)
        let n = Int(data.withUnsafeBytes { $0.load(as: UInt64.self) })
        var header = String(decoding: data[8..<(8 + n)], as: UTF8.self)
        let key = "\"backbone.norm_f.weight\":{\"dtype\":\"F32\""
        if let r = header.range(of: key) {
            header.replaceSubrange(r, with: "\"backbone.norm_f.weight\":{\"dtype\":\"I32\"")
        } else {
            // Tolerate other JSON spacing by a looser replacement.
            let pattern = try NSRegularExpression(pattern: "(\"backbone\\.norm_f\\.weight\"\\s*:\\s*\\{[^}]*\"dtype\"\\s*:\\s*\")F32")
            header = pattern.stringByReplacingMatches(in: header, range: NSRange(header.startIndex..., in: header), withTemplate: "$1I32")
        }
        data.replaceSubrange(8..<(8 + n), with: Data(header.utf8))
        try data.write(to: url)
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            guard case let CheckpointError.unsupportedDType(_, name, dtype) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "backbone.norm_f.weight")
            XCTAssertEqual(dtype, "I32")
        }
    }

    func testTruncatedWeightsFile() throws {
        let dir = try copyFixture("tiny_f32")
        let url = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 100).write(to: url)
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            guard case CheckpointError.invalidHeader = e else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains(url.path), "\(e)")
        }
    }

    func testTokenOutOfRangeAndEmptyInput() throws {
        let model = try MambaModel.load(directory: Fixtures.dir("tiny_f32"))
        XCTAssertThrowsError(try model.logits(tokens: [1, 2, 61])) { e in
            XCTAssertEqual(e as? ModelError, .tokenOutOfRange(token: 61, position: 2, vocabSize: 61, source: nil))
        }
        XCTAssertThrowsError(try model.logProbs(tokens: [-1, 3])) { e in
            guard case ModelError.tokenOutOfRange = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try model.logProbs(tokens: [3])) { e in
            guard case ModelError.emptyInput = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try model.logits(tokens: [])) { e in
            guard case ModelError.emptyInput = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try model.step([1, 2], state: model.makeState(batch: 1))) { e in
            guard case ModelError.stateMismatch = e else { return XCTFail("\(e)") }
        }
    }

    // MARK: - CLI: exit non-zero with one clear line

    func assertCLIFails(_ args: [String], mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(args)
        XCTAssertNotEqual(r.status, 0, "should fail: \(args)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, "expected one line, got: \(r.stderr)", file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "'\(m)' not in: \(r.stderr)", file: file, line: line) }
    }

    func testCLIErrors() throws {
        let tiny = Fixtures.dir("tiny_f32").path
        let tmp = temporaryDirectory(self)
        let bad = tmp.appendingPathComponent("bad.txt")
        try "1 2 61 3".write(to: bad, atomically: true, encoding: .utf8)
        try assertCLIFails(["score", "--model", tiny, "--tokens", bad.path, "--json"], mentions: [bad.path, "61", "0..<61"])
        let words = tmp.appendingPathComponent("words.txt")
        try "1 2 three".write(to: words, atomically: true, encoding: .utf8)
        try assertCLIFails(["score", "--model", tiny, "--tokens", words.path], mentions: [words.path, "three"])
        try assertCLIFails(["score", "--model", tiny, "--tokens", tmp.appendingPathComponent("none.txt").path], mentions: ["none.txt"])
        try assertCLIFails(["score", "--model", tmp.path, "--tokens", bad.path], mentions: [tmp.path, "config.json"])
        let badJSON = tmp.appendingPathComponent("badjson")
        try FileManager.default.createDirectory(at: badJSON, withIntermediateDirectories: true)
        try "{\"hidden_size\": 16,".write(to: badJSON.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try assertCLIFails(["info", "--model", badJSON.path], mentions: ["config.json"])
    }

    func testCLIScoreJSONMatchesFixture() throws {
        let name = "odd_untied"
        let r = try runCLI(["score", "--model", Fixtures.dir(name).path, "--tokens",
                            Fixtures.dir(name).appendingPathComponent("tokens.txt").path, "--mode", "recurrent", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let lp = (obj["logprobs"] as! [NSNumber]).map { $0.floatValue }
        XCTAssertLessThanOrEqual(maxAbsDiff(lp, try Fixtures.expected(name, "logprobs")), 1e-4)
        XCTAssertEqual((obj["nll"] as! NSNumber).floatValue, try Fixtures.expected(name, "nll")[0], accuracy: 1e-4)
        let info = try runCLI(["info", "--model", Fixtures.dir(name).path, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("\"parameters\": 29376"), info.stdout)
    }
}
