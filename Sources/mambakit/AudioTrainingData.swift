// AudioTrainingData.swift — what an audio `train` command trains on: the data, the split, and the
// sample rate and encoding of a new model.
import ArgumentParser
import Foundation
import MambaAudio
import MambaKit

struct AudioTrainingData: ParsableArguments {
    @OptionGroup var source: AudioDataArguments
    @Option(help: "Split of --data to train on.") var split: String = "train"
    @OptionGroup var format: AudioFormatOptions

    func validate() throws { try Check.nonEmpty(split, "--split") }

    var data: String { source.data }
    var labelColumn: String? { source.labelColumn }

    /// The data set, its clips of --split, and the settings of a training run on them for `task` (`.languageModel`, `.classification`).
    func open(for train: TrainingArguments, task: ModelTask) throws -> (AudioDataset, [AudioClip], AudioSettings) {
        let ds = try AudioDataset.open(source.data, labelColumn: source.labelColumn)
        let clips = try ds.clips(split: split)
        var settings = try format.settings(for: train, firstClip: clips[0])
        settings.task = task
        return (ds, clips, settings)
    }
}
