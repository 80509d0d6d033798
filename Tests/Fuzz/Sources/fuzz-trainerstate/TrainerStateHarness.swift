// fuzz-trainerstate — Trainer.resume(from:tokens:) on a tiny valid checkpoint whose
// trainer_state.json is the fuzz input. The checkpoint is made once per process.
import Foundation
import FuzzSupport
import MambaKit

private let tokens: [Int32] = (0..<256).map { Int32(($0 * 7) % 11) }

/// A one-step checkpoint of a tiny model (its trainer_state.json is overwritten by every input).
private let checkpoint: URL = {
    do {
        let model = try MambaModel.randomlyInitialised(
            config: MambaConfig(dModel: 8, nLayer: 1, vocabSize: 12, dState: 4), seed: 1)
        var options = TrainingOptions()
        options.seqLen = 8; options.batchSize = 2; options.steps = 2; options.threads = 1; options.seed = 3
        let trainer = try Trainer(model: model, tokens: tokens, options: options)
        _ = try trainer.trainStep()
        let ck = try trainer.saveCheckpoint(to: fuzzDirectory.appendingPathComponent("run"))
        // Keep the genuine state next to it (a seed for the corpus).
        try? FileManager.default.copyItem(at: ck.appendingPathComponent("trainer_state.json"),
                                          to: fuzzDirectory.appendingPathComponent("trainer_state.seed.json"))
        return ck
    } catch {
        fatalError("fuzz-trainerstate: cannot make the tiny checkpoint: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrainerState(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeInput(fuzzData(bytes, size), named: "trainer_state.json", in: checkpoint)
    expectingErrors {
        let trainer = try Trainer.resume(from: checkpoint, tokens: tokens)
        _ = trainer.step
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzTrainerState) }
}
