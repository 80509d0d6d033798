// AudioCommands.swift — `train audio-lm`, `train audio-classify`, `eval audio-lm`, `eval audio-classify`,
// `generate audio`, `audio spectrogram`.
import ArgumentParser
import Foundation
import MambaAudio
import MambaKit

extension SampleEncoding: ExpressibleByArgument {}
extension Pooling: ExpressibleByArgument {}

// MARK: - Shared helpers

/// The model directory and its audio settings (audio.json).
func loadAudioModel(_ model: ModelDirectoryOption) throws -> (MambaModel, AudioSettings, URL) {
    let settings = try AudioSettings.load(from: model.directory)
    if let f = settings.features {
        throw CLIError.usage("\(model.directory.path): this is a classifier on \(f.mels)-band log-mel frames, not a waveform model — use `eval audio-classify`")
    }
    let (m, dir) = try model.load()
    return (m, settings, dir)
}

/// The held-out split of a data set for validation/evaluation: `preferred` names tried in order.
func heldOutClips(_ ds: AudioDataset, preferred: [String]) -> [AudioClip]? {
    for s in preferred { if let c = try? ds.clips(split: s, allIfUnsplit: false) { return c } }
    return nil
}

// MARK: - train audio-lm

struct TrainAudioLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio-lm",
        abstract: "Train a waveform language model: next-sample prediction over 256 classes (8-bit mu-law or linear).",
        discussion: """
            Clips of --data (split 'train' when it has splits) are resampled to --sample-rate, tokenized and \
            concatenated, each after one silence token; windows of --seq-len samples are drawn from that stream. \
            Long windows: --chunk-len gives truncated backprop with the state carried between chunks. \
            Validation (bits per sample, whole clips with the state carried) uses --val, else the data's \
            valid or test split. Checkpoints in --out carry audio.json (sample rate, encoding).

            Example: mambakit train audio-lm --data piano/manifest.csv --sample-rate 16000 --seq-len 16000 \\
                     --chunk-len 4000 --batch-size 2 --d-model 64 --n-layer 4 --steps 200 --out runs/piano
            """)

    @OptionGroup var audio: AudioTrainingData
    @Option(help: "Held-out clips (default: the data's valid or test split).") var val: String?
    @OptionGroup var evalEvery: EvalEveryOption
    @Option(help: "Held-out samples scored per validation.") var evalSamples: Int = 65536
    @OptionGroup var train: TrainingArguments

    func validate() throws { try Check.int(evalSamples, "--eval-samples", 1...Int(Int32.max)) }

    func run() throws {
        let (ds, trainClips, settings) = try audio.open(for: train, task: "lm")
        let threads = train.threads.count
        let clips = try AudioDataset.tokenize(trainClips, settings: settings, threads: threads)
        let stream = AudioLM.trainingStream(clips, silence: settings.silence)
        guard stream.count >= train.seqLen + 1 else {
            let path = trainClips.count == 1 ? trainClips[0].path : ds.source
            throw DataError.tooShort(path: path, count: stream.count, need: train.seqLen + 1, unit: "samples",
                                     hint: "use longer clips or a shorter --seq-len", kind: .audio)
        }
        var valClips: [[Int32]]? = nil
        if let v = val {
            let vds = try AudioDataset.open(v, labelColumn: audio.labelColumn)
            let held = vds.splits.isEmpty ? vds.clips : try heldOutClips(vds, preferred: ["valid", "test"]) ?? vds.clips(split: "valid")
            valClips = try AudioDataset.tokenize(held, settings: settings, threads: threads)
        } else if let held = heldOutClips(ds, preferred: ["valid", "test"]) {
            valClips = try AudioDataset.tokenize(held, settings: settings, threads: threads)
        }
        let trainer = try train.trainer(tokens: stream, source: audio.data) {
            try train.makeModel(defaultVocab: 256, minVocab: 256, what: "an 8-bit waveform model")
        }
        let run = TrainingRun.audioLM(trainer: trainer, settings: settings, validation: valClips,
                                      evalEvery: evalEvery.interval(default: 100, steps: trainer.options.steps),
                                      evalSamples: evalSamples, outDirectory: train.out)
        let seconds = Double(stream.count) / Double(settings.sampleRate)
        try train.execute(run, summary: "training \(trainer.model.parameterCount) parameters on \(trainClips.count) clips (\(stream.count) samples, " +
                   String(format: "%.1f s", seconds) + " at \(settings.sampleRate) Hz, \(settings.encoding.rawValue))" +
                   (valClips.map { ", validating on \($0.count) clips" } ?? ""))
    }
}

