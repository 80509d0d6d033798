// LogMelOptions.swift — `--features waveform|log-mel` of `train audio-classify`, the log-mel settings
// of a new classifier (bands, window, hop) and its augmentation (mel warp, time and band masks, gain).
import ArgumentParser
import Foundation
import MambaAudio
import MambaKit

/// What a clip classifier reads.
extension LogMelFeatures.Normalisation: ExpressibleByArgument {}

enum AudioFeatureKind: String, ExpressibleByArgument, CaseIterable {
    /// 8-bit sample tokens (mu-law or linear), one per sample.
    case waveform
    /// Normalised log-mel frames through an input projection.
    case logMel = "log-mel"
}

struct LogMelOptions: ParsableArguments {
    @Option(help: "What a new classifier reads: waveform (8-bit sample tokens) or log-mel (mel-energy frames through an input projection; default waveform).")
    var features: AudioFeatureKind?
    @Option(help: "log-mel: mel bands per frame F, \(LogMelFeatures.melRange.lowerBound)…\(LogMelFeatures.melRange.upperBound) (default 40).") var mels: Int?
    @Option(help: "log-mel: STFT window (Hann) in samples, \(LogMelFeatures.fftSizeRange.lowerBound)…\(LogMelFeatures.fftSizeRange.upperBound) (default about 32 ms: 256 at 8 kHz).") var window: Int?
    @Option(help: "log-mel: samples between frames (default 10 ms: 80 at 8 kHz).") var hop: Int?
    @Option(help: "log-mel: training-set (each band's mean and deviation over the training frames), per-clip (each clip's own band means subtracted first) or per-speaker (the band means of all the clip's speaker's clips subtracted first: the training clips when training, the scored clips, unlabelled, when evaluating; clips must name their speaker; default training-set).")
    var normalisation: LogMelFeatures.Normalisation?
    @Option(help: "log-mel augmentation: mask up to T consecutive frames, at most a quarter of the clip (0 = off; default 10).") var timeMask: Int?
    @Option(help: "log-mel augmentation: mask up to B consecutive mel bands (0 = off; default 0).") var bandMask: Int?
    @Option(help: "log-mel augmentation: vocal-tract-length perturbation, the mel axis warped by a factor drawn from U(1 − W, 1 + W) per example (0 = off; default 0; 0.1 is usual).") var melWarp: Double?
    @Option(help: "log-mel augmentation: add one gain drawn from U(−G, G) to every normalised value (0 = off; default 0.3).") var gain: Float?

    /// The log-mel-only options given, as "--name value".
    var logMelOnlyGiven: [String] {
        var given: [String] = []
        if let v = mels { given.append("--mels \(v)") }
        if let v = window { given.append("--window \(v)") }
        if let v = hop { given.append("--hop \(v)") }
        if let v = normalisation { given.append("--normalisation \(v.rawValue)") }
        if let v = timeMask { given.append("--time-mask \(v)") }
        if let v = bandMask { given.append("--band-mask \(v)") }
        if let v = gain { given.append("--gain \(v)") }
        if let v = melWarp { given.append("--mel-warp \(v)") }
        return given
    }

    func validate() throws {
        try Check.int(mels, "--mels", LogMelFeatures.melRange)
        try Check.int(window, "--window", LogMelFeatures.fftSizeRange)
        try Check.int(hop, "--hop", 1...(16 * (window ?? LogMelFeatures.fftSizeRange.upperBound)))
        try Check.int(timeMask, "--time-mask", 0...100_000)
        try Check.int(bandMask, "--band-mask", 0...LogMelFeatures.melRange.upperBound)
        try Check.number(gain, "--gain", 0...100)
        try Check.number(melWarp, "--mel-warp", 0...0.5)
        if features == .waveform, let first = logMelOnlyGiven.first {
            throw optionError(option: first.split(separator: " ")[0].description, value: String(first.split(separator: " ")[1]),
                              allowed: "only with --features log-mel")
        }
    }

    /// The kind of the run: that of the resumed or --init model when there is one (`inherited`; a
    /// different --features is refused), else --features (default waveform).
    func kind(inherited: AudioFeatureKind?, from source: String) throws -> AudioFeatureKind {
        if let k = inherited {
            if let f = features, f != k {
                throw optionError(option: "--features", value: f.rawValue, allowed: "\(source) reads \(k.rawValue); leave --features out or say \(k.rawValue)")
            }
            return k
        }
        return features ?? .waveform
    }

    /// Refuses log-mel options on a waveform run whose kind came from a checkpoint.
    func checkUnused(kind: AudioFeatureKind) throws {
        guard kind == .waveform, let first = logMelOnlyGiven.first else { return }
        let parts = first.split(separator: " ")
        throw optionError(option: String(parts[0]), value: String(parts[1]), allowed: "only with --features log-mel (this run reads waveform tokens)")
    }

    /// Unfitted log-mel settings of a new classifier at `sampleRate` Hz.
    func newFeatures(sampleRate: Int) -> LogMelFeatures {
        var f = LogMelFeatures.defaults(sampleRate: sampleRate, mels: mels ?? 40)
        if let w = window { f.fftSize = w }
        if let h = hop { f.hop = h }
        if let n = normalisation { f.normalisation = n }
        return f
    }

    /// Inherited (fitted) settings: --mels, --window, --hop and --normalisation must agree with them when given.
    func check(inherited f: LogMelFeatures, from source: String) throws {
        if let n = normalisation, n != f.normalisation {
            throw optionError(option: "--normalisation", value: n.rawValue, allowed: "\(source) was trained with \(f.normalisation.rawValue); leave --normalisation out")
        }
        for (name, given, has) in [("--mels", mels, f.mels), ("--window", window, f.fftSize), ("--hop", hop, f.hop)] {
            if let g = given, g != has {
                throw optionError(option: name, value: "\(g)", allowed: "\(source) was trained with \(has); leave \(name) out")
            }
        }
    }

    /// The augmentation of a run on frames of fitted `features` at `sampleRate` Hz.
    func augmentation(features: LogMelFeatures, sampleRate: Int) -> LogMelAugmentation {
        let w = melWarp ?? 0
        return LogMelAugmentation(timeMask: timeMask ?? 10, bandMask: bandMask ?? 0, gain: gain ?? 0.3, melWarp: w,
                                  warp: w > 0 ? MelWarp(features: features, sampleRate: sampleRate) : nil)
    }
}
