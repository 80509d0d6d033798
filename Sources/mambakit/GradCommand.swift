// GradCommand.swift — `mambakit grad --model DIR --tokens FILE --out FILE.safetensors`.
import ArgumentParser
import Foundation
import MambaKit

struct GradCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grad",
        abstract: "Gradient of the mean next-token NLL of a token sequence w.r.t. every parameter.",
        discussion: """
            Writes one float32 tensor per parameter under the checkpoint's own tensor names (with tied
            embeddings, the embedding's gradient includes the head's contribution).
            """)

    @OptionGroup var model: ModelDirectoryOption
    @Option(help: "Text file of whitespace-separated token ids (at least 2).") var tokens: String
    @Option(help: "Output .safetensors file.") var out: String

    func run() throws {
        let ids = try readTokenFile(tokens)
        let (m, _) = try model.load()
        let (nll, g) = try namingTokenFile(tokens) { try m.meanNLLGradient(tokens: ids) }
        let tensors = m.layout.slices.map { s in
            SafetensorsWriter.Tensor(name: m.checkpointName(of: s.name), shape: s.shape,
                                     data: UnsafeBufferPointer(start: g.pointer + s.offset, count: s.count))
        }
        try SafetensorsWriter.write(tensors, dtype: .f32, metadata: ["format": "pt", "nll": "\(nll)"],
                                    to: URL(fileURLWithPath: out))
        print(String(format: "nll %.6f over %d predictions; %d gradient tensors written to %@",
                     nll, ids.count - 1, tensors.count, out))
    }
}
