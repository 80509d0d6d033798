// AudioSettings.swift — what an audio model expects of its input (sample rate, 8-bit encoding),
// kept as audio.json inside every checkpoint directory.
import Foundation
import MambaKit

/// How samples become the 256 token ids.
public enum SampleEncoding: String, Codable, CaseIterable, Sendable {
    /// 8-bit mu-law, µ = 255 (``MuLawTokenizer``).
    case muLaw = "mu-law"
    /// 8-bit linear (``LinearSampleTokenizer``).
    case linear
}

/// An audio model's front-end settings, stored as `audio.json` next to `config.json`:
///
/// ```json
/// {"sample_rate": 16000, "encoding": "mu-law", "task": "lm"}
/// ```
///
/// A classifier on log-mel frames adds `"features": {"kind": "log-mel", …}` (``LogMelFeatures``: the
/// bands, window, hop and the per-band normalisation fitted on its training clips); without that key
/// the model reads waveform tokens in `encoding`, as every audio model did before.
public struct AudioSettings: ModelSidecar, Equatable, Sendable {
    public static let fileName = "audio.json"

    /// Every clip is resampled to this rate before it is tokenized.
    public var sampleRate: Int
    public var encoding: SampleEncoding
    /// `lm` (waveform language model) or `classify` (clip classifier).
    public var task: ModelTask
    /// The log-mel front end of a feature-input classifier, or nil: waveform tokens in `encoding`.
    public var features: LogMelFeatures?

    public init(sampleRate: Int, encoding: SampleEncoding = .muLaw, task: ModelTask = .languageModel, features: LogMelFeatures? = nil) {
        self.sampleRate = sampleRate; self.encoding = encoding; self.task = task; self.features = features
    }

    enum CodingKeys: String, CodingKey { case sampleRate = "sample_rate", encoding, task, features }

    /// Token ids (0..<256) of samples in [-1, 1].
    public func encode(_ samples: [Float]) -> [Int32] {
        switch encoding {
        case .muLaw: return MuLawTokenizer().encode(samples)
        case .linear: return LinearSampleTokenizer().encode(samples)
        }
    }

    /// Samples of token ids.
    public func decode(_ ids: [Int32]) -> [Float] {
        switch encoding {
        case .muLaw: return MuLawTokenizer().decode(ids)
        case .linear: return LinearSampleTokenizer().decode(ids)
        }
    }

    /// The id of a zero sample (128 for both encodings): the context before a clip's first sample.
    public var silence: Int32 { encode([0])[0] }

    /// Writes `audio.json` into a model directory (atomically).
    public func save(to dir: URL) throws { try write(to: dir) }

    /// Reads `audio.json` from a model directory.
    public static func load(from dir: URL) throws -> AudioSettings {
        guard let s = try read(from: dir) else {
            throw AudioError.notAudioModel(path: dir.path, detail: "no audio.json (sample rate and encoding) in this model directory")
        }
        return s
    }
}
