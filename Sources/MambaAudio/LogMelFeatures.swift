// LogMelFeatures.swift — the log-mel front end of a feature-input audio classifier: a clip becomes
// L frames of F normalised log-mel energies.
//
//   P[t, b] = |FFT(hann · x[t·hop ..< t·hop + n])[b]|²         (L, n/2+1)  power spectrum, n = fftSize
//   M[t, m] = ln(ε + Σ_b W[m, b] · P[t, b])                    (L, F)      W: HTK-mel triangles, peak 1, 0…rate/2
//   X[t, m] = (M[t, m] − μ_m) / σ_m                            (L, F)      μ, σ: per band over every frame
//                                                                          of the training clips
// or, with per-clip normalisation (cepstral-mean style: a fixed channel or level offset per band cancels),
//   X[t, m] = (M[t, m] − c_m − μ_m) / σ_m,  c_m = (1/L) Σ_t M[t, m]        μ, σ then of M − c over the training frames
// or, with per-speaker normalisation (speaker-adaptive CMN, as ASR front ends do), c_m the mean of band m
// over every frame of every clip of the clip's speaker among the clips being normalised together: the
// training clips when fitting and training, the clips being scored when evaluating (their frames only, no
// labels). A speaker's voice and channel offset cancel, but not the envelope that tells one clip from another.
//
// L = 1 + ⌊(samples − 1) / hop⌋ (the last frames zero-padded). μ and σ are fitted once on the training
// split and saved with the model (audio.json, "features"), so every later use of the model — eval,
// a resumed run, fine-tuning — computes exactly the same X.
import Foundation
import MambaKit

/// What ``LogMelFeatures`` refuses.
public enum LogMelFeaturesError: Error, Equatable {
    /// Per-speaker normalisation of clips where clip `clip` (an index) has no speaker.
    case missingSpeaker(clip: Int)
}

/// Log-mel settings and the per-band normalisation of a feature-input classifier, saved in
/// `audio.json` as
///
/// ```json
/// "features": {"kind": "log-mel", "mels": 40, "fft_size": 256, "hop": 80, "epsilon": 1e-06,
///              "normalisation": "training-set", "mean": [40 values], "std": [40 values]}
/// ```
public struct LogMelFeatures: Codable, Equatable, Sendable {
    /// How frames are normalised: by the training set's per-band statistics alone, or after
    /// subtracting each clip's own per-band mean.
    public enum Normalisation: String, Codable, CaseIterable, Sendable {
        /// X = (M − μ) / σ.
        case trainingSet = "training-set"
        /// X = (M − c − μ) / σ with c the clip's mean per band.
        case perClip = "per-clip"
        /// X = (M − c − μ) / σ with c the mean per band of the frames of the clip's speaker (among the
        /// clips normalised together; see ``normalised(_:speakers:)``).
        case perSpeaker = "per-speaker"
    }

    /// Mel bands per frame, F.
    public var mels: Int
    /// STFT window (periodic Hann) and FFT length n, in samples.
    public var fftSize: Int
    /// Samples between frame starts.
    public var hop: Int
    /// ε inside the logarithm.
    public var epsilon: Float
    public var normalisation: Normalisation
    /// Per-band mean μ (F) of the training frames' log-mel values; empty until ``fitted(to:speakers:)``.
    public var mean: [Float]
    /// Per-band standard deviation σ (F), at least ``minimumStd``; empty until ``fitted(to:speakers:)``.
    public var std: [Float]

    /// σ is floored here, so a band that is constant in the training data does not blow up.
    public static let minimumStd: Float = 1e-3
    /// Bands a model may have.
    public static let melRange = 1...512
    /// Window lengths a model may have (samples).
    public static let fftSizeRange = 2...65536

    /// Settings without a normalisation yet (fit it with ``fitted(to:speakers:)``). The defaults are 32 ms
    /// windows and a 10 ms hop at 8 kHz.
    public init(mels: Int = 40, fftSize: Int = 256, hop: Int = 80, epsilon: Float = 1e-6, normalisation: Normalisation = .trainingSet,
                mean: [Float] = [], std: [Float] = []) {
        self.mels = mels; self.fftSize = fftSize; self.hop = hop; self.epsilon = epsilon; self.normalisation = normalisation
        self.mean = mean; self.std = std
    }