// MARK: - train audio-classify

struct TrainAudioClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio-classify",
        abstract: "Train a clip classifier on raw waveforms or log-mel frames: backbone → pooling over time → linear → softmax.",
        discussion: """
            Data: DATA/train/<label>/*.wav and DATA/test/<label>/*.wav, DATA/<label>/*.wav, or a CSV manifest \
            (file,label[,split][,speaker]; --label-column picks another label column, e.g. FSDD's digit). Clips are \
            resampled to --sample-rate. Each step draws --batch-size clips, cropping longer ones to a random --seq-len \
            window. Validation uses whole clips of the data's test (or valid) split. --init DIR starts from a trained \
            model's backbone.

            --features waveform (default): 8-bit sample tokens, one per sample (pass a --seq-len that covers typical \
            clips, e.g. 4000 at 8 kHz). --features log-mel: frames of --mels log mel energies (Hann window of --window \
            samples every --hop), each band normalised by the mean and deviation of the training clips' frames (saved \
            in audio.json with the model), through an input projection; --seq-len then counts frames, and the time and \
            band masks and the gain augment the training draws.

            Speakers (a manifest's speaker column, or files named <label>_<speaker>_<index>.wav as FSDD's): \
            --hold-out-speaker S trains on the other speakers' clips of --split and scores every clip of S (all \
            splits) at the end; --val-speaker V moves V's clips out of training into validation (choose settings \
            there, not on the held-out speaker).

            Example: mambakit train audio-classify --data fsdd/manifest.csv --label-column digit --sample-rate 8000 \\
                     --seq-len 4000 --batch-size 8 --d-model 64 --n-layer 2 --steps 300 --out runs/fsdd-cls
                     mambakit train audio-classify --data fsdd --label-column digit --features log-mel \\
                     --d-model 64 --n-layer 4 --batch-size 16 --steps 400 --lr 3e-3 --out runs/fsdd-logmel
            """)

    @OptionGroup var audio: AudioTrainingData
    @OptionGroup(title: "Features") var input: LogMelOptions
    @Option(help: "Pooling over time: mean or last.") var pooling: Pooling = .mean
    @Flag(help: "BiMamba: add reverse-direction mixers (shared in_proj/out_proj), so every position sees the whole clip.") var bidirectional = false
    @Option(help: "Leave this speaker out of training; score all of their clips at the end.") var holdOutSpeaker: String?
    @Option(help: "Validate on this speaker's clips of --split (left out of training).") var valSpeaker: String?
    @OptionGroup var evalEvery: EvalEveryOption
    @Option(help: "Score only the first N samples of each held-out clip (0 = whole clips).") var evalSamples: Int = 0
    @OptionGroup var train: TrainingArguments

    func validate() throws {
        try Check.int(evalSamples, "--eval-samples", 0...Int(Int32.max))
        try Check.nonEmpty(holdOutSpeaker, "--hold-out-speaker")
        try Check.nonEmpty(valSpeaker, "--val-speaker")
        if let h = holdOutSpeaker, h == valSpeaker {
            throw optionError(option: "--val-speaker", value: h, allowed: "must differ from --hold-out-speaker")
        }
    }

    /// The clips to train on, to validate on and the held-out speaker's, after the speaker options.
    func partition(_ ds: AudioDataset, _ clips: [AudioClip]) throws -> (train: [AudioClip], validation: [AudioClip]?, heldOut: [AudioClip]?) {
        var trainClips = clips, validation: [AudioClip]? = nil, heldOut: [AudioClip]? = nil
        if let h = holdOutSpeaker {
            heldOut = try ds.clips(speaker: h)
            trainClips = trainClips.filter { $0.speaker != h }
            validation = heldOut
        }
        if let v = valSpeaker {
            validation = try ds.clips(speaker: v, among: trainClips)
            trainClips = trainClips.filter { $0.speaker != v }
        }
        if holdOutSpeaker == nil, valSpeaker == nil, audio.split != "test" { validation = heldOutClips(ds, preferred: ["test", "valid"]) }
        guard !trainClips.isEmpty else {
            throw DataError.empty(path: ds.source, what: "training clips of split '\(audio.split)' from other speakers", kind: .audioData)
        }
        return (trainClips, validation, heldOut)
    }

    func run() throws {
        let (ds, splitClips, baseSettings) = try audio.open(for: train, task: "classify")
        let (trainClips, valClips, heldOut) = try partition(ds, splitClips)
        let threads = train.threads.count
        let labels = try train.labels {
            let labels = AudioDataset.labels(of: trainClips)
            if let unlabelled = trainClips.first(where: { $0.label == nil }) { throw AudioDatasetError.missingLabel(path: unlabelled.path) }
            guard labels.count >= 2 else { throw DataError.tooFewClasses(path: ds.source, labels: labels, kind: .audioData) }
            return labels
        }
        let inherited: (AudioFeatureKind, String)? = try {
            if let ck = try train.model.resumeCheckpoint() { return ((try AudioSettings.load(from: ck)).features == nil ? .waveform : .logMel, "the resumed run") }
            if let i = train.model.initFrom, let s = try? AudioSettings.load(from: resolveModelDirectory(i)) {
                return (s.features == nil ? .waveform : .logMel, "the --init model")
            }
            return nil
        }()
        let kind = try input.kind(inherited: inherited?.0, from: inherited?.1 ?? "")
        try input.checkUnused(kind: kind)
        if kind == .logMel {
            try runLogMel(ds: ds, trainClips: trainClips, valClips: valClips, heldOut: heldOut, labels: labels, settings: baseSettings,
                          inheritedFrom: inherited?.1)
            return
        }
        let settings = baseSettings
        let ex = try AudioClassifier.examples(trainClips, labels: labels, settings: settings, threads: threads)
        let (trainer, classifier) = try train.trainer(examples: ex, augment: nil, source: audio.data) {
            try train.makeClassifier(labels: labels, pooling: pooling, bidirectional: bidirectional,
                                     defaultVocab: 256, minVocab: 256, what: "an 8-bit waveform model")
        }
        let validation = try valClips.map { try AudioClassifier.examples($0, labels: labels, settings: settings, threads: threads) }
        let run = TrainingRun.audioClassifier(trainer: trainer, settings: settings, validation: validation,
                                              evalEvery: evalEvery.interval(default: 100, steps: trainer.options.steps),
                                              evalSamples: evalSamples, outDirectory: train.out)
        try train.execute(run, summary: "training a \(labels.count)-class classifier (\(classifier.parameterCount) parameters, \(classifier.head.pooling.rawValue) pooling) " +
                   "on \(trainClips.count) clips at \(settings.sampleRate) Hz" + (validation.map { ", validating on \($0.count) clips" } ?? ""))
        if let h = heldOut {
            let m = try AudioClassifier.evaluate(model: classifier, examples: AudioClassifier.examples(h, labels: labels, settings: settings, threads: threads),
                                                 maxSamples: evalSamples)
            printHeldOut(m, clips: h.count)
        }
    }

    func printHeldOut(_ m: ClassificationMetrics, clips: Int) {
        print(String(format: "held-out speaker %@: accuracy %.4f, MCC %.4f on %d clips (all splits)", holdOutSpeaker ?? "", m.accuracy, m.mcc, clips))
    }

    /// The backbone of a new log-mel classifier: --config, or the size options (no vocabulary).
    func logMelBackbone() throws -> MambaConfig {
        let m = train.model
        if let v = m.vocabSize { throw optionError(option: "--vocab-size", value: "\(v)", allowed: "only for --features waveform (log-mel frames have no vocabulary)") }
        if let file = m.config { return try MambaConfig.load(from: URL(fileURLWithPath: file)) }
        guard let d = m.dModel, let n = m.nLayer else {
            throw CLIError.usage("say which model to train: --init DIR, --resume DIR, --config FILE, or --d-model and --n-layer")
        }
        return m.newConfig(dModel: d, nLayer: n, vocabSize: 1)
    }

    func runLogMel(ds: AudioDataset, trainClips: [AudioClip], valClips: [AudioClip]?, heldOut: [AudioClip]?, labels: [String],
                   settings base: AudioSettings, inheritedFrom: String?) throws {
        let threads = train.threads.count, rate = base.sampleRate
        var settings = base
        let t0 = Date()
        let raw = try (settings.features ?? input.newFeatures(sampleRate: rate)).logMel(trainClips, sampleRate: rate, threads: threads)
        if let f = settings.features { try input.check(inherited: f, from: inheritedFrom ?? "the model") }
        else { settings.features = try input.newFeatures(sampleRate: rate).fitted(to: raw, of: trainClips) }
        let features = settings.features!
        let ids = try AudioDataset.labelIndices(trainClips, labels: labels)
        let ex = zip(try features.normalised(raw, of: trainClips), ids).map { LabeledFeatures(features: $0, label: $1) }
        let validation = try valClips.map {
            try LogMelClassifier.examples($0, labels: labels, sampleRate: rate, features: features, maxSamples: evalSamples, threads: threads)
        }
        let prepared = Date().timeIntervalSince(t0)
        let augmentation = input.augmentation(features: features, sampleRate: rate)
        var classifier: SequenceClassifier! = nil
        let trainer: Trainer
        if let r = train.model.resume {
            trainer = try Trainer.resume(from: URL(fileURLWithPath: r), steps: train.schedule.steps) { ck, _ in
                classifier = try SequenceClassifier.load(directory: ck)
                try LogMelClassifier.checkInput(classifier, settings: settings, directory: ck)
                return try LogMelObjective(model: classifier, examples: ex, augmentation: augmentation, source: audio.data)
            }
        } else {
            if let i = train.model.initFrom {
                let dir = resolveModelDirectory(i)
                let source = try SequenceClassifier.load(directory: dir)
                try LogMelClassifier.checkInput(source, settings: settings, directory: dir)
                classifier = SequenceClassifier.fineTuning(source, labels: labels, pooling: pooling,
                                                           bidirectional: bidirectional || source.head.bidirectional, seed: train.seed)
            } else {
                classifier = try LogMelClassifier.make(backbone: logMelBackbone(), features: features, labels: labels, pooling: pooling,
                                                       bidirectional: bidirectional, seed: train.seed)
            }
            trainer = try Trainer(objective: LogMelObjective(model: classifier, examples: ex, augmentation: augmentation, source: audio.data),
                                  options: train.options())
        }
        let run = TrainingRun.logMelClassifier(trainer: trainer, classifier: classifier, settings: settings, validation: validation,
                                               evalEvery: evalEvery.interval(default: 100, steps: trainer.options.steps), outDirectory: train.out)
        let frames = ex.map { $0.features.count / features.mels }
        try train.execute(run, summary: "training a \(labels.count)-class log-mel classifier (\(classifier.parameterCount) parameters, " +
                   "\(classifier.head.pooling.rawValue) pooling" + (classifier.head.bidirectional ? ", bidirectional" : "") + ") on \(trainClips.count) clips: " +
                   "\(features.mels) bands, window \(features.fftSize), hop \(features.hop) at \(rate) Hz, \(features.normalisation.rawValue) normalisation, " +
                   "\(frames.min() ?? 0)–\(frames.max() ?? 0) frames" +
                   String(format: " (%.1f s to prepare)", prepared) + (validation.map { ", validating on \($0.count) clips" } ?? ""))
        if let h = heldOut {
            let m = try LogMelClassifier.evaluate(model: classifier, examples: LogMelClassifier.examples(h, labels: labels, sampleRate: rate,
                                                                                                       features: features, threads: threads))
            printHeldOut(m, clips: h.count)
        }
    }
}

