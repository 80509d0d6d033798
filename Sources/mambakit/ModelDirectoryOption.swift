// ModelDirectoryOption.swift — `--model DIR`: the model a command reads (a Hugging Face directory,
// a checkpoint, or a training --out directory whose `latest` names the checkpoint).
import ArgumentParser
import Foundation
import MambaKit

/// The model to run and the threads to run it with (`--threads` comes with every `--model`).
struct ModelDirectoryOption: ParsableArguments {
    @Option(help: "Model directory (or a training --out directory: its latest checkpoint).") var model: String
    @OptionGroup var threads: ThreadsOption

    func validate() throws { try Check.nonEmpty(model, "--model") }

    /// The directory, or the checkpoint its `latest` file names.
    var directory: URL { resolveModelDirectory(model) }

    /// Loads the model, its matrices in `weights` (nil: as the checkpoint holds them; see WeightsOption), and
    /// gives it (and OpenBLAS) the threads of --threads.
    func load(weights: WeightFormat? = nil) throws -> (MambaModel, URL) {
        let dir = directory
        let m = try MambaModel.load(directory: dir, weights: weights)
        threads.apply(to: m)
        return (m, dir)
    }
}

extension ModelDirectoryOption {
    /// Loads the classifier (classifier.json beside config.json, or an older one with labels in
    /// config.json) with the threads of --threads; a language model's directory is refused with a
    /// pointer to the `otherwise` command.
    func loadClassifier(otherwise: String) throws -> (SequenceClassifier, URL) {
        try loadClassifierDirectory(directory, threads: threads, otherwise: otherwise)
    }
}

/// ``ModelDirectoryOption/loadClassifier(otherwise:)`` for a resolved directory (also `--classifier DIR`).
func loadClassifierDirectory(_ dir: URL, threads: ThreadsOption, otherwise: String) throws -> (SequenceClassifier, URL) {
    if try ClassifierConfig.read(from: dir) == nil, try MambaConfig.load(from: dir).numLabels == 0 {
        throw CLIError.usage("\(dir.path): this model is a language model, not a classifier — use `\(otherwise)`")
    }
    let m = try SequenceClassifier.load(directory: dir)
    threads.apply(to: m)
    return (m, dir)
}

/// The model directory given by the user, or the checkpoint its `latest` file names.
func resolveModelDirectory(_ path: String) -> URL {
    let url = URL(fileURLWithPath: path)
    if !FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path),
       let ck = try? Trainer.checkpointDirectory(url) { return ck }
    return url
}
