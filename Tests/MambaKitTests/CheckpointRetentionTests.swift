// CheckpointRetentionTests.swift — checkpoint writing and clean-up survive kill -9 at any moment:
// `latest` always names a complete checkpoint, no half-written or half-deleted checkpoint directory
// survives the next start, and a run killed many times resumes to the parameters of an uninterrupted one.
import Foundation
import MambaKit
import XCTest

final class CheckpointRetentionTests: XCTestCase {
    static let files = ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"]

    func isComplete(_ dir: URL) -> Bool {
        Self.files.allSatisfy { FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path) }
    }

    /// Leftovers of each kind are cleared; a checkpoint set aside while its step was being saved again
    /// (and that `latest` still names) is restored, not deleted.
    func testLeftoversAreClearedAndAsideCheckpointRestored() throws {
        let model = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 8, nLayer: 1, vocabSize: 6), seed: 1)
        var o = TrainingOptions(); o.seqLen = 8; o.batchSize = 2; o.steps = 3; o.threads = 1
        let tokens = (0..<200).map { Int32($0 % 6) }
        let trainer = try Trainer(model: model, tokens: tokens, options: o)
        _ = try trainer.trainStep()
        let out = temporaryDirectory(self)
        let ck = try trainer.saveCheckpoint(to: out)
        let fm = FileManager.default
        for junk in [".tmp-checkpoint-00000009-1", ".trash-checkpoint-00000000-7"] {
            try fm.createDirectory(at: out.appendingPathComponent(junk), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: out.appendingPathComponent(junk).appendingPathComponent("partial"))
        }
        // a kill while `latest` was being replaced (found by the kill -9 test on a loaded machine)
        try Data("checkpoint-00000009\n".utf8).write(to: out.appendingPathComponent(".latest.11287.efad11af12a28e61.tmp"))
        // a kill between "old copy aside" and "new copy in place" while re-saving step 1
        try fm.moveItem(at: ck, to: out.appendingPathComponent(".trash-\(ck.lastPathComponent)-5"))
        Trainer.clearLeftovers(in: out)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out.path).sorted(), [ck.lastPathComponent, "latest"])
        XCTAssertTrue(isComplete(ck))
        XCTAssertEqual(try Trainer.resume(from: out, tokens: tokens).step, 1)
        // saving the same step again replaces it in place and leaves nothing else
        try trainer.saveCheckpoint(to: out)
        _ = try trainer.trainStep()
        try trainer.saveCheckpoint(to: out)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out.path).sorted(), ["checkpoint-00000002", "latest"])
    }

    /// kill -9 at seeded random moments of a run that checkpoints every step: after every kill, `latest`
    /// names a complete checkpoint and, once a run has started again, no partial directory remains; the
    /// run, resumed after each kill, ends bit-identical to an uninterrupted one.
    func testKillNineDuringCheckpointing() throws {
        let dir = temporaryDirectory(self)
        let tokensURL = dir.appendingPathComponent("tokens.txt")
        try (0..<2000).map { String(($0 * 7 + $0 / 13) % 16) }.joined(separator: " ").write(to: tokensURL, atomically: true, encoding: .utf8)
        let steps = 60
        func args(_ out: URL, resume: Bool) -> [String] {
            ["train", "--tokens", tokensURL.path, "--seq-len", "16", "--batch-size", "2", "--threads", "1",
             "--steps", "\(steps)", "--save-every", "1", "--log-every", "1000", "--out", out.path]
                + (resume ? ["--resume", out.path] : ["--d-model", "16", "--n-layer", "1", "--vocab-size", "16"])
        }
        let reference = dir.appendingPathComponent("reference")
        XCTAssertEqual(try runCLI(args(reference, resume: false)).status, 0)

        let out = dir.appendingPathComponent("killed")
        var rng = SeededRandom(seed: 17)
        var kills = 0, resumed = false
        for _ in 0..<8 {
            let p = Process()
            p.executableURL = mambakitExecutable
            p.arguments = args(out, resume: resumed)
            p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32(150_000 + rng.below(600_000)))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            guard FileManager.default.fileExists(atPath: out.appendingPathComponent("latest").path) else { continue }
            let latest = try Trainer.checkpointDirectory(out)
            XCTAssertTrue(isComplete(latest), "latest names an incomplete \(latest.lastPathComponent)")
            for item in try FileManager.default.contentsOfDirectory(atPath: out.path) where item.hasPrefix("checkpoint-") {
                XCTAssertTrue(isComplete(out.appendingPathComponent(item)), "half-written or half-deleted \(item)")
            }
            resumed = true
        }
        if resumed {
            let finish = try runCLI(args(out, resume: true))
            XCTAssertEqual(finish.status, 0, finish.stderr)
        } else {
            XCTAssertEqual(try runCLI(args(out, resume: false)).status, 0)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "leftovers after the final run")
        let a = try SafetensorsFile(url: try Trainer.checkpointDirectory(reference).appendingPathComponent("optimizer.safetensors"))
        let b = try SafetensorsFile(url: try Trainer.checkpointDirectory(out).appendingPathComponent("optimizer.safetensors"))
        XCTAssertEqual(try a.floats("master_weights"), try b.floats("master_weights"))
        print("kill -9: \(kills) kills during a \(steps)-step run saving every step; resumed run bit-identical to the uninterrupted one")
    }
}