// MARK: - eval

struct EvalAudioLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio-lm",
        abstract: "Bits per sample of a waveform LM on clips (whole clips, state carried across windows).",
        discussion: "Each clip is scored as one exact pass after one silence sample: NLL / ln 2 per sample, over all samples.")

    @OptionGroup var model: ModelDirectoryOption
    @OptionGroup var audio: AudioDataArguments
    @Option(help: "Split to score (default: test when the data has splits).") var split: String = "test"
    @Option(help: "Score only the first N samples in all.") var maxSamples: Int?
    @Option(help: "Samples per parallel window (state carried between windows).") var chunkLength: Int = 4096
    @OptionGroup var output: JSONOption

    func validate() throws {
        try Check.int(maxSamples, "--max-samples", 1...Int.max)
        try Check.int(chunkLength, "--chunk-length", 1...ScheduleOptions.maxSeqLen)
    }

    func run() throws {
        let (m, settings, _) = try loadAudioModel(model)
        let ds = try AudioDataset.open(audio.data, labelColumn: audio.labelColumn)
        let clips = try AudioDataset.tokenize(try ds.clips(split: split), settings: settings, threads: model.threads.count)
        let t0 = Date()
        let e = try evaluateAudioLM(model: m, clips: clips, silence: settings.silence, chunkLength: chunkLength, maxSamples: maxSamples,
                                    progress: Progress(.stderr))
        let secs = Date().timeIntervalSince(t0)
        if output.json {
            print("{\"samples\": \(e.samples), \"clips\": \(e.clips), \"nll\": \(jsonNumber(e.nll)), \"bits_per_sample\": \(jsonNumber(e.bitsPerSample)), \"sample_rate\": \(settings.sampleRate), \"encoding\": \(jsonString(settings.encoding.rawValue))}")
        } else {
            print(String(format: "%d clips, %d samples at %d Hz (%@): %.4f bits/sample (nll %.4f nats) in %.1f s",
                         e.clips, e.samples, settings.sampleRate, settings.encoding.rawValue, e.bitsPerSample, e.nll, secs))
        }
    }
}

