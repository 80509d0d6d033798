// AudioLMTests.swift — the audio front end around the backbone: tokenizers against Python's reference,
// waveform-LM scoring with state passing, generation to WAV, clip classification, data sets, pictures.
import Foundation
import MambaAudio
import MambaKit
import XCTest
import _CZlib

// MARK: - Helpers

/// A sine clip at `rate` Hz.
private func sine(_ f: Double, rate: Int, count: Int, amplitude: Double = 0.5, phase: Double = 0) -> [Float] {
    (0..<count).map { Float(amplitude * sin(2 * Double.pi * f * Double($0) / Double(rate) + phase)) }
}

/// A random waveform LM (V = 256) saved with audio.json into `dir`.
private func savedAudioLM(_ dir: URL, rate: Int, seed: UInt64 = 7) throws -> MambaModel {
    let m = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 256, dState: 8), seed: seed)
    try m.save(to: dir)
    try AudioSettings(sampleRate: rate, encoding: .muLaw, task: "lm").save(to: dir)
    return m
}

/// Σ −log softmax(logits)[next] in Double, from one parallel pass over the whole sequence.
private func referenceNLL(_ m: MambaModel, _ seq: [Int32]) throws -> (sum: Double, count: Int) {
    let V = m.config.vocabSize
    let logits = try m.logits(tokens: Array(seq.dropLast()))
    var s = 0.0
    for i in 0..<(seq.count - 1) {
        let row = logits[(i * V)..<((i + 1) * V)].map(Double.init)
        let mx = row.max()!
        let lse = mx + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - mx) })
        s += lse - row[Int(seq[i + 1])]
    }
    return (s, seq.count - 1)
}

final class AudioTokenizerReferenceTests: XCTestCase {
    struct Reference: Decodable {
        var x: [Float]
        var mu_law_ids: [Int32]; var mu_law_unrounded: [Double]; var mu_law_decoded: [Float]
        var linear_ids: [Int32]; var linear_unrounded: [Double]; var linear_decoded: [Float]
    }

    /// Encode/decode equal numpy's implementation of torchaudio's mu_law_encoding/decoding (and the
    /// 8-bit linear formula) on Scripts/make_audio_fixtures.py's inputs. Ids may differ only where the
    /// unrounded value lies within float32 rounding of a .5 boundary.
    func testAgainstPythonReference() throws {
        let url = Fixtures.dir("audio_tokenizers").appendingPathComponent("reference.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        for (name, ids, unrounded, decoded, tok) in [
            ("mu-law", ref.mu_law_ids, ref.mu_law_unrounded, ref.mu_law_decoded, AudioSettings(sampleRate: 8000, encoding: .muLaw)),
            ("linear", ref.linear_ids, ref.linear_unrounded, ref.linear_decoded, AudioSettings(sampleRate: 8000, encoding: .linear)),
        ] {
            let mine = tok.encode(ref.x)
            var mismatches = 0, boundary = 0
            for i in 0..<ref.x.count where mine[i] != ids[i] {
                let frac = unrounded[i] - unrounded[i].rounded(.down)
                if abs(frac - 0.5) < 1e-4 && abs(mine[i] - ids[i]) == 1 { boundary += 1 } else { mismatches += 1 }
            }
            let dec = tok.decode(Array(0..<256))
            let d = maxAbsDiff(dec, decoded)
            print("\(name) vs Python reference: \(ref.x.count) inputs, \(mismatches) id mismatches, \(boundary) at a rounding boundary; decode max |difference| \(d)")
            XCTAssertEqual(mismatches, 0, name)
            XCTAssertLessThanOrEqual(boundary, 2, name)
            XCTAssertLessThan(d, 1e-6, name)
        }
    }
}

final class AudioLMTests: XCTestCase {
    // MARK: Evaluation

