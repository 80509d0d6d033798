// AudioGenerationEval.swift — `eval audio-generation`: IS, mIS, AM score and the Fréchet distance of
// generated clips under a trained clip classifier (the SC09 metrics of the SaShiMi and Mamba papers).
//
//   clips (n) → tokens (waveform classifier) or log-mel frames (log-mel classifier, its audio.json's bands and
//   normalisation) → classifier backbone → pooled hidden states f_i (n, D) → head → p(y | x_i) (n, C)
//   IS, mIS, AM from p (n, C); FD between the Gaussians of f over the reference clips (m, D) and the clips
import ArgumentParser
import Foundation
import MambaAudio
import MambaKit

/// What AM's p_train is.
enum AMPrior: String, ExpressibleByArgument, CaseIterable {
    /// 1/C for every class (FSDD's training split is exactly balanced: 225 clips per digit).
    case uniform
    /// The label frequencies of the reference clips (needs labelled reference clips).
    case labels
    /// The mean classifier prediction over the reference clips (SaShiMi's script, with the training set as reference).
    case predictions
}

struct EvalAudioGenerationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio-generation",
        abstract: "Score generated clips with a trained clip classifier: Inception Score, modified IS, AM score and Fréchet distance.",
        discussion: """
            Every clip of --clips (a folder of .wav/.flac, a manifest, or one file; --clips-split picks a split) is \
            read, resampled to the classifier's rate and encoded as its own evaluation does (sample tokens for a \
            waveform classifier; log-mel frames with the bands and normalisation of its audio.json for a log-mel \
            one, which must normalise by the training set or per clip: generated clips have no speaker), then \
            classified whole. \
            From p(y|x) of the n clips: IS = exp(mean KL(p(y|x) ‖ p(y))), p(y) their mean; mIS = exp(mean over the \
            n(n−1) ordered pairs of distinct clips of KL(p(y|x) ‖ p(y|x'))); AM = KL(p_train ‖ p(y)) + mean H(p(y|x)), \
            p_train per --am-prior. FD (FID-style) is the Fréchet distance, in Double, between Gaussians fitted \
            (mean, unbiased covariance) to the classifier's pooled hidden states (its linear head's input) of the \
            reference clips and of --clips: ‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½). The reference is --real \
            (all its clips) or --split of --data; without either, FD is not computed. Higher IS/mIS and lower \
            AM/FD are better.

            Example: mambakit eval audio-generation --classifier runs/fsdd-cls --clips generated/ \\
                     --data fsdd/manifest.csv --split train --json
            """)

    @Option(help: "Classifier directory (written by `train audio-classify`, or its --out directory: the latest checkpoint).")
    var classifier: String
    @Option(help: "The clips to score: a folder of audio files (recursive), a CSV manifest, or one file.") var clips: String
    @Option(help: "Score only this split of --clips (default: all its clips).") var clipsSplit: String?
    @Option(help: "Reference clips for FD (and --am-prior labels/predictions): all clips of this folder, manifest or file.")
    var real: String?
    @Option(help: "Reference data set for FD: its --split is the reference (e.g. ../shared/datasets/fsdd).") var data: String?
    @Option(help: "Split of --data used as the reference.") var split: String = "train"
    @Option(help: "Manifest column holding the class label of reference clips (for --am-prior labels).") var labelColumn: String?
    @Option(help: "AM's p_train: uniform (1/C), labels (label frequencies of the reference clips) or predictions (their mean prediction).")
    var amPrior: AMPrior = .uniform
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var output: JSONOption

    func validate() throws {
        try Check.nonEmpty(classifier, "--classifier")
        try Check.nonEmpty(clips, "--clips")
        try Check.nonEmpty(clipsSplit, "--clips-split")
        try Check.nonEmpty(real, "--real")
        try Check.nonEmpty(data, "--data")
        try Check.nonEmpty(split, "--split")
        try Check.nonEmpty(labelColumn, "--label-column")
        if real != nil, data != nil { throw ValidationError("--real and --data: give one reference, not both") }
        if amPrior != .uniform, real == nil, data == nil {
            throw ValidationError("--am-prior \(amPrior.rawValue): needs reference clips — give --real or --data")
        }
    }

    func run() throws {
        let dir = resolveModelDirectory(classifier)
        let settings = try AudioSettings.load(from: dir)
        let (m, _) = try loadClassifierDirectory(dir, threads: threads, otherwise: "eval audio-lm")
        try LogMelClassifier.checkInput(m, settings: settings, directory: dir)
        if let f = settings.features, f.normalisation == .perSpeaker {
            throw CLIError.usage("\(dir.appendingPathComponent(AudioSettings.fileName).path): the classifier normalises log-mel frames per speaker, " +
                                 "and generated clips have no speaker — score with a classifier trained with --normalisation training-set or per-clip")
        }
        let progress = Progress(.stderr)
        let scored = try AudioDataset.open(clips)
        let clipList = try clipsSplit.map { try scored.clips(split: $0, allIfUnsplit: false) } ?? scored.clips
        let gen = try classify(clipList, model: m, settings: settings, what: "clips", progress: progress)

        var reference: (clips: [AudioClip], rows: ClassifierRows)? = nil
        if let r = real ?? data {
            let ds = try AudioDataset.open(r, labelColumn: labelColumn)
            let list = real != nil ? ds.clips : try ds.clips(split: split)
            reference = (list, try classify(list, model: m, settings: settings, what: "reference clips", progress: progress))
        }

        let C = m.labels.count
        let prior: [Double]
        switch amPrior {
        case .uniform: prior = [Double](repeating: 1 / Double(C), count: C)
        case .labels: prior = GenerationMetrics.labelDistribution(try AudioDataset.labelIndices(reference!.clips, labels: m.labels), classes: C)
        case .predictions: prior = GenerationMetrics.marginal(reference!.rows.probabilities)
        }
        let probs = gen.probabilities
        let figures = GenerationFigures(
            clips: probs.count, referenceClips: reference?.rows.probabilities.count,
            inceptionScore: GenerationMetrics.inceptionScore(probs),
            modifiedInceptionScore: probs.count >= 2 ? GenerationMetrics.modifiedInceptionScore(probs) : nil,
            amScore: GenerationMetrics.amScore(probs, prior: prior),
            frechetDistance: try reference.map { ref in
                for (what, n) in [("--clips", gen.features.count), ("the reference", ref.rows.features.count)] where n < 2 {
                    throw CLIError.usage("\(what): \(n) clip — the Fréchet distance needs at least 2 clips on each side for a covariance")
                }
                return GenerationMetrics.frechetDistance(GenerationMetrics.Gaussian(rows: ref.rows.features),
                                                         GenerationMetrics.Gaussian(rows: gen.features))
            },
            predictedCounts: (0..<C).map { c in probs.filter { GenerationMetrics.argmax($0) == c }.count },
            meanConfidence: probs.reduce(0) { $0 + ($1.max() ?? 0) } / Double(probs.count),
            featureDim: m.pooledHead.dim)
        if output.json {
            print(figures.json(labels: m.labels, prior: amPrior, sampleRate: settings.sampleRate))
            return
        }
        print(String(format: "%d clips at %d Hz, %d classes: IS %.4f, mIS %@, AM %.4f (p_train %@), FD %@",
                     figures.clips, settings.sampleRate, C, figures.inceptionScore,
                     figures.modifiedInceptionScore.map { String(format: "%.4f", $0) } ?? "— (one clip)",
                     figures.amScore, amPrior.rawValue,
                     figures.frechetDistance.map { String(format: "%.4f against %d reference clips", $0, figures.referenceClips ?? 0) } ?? "— (no --real/--data)"))
        print("predicted classes: " + zip(m.labels, figures.predictedCounts).map { "\($0) \($1)" }.joined(separator: ", ") +
              String(format: "; mean top probability %.3f", figures.meanConfidence))
    }

    /// p(y|x) in Double and the pooled features of every clip, a slice of clips at a time.
    func classify(_ list: [AudioClip], model: SequenceClassifier, settings: AudioSettings, what: String,
                  progress: Progress) throws -> ClassifierRows {
        var rows = ClassifierRows()
        let tick = progress.counter("classifying \(what)", total: list.count, unit: "clips")
        defer { progress.finish() }
        var i = 0
        while i < list.count {
            let part = Array(list[i..<min(list.count, i + 64)])
            let pooled: [[Float]]   // (n, D)
            if let f = settings.features {   // (n, L_i · F) frames, normalised as the classifier was trained
                pooled = try model.pooledFeatures(features: try f.features(part, sampleRate: settings.sampleRate, threads: threads.count))
            } else {                         // (n, L_i) sample tokens
                pooled = try model.pooledFeatures(tokens: try AudioDataset.tokenize(part, settings: settings, threads: threads.count))
            }
            rows.features += pooled
            rows.probabilities += try model.logits(pooled: pooled).map(GenerationMetrics.probabilities(logits:))
            i += part.count
            tick(i)
        }
        return rows
    }
}