struct EvalAudioClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio-classify",
        abstract: "Accuracy, per-class accuracy and confusion matrix of a clip classifier (waveform or log-mel).",
        discussion: "A log-mel classifier's clips go through the bands, window, hop and normalisation saved in its audio.json.")

    @OptionGroup var model: ModelDirectoryOption
    @OptionGroup var audio: AudioDataArguments
    @Option(help: "Split to score (default: test when the data has splits; all = every clip).") var split: String = "test"
    @Option(help: "Score only this speaker's clips (of --split).") var speaker: String?
    @Option(help: "Score only the first N samples of each clip (0 = whole clips).") var maxSamples: Int = 0
    @OptionGroup var output: JSONOption

    func validate() throws {
        try Check.int(maxSamples, "--max-samples", 0...Int.max)
        try Check.nonEmpty(speaker, "--speaker")
    }

    func run() throws {
        let settings = try AudioSettings.load(from: model.directory)
        let (m, dir) = try model.loadClassifier(otherwise: "eval audio-lm")
        try LogMelClassifier.checkInput(m, settings: settings, directory: dir)
        let ds = try AudioDataset.open(audio.data, labelColumn: audio.labelColumn)
        var clips = split.lowercased() == "all" ? ds.clips : try ds.clips(split: split)
        if let s = speaker { clips = try ds.clips(speaker: s, among: clips) }
        let threads = model.threads.count
        let r: ClassificationMetrics
        if let features = settings.features {
            let ex = try LogMelClassifier.examples(clips, labels: m.labels, sampleRate: settings.sampleRate, features: features,
                                                   maxSamples: maxSamples, threads: threads)
            r = try evaluateClassifier(inputs: ex.map(\.features), truth: ex.map(\.label), labels: m.labels, progress: Progress(.stderr)) {
                try LogMelClassifier.predict(model: m, features: $0)
            }
        } else {
            let ex = try AudioClassifier.examples(clips, labels: m.labels, settings: settings, threads: threads)
            r = try evaluateClassifier(examples: ex, labels: m.labels, progress: Progress(.stderr)) {
                try AudioClassifier.predict(model: m, sequences: $0, maxSamples: maxSamples)
            }
        }
        if output.json { print(r.json()); return }
        print(String(format: "%d clips: accuracy %.4f", r.count, r.accuracy))
        for l in r.labels { print(String(format: "  %@: %.4f", l, r.perClass[l] ?? .nan)) }
        print("confusion (rows: true, columns: predicted; " + r.labels.joined(separator: " ") + "):")
        for row in r.confusion { print("  " + row.map { String(format: "%4d", $0) }.joined()) }
    }
}

