// WeightsOption.swift — `--weights f32|f16|bf16|int8`: the precision a model's matrices run in.
import ArgumentParser
import Foundation
import MambaKit

extension WeightFormat: ExpressibleByArgument {}

/// The precision of in_proj, x_proj, dt_proj, out_proj and the embedding/head for inference commands
/// (see Docs/Inference.md); everything else stays f32.
struct WeightsOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Weights: f32, f16, bf16 or int8 (llama.cpp's q8_0 blocks). Default: as the checkpoint holds them (int8 for an int8 checkpoint, else f32).",
        valueName: "format"))
    var weights: WeightFormat?
}
