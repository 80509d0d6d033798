// AudioDataArguments.swift — `--data` and `--label-column`: the clips an audio command reads.
import ArgumentParser

/// Data options shared by the audio commands.
struct AudioDataArguments: ParsableArguments {
    @Option(help: "A folder of audio files (recursive; DIR/train/<label>/…, DIR/test/<label>/… or DIR/<label>/…), one audio file, or a CSV manifest (file,label[,split]).")
    var data: String
    @Option(help: "Manifest column holding the class label (default: label).") var labelColumn: String?

    func validate() throws {
        try Check.nonEmpty(data, "--data")
        try Check.nonEmpty(labelColumn, "--label-column")
    }
}