// MARK: - generate audio

struct GenerateAudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio",
        abstract: "Generate audio with a waveform LM to a WAV/FLAC file, unconditionally or continuing --prompt.",
        discussion: """
            The prompt clip (resampled to the model's rate) is prefilled in parallel mode, then samples are drawn \
            one recurrent step at a time. The output holds the prompt followed by --seconds of generated audio.
            """)

    @OptionGroup var model: ModelDirectoryOption
    @Option(help: "Seconds of audio to generate, up to \(Int(GenerateAudioCommand.maxSeconds)).") var seconds: Double = 1
    @Option(help: "Output file (.wav, or .flac).") var out: String
    @Option(help: "A clip to continue.") var prompt: String?
    @Option(help: "Use only the first S seconds of the prompt.") var promptSeconds: Double?
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 1
    @OptionGroup var seed: SeedOption

    static let maxSeconds = 3600.0

    func validate() throws {
        try Check.seconds(seconds, "--seconds", max: Self.maxSeconds)
        try Check.seconds(promptSeconds, "--prompt-seconds", max: 86400)
        try Check.number(temperature, "--temperature", 0...100)
    }

    func run() throws {
        let (m, settings, _) = try loadAudioModel(model)
        guard m.config.numLabels == 0 else { throw CLIError.usage("\(model.model): this model is a classifier; generation needs a waveform LM") }
        var promptIds: [Int32] = []
        if let p = prompt {
            var samples = try AudioDataset.load(AudioClip(path: p), sampleRate: settings.sampleRate)
            if let s = promptSeconds { samples = Array(samples.prefix(Int(s * Double(settings.sampleRate)))) }
            promptIds = settings.encode(samples)
        }
        let count = Int((seconds * Double(settings.sampleRate)).rounded())
        let t0 = Date()
        let ids = try AudioLM.generate(model: m, prompt: promptIds, count: count, silence: settings.silence,
                                       temperature: temperature, seed: seed.seed)
        let secs = Date().timeIntervalSince(t0)
        try AudioFile.write(Waveform(samples: settings.decode(promptIds + ids), sampleRate: settings.sampleRate), to: out)
        stderrLine(String(format: "%d samples generated in %.1f s (%.0f samples/s through the recurrent path)", ids.count, secs, Double(ids.count) / max(secs, 1e-9)))
        print("wrote \(out): " + (promptIds.isEmpty ? "" : "\(promptIds.count) prompt samples + ") + "\(ids.count) generated samples at \(settings.sampleRate) Hz")
    }
}

