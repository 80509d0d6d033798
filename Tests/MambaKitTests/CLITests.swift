// CLITests.swift — the `mambakit` tool as a user meets it: option errors as one line naming the
// option, value and range (exit 64); the live progress line only on a terminal; --model accepting a
// training --out directory everywhere.
import Foundation
import XCTest
import MambaKit

final class CLITests: XCTestCase {
    /// Runs the tool and checks it refuses `args` with exit 64 and exactly one stderr line holding every
    /// string of `mentions` (no usage text).
    func assertRefused(_ args: [String], mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(args)
        XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, "\(args): expected one line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr, file: file, line: line)
        XCTAssertFalse(r.stderr.contains("USAGE"), r.stderr, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "'\(m)' not in: \(r.stderr)", file: file, line: line) }
    }

    func testBadNumbersAreOneLineNamingOptionValueAndRange() throws {
        let tmp = temporaryDirectory(self)
        let tokens = tmp.appendingPathComponent("t.txt")
        try "1 2 3 4".write(to: tokens, atomically: true, encoding: .utf8)
        let tiny = Fixtures.dir("tiny_f32").path
        let wav = tmp.appendingPathComponent("a.wav").path
        try assertRefused(["score", "--model", tiny, "--tokens", tokens.path, "--threads", "0"], mentions: ["--threads 0", "1…256"])
        try assertRefused(["train", "--tokens", tokens.path, "--threads", "3000000000"], mentions: ["--threads 3000000000", "1…256"])
        try assertRefused(["eval", "text", "--model", tiny, "--data", tokens.path, "--threads", "257"], mentions: ["--threads 257"])
        for bad in ["nan", "inf", "1e300", "-1", "0"] {
            try assertRefused(["generate", "audio", "--model", tiny, "--out", wav, "--seconds=\(bad)"], mentions: ["--seconds", "finite", "3600"])
        }
        try assertRefused(["audio", "spectrogram", wav, "--out", tmp.appendingPathComponent("s.png").path, "--max-seconds", "nan"],
                          mentions: ["--max-seconds nan", "finite"])
        try assertRefused(["audio", "spectrogram", wav, "--out", tmp.appendingPathComponent("s.png").path, "--mels", "0"], mentions: ["--mels 0", "1…512"])
        try assertRefused(["train", "text", "--data", tokens.path, "--val-fraction", "2"], mentions: ["--val-fraction", "[0, 1)"])
        try assertRefused(["eval", "audio-lm", "--model", tiny, "--data", wav, "--chunk-length", "0"], mentions: ["--chunk-length 0"])
        try assertRefused(["eval", "dna-lm", "--model", tiny, "--data", wav, "--chunk-length", "0"], mentions: ["--chunk-length 0"])
        try assertRefused(["train", "--tokens", tokens.path, "--batch-size", "100000", "--seq-len", "100000"], mentions: ["--batch-size 100000", "2^26"])
        try assertRefused(["train", "--tokens", tokens.path, "--d-model", "100000", "--n-layer", "1"], mentions: ["--d-model 100000", "65536"])
        try assertRefused(["train", "--tokens", tokens.path, "--d-model", "60000", "--n-layer", "64", "--vocab-size", "256"], mentions: ["--d-model 60000", "2^30"])
        try assertRefused(["train", "--tokens", tokens.path, "--lr", "nan"], mentions: ["--lr nan"])
        try assertRefused(["train", "--tokens", tokens.path, "--beta2", "1"], mentions: ["--beta2 1", "< 1"])
        try assertRefused(["train", "--tokens", tokens.path, "--steps", "0"], mentions: ["--steps 0"])
        try assertRefused(["generate", "--model", tiny, "--top-p", "0"], mentions: ["--top-p 0"])
        try assertRefused(["bench", "gemm", "--threads", "0"], mentions: ["--threads 0"])
        try assertRefused(["data", "dna-species", "--genomes", "a.fa", "--window", "0", "--out", tmp.path], mentions: ["--window 0"])
        // The parser's own errors are one line too.
        try assertRefused(["train", "--tokens", tokens.path, "--threads", "abc"], mentions: ["abc", "--threads"])
        try assertRefused(["score", "--tokens", tokens.path], mentions: ["--model"])
    }

    func testHelpStillPrints() throws {
        let r = try runCLI(["train", "lm", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("--threads") && r.stdout.contains("--resume") && r.stdout.contains("--save-every"), r.stdout)
    }

    /// Training into --out, then score, eval and info given the --out directory itself.
    func testProgressPlainWhenPipedAndModelDirectoryResolved() throws {
        let dir = temporaryDirectory(self)
        let tokensURL = dir.appendingPathComponent("tokens.txt")
        try (0..<400).map { String($0 % 16) }.joined(separator: " ").write(to: tokensURL, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        let t = try runCLI(["train", "--tokens", tokensURL.path, "--seq-len", "16", "--batch-size", "2", "--d-model", "16", "--n-layer", "1",
                            "--vocab-size", "16", "--steps", "6", "--log-every", "2", "--threads", "1", "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertFalse(t.stderr.contains("\r"), "no live line when stderr is a pipe: \(t.stderr)")
        XCTAssertEqual(t.stderr.split(separator: "\n").filter { $0.hasPrefix("step ") }.count, 3, t.stderr)
        let s = try runCLI(["score", "--model", out.path, "--tokens", tokensURL.path, "--json", "--threads", "1"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("\"nll\""), s.stdout)
        let i = try runCLI(["info", "--model", out.path, "--json"])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertTrue(i.stdout.contains("\"d_model\": 16"), i.stdout)
    }

    /// On a terminal (a pseudo-terminal from script(1)), training shows one line rewritten with \r.
    func testLiveProgressLineOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("no script(1) for a pseudo-terminal") }
        let dir = temporaryDirectory(self)
        let tokensURL = dir.appendingPathComponent("tokens.txt")
        try (0..<400).map { String($0 % 16) }.joined(separator: " ").write(to: tokensURL, atomically: true, encoding: .utf8)
        let cmd = [mambakitExecutable.path, "train", "--tokens", tokensURL.path, "--seq-len", "16", "--batch-size", "2", "--d-model", "16",
                   "--n-layer", "1", "--vocab-size", "16", "--steps", "30", "--log-every", "1", "--threads", "1"]
            .map { "'\($0)'" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", cmd, "/dev/null"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("\r"), "a live line: \(text.debugDescription)")
        XCTAssertTrue(text.contains("step 30/30"), text)
        // --log-every 1 prints 30 lines when piped; on the terminal they are one line rewritten in place.
        XCTAssertEqual(text.components(separatedBy: "\n").filter { $0.contains("step ") }.count, 1, text.debugDescription)
    }
}