    /// Bits per sample over whole clips with the state carried between 97-sample windows equals one
    /// parallel pass per clip, and both equal the Double softmax of the full logits.
    func testEvaluationWithStatePassingEqualsOnePass() throws {
        let m = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 256, dState: 8), seed: 3)
        let s = AudioSettings(sampleRate: 8000)
        let clips = [s.encode(sine(440, rate: 8000, count: 700)), s.encode(sine(97, rate: 8000, count: 1300, amplitude: 0.05))]
        let chunked = try AudioLM.evaluate(model: m, clips: clips, silence: s.silence, chunkLength: 97)
        let whole = try AudioLM.evaluate(model: m, clips: clips, silence: s.silence, chunkLength: 100_000)
        var refSum = 0.0, refCount = 0
        for c in clips { let r = try referenceNLL(m, [s.silence] + c); refSum += r.sum; refCount += r.count }
        let ref = refSum / Double(refCount) / Foundation.log(2.0)
        print("audio LM bits/sample: chunked \(chunked.bitsPerSample), one pass \(whole.bitsPerSample), Double reference \(ref); |chunked − one pass| \(abs(chunked.bitsPerSample - whole.bitsPerSample))")
        XCTAssertEqual(chunked.samples, 2000)
        XCTAssertEqual(whole.samples, 2000)
        XCTAssertEqual(chunked.bitsPerSample, whole.bitsPerSample, accuracy: 1e-5)
        XCTAssertEqual(whole.bitsPerSample, ref, accuracy: 1e-4)
        // maxSamples cuts the second clip short.
        let part = try AudioLM.evaluate(model: m, clips: clips, silence: s.silence, maxSamples: 900)
        XCTAssertEqual(part.samples, 900); XCTAssertEqual(part.clips, 2)
        // The training stream puts one silence token before each clip.
        XCTAssertEqual(AudioLM.trainingStream([[5, 6], [7]], silence: 128), [128, 5, 6, 128, 7])
    }

    // MARK: Generation

    /// Greedy generation through the recurrent path picks, at every step, the argmax of the parallel
    /// logits over prompt + generated so far.
    func testGreedyGenerationMatchesParallelArgmax() throws {
        let m = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 256, dState: 8), seed: 11)
        let s = AudioSettings(sampleRate: 8000)
        let prompt = s.encode(sine(300, rate: 8000, count: 50))
        let gen = try AudioLM.generate(model: m, prompt: prompt, count: 40, silence: s.silence, temperature: 0, seed: 1)
        XCTAssertEqual(gen.count, 40)
        let seq = [s.silence] + prompt + gen
        let V = 256
        let logits = try m.logits(tokens: Array(seq.dropLast()))
        var agree = 0
        for j in 0..<gen.count {
            let row = Array(logits[((prompt.count + j) * V)..<((prompt.count + j + 1) * V)])
            let best = row.indices.max { row[$0] < row[$1] }!
            let sorted = row.sorted(by: >)
            if best == Int(gen[j]) || sorted[0] - sorted[1] < 1e-4 { agree += 1 }
        }
        print("greedy recurrent generation vs parallel argmax: \(agree)/\(gen.count) agree")
        XCTAssertEqual(agree, gen.count)
        // Sampling at temperature 1 is reproducible by seed.
        let a = try AudioLM.generate(model: m, prompt: [], count: 30, silence: s.silence, seed: 5)
        let b = try AudioLM.generate(model: m, prompt: [], count: 30, silence: s.silence, seed: 5)
        XCTAssertEqual(a, b)
    }

    /// `generate audio` writes a readable WAV holding the prompt plus the asked seconds; `eval audio-lm --json`
    /// scores a clip folder with the figures the in-process evaluation gives.
    func testCLIGenerateAndEvaluate() throws {
        let dir = temporaryDirectory(self)
        let modelDir = dir.appendingPathComponent("model")
        let m = try savedAudioLM(modelDir, rate: 8000)
        let promptURL = dir.appendingPathComponent("clips/prompt.wav")
        try FileManager.default.createDirectory(at: promptURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        // A 16 kHz prompt: resampled to the model's 8 kHz.
        try AudioFile.write(Waveform(samples: sine(500, rate: 16000, count: 1600), sampleRate: 16000), to: promptURL.path)
        let outURL = dir.appendingPathComponent("gen.wav")
        let r = try runCLI(["generate", "audio", "--model", modelDir.path, "--seconds", "0.25", "--out", outURL.path,
                            "--prompt", promptURL.path, "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let w = try AudioFile.read(outURL.path)
        XCTAssertEqual(w.sampleRate, 8000)
        XCTAssertEqual(w.samples.count, 800 + 2000)
        XCTAssertTrue(w.samples.allSatisfy { $0.isFinite && abs($0) <= 1 })

        let e = try runCLI(["eval", "audio-lm", "--model", modelDir.path, "--data", promptURL.deletingLastPathComponent().path, "--json", "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        let s = AudioSettings(sampleRate: 8000)
        let ids = s.encode(Resampler().resample(try AudioFile.read(promptURL.path), to: 8000).samples)
        let mine = try AudioLM.evaluate(model: m, clips: [ids], silence: s.silence)
        print("eval audio-lm: CLI \(obj["bits_per_sample"] ?? "nil") vs in-process \(mine.bitsPerSample)")
        XCTAssertEqual(obj["samples"] as? Int, 800)
        XCTAssertEqual(obj["bits_per_sample"] as! Double, mine.bitsPerSample, accuracy: 1e-4)
        // A model directory without audio.json is named in the error.
        let bare = dir.appendingPathComponent("bare")
        try m.save(to: bare)
        let bad = try runCLI(["eval", "audio-lm", "--model", bare.path, "--data", promptURL.path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains(bare.path) && bad.stderr.contains("audio.json"), bad.stderr)
    }

    /// `train audio-lm` writes audio.json into its checkpoints, validates on the data's test split, and
    /// `--resume` continues from the saved step with the saved settings (sample rate, encoding).
    func testTrainAudioLMAndResume() throws {
        let dir = temporaryDirectory(self)
        for (split, f) in [("train", 300.0), ("train", 450.0), ("test", 600.0)] {
            let url = dir.appendingPathComponent("data/\(split)/\(Int(f)).wav")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AudioFile.write(Waveform(samples: sine(f, rate: 16000, count: 4000), sampleRate: 16000), to: url.path)
        }
        let out = dir.appendingPathComponent("run").path
        let common = ["--data", dir.appendingPathComponent("data").path, "--seq-len", "256", "--chunk-len", "64", "--batch-size", "2",
                      "--threads", "1", "--out", out, "--eval-samples", "1000"]
        let a = try runCLI(["train", "audio-lm", "--sample-rate", "8000", "--encoding", "linear", "--d-model", "16", "--n-layer", "1",
                            "--vocab-size", "256", "--steps", "2"] + common)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("validating on 1 clips") && a.stderr.contains("val bits per sample"), a.stderr)
        let b = try runCLI(["train", "audio-lm", "--resume", out, "--steps", "3"] + common)
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stderr.contains("step 3/3"), b.stderr)
        let ck = try Trainer.checkpointDirectory(URL(fileURLWithPath: out))
        XCTAssertTrue(ck.lastPathComponent.hasSuffix("00000003"))
        XCTAssertEqual(try AudioSettings.load(from: ck), AudioSettings(sampleRate: 8000, encoding: .linear, task: "lm"))
    }

    /// `train audio-lm` on a file shorter than one window names the file.
    func testTooShortClipNamesFile() throws {
        let dir = temporaryDirectory(self)
        let f = dir.appendingPathComponent("short.wav")
        try AudioFile.write(Waveform(samples: sine(200, rate: 8000, count: 100), sampleRate: 8000), to: f.path)
        let r = try runCLI(["train", "audio-lm", "--data", f.path, "--seq-len", "500", "--d-model", "8", "--n-layer", "1",
                            "--vocab-size", "256", "--steps", "1", "--threads", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(f.path) && r.stderr.contains("101 samples"), r.stderr)
    }
}

// MARK: - Classification

final class AudioClassifyTests: XCTestCase {
    /// Writes DATA/{train,test}/{low,high}/*.wav: sines of 313.7 Hz and 1487.3 Hz with random phase and
    /// length, amplitudes 0.2, 0.4, 0.6, 0.8 in both classes.
    func makeTwoPitchData(_ root: URL, train: Int, test: Int) throws {
        var rng = SeededRandom(seed: 99)
        for (split, n) in [("train", train), ("test", test)] {
            for (label, f) in [("low", 313.7), ("high", 1487.3)] {
                let d = root.appendingPathComponent("\(split)/\(label)")
                try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
                for i in 0..<n {
                    // The same amplitudes in both classes, so only the pitch tells them apart; frequencies that
                    // are no simple fraction of the rate and a little noise, so no clip has its own small set of
                    // sample values (a bag of tokens could memorise it).
                    let x = sine(f, rate: 8000, count: 200 + rng.below(200), amplitude: 0.2 + 0.2 * Double(i % 4),
                                 phase: Double(rng.uniform(0, 6.28))).map { $0 + rng.uniform(-0.01, 0.01) }
                    try AudioFile.write(Waveform(samples: x, sampleRate: 8000), to: d.appendingPathComponent("\(i).wav").path)
                }
            }
        }
    }

    /// A classifier on raw mu-law samples separates two pitches well above chance in a few dozen steps,
    /// in process and through `train audio-classify` / `eval audio-classify --json`.
    func testTwoPitchesLearnedAboveChance() throws {
        let root = temporaryDirectory(self)
        try makeTwoPitchData(root, train: 16, test: 10)
        let ds = try AudioDataset.open(root.path)
        XCTAssertEqual(ds.splits, ["test", "train"])
        let trainClips = try ds.clips(split: "train"), testClips = try ds.clips(split: "test")
        let labels = AudioDataset.labels(of: trainClips)
        XCTAssertEqual(labels, ["high", "low"])
        let s = AudioSettings(sampleRate: 8000, task: "classify")
        let trainEx = try AudioClassifier.examples(trainClips, labels: labels, settings: s)
        let testEx = try AudioClassifier.examples(testClips, labels: labels, settings: s)
        let base = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 256, dState: 8), seed: 5)
        let model = SequenceClassifier.fineTuning(base, labels: labels, pooling: .mean, seed: 5)
        var o = TrainingOptions()
        o.seqLen = 128; o.batchSize = 8; o.steps = 40; o.threads = 2
        o.adamw.learningRate = 1e-2; o.adamw.schedule = .constant
        let before = try AudioClassifier.evaluate(model: model, examples: testEx)
        let trainer = try Trainer(model: model, examples: trainEx, options: o, source: root.path)
        for _ in 0..<o.steps { _ = try trainer.trainStep() }
        let after = try AudioClassifier.evaluate(model: model, examples: testEx)
        print("two pitches: test accuracy \(before.accuracy) before, \(after.accuracy) after \(o.steps) steps; confusion \(after.confusion)")
        XCTAssertGreaterThanOrEqual(after.accuracy, 0.85)
        XCTAssertEqual(after.confusion.flatMap { $0 }.reduce(0, +), 20)

        // The same through the CLI.
        let out = root.appendingPathComponent("run")
        let t = try runCLI(["train", "audio-classify", "--data", root.path, "--pooling", "mean", "--seq-len", "128", "--batch-size", "8",
                            "--d-model", "16", "--n-layer", "2", "--vocab-size", "256", "--d-state", "8", "--steps", "40", "--lr", "1e-2",
                            "--schedule", "constant", "--threads", "2", "--seed", "5", "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        let e = try runCLI(["eval", "audio-classify", "--model", out.path, "--data", root.path, "--json", "--threads", "2"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        let acc = obj["accuracy"] as! Double
        print("two pitches via CLI: \(e.stdout)")
        XCTAssertGreaterThanOrEqual(acc, 0.75)
        XCTAssertNotNil(obj["per_class"] as? [String: Double])
        XCTAssertEqual((obj["confusion"] as? [[Int]])?.count, 2)
        let settings = try AudioSettings.load(from: try Trainer.checkpointDirectory(out))
        XCTAssertEqual(settings, AudioSettings(sampleRate: 8000, encoding: .muLaw, task: "classify"))
        XCTAssertFalse(try MambaConfig.load(from: try Trainer.checkpointDirectory(out)).bidirectional)

        // --bidirectional reaches the saved model (reverse mixers in config and weights), and it evaluates.
        let outBi = root.appendingPathComponent("run-bi")
        let tb = try runCLI(["train", "audio-classify", "--data", root.path, "--bidirectional", "--seq-len", "128", "--batch-size", "4",
                             "--d-model", "16", "--n-layer", "1", "--vocab-size", "256", "--d-state", "8", "--steps", "2",
                             "--threads", "2", "--out", outBi.path])
        XCTAssertEqual(tb.status, 0, tb.stderr)
        let bi = try SequenceClassifier.load(directory: try Trainer.checkpointDirectory(outBi))
        XCTAssertTrue(bi.head.bidirectional)
        XCTAssertNotNil(bi.tensor("backbone.layers.0.mixer_rev.A_log"))
        XCTAssertEqual(try runCLI(["eval", "audio-classify", "--model", outBi.path, "--data", root.path, "--json"]).status, 0)
    }
}

// MARK: - Data sets

final class AudioDatasetTests: XCTestCase {
    func write(_ url: URL, count: Int = 64, rate: Int = 8000) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AudioFile.write(Waveform(samples: sine(440, rate: rate, count: count), sampleRate: rate), to: url.path)
    }

    func testManifestLayouts() throws {
        let root = temporaryDirectory(self)
        try write(root.appendingPathComponent("a/x.wav")); try write(root.appendingPathComponent("b/y.flac"))
        let csv = root.appendingPathComponent("m.csv")
        try Data("file,digit,speaker,split,note\na/x.wav,3,george,train,\"quoted, with comma\"\nb/y.flac,7,lucas,Validation,\"\"\"q\"\"\"\n".utf8).write(to: csv)
        let ds = try AudioDataset.open(csv.path, labelColumn: "digit")
        XCTAssertEqual(ds.clips, [AudioClip(path: root.appendingPathComponent("a/x.wav").path, label: "3", split: "train", speaker: "george"),
                                  AudioClip(path: root.appendingPathComponent("b/y.flac").path, label: "7", split: "valid", speaker: "lucas")])
        XCTAssertEqual(try ds.clips(split: "dev").count, 1)
        XCTAssertThrowsError(try ds.clips(split: "test")) { e in
            XCTAssertEqual(e as? DataError, .missingSplit(path: csv.path, split: "test", available: ["train", "valid"], kind: .audioData))
        }
        // Without --label-column, a manifest without `label` has unlabelled clips (fine for an LM).
        XCTAssertNil(try AudioDataset.open(csv.path).clips[0].label)
        XCTAssertThrowsError(try AudioDataset.open(csv.path, labelColumn: "word")) { e in
            XCTAssertEqual(e as? AudioDatasetError, .missingColumn(path: csv.path, column: "word", columns: ["file", "digit", "speaker", "split", "note"]))
            print(e)
        }
        let bad = root.appendingPathComponent("bad.csv")
        try Data("file,label\na/x.wav,1\nb/y.flac\n".utf8).write(to: bad)
        XCTAssertThrowsError(try AudioDataset.open(bad.path)) { e in
            XCTAssertEqual(e as? DataError, .malformed(path: bad.path, line: 3, detail: "1 fields, the header has 2",
                                                       hint: "a manifest is CSV with a header line naming its columns, e.g. file,label,split", kind: .audioData))
            XCTAssertTrue("\(e)".hasPrefix("audio data error: \(bad.path):3: 1 fields, the header has 2 — a manifest is CSV"), "\(e)")
        }
    }

    func testDirectoryLayouts() throws {
        let root = temporaryDirectory(self)
        // DIR/<label>/… without splits, nested deeper, plus an unlabelled file and a non-audio file.
        try write(root.appendingPathComponent("cats/deep/1.wav")); try write(root.appendingPathComponent("dogs/2.WAV"))
        try write(root.appendingPathComponent("loose.wav"))
        try Data("notes".utf8).write(to: root.appendingPathComponent("dogs/readme.txt"))
        let ds = try AudioDataset.open(root.path)
        XCTAssertEqual(ds.clips.map(\.label), ["cats", "dogs", nil])
        XCTAssertEqual(ds.splits, [])
        XCTAssertEqual(try ds.clips(split: "train").count, 3)   // unsplit data: everything
        XCTAssertThrowsError(try AudioDataset.labelIndices(ds.clips, labels: ["cats", "dogs"])) { e in
            XCTAssertEqual(e as? AudioDatasetError, .missingLabel(path: root.appendingPathComponent("loose.wav").path))
        }
        XCTAssertThrowsError(try AudioDataset.labelIndices(ds.clips, labels: ["cats"])) { e in
            XCTAssertEqual(e as? DataError, .unknownLabel(path: root.appendingPathComponent("dogs/2.WAV").path, line: nil, label: "dogs", known: ["cats"], kind: .audioData))
            print(e)
        }
        // Splits found deeper down (DIR/recordings/train/…); a directory with manifest.csv is read through it.
        let nested = root.appendingPathComponent("nested")
        try write(nested.appendingPathComponent("recordings/train/1.wav")); try write(nested.appendingPathComponent("recordings/test/x/2.wav"))
        XCTAssertEqual(try AudioDataset.open(nested.path).clips.map { [$0.split ?? "-", $0.label ?? "-"] }, [["test", "x"], ["train", "-"]])
        try Data("file,label\nrecordings/train/1.wav,one\n".utf8).write(to: nested.appendingPathComponent("manifest.csv"))
        XCTAssertEqual(try AudioDataset.open(nested.path).clips, [AudioClip(path: nested.appendingPathComponent("recordings/train/1.wav").path, label: "one")])
        // Numeric labels sort numerically.
        XCTAssertEqual(AudioDataset.labels(of: ["10", "2", "1"].map { AudioClip(path: "x", label: $0) }), ["1", "2", "10"])
        // A single file; an empty directory; a missing path.
        XCTAssertEqual(try AudioDataset.open(root.appendingPathComponent("loose.wav").path).clips.count, 1)
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try AudioDataset.open(empty.path)) { e in XCTAssertEqual(e as? DataError, .empty(path: empty.path, what: "audio files (.wav .flac .ogg …) in this directory or below it", kind: .audioData)) }
        XCTAssertThrowsError(try AudioDataset.open(root.appendingPathComponent("nope").path)) { e in
            XCTAssertEqual(e as? DataError, .fileNotFound(path: root.appendingPathComponent("nope").path, kind: .audioData))
        }
    }

    /// FSDD's manifest (real data, when present): the label column is chosen by name, the official split
    /// has 2,250 / 250 clips, 10 digits of equal counts; paths resolve next to the manifest.
    func testFSDDManifest() throws {
        let manifest = "../shared/datasets/fsdd/manifest.csv"
        guard FileManager.default.fileExists(atPath: manifest) else { throw XCTSkip("\(manifest) not present") }
        let ds = try AudioDataset.open(manifest, labelColumn: "digit")
        let train = try ds.clips(split: "train"), test = try ds.clips(split: "test")
        XCTAssertEqual(train.count, 2250); XCTAssertEqual(test.count, 250)
        XCTAssertEqual(AudioDataset.labels(of: train), (0...9).map(String.init))
        XCTAssertEqual(test.filter { $0.label == "7" }.count, 25)
        XCTAssertTrue(FileManager.default.fileExists(atPath: test[0].path), test[0].path)
        let w = try AudioDataset.load(test[0], sampleRate: 8000)
        XCTAssertGreaterThan(w.count, 1000)
        XCTAssertEqual(try AudioDataset.open(manifest, labelColumn: "speaker").clips.compactMap(\.label).count, 2500)
    }

    /// An unreadable clip among good ones is named; a clip resampled to nothing is too short.
    func testUnreadableAndShortClips() throws {
        let root = temporaryDirectory(self)
        try write(root.appendingPathComponent("train/a/good.wav"))
        let junk = root.appendingPathComponent("train/b/junk.wav")
        try FileManager.default.createDirectory(at: junk.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("RIFF garbage".utf8).write(to: junk)
        let ds = try AudioDataset.open(root.path)
        XCTAssertEqual(ds.splits, ["train"])
        XCTAssertThrowsError(try AudioDataset.tokenize(ds.clips, settings: AudioSettings(sampleRate: 8000))) { e in
            guard case DataError.unreadable(let p, _, .audio) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(p, junk.path)
        }
        let tiny = root.appendingPathComponent("tiny.wav")
        try write(tiny, count: 1, rate: 48000)
        XCTAssertThrowsError(try AudioDataset.load(AudioClip(path: tiny.path), sampleRate: 8000)) { e in
            XCTAssertEqual(e as? DataError, .tooShort(path: tiny.path, count: 0, need: 1, unit: "samples",
                                                      hint: "use a longer clip or a shorter window", kind: .audio))
        }
        // Resampled on load: 16 kHz → 8 kHz halves the count.
        let hi = root.appendingPathComponent("hi.wav")
        try write(hi, count: 1600, rate: 16000)
        XCTAssertEqual(try AudioDataset.load(AudioClip(path: hi.path), sampleRate: 8000).count, 800)
    }
}

// MARK: - Pictures

final class SpectrogramPictureTests: XCTestCase {
    /// Bitwise CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), independent of zlib's table.
    func crc32Reference(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    func be32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]) }

    /// The PNG has the signature, IHDR (size, 8-bit RGB), chunks whose CRCs match a bitwise CRC-32,
    /// and an IDAT that inflates to the scanlines (filter 0 + pixels).
    func testPNGStructureAndCRC() throws {
        var img = RGBImage(width: 7, height: 5)
        for y in 0..<5 { for x in 0..<7 { img[x, y] = (UInt8(x * 30), UInt8(y * 50), UInt8((x * y) % 256)) } }
        let png = [UInt8](PNG.encode(img))
        XCTAssertEqual(Array(png[0..<8]), PNG.signature)
        var i = 8, types: [String] = [], idat: [UInt8] = []
        while i < png.count {
            let n = Int(be32(png, i))
            let type = String(decoding: png[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(png[(i + 4)..<(i + 8 + n)])
            XCTAssertEqual(be32(png, i + 8 + n), crc32Reference(body), "CRC of \(type)")
            if type == "IHDR" {
                XCTAssertEqual(be32(png, i + 8), 7); XCTAssertEqual(be32(png, i + 12), 5)
                XCTAssertEqual(Array(png[(i + 16)..<(i + 21)]), [8, 2, 0, 0, 0])
            }
            if type == "IDAT" { idat += png[(i + 8)..<(i + 8 + n)] }
            types.append(type)
            i += 12 + n
        }
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
        var size = uLong(5 * (1 + 21))
        var raw = [UInt8](repeating: 0, count: Int(size))
        XCTAssertEqual(uncompress(&raw, &size, idat, uLong(idat.count)), Z_OK)
        XCTAssertEqual(Int(size), 5 * 22)
        for y in 0..<5 {
            XCTAssertEqual(raw[y * 22], 0)
            XCTAssertEqual(Array(raw[(y * 22 + 1)..<((y + 1) * 22)]), Array(img.pixels[(y * 21)..<((y + 1) * 21)]))
        }
    }

    /// Two clips side by side share the colour scale: the louder tone's band is brighter; the
    /// picture files are written by extension; the colormap ends are viridis's.
    func testSideBySidePicture() throws {
        let a = Waveform(samples: sine(1000, rate: 8000, count: 8000, amplitude: 0.5), sampleRate: 8000)
        let b = Waveform(samples: sine(1000, rate: 8000, count: 4000, amplitude: 0.005), sampleRate: 8000)
        var p = SpectrogramPicture()
        p.maxPanelWidth = 200; p.panelHeight = 80
        let panels = p.panels([a, b])
        XCTAssertEqual(panels.map(\.width), [200, 100])   // a common time scale
        func brightest(_ img: RGBImage) -> Int { (0..<img.height).map { Int(img[img.width / 2, $0].1) }.max()! }
        XCTAssertGreaterThan(brightest(panels[0]), brightest(panels[1]) + 40)   // 40 dB quieter is darker
        XCTAssertTrue(SpectrogramPicture.viridis(0) == (68, 1, 84) && SpectrogramPicture.viridis(1) == (253, 231, 37))
        let dir = temporaryDirectory(self)
        try p.write([a, b], titles: ["real", "generated <1>"], to: dir.appendingPathComponent("s.svg").path)
        let svg = try String(contentsOf: dir.appendingPathComponent("s.svg"), encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.contains("generated &lt;1&gt;"))
        XCTAssertEqual(svg.components(separatedBy: "data:image/png;base64,").count, 4)   // two panels and the colour bar
        let clip = dir.appendingPathComponent("a.wav")
        try AudioFile.write(a, to: clip.path)
        let ok = try runCLI(["audio", "spectrogram", clip.path, clip.path, "--out", dir.appendingPathComponent("s.png").path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual([UInt8](try Data(contentsOf: dir.appendingPathComponent("s.png")).prefix(8)), PNG.signature)
        let r = try runCLI(["audio", "spectrogram", "--out", dir.appendingPathComponent("t.png").path,
                            clip.path, dir.appendingPathComponent("missing.wav").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing.wav"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("t.png").path))
        XCTAssertThrowsError(try p.write([a], titles: [], to: dir.appendingPathComponent("s.jpg").path))
    }
}
