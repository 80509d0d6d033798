// AudioFormatOptions.swift — `--sample-rate` and `--encoding` of a new waveform model.
import ArgumentParser
import Foundation
import MambaAudio

struct AudioFormatOptions: ParsableArguments {
    @Option(help: "Sample rate of the model (default: the first clip's).") var sampleRate: Int?
    @Option(help: "mu-law or linear.") var encoding: SampleEncoding = .muLaw

    static let sampleRates = 1...384_000

    func validate() throws { try Check.int(sampleRate, "--sample-rate", Self.sampleRates) }

    /// The audio settings of a training run: the resumed checkpoint's, else those saved with the --init
    /// model, else these options (the rate defaulting to that of `firstClip`).
    func settings(for train: TrainingArguments, firstClip: AudioClip) throws -> AudioSettings {
        if let ck = try train.model.resumeCheckpoint() { return try AudioSettings.load(from: ck) }
        if let i = train.model.initFrom, let s = try? AudioSettings.load(from: resolveModelDirectory(i)) { return s }
        return AudioSettings(sampleRate: try sampleRate ?? AudioFile.read(firstClip.path).sampleRate, encoding: encoding)
    }
}
