// AudioFile.swift — reading and writing waveforms with libsndfile.
import Foundation
import MambaKit
import _CSndFile

extension DataKind {
    /// An audio file read or written through libsndfile (errors: `audio error: …`).
    public static let audio = DataKind(name: "audio", accepts: "a WAV, FLAC, OGG/Vorbis or other format libsndfile reads")
}

/// Errors only audio has, naming the file and the fix. A missing, unreadable, empty, too short or
/// unwritable clip is a ``DataError`` of kind ``DataKind/audio``.
public enum AudioError: Error, CustomStringConvertible, Equatable {
    /// A model directory without the audio settings (`audio.json`) of an audio model.
    case notAudioModel(path: String, detail: String)
    /// The header declares a sample rate or a length MambaKit refuses (see ``AudioFile/sampleRateRange``
    /// and ``AudioFile/maximumSamples``).
    case implausibleHeader(path: String, detail: String)
    /// A model directory whose audio.json and classifier disagree about the input (log-mel frames or
    /// waveform tokens, or the band count).
    case inputMismatch(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notAudioModel(p, d): return "audio error: \(p): \(d) — pass a directory written by `mambakit train audio-lm` or `mambakit train audio-classify`"
        case let .implausibleHeader(p, d): return "audio error: \(p): \(d) — the header is corrupt, or the clip is not one MambaKit reads (resample or cut it first)"
        case let .inputMismatch(p, d): return "audio error: \(p): \(d) — audio.json and the model were not saved together; retrain, or restore the directory's own audio.json"
        }
    }
}

/// A mono waveform: samples in [-1, 1] at `sampleRate` Hz.
public struct Waveform: Equatable, Sendable {
    public var samples: [Float]
    public var sampleRate: Int
    public init(samples: [Float], sampleRate: Int) { self.samples = samples; self.sampleRate = sampleRate }
    public var duration: Double { Double(samples.count) / Double(max(sampleRate, 1)) }
}

/// File formats MambaKit writes.
public enum AudioFormat: String, CaseIterable, Sendable {
    case wav16, flac16
    var sndfileFormat: Int32 {
        switch self {
        case .wav16: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .flac16: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        }
    }
    /// From a file name's extension (.flac → FLAC, anything else → WAV).
    public static func forPath(_ path: String) -> AudioFormat { path.lowercased().hasSuffix(".flac") ? .flac16 : .wav16 }
}

public enum AudioFile {
    /// The sample rates accepted on reading, in Hz (telephone-band 1 kHz up to 768 kHz studio rates).
    public static let sampleRateRange = 1_000...768_000
    /// The most samples (frames × channels) a file may declare: 2³¹, an 8 GiB float buffer.
    public static let maximumSamples = 1 << 31

    /// Reads any format libsndfile reads, any sample format and channel count, as mono Float32
    /// (channels averaged). Refuses (by name) a path that is not a regular file, a sample rate
    /// outside ``sampleRateRange`` and a length above ``maximumSamples``, before reading samples.
    public static func read(_ path: String) throws -> Waveform {
        try FileChecks.requireRegularFile(path: path, kind: .audio)
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else {
            throw DataError.unreadable(path: path, reason: "libsndfile cannot open it (\(String(cString: sf_strerror(nil))))", kind: .audio)
        }
        defer { sf_close(f) }
        try checkHeader(path: path, frames: Int64(info.frames), channels: Int(info.channels), sampleRate: Int(info.samplerate))
        let frames = Int(info.frames), channels = Int(max(info.channels, 1))
        guard frames > 0 else { throw DataError.empty(path: path, what: "samples", kind: .audio) }
        var interleaved = [Float](repeating: 0, count: frames * channels)
        let got = Int(sf_readf_float(f, &interleaved, sf_count_t(frames)))
        var mono = [Float](repeating: 0, count: got)
        if channels == 1 {
            mono = Array(interleaved.prefix(got))
        } else {
            let scale = 1 / Float(channels)
            for i in 0..<got {
                var s: Float = 0
                for c in 0..<channels { s += interleaved[i * channels + c] }
                mono[i] = s * scale
            }
        }
        guard !mono.isEmpty else { throw DataError.empty(path: path, what: "samples", kind: .audio) }
        return Waveform(samples: mono, sampleRate: Int(info.samplerate))
    }

    /// Checks what a header declares before anything is allocated for it.
    static func checkHeader(path: String, frames: Int64, channels: Int, sampleRate: Int) throws {
        guard sampleRateRange.contains(sampleRate) else {
            throw AudioError.implausibleHeader(
                path: path, detail: "sample rate \(sampleRate) Hz is outside the supported \(sampleRateRange.lowerBound)…\(sampleRateRange.upperBound) Hz")
        }
        let (samples, overflow) = frames.multipliedReportingOverflow(by: Int64(max(channels, 1)))
        guard frames >= 0, !overflow, samples <= Int64(maximumSamples) else {
            throw AudioError.implausibleHeader(
                path: path, detail: "\(frames) frames × \(channels) channels is more than the supported \(maximumSamples) samples (an 8 GiB buffer)")
        }
    }

    /// Writes a mono 16-bit WAV or FLAC (samples clipped to [-1, 1]), atomically: a temporary file
    /// next to `path` is renamed over it when complete.
    public static func write(_ wave: Waveform, to path: String, format: AudioFormat? = nil) throws {
        let fmt = format ?? AudioFormat.forPath(path)
        let tmp = path + ".tmp-\(getpid())" + (fmt == .flac16 ? ".flac" : ".wav")
        var info = SF_INFO()
        info.samplerate = Int32(wave.sampleRate); info.channels = 1; info.format = fmt.sndfileFormat
        guard let f = sf_open(tmp, Int32(SFM_WRITE), &info) else {
            throw DataError.writeFailed(path: path, reason: String(cString: sf_strerror(nil)), kind: .audio)
        }
        let clipped = wave.samples.map { min(1, max(-1, $0)) }
        let n = Int(sf_writef_float(f, clipped, sf_count_t(clipped.count)))
        sf_close(f)
        guard n == clipped.count else {
            unlink(tmp)
            throw DataError.writeFailed(path: path, reason: "wrote \(n) of \(clipped.count) samples", kind: .audio)
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw DataError.writeFailed(path: path, reason: String(cString: strerror(errno)), kind: .audio)
        }
    }
}