// MARK: - audio …

struct AudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio", abstract: "Audio utilities.", subcommands: [AudioSpectrogramCommand.self, AudioQuickstartCommand.self])
}

struct AudioQuickstartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "The audio part of the main job alone: espeak-ng spoken digits → waveform classifier and LM → generated WAV + spectrogram.")

    @OptionGroup var output: OutputDirectoryOption
    @OptionGroup var seed: SeedOption
    @Option(help: "Wall-clock budget of the part in seconds (data, both trainings, evaluation).") var seconds: Double = AudioQuickstart.defaultSeconds

    func validate() throws { try Check.seconds(seconds, "--seconds", max: 86400) }

    func run() throws {
        let budget = PartBudget(seconds: seconds)
        try runAudioQuickstart(out: URL(fileURLWithPath: output.path(default: "Data/cache/quickstart_audio")), seed: seed.seed, budget: budget)
        print("The audio part \(budget.report).")
    }
}

struct AudioSpectrogramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectrogram",
        abstract: "Draw log-mel spectrograms of clips side by side (e.g. a real and a generated clip) as PNG or SVG.",
        discussion: """
            All panels share the time scale and the colour scale (viridis over the top --range dB of all clips). \
            An .svg is the labelled picture: a title per panel (the file name), time in seconds, frequency in Hz \
            on the mel scale of the bands, and a colour bar in dB relative to the loudest band. A .png holds the \
            bare panels (no text).
            """)

    @Argument(help: "Audio files (any format libsndfile reads).") var files: [String]
    @Option(help: "Output picture: .svg (labelled) or .png (bare panels).") var out: String
    @Option(help: "Mel bands, 1…512.") var mels: Int = 80
    @Option(help: "Dynamic range in dB.") var range: Float = 80
    @Option(help: "Panel height in pixels.") var height: Int = 240
    @Option(help: "Draw only the first S seconds of each file.") var maxSeconds: Double?

    func validate() throws {
        try Check.int(mels, "--mels", 1...512)
        try Check.number(range, "--range", 0...400, excludingLower: true)
        try Check.int(height, "--height", 8...8192)
        try Check.seconds(maxSeconds, "--max-seconds", max: 86400)
    }

    func run() throws {
        guard !files.isEmpty else { throw CLIError.usage("give at least one audio file") }
        let waves = try files.map { f -> Waveform in
            var w = try AudioFile.read(f)
            if let s = maxSeconds { w.samples = Array(w.samples.prefix(max(1, Int(s * Double(w.sampleRate))))) }
            return w
        }
        var p = SpectrogramPicture()
        p.mels = mels; p.dynamicRange = range; p.panelHeight = height
        try p.write(waves, titles: files.map { ($0 as NSString).lastPathComponent }, to: out)
        print("wrote \(out): " + zip(files, waves).map { String(format: "%@ (%.2f s, %d Hz)", ($0 as NSString).lastPathComponent, $1.duration, $1.sampleRate) }.joined(separator: " | "))
    }
}
