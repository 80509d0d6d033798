// InputBoundsTests.swift — hostile or corrupt input files (issue #17): every reader gives one line
// naming the file instead of crashing, hanging or allocating without bound. Inputs are made here.
import Foundation
import MambaAudio
import MambaDNA
import MambaKit
import MambaText
import XCTest
import _CSndFile

final class InputBoundsTests: XCTestCase {

    // MARK: Helpers

    /// Asserts that `body` throws an error whose one-line description names `path` (and `mentions`).
    private func assertOneLineError(naming path: String, mentions: [String] = [], file: StaticString = #filePath, line: UInt = #line,
                                    _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "\(text) should mention \(m)", file: file, line: line) }
        }
    }

    /// A named pipe with no writer: opening it for reading would block forever.
    private func makeFIFO(_ name: String) throws -> String {
        let path = temporaryDirectory(self).appendingPathComponent(name).path
        guard mkfifo(path, 0o600) == 0 else { throw XCTSkip("mkfifo failed: \(String(cString: strerror(errno)))") }
        return path
    }

    // MARK: tokenizer.json

    private var smallTokenizerJSON: [String: Any] {
        let url = Fixtures.dir("tokenizers").appendingPathComponent("small/tokenizer.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    private func writeTokenizer(_ json: [String: Any]) throws -> URL {
        let url = temporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return url
    }

    func testTokenizerIDsAreBounded() throws {
        XCTAssertNoThrow(try BPETokenizer(contentsOf: writeTokenizer(smallTokenizerJSON)))
        for id: Any in [1 << 31, 1e18, -1, 50_000, Int64.max, 1e30] {
            var json = smallTokenizerJSON
            var model = json["model"] as! [String: Any]
            var vocab = model["vocab"] as! [String: Any]
            vocab["Ġzzzz"] = id
            model["vocab"] = vocab
            json["model"] = model
            let url = try writeTokenizer(json)
            assertOneLineError(naming: url.path, mentions: ["tokenizer error", "model.vocab"]) { _ = try BPETokenizer(contentsOf: url) }
        }
        for id: Any in [1 << 31, 1e18, -1, 50_000] {
            var json = smallTokenizerJSON
            var added = json["added_tokens"] as! [[String: Any]]
            added.append(["id": id, "content": "<|huge|>", "special": true])
            json["added_tokens"] = added
            let url = try writeTokenizer(json)
            assertOneLineError(naming: url.path, mentions: ["tokenizer error", "added_tokens"]) { _ = try BPETokenizer(contentsOf: url) }
        }
    }

    // MARK: Binary token files

    /// Writes an MKTOK1 file by hand with 4-byte ids (whatever the header's vocabulary size says).
    private func writeRawTokenFile(_ ids: [UInt32], vocabularySize: UInt64) throws -> URL {
        var bytes = Array("MKTOK1".utf8) + [4, 0]
        withUnsafeBytes(of: UInt64(ids.count).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: vocabularySize.littleEndian) { bytes += $0 }
        for id in ids { withUnsafeBytes(of: id.littleEndian) { bytes += $0 } }
        let url = temporaryDirectory(self).appendingPathComponent("tokens.bin")
        try Data(bytes).write(to: url)
        return url
    }

    func testTokenFileIDsMustFitInt32AndTheVocabulary() throws {
        // An id that does not fit Int32 (the header claims a vocabulary of 2^32).
        let huge = try writeRawTokenFile([1, 2, 0xFFFF_FFF0, 3], vocabularySize: 1 << 32)
        assertOneLineError(naming: huge.path, mentions: ["position 2", "4294967280"]) {
            _ = try TextCorpus.load(path: huge.path, tokenizer: ByteTokenizer())
        }
        XCTAssertThrowsError(try TokenFile(contentsOf: huge).int32IDs(below: 1 << 40)) { error in
            XCTAssertEqual(error as? TokenFileError, .storedIDOutOfRange(path: huge.path, position: 2, id: 0xFFFF_FFF0, limit: 1 << 31))
        }
        // An id inside the file's vocabulary but not the tokenizer's (ByteTokenizer has 258 ids).
        let wide = try writeRawTokenFile([5, 300, 7], vocabularySize: 70_000)
        assertOneLineError(naming: wide.path, mentions: ["position 1", "300", "0..<258"]) {
            _ = try TextCorpus.load(path: wide.path, tokenizer: ByteTokenizer())
        }
        // An id at or above the file's own recorded vocabulary size is corrupt.
        let corrupt = try writeRawTokenFile([5, 100, 7], vocabularySize: 50)
        XCTAssertThrowsError(try TokenFile(contentsOf: corrupt).int32IDs(below: 258)) { error in
            XCTAssertEqual(error as? TokenFileError, .storedIDOutOfRange(path: corrupt.path, position: 1, id: 100, limit: 50))
        }
        // Good ids load.
        let good = try writeRawTokenFile([104, 105], vocabularySize: 258)
        XCTAssertEqual(try TextCorpus.load(path: good.path, tokenizer: ByteTokenizer()).tokens, [104, 105])
    }

    // MARK: Special files

    /// A FIFO or a device given as data is refused by name, without opening it (which would block or never end).
    func testSpecialFilesAreRefusedByEveryReader() throws {
        let fifo = try makeFIFO("data.fifo")
        let readers: [(String, (String) throws -> Void)] = [
            ("text", { _ = try TextCorpus.readText(path: $0) }),
            ("text corpus", { _ = try TextCorpus.load(path: $0, tokenizer: ByteTokenizer()) }),
            ("token file", { _ = try TokenFile(contentsOf: URL(fileURLWithPath: $0)) }),
            ("tokenizer", { _ = try BPETokenizer(contentsOf: URL(fileURLWithPath: $0)) }),
            ("FASTA/FASTQ", { _ = try SequenceReader(path: $0) }),
            ("DNA table", { _ = try DNADataset.readTable($0) }),
            ("DNA data set", { _ = try DNADataset.open($0) }),
            ("audio", { _ = try AudioFile.read($0) }),
            ("audio data set", { _ = try AudioDataset.open($0) }),
            ("safetensors", { _ = try SafetensorsFile(url: URL(fileURLWithPath: $0)) }),
            ("config", { _ = try MambaConfig.load(from: URL(fileURLWithPath: $0)) }),
        ]
        for path in [fifo, "/dev/zero", "/dev/null"] {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            for (name, read) in readers {
                // Data readers throw DataError.notARegularFile; the checkpoint and tokenizer readers their
                // own `unreadable(path:reason:)`. Either way: one line, the path, "not a regular file".
                assertOneLineError(naming: path, mentions: ["not a regular file"]) {
                    do { try read(path) } catch let e as DataError {
                        guard case .notARegularFile(path, _, _) = e else { XCTFail("\(name): \(e)"); throw e }
                        XCTAssertTrue("\(e)".contains("error: \(path): not a regular file"), "\(name): \(e)")
                        throw e
                    }
                }
            }
        }
        // A manifest (.csv) that is a FIFO, and a FIFO named like a .bin token file.
        let csv = try makeFIFO("manifest.csv")
        XCTAssertThrowsError(try AudioDataset.open(csv)) { XCTAssertTrue("\($0)".contains("\(csv): not a regular file"), "\($0)") }
        let bin = try makeFIFO("tokens.bin")
        XCTAssertThrowsError(try TextCorpus.load(path: bin, tokenizer: ByteTokenizer())) {
            XCTAssertEqual($0 as? DataError, .notARegularFile(path: bin, fileType: "a named pipe (FIFO)", kind: .tokenFile))
        }
        let index = temporaryDirectory(self)
        XCTAssertEqual(mkfifo(index.appendingPathComponent("model.safetensors.index.json").path, 0o600), 0)
        XCTAssertThrowsError(try SafetensorsCheckpoint(directory: index)) {
            guard case CheckpointError.unreadable(let p, let reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(p.hasSuffix("model.safetensors.index.json") && reason.contains("FIFO"), "\($0)")
        }
        XCTAssertEqual(DataError.notARegularFile(path: "/x", fileType: "a character device", kind: .audio).description.hasPrefix(
            "audio error: /x: not a regular file (it is a character device) — pass an ordinary file"), true)
        // A directory where a FASTA file is expected is refused the same way.
        XCTAssertThrowsError(try SequenceReader(path: temporaryDirectory(self).path)) {
            guard case DataError.notARegularFile(_, "a directory", .dna) = $0 else { return XCTFail("\($0)") }
        }
    }

    // MARK: Training checkpoints

    /// trainer_state.json: a FIFO is refused by name, and a hostile seq_len × batch before anything is built.
    func testTrainerStateIsChecked() throws {
        var o = TrainingOptions()
        o.seqLen = 16; o.batchSize = 2; o.steps = 1; o.threads = 1
        let tokens = (0..<200).map { Int32($0 % 20) }
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 1, vocabSize: 20, dState: 4), seed: 1)
        let trainer = try Trainer(model: model, tokens: tokens, options: o)
        _ = try trainer.trainStep()
        let ck = try trainer.saveCheckpoint(to: temporaryDirectory(self))
        let stateURL = ck.appendingPathComponent("trainer_state.json")
        var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: stateURL)) as? [String: Any])
        var options = try XCTUnwrap(state["options"] as? [String: Any])
        options["seq_len"] = 1 << 40
        state["options"] = options
        try JSONSerialization.data(withJSONObject: state).write(to: stateURL)
        assertOneLineError(naming: stateURL.path, mentions: ["seq_len"]) { _ = try Trainer.resume(from: ck, tokens: tokens) }
        // options that decode but no run can use (found by fuzz-trainerstate): refused by key before building
        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: stateURL)) as? [String: Any])
        for (key, value) in [("threads", -3), ("threads", 1 << 40), ("grad_accumulation", 0), ("steps", -1),
                             ("chunk_length", -2), ("batch_size", 0)] as [(String, Any)] {
            var st = original, opts = try XCTUnwrap(st["options"] as? [String: Any])
            opts["seq_len"] = 16
            opts[key] = value
            st["options"] = opts
            try JSONSerialization.data(withJSONObject: st).write(to: stateURL)
            assertOneLineError(naming: stateURL.path, mentions: ["options.\(key)"]) { _ = try Trainer.resume(from: ck, tokens: tokens) }
        }
        var st = original, opts = try XCTUnwrap(st["options"] as? [String: Any]), adam = try XCTUnwrap(opts["adamw"] as? [String: Any])
        opts["seq_len"] = 16
        adam["beta1"] = 1.5
        opts["adamw"] = adam; st["options"] = opts
        try JSONSerialization.data(withJSONObject: st).write(to: stateURL)
        assertOneLineError(naming: stateURL.path, mentions: ["options.adamw.beta1"]) { _ = try Trainer.resume(from: ck, tokens: tokens) }

        try FileManager.default.removeItem(at: stateURL)
        XCTAssertEqual(mkfifo(stateURL.path, 0o600), 0)
        assertOneLineError(naming: stateURL.path, mentions: ["not a regular file"]) { _ = try Trainer.resume(from: ck, tokens: tokens) }
    }

    // MARK: Audio headers

    /// A 16-bit mono PCM WAV header declaring `sampleRate`, followed by `frames` zero samples.
    private func writeWAV(sampleRate: UInt32, frames: Int, name: String = "clip.wav") throws -> String {
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let dataBytes = UInt32(frames * 2)
        var b = Array("RIFF".utf8) + le32(36 + dataBytes) + Array("WAVE".utf8)
        b += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(sampleRate) + le32(sampleRate &* 2) + le16(2) + le16(16)
        b += Array("data".utf8) + le32(dataBytes) + [UInt8](repeating: 0, count: Int(dataBytes))
        let path = temporaryDirectory(self).appendingPathComponent(name).path
        try Data(b).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testAudioSampleRatesAreBounded() throws {
        XCTAssertEqual(try AudioFile.read(writeWAV(sampleRate: 8000, frames: 100)).sampleRate, 8000)
        XCTAssertEqual(try AudioFile.read(writeWAV(sampleRate: 1000, frames: 100)).sampleRate, 1000)
        for rate: UInt32 in [1, 999, 768_001, 10_000_000, 0xFFFF_FFFF] {
            let path = try writeWAV(sampleRate: rate, frames: 100)
            XCTAssertThrowsError(try AudioFile.read(path)) { error in
                let text = "\(error)"
                // libsndfile itself refuses some rates (unreadable); the others are refused by the bound.
                if case DataError.unreadable(_, _, .audio) = error { return }
                XCTAssertEqual(error as? AudioError, .implausibleHeader(
                    path: path, detail: "sample rate \(Int32(bitPattern: rate)) Hz is outside the supported 1000…768000 Hz"), text)
                XCTAssertTrue(text.hasPrefix("audio error: \(path): sample rate"), text)
            }
        }
    }

    /// A header declaring more than 2^31 samples is refused before the float buffer is allocated.
    func testAudioLengthIsBounded() throws {
        // 8-bit mono WAV whose data chunk declares 4,294,967,040 frames, in a sparse file (no disk used).
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let dataBytes: UInt32 = 0xFFFF_FF00
        var b = Array("RIFF".utf8) + le32(dataBytes &+ 36) + Array("WAVE".utf8)
        b += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(8000) + le32(8000) + le16(1) + le16(8)
        b += Array("data".utf8) + le32(dataBytes)
        let path = temporaryDirectory(self).appendingPathComponent("long.wav").path
        try Data(b).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(b.count) + UInt64(dataBytes))
        try handle.close()
        XCTAssertThrowsError(try AudioFile.read(path)) { error in
            let text = "\(error)"
            if case DataError.unreadable(_, _, .audio) = error { return }   // a libsndfile that refuses the header itself
            guard case AudioError.implausibleHeader(path, let detail) = error else { return XCTFail(text) }
            XCTAssertTrue(detail.contains("2147483648 samples"), detail)
            XCTAssertTrue(text.hasPrefix("audio error: \(path): "), text)
        }
    }
}
