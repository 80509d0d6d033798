// ConvertCommand.swift — `mambakit convert --model DIR --weights int8 --out DIR`.
import ArgumentParser
import Foundation
import MambaKit
import MambaText

/// `mambakit convert --model DIR --weights int8 --out DIR`: a checkpoint with its matrices in another format.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a copy of a language model with its matrices in f32, f16, bf16 or int8 (loads back as it is).",
        discussion: """
            int8 matrices are stored as <name>.q8 (I8, rows padded with zeros to a multiple of 64) and <name>.q8_scales
            (F16, one scale per block of 32), f16/bf16 ones under their own names in that dtype; the other tensors stay F32.
            Tokenizer files beside the model (tokenizer.json, or the byte tokenizer's marker) are copied.
            """)

    @OptionGroup var model: ModelDirectoryOption
    @OptionGroup var weights: WeightsOption
    @Option(help: "Output directory (created; must not be the model directory).") var out: String

    func validate() throws {
        guard weights.weights != nil else { throw ValidationError("give --weights f32, f16, bf16 or int8") }
        try Check.nonEmpty(out, "--out")
    }

    func run() throws {
        let (m, dir) = try model.load(weights: weights.weights)
        let o = URL(fileURLWithPath: out)
        if o.standardizedFileURL.path == dir.standardizedFileURL.path {
            throw CLIError.usage("--out \(out) is the model directory; give another directory so the original stays intact")
        }
        try m.save(to: o)
        for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", TokenizerStore.byteMarker] {
            let src = dir.appendingPathComponent(f), dst = o.appendingPathComponent(f)
            if FileManager.default.fileExists(atPath: src.path) {
                try? FileManager.default.removeItem(at: dst)
                try FileManager.default.copyItem(at: src, to: dst)
            }
        }
        print(String(format: "%@: %@ weights, %.1f MB of weights (f32 would be %.1f MB)", o.path, m.weightFormat.rawValue,
                     Double(m.weightBytes) / 1e6, Double(4 * m.parameterCount) / 1e6))
    }
}