    /// Unfitted settings for clips at `sampleRate` Hz: a window of about 32 ms (a power of two, as
    /// the spectrogram pictures use; 256 at 8 kHz) and a 10 ms hop (80 at 8 kHz).
    public static func defaults(sampleRate: Int, mels: Int = 40) -> LogMelFeatures {
        LogMelFeatures(mels: mels, fftSize: SpectrogramPicture.fftSize(for: sampleRate), hop: max(1, sampleRate / 100))
    }

    /// Whether μ and σ are set (one per band).
    public var isFitted: Bool { mean.count == mels && std.count == mels }

    /// The first thing wrong with these settings, or nil.
    public var problem: String? {
        if !Self.melRange.contains(mels) { return "mels \(mels): must be \(Self.melRange.lowerBound)…\(Self.melRange.upperBound)" }
        if !Self.fftSizeRange.contains(fftSize) { return "fft_size \(fftSize): must be \(Self.fftSizeRange.lowerBound)…\(Self.fftSizeRange.upperBound)" }
        if hop < 1 || hop > fftSize * 16 { return "hop \(hop): must be 1…\(fftSize * 16) (16 windows)" }
        if !(epsilon.isFinite && epsilon > 0) { return "epsilon \(epsilon): must be a positive finite number" }
        if !mean.isEmpty || !std.isEmpty {
            if mean.count != mels || std.count != mels { return "mean and std must have one value per band (\(mels)); they have \(mean.count) and \(std.count)" }
            if mean.contains(where: { !$0.isFinite }) { return "mean has a non-finite value" }
            if std.contains(where: { !($0.isFinite && $0 >= Self.minimumStd) }) { return "std values must be finite and ≥ \(Self.minimumStd)" }
        }
        return nil
    }

    // MARK: Frames

    /// Unnormalised log-mel frames M (L, F) of `samples` at `sampleRate` Hz, row-major.
    public func logMel(_ samples: [Float], sampleRate: Int) -> [Float] {
        logMel(samples, with: Computer(self, sampleRate: sampleRate))
    }

    /// One FFTW plan and the mel filters, reused for every clip of one thread.
    struct Computer {
        let spectrogram: Spectrogram
        let filters: [Float]            // (F, bins)
        let support: [Range<Int>]       // (F) the bins where a filter is non-zero
        init(_ f: LogMelFeatures, sampleRate: Int) {
            let s = Spectrogram(fftSize: f.fftSize, hop: f.hop)
            let fb = s.melFilters(count: f.mels, sampleRate: sampleRate)
            let bins = s.bins
            spectrogram = s; filters = fb
            support = (0..<f.mels).map { m in
                let row = fb[(m * bins)..<((m + 1) * bins)]
                guard let lo = row.firstIndex(where: { $0 != 0 }), let hi = row.lastIndex(where: { $0 != 0 }) else { return 0..<0 }
                return (lo - m * bins)..<(hi - m * bins + 1)
            }
        }
    }

    func logMel(_ samples: [Float], with c: Computer) -> [Float] {
        let (frames, mag) = c.spectrogram.magnitudes(samples)
        let bins = c.spectrogram.bins, F = mels
        var out = [Float](repeating: 0, count: frames * F)
        for t in 0..<frames {
            for m in 0..<F {
                var e: Float = 0
                for b in c.support[m] { e += c.filters[m * bins + b] * mag[t * bins + b] * mag[t * bins + b] }
                out[t * F + m] = Foundation.log(epsilon + e)
            }
        }
        return out
    }

    /// M − c (each band minus its mean over the clip's frames) for per-clip normalisation, and for
    /// per-speaker normalisation of a clip on its own (its speaker's frames are then this clip's); else M.
    public func centred(_ frames: [Float]) -> [Float] {
        guard normalisation != .trainingSet, frames.count >= mels else { return frames }
        return Self.subtracting(Self.bandMeans(of: [frames], bands: mels), from: frames)
    }

