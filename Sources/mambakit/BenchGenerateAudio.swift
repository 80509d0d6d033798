// BenchGenerateAudio.swift — `mambakit bench generate-audio`: samples/s of waveform generation (256-class
// mu-law samples, one recurrent step per sample, batch 1) for the flat audio LM and the U-Net of the
// same width, so the saving of inner levels stepping once per frame is measured, not assumed.
import Foundation
import MambaKit

extension BenchCommand {
    /// The shapes compared: flat D = 64 with 2 and 10 blocks, flat D = 128 with 10 (about the U-Net's
    /// parameters), and the U-Nets with pool 4 × 4 and 2 blocks per stage (10 in all) at D = 64 (widths
    /// 64 / 128 / 256) and D = 32 (32 / 64 / 128).
    static func audioGenerationShapes() -> [(name: String, config: MambaConfig)] {
        let flat2 = MambaConfig(dModel: 64, nLayer: 2, vocabSize: 256)
        let flat10 = MambaConfig(dModel: 64, nLayer: 10, vocabSize: 256)
        let wide10 = MambaConfig(dModel: 128, nLayer: 10, vocabSize: 256)
        var unet = MambaConfig(dModel: 64, nLayer: 2, vocabSize: 256)
        unet.unet = UNetConfig(pool: [4, 4], expand: 2)
        var unet32 = MambaConfig(dModel: 32, nLayer: 2, vocabSize: 256)
        unet32.unet = UNetConfig(pool: [4, 4], expand: 2)
        return [("flat-d64-2", flat2), ("flat-d64-10", flat10), ("flat-d128-10", wide10), ("unet-d64-4x4-2", unet),
                ("unet-d32-4x4-2", unet32)]
    }

    /// Samples per second of ancestral sampling (temperature 1, seeded) through ``MambaModel/step(_:state:)``.
    func benchGenerateAudio() throws {
        let count = max(steps, 4096)
        for (name, config) in Self.audioGenerationShapes() {
            let model = try MambaModel.randomlyInitialised(config: config, seed: 1)
            for t in threadList {
                model.threads = t
                MambaRuntime.blasThreads = t
                let state = model.makeState()
                var sampler = Sampler(options: SamplingOptions(), seed: 1)
                let s = try bestTime {
                    state.reset()
                    var next: Int32 = 128
                    for _ in 0..<count { next = sampler.next(logits: try model.step([next], state: state), history: []) }
                }
                emit([("bench", "\"generate-audio\""), ("shape", jsonString(name)), ("threads", "\(t)"),
                      ("samples_per_second", String(format: "%.0f", Double(count) / s)), ("samples", "\(count)"),
                      ("parameters", "\(model.parameterCount)"),
                      ("state_bytes", "\(state.byteCount)")])
            }
        }
        MambaRuntime.blasThreads = Parallel.defaultThreads
    }
}
