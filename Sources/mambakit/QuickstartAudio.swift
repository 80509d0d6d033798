// QuickstartAudio.swift — the audio part of the main job: spoken digits synthesised with espeak-ng,
// a waveform clip classifier and a small waveform LM trained within the part's wall-clock budget
// (105 s by default, synthesis included), their held-out figures, a generated WAV and a
// spectrogram picture of it next to a real clip.
import Foundation
import MambaAudio
import MambaKit

// MARK: - Spoken digits with espeak-ng

/// Synthetic spoken digits made with Debian's `espeak-ng`: 10 words × voices × variants × (speed, pitch),
/// resampled to 8 kHz, trimmed of the silence around the word and stored as 16-bit WAV under `DIR/<split>/<digit>/<voice>_<variant>_<speed>_<pitch>.wav`
/// (the directory-per-class layout `train audio-classify` reads). One in five (voice, variant, speed, pitch)
/// combinations is held out as the test split, so test clips come from voice settings never trained on.
enum SpokenDigits {
    static let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    static let voices = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp"]
    static let variants = ["m1", "m3", "f2", "f4"]
    static let settings: [(speed: Int, pitch: Int)] = [(135, 40), (175, 65)]
    static let sampleRate = 8000

    /// The espeak-ng executable, or nil.
    static func espeak() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let p = "\(dir)/espeak-ng"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The clip without the silence before and after the word: from 10 ms before the first sample above
    /// 1% of the peak to 10 ms after the last.
    static func trimSilence(_ w: Waveform) -> Waveform {
        let peak = w.samples.map(abs).max() ?? 0
        guard peak > 0, let first = w.samples.firstIndex(where: { abs($0) > 0.01 * peak }),
              let last = w.samples.lastIndex(where: { abs($0) > 0.01 * peak }) else { return w }
        let margin = w.sampleRate / 100
        return Waveform(samples: Array(w.samples[max(0, first - margin)...min(w.samples.count - 1, last + margin)]), sampleRate: w.sampleRate)
    }

    /// Makes the clips that are missing (cached between runs); returns how many exist.
    static func synthesise(into dir: URL, threads: Int) throws -> Int {
        guard let exe = espeak() else {
            throw CLIError.usage("espeak-ng is not installed: the audio quickstart synthesises its spoken digits with it — run Scripts/setup.sh (it apt-installs espeak-ng) or `apt-get install espeak-ng`")
        }
        var jobs: [(word: Int, text: String, out: URL)] = []
        var combo = 0
        for (vi, v) in voices.enumerated() {
            for (ai, a) in variants.enumerated() {
                for (si, s) in settings.enumerated() {
                    let split = (vi + ai + si * 2 + combo) % 5 == 0 ? "test" : "train"
                    for (d, w) in words.enumerated() {
                        let url = dir.appendingPathComponent("\(split)/\(d)/\(v)_\(a)_\(s.speed)_\(s.pitch).wav")
                        jobs.append((d, "\(v)+\(a)|\(s.speed)|\(s.pitch)|\(w)", url))
                    }
                    combo += 1
                }
            }
        }
        let todo = jobs.filter { !FileManager.default.fileExists(atPath: $0.out.path) }
        var failure: Error? = nil
        let lock = NSLock()
        Parallel.forParts(todo.count, threads: max(1, threads)) { part, range in
            for j in range {
                let job = todo[j]
                let f = job.text.split(separator: "|").map(String.init)
                let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mambakit-espeak-\(getpid())-\(part).wav")
                do {
                    try FileManager.default.createDirectory(at: job.out.deletingLastPathComponent(), withIntermediateDirectories: true)
                    let p = Process()
                    p.executableURL = URL(fileURLWithPath: exe)
                    p.arguments = ["-v", f[0], "-s", f[1], "-p", f[2], "-w", tmp.path, f[3]]
                    p.standardOutput = FileHandle.nullDevice
                    p.standardError = FileHandle.nullDevice
                    try p.run()
                    p.waitUntilExit()
                    guard p.terminationStatus == 0 else {
                        throw CLIError.usage("espeak-ng -v \(f[0]) failed (status \(p.terminationStatus)) — check `espeak-ng --voices=en` lists it")
                    }
                    var w = try AudioFile.read(tmp.path)
                    w = trimSilence(Resampler().resample(w, to: sampleRate))
                    try AudioFile.write(w, to: job.out.path)
                    try? FileManager.default.removeItem(at: tmp)
                } catch {
                    lock.lock(); failure = failure ?? error; lock.unlock()
                    return
                }
            }
        }
        if let e = failure { throw e }
        return jobs.count
    }
}