    /// M − c for every clip, c as the normalisation says: per-speaker groups the clips by `speakers`
    /// (one entry per clip), the others centre each clip alone (or not at all).
    /// - Throws: ``LogMelFeaturesError/missingSpeaker(clip:)`` for per-speaker normalisation when a
    ///   clip has no speaker.
    public func centred(_ clips: [[Float]], speakers: [String?]) throws -> [[Float]] {
        precondition(speakers.count == clips.count, "one speaker per clip")
        guard normalisation == .perSpeaker else { return clips.map(centred) }
        var groups: [String: [Int]] = [:]
        for (i, who) in speakers.enumerated() {
            guard let who else { throw LogMelFeaturesError.missingSpeaker(clip: i) }
            groups[who, default: []].append(i)
        }
        var out = clips
        for members in groups.values {
            let whole = members.filter { clips[$0].count >= mels }
            guard !whole.isEmpty else { continue }
            let c = Self.bandMeans(of: whole.map { clips[$0] }, bands: mels)   // once per speaker
            for i in whole { out[i] = Self.subtracting(c, from: clips[i]) }
        }
        return out
    }

    /// Each band's mean (F) over every frame of `frames` (whole frames of F bands), in Double.
    static func bandMeans(of frames: [[Float]], bands F: Int) -> [Double] {
        var c = [Double](repeating: 0, count: F), n = 0
        for clip in frames {
            for (i, v) in clip.enumerated() { c[i % F] += Double(v) }
            n += clip.count / F
        }
        return c.map { $0 / Double(n) }
    }

    /// `x` (frames of c.count bands) minus the band means `c`.
    static func subtracting(_ c: [Double], from x: [Float]) -> [Float] {
        var y = x
        for i in y.indices { y[i] -= Float(c[i % c.count]) }
        return y
    }

    /// (M − μ) / σ, or (M − c − μ) / σ, per band; `frames` must be whole frames and the settings fitted.
    /// Per-speaker settings treat the clip as its speaker's only clip (use ``normalised(_:speakers:)``).
    public func normalised(_ frames: [Float]) -> [Float] {
        precondition(isFitted && frames.count % mels == 0, "normalise with fitted settings and whole frames")
        return scaled(centred(frames))
    }

    /// X of every clip, the clips centred together as ``centred(_:speakers:)`` says.
    public func normalised(_ clips: [[Float]], speakers: [String?]) throws -> [[Float]] {
        precondition(isFitted && clips.allSatisfy { $0.count % mels == 0 }, "normalise with fitted settings and whole frames")
        return try centred(clips, speakers: speakers).map(scaled)
    }

    /// (x − μ) / σ per band.
    func scaled(_ centred: [Float]) -> [Float] {
        var x = centred
        for i in x.indices { x[i] = (x[i] - mean[i % mels]) / std[i % mels] }
        return x
    }

    /// These settings with μ and σ of every frame of `frames` (each clip's M, (L_i, F); M − c with
    /// per-clip normalisation; M − c of the speaker with per-speaker normalisation, which needs
    /// `speakers`, one per clip), in Double: σ = sqrt(E[M²] − E[M]²), floored at ``minimumStd``.
    public func fitted(to frames: [[Float]], speakers: [String?]? = nil) throws -> LogMelFeatures {
        let F = mels
        var sum = [Double](repeating: 0, count: F), sq = sum, n = 0.0
        for x in try centred(frames, speakers: speakers ?? frames.map { _ in nil as String? }) {
            for (i, v) in x.enumerated() { sum[i % F] += Double(v); sq[i % F] += Double(v) * Double(v) }
            n += Double(x.count / F)
        }
        var f = self
        let mu = sum.map { $0 / max(n, 1) }
        f.mean = mu.map(Float.init)
        f.std = zip(sq, mu).map { Float(max(max($0 / max(n, 1) - $1 * $1, 0).squareRoot(), Double(Self.minimumStd))) }
        return f
    }

    // MARK: Clips

