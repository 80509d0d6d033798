// CheckpointOptions.swift — where and how often a `train` command saves and reports.
import ArgumentParser
import MambaKit

struct CheckpointOptions: ParsableArguments {
    @OptionGroup var output: OutputDirectoryOption
    @Option(help: "Weights dtype of saved checkpoints: f32, f16 or bf16 (training state stays float32).") var saveDtype: SafetensorsDType = .f32
    @Option(help: "Save every N steps (0 = only at the end; needs --out).") var saveEvery: Int = 0
    @Option(help: "Print a progress line every N steps (on a terminal: one live line instead).") var logEvery: Int = 10

    func validate() throws {
        try Check.int(saveEvery, "--save-every", 0...ScheduleOptions.maxSteps)
        try Check.int(logEvery, "--log-every", 1...ScheduleOptions.maxSteps)
    }
}