// MARK: - The audio main job

enum AudioQuickstart {
    /// The audio part's wall-clock budget: synthesis, both trainings, evaluation and generation.
    static let defaultSeconds = 105.0
}

/// Synthesises spoken digits into `Data/cache/espeak_digits`, trains a raw-waveform digit classifier
/// and a small waveform LM (the classifier gets 60% of the training time left in `budget`, the LM the
/// rest), prints the test accuracy and bits per sample, generates a WAV continuing a held-out clip,
/// and writes the spectrogram picture of the real and generated clips side by side. Everything goes under `out`.
func runAudioQuickstart(out: URL, seed: UInt64, budget: PartBudget) throws {
    let threads = Parallel.defaultThreads
    let dataDir = URL(fileURLWithPath: "Data/cache/espeak_digits")
    let t0 = Date()
    let count = try SpokenDigits.synthesise(into: dataDir, threads: threads)
    let ds = try AudioDataset.open(dataDir.path)
    let trainClips = try ds.clips(split: "train"), testClips = try ds.clips(split: "test")
    print(String(format: "1. data: %d spoken digits synthesised with espeak-ng (%d voices × %d variants × %d speed/pitch settings, 8 kHz) in %@; %d to train, %d held out (unseen voice settings) (%.0f s)",
                 count, SpokenDigits.voices.count, SpokenDigits.variants.count, SpokenDigits.settings.count, dataDir.path,
                 trainClips.count, testClips.count, Date().timeIntervalSince(t0)))

    // Clip classifier: 8 kHz mu-law samples → 2 Mamba layers → mean pooling → linear → softmax.
    var settings = AudioSettings(sampleRate: SpokenDigits.sampleRate, encoding: .muLaw, task: "classify")
    let labels = AudioDataset.labels(of: trainClips)
    let trainEx = try AudioClassifier.examples(trainClips, labels: labels, settings: settings, threads: threads)
    let testEx = try AudioClassifier.examples(testClips, labels: labels, settings: settings, threads: threads)
    var o = TrainingOptions()
    o.seqLen = 4000; o.batchSize = 8; o.seed = seed; o.logEvery = 25; o.threads = threads
    o.adamw.learningRate = 3e-3; o.adamw.warmupSteps = 10; o.adamw.schedule = .cosine
    let backboneConfig = MambaConfig(dModel: 64, nLayer: 2, vocabSize: 256)
    func makeClassifier() throws -> SequenceClassifier {
        SequenceClassifier.fineTuning(try MambaModel.randomlyInitialised(config: backboneConfig, seed: seed), labels: labels, pooling: .mean, seed: seed)
    }
    let cSpeed = try PartBudget.measure { try Trainer(model: try makeClassifier(), examples: trainEx, options: o, source: dataDir.path) }
    // Set aside: the classifier's and the LM's held-out passes, the LM's calibration, generation and the picture.
    let testSamples = testEx.reduce(0) { $0 + $1.tokens.count }
    let cReserve = PartBudget.forwardSeconds(2 * testSamples, trainingTokensPerSecond: cSpeed.tokensPerSecond, fixed: 6)
    o.steps = budget.steps(secondsPerStep: cSpeed.secondsPerStep, reserve: cReserve, share: 0.6)
    let classifier = try makeClassifier()
    let clsDir = out.appendingPathComponent("audio_classifier")
    print(String(format: "2. training a waveform digit classifier: D=64, 2 layers, mean pooling, %d parameters; " +
                 "%d steps × %d clips × ≤%d samples (8-bit mu-law; 60%% of the budget left at %.2f s/step)",
                 classifier.parameterCount, o.steps, o.batchSize, o.seqLen, cSpeed.secondsPerStep))
    let cTrainer = try Trainer(model: classifier, examples: trainEx, options: o, source: dataDir.path)
    let cRun = TrainingRun.audioClassifier(trainer: cTrainer, settings: settings, validation: nil, evalEvery: 0, outDirectory: clsDir)
    let t1 = Date()
    try cRun.run(showing: Progress(.stdout, indent: "   "))
    let metrics = try evaluateClassifier(examples: testEx, labels: labels, progress: Progress(.stdout, indent: "   ")) {
        try AudioClassifier.predict(model: classifier, sequences: $0)
    }
    print(String(format: "   held-out accuracy %.3f on %d clips (chance 0.100), trained in %.0f s; per class: %@",
                 metrics.accuracy, metrics.count, Date().timeIntervalSince(t1),
                 labels.map { String(format: "%@ %.2f", $0, metrics.perClass[$0] ?? 0) }.joined(separator: ", ")))

    // Waveform LM on the same clips: next-sample prediction over 256 mu-law classes.
    settings.task = "lm"
    let trainTokens = trainEx.map(\.tokens), testTokens = testEx.map(\.tokens)
    let stream = AudioLM.trainingStream(trainTokens, silence: settings.silence)
    var lo = TrainingOptions()
    lo.seqLen = 4000; lo.chunkLength = 1000; lo.batchSize = 4; lo.seed = seed; lo.logEvery = 25; lo.threads = threads
    lo.adamw.learningRate = 3e-3; lo.adamw.warmupSteps = 10; lo.adamw.schedule = .cosine
    let lmConfig = MambaConfig(dModel: 64, nLayer: 2, vocabSize: 256)
    let lSpeed = try PartBudget.measure {
        try Trainer(model: try MambaModel.randomlyInitialised(config: lmConfig, seed: seed), tokens: stream, options: lo, source: dataDir.path)
    }
    lo.steps = budget.steps(secondsPerStep: lSpeed.secondsPerStep,
                            reserve: PartBudget.forwardSeconds(testSamples, trainingTokensPerSecond: lSpeed.tokensPerSecond, fixed: 3))
    let lm = try MambaModel.randomlyInitialised(config: lmConfig, seed: seed)
    let lmDir = out.appendingPathComponent("audio_lm")
    print(String(format: "3. training a waveform LM: D=64, 2 layers, %d parameters; %d steps × %d windows × %d samples " +
                 "(truncated backprop every %d), on %d samples (the rest of the budget at %.2f s/step)",
                 lm.parameterCount, lo.steps, lo.batchSize, lo.seqLen, lo.chunkLength, stream.count, lSpeed.secondsPerStep))
    let lTrainer = try Trainer(model: lm, tokens: stream, options: lo, source: dataDir.path)
    let lRun = TrainingRun.audioLM(trainer: lTrainer, settings: settings, validation: nil, evalEvery: 0, evalSamples: 0, outDirectory: lmDir)
    let t2 = Date()
    try lRun.run(showing: Progress(.stdout, indent: "   "))
    let e = try evaluateAudioLM(model: lm, clips: testTokens, silence: settings.silence, progress: Progress(.stdout, indent: "   "))
    print(String(format: "   held-out: %.3f bits/sample over %d samples of %d clips (8 bits = uniform), trained in %.0f s",
                 e.bitsPerSample, e.samples, e.clips, Date().timeIntervalSince(t2)))

    // Generation: continue the first 0.15 s of a held-out clip for 0.6 s; picture real | generated.
    let promptClip = testClips[0]
    let real = try AudioDataset.load(promptClip, sampleRate: settings.sampleRate)
    let prompt = settings.encode(Array(real.prefix(settings.sampleRate * 15 / 100)))
    let t3 = Date()
    let gen = try AudioLM.generate(model: lm, prompt: prompt, count: settings.sampleRate * 6 / 10, silence: settings.silence,
                                   temperature: 1, seed: seed)
    let genWave = Waveform(samples: settings.decode(prompt + gen), sampleRate: settings.sampleRate)
    let wavURL = out.appendingPathComponent("audio_generated.wav"), picURL = out.appendingPathComponent("audio_spectrogram.png")
    try AudioFile.write(genWave, to: wavURL.path)
    try SpectrogramPicture().write([Waveform(samples: real, sampleRate: settings.sampleRate), genWave],
                                   titles: ["real: " + promptClip.path, "generated"], to: picURL.path)
    print(String(format: "4. generated %d samples after a 0.15 s prompt from %@ (%.0f samples/s, recurrent path): %@; spectrograms (real | prompt + generated): %@",
                 gen.count, (promptClip.path as NSString).lastPathComponent, Double(gen.count) / max(Date().timeIntervalSince(t3), 1e-9),
                 wavURL.path, picURL.path))
    print("Next: mambakit eval audio-classify --model \(clsDir.path) --data \(dataDir.path)   |   " +
          "mambakit generate audio --model \(lmDir.path) --seconds 1 --out sample.wav")
}
