// FuzzRegressionTests.swift — every input that crashed a parser under fuzzing (issue #17) must now
// make that parser throw. The inputs are under Fixtures/fuzz/<harness>/ (see its README.md).
//
// Each asserts a thrown error (naming the file) where the parser once trapped or tried to allocate
// terabytes; the bounds of issue #17 make them pass.
import Foundation
import MambaAudio
import MambaKit
import MambaText
import XCTest

final class FuzzRegressionTests: XCTestCase {
    static func input(_ harness: String, _ name: String) -> URL {
        Fixtures.dir("fuzz").appendingPathComponent(harness).appendingPathComponent(name)
    }

    // MARK: trainer_state.json (fuzz-trainerstate)

    /// A tiny one-step checkpoint whose trainer_state.json is replaced by `name`.
    func resumeWithState(_ name: String) throws -> Trainer {
        let model = try MambaModel.randomlyInitialised(
            config: MambaConfig(dModel: 8, nLayer: 1, vocabSize: 12, dState: 4), seed: 1)
        var options = TrainingOptions()
        options.seqLen = 8; options.batchSize = 2; options.steps = 2; options.threads = 1; options.seed = 3
        let tokens: [Int32] = (0..<256).map { Int32(($0 * 7) % 11) }
        let trainer = try Trainer(model: model, tokens: tokens, options: options)
        _ = try trainer.trainStep()
        let ck = try trainer.saveCheckpoint(to: temporaryDirectory(self))
        let state = ck.appendingPathComponent("trainer_state.json")
        try FileManager.default.removeItem(at: state)
        try FileManager.default.copyItem(at: Self.input("trainerstate", name), to: state)
        return try Trainer.resume(from: ck, tokens: tokens)
    }

    func assertBadCheckpoint(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try resumeWithState(name), file: file, line: line) { error in
            guard case .badCheckpoint(_, let detail)? = error as? TrainingError else {
                return XCTFail("expected TrainingError.badCheckpoint, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(detail.contains("data_random"), detail, file: file, line: line)
        }
    }

    /// Found by fuzz-trainerstate: "15787385904621@49143" was dropped by compactMap and the
    /// generator's `precondition(count == 4)` trapped.
    func testTrainerStateWordNotANumber() { assertBadCheckpoint("data_random_not_a_number.json") }

    func testTrainerStateThreeWords() { assertBadCheckpoint("data_random_three_words.json") }

    // MARK: tokenizer.json (fuzz-tokenizer) — crash until the bounds branch is merged

    /// The fuzz-tokenizer input `name` is refused with an error (it trapped or exhausted memory before the bounds).
    func assertTokenizerRefused(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = try Data(contentsOf: Self.input("tokenizer", name))
        XCTAssertThrowsError(try BPETokenizer(jsonData: data), file: file, line: line)
    }

    func testTokenizerMergedIDAboveInt32() throws {
        try assertTokenizerRefused("merged_id_above_int32.json")
    }

    func testTokenizerAddedTokenIDHuge() throws {
        try assertTokenizerRefused("added_token_id_2pow40.json")
    }

    /// Found by fuzz-tokenizer (with its dictionary), minimised by hand: the byte-level token "a"
    /// has id 2^32 (`Int32(_:)` traps where the byte table is built).
    func testTokenizerByteTokenIDAboveInt32() throws {
        try assertTokenizerRefused("byte_token_id_above_int32.json")
    }

    /// Found by fuzz-tokenizer, minimised by libFuzzer: one vocabulary entry with id 217 483 667
    /// makes the decoding tables 217 M entries long (3.5 GB; over the fuzzer's 2 GB limit).
    func testTokenizerSparseHugeVocabularyID() throws {
        try assertTokenizerRefused("vocab_id_217483667.json")
    }

    // MARK: audio (fuzz-audio) — crashes until the bounds branch is merged

    func testAudioFLACHugeFrameCount() throws {
        XCTAssertThrowsError(try AudioFile.read(Self.input("audio", "flac_total_samples_2pow36.flac").path))
    }
}