    /// Unnormalised frames of every clip (read and resampled to `sampleRate`; only the first
    /// `maxSamples` samples when > 0), in parallel on `threads` threads, in order.
    public func logMel(_ clips: [AudioClip], sampleRate: Int, maxSamples: Int = 0, threads: Int = Parallel.defaultThreads) throws -> [[Float]] {
        var out = [[Float]](repeating: [], count: clips.count)
        var errors = [Error?](repeating: nil, count: clips.count)
        let lock = NSLock()
        Parallel.forParts(clips.count, threads: threads) { _, range in
            let c = Computer(self, sampleRate: sampleRate)
            for i in range {
                do {
                    var s = try AudioDataset.load(clips[i], sampleRate: sampleRate)
                    if maxSamples > 0, s.count > maxSamples { s = Array(s.prefix(maxSamples)) }
                    let v = logMel(s, with: c)
                    lock.lock(); out[i] = v; lock.unlock()
                } catch {
                    lock.lock(); errors[i] = error; lock.unlock()
                }
            }
        }
        if let e = errors.compactMap({ $0 }).first { throw e }
        return out
    }

    /// Normalised features X of every clip (see ``logMel(_:sampleRate:maxSamples:threads:)``); with
    /// per-speaker normalisation each speaker's offset is that of its clips among `clips`.
    public func features(_ clips: [AudioClip], sampleRate: Int, maxSamples: Int = 0, threads: Int = Parallel.defaultThreads) throws -> [[Float]] {
        try normalised(logMel(clips, sampleRate: sampleRate, maxSamples: maxSamples, threads: threads), of: clips)
    }

    /// ``normalised(_:speakers:)`` of the frames of `clips` (their speakers).
    /// - Throws: ``AudioDatasetError/missingSpeaker(path:)`` naming a clip without a speaker.
    public func normalised(_ frames: [[Float]], of clips: [AudioClip]) throws -> [[Float]] {
        try Self.namingClip(clips) { try normalised(frames, speakers: clips.map(\.speaker)) }
    }

    /// ``fitted(to:speakers:)`` on the frames of `clips` (their speakers).
    /// - Throws: ``AudioDatasetError/missingSpeaker(path:)`` naming a clip without a speaker.
    public func fitted(to frames: [[Float]], of clips: [AudioClip]) throws -> LogMelFeatures {
        try Self.namingClip(clips) { try fitted(to: frames, speakers: clips.map(\.speaker)) }
    }

    /// `body`, its ``LogMelFeaturesError/missingSpeaker(clip:)`` turned into the error naming that clip's file.
    static func namingClip<T>(_ clips: [AudioClip], _ body: () throws -> T) throws -> T {
        do { return try body() } catch LogMelFeaturesError.missingSpeaker(let i) {
            throw AudioDatasetError.missingSpeaker(path: clips[i].path)
        }
    }

    // MARK: Coding

    enum CodingKeys: String, CodingKey { case kind, mels, fftSize = "fft_size", hop, epsilon, normalisation, mean, std }

    /// The `kind` saved for these settings.
    public static let kind = "log-mel"

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        guard kind == Self.kind else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "is \"\(kind)\", expected \"\(Self.kind)\"")
        }
        mels = try c.decode(Int.self, forKey: .mels)
        fftSize = try c.decode(Int.self, forKey: .fftSize)
        hop = try c.decode(Int.self, forKey: .hop)
        epsilon = try c.decode(Float.self, forKey: .epsilon)
        normalisation = try c.decodeIfPresent(Normalisation.self, forKey: .normalisation) ?? .trainingSet
        mean = try c.decode([Float].self, forKey: .mean)
        std = try c.decode([Float].self, forKey: .std)
        if let p = problem ?? (isFitted ? nil : "mean and std are missing") {
            throw DecodingError.dataCorruptedError(forKey: .mels, in: c, debugDescription: p)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.kind, forKey: .kind); try c.encode(mels, forKey: .mels); try c.encode(fftSize, forKey: .fftSize)
        try c.encode(hop, forKey: .hop); try c.encode(epsilon, forKey: .epsilon)
        try c.encode(normalisation, forKey: .normalisation); try c.encode(mean, forKey: .mean); try c.encode(std, forKey: .std)
    }
}