/// The classifier's view of a set of clips.
struct ClassifierRows {
    /// p(y | x_i) (n, C).
    var probabilities: [[Double]] = []
    /// Pooled hidden states (n, D).
    var features: [[Float]] = []
}

/// What `eval audio-generation` reports.
struct GenerationFigures {
    var clips: Int
    var referenceClips: Int?
    var inceptionScore: Double
    var modifiedInceptionScore: Double?
    var amScore: Double
    var frechetDistance: Double?
    /// How many clips the classifier assigns to each class (argmax).
    var predictedCounts: [Int]
    /// Mean of max_y p(y | x).
    var meanConfidence: Double
    var featureDim: Int

    func json(labels: [String], prior: AMPrior, sampleRate: Int) -> String {
        let counts = zip(labels, predictedCounts).map { "\(jsonString($0)): \($1)" }.joined(separator: ", ")
        return "{\"clips\": \(clips), \"reference_clips\": \(referenceClips.map(String.init) ?? "null"), " +
            "\"is\": \(jsonNumber(inceptionScore)), \"mis\": \(modifiedInceptionScore.map(jsonNumber) ?? "null"), " +
            "\"am\": \(jsonNumber(amScore)), \"am_prior\": \(jsonString(prior.rawValue)), " +
            "\"fid\": \(frechetDistance.map(jsonNumber) ?? "null"), \"feature_dim\": \(featureDim), " +
            "\"classes\": \(labels.count), \"predicted_counts\": {\(counts)}, \"mean_top_probability\": \(jsonNumber(meanConfidence)), " +
            "\"sample_rate\": \(sampleRate)}"
    }
}
