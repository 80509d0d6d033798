// LogMelTests.swift — the log-mel front end of audio classification: frames against a closed form,
// determinism, the saved normalisation, augmentation, speakers, and `train/eval audio-classify
// --features log-mel` on a few FSDD clips.
import Foundation
import XCTest
import MambaAudio
import MambaKit

final class LogMelFeatureTests: XCTestCase {
    /// A sine at an exact FFT bin k: the Hann-windowed frame has |X_k| = A·N/4, |X_k±1| = A·N/8 and
    /// nothing else, so band m holds e_m = W_mk (AN/4)² + (W_m,k−1 + W_m,k+1)(AN/8)² with W the HTK
    /// triangles computed here in Double; ln(ε + e_m) is compared for every band of a middle frame, and the
    /// loudest band is the closed form's.
    func testSineLogMelClosedForm() {
        let n = 256, rate = 8000, k = 37, A = 0.6, M = 24
        let f0 = Double(k) * Double(rate) / Double(n)                // 1156.25 Hz
        let x: [Float] = (0..<(8 * n)).map { j in Float(A * sin(2 * Double.pi * f0 * Double(j) / Double(rate))) }
        let features = LogMelFeatures(mels: M, fftSize: n, hop: 64)
        let lm = features.logMel(x, sampleRate: rate)
        let frame = 10                                                // fully inside the signal
        let row = Array(lm[(frame * M)..<((frame + 1) * M)])
        func mel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        func hz(_ m: Double) -> Double { 700 * (pow(10, m / 2595) - 1) }
        let edges = (0...(M + 1)).map { hz(mel(Double(rate) / 2) * Double($0) / Double(M + 1)) }
        func w(_ m: Int, _ bin: Int) -> Double {
            let f = Double(bin) * Double(rate) / Double(n), (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2])
            return max(0, f <= mid ? (f - lo) / (mid - lo) : (hi - f) / (hi - mid))
        }
        let peak = pow(A * Double(n) / 4, 2), side = pow(A * Double(n) / 8, 2)
        var expected: [Double] = []
        for m in 0..<M {
            let e: Double = w(m, k) * peak + (w(m, k - 1) + w(m, k + 1)) * side
            expected.append(log(1e-6 + e))
        }
        var worst = 0.0
        for m in 0..<M where expected[m] > log(1e-6) + 1 { worst = max(worst, abs(Double(row[m]) - expected[m])) }
        let loudest = row.indices.max { row[$0] < row[$1] }!
        let expectedLoudest = expected.indices.max { expected[$0] < expected[$1] }!
        print("log-mel of a \(f0) Hz sine: loudest band \(loudest) (closed form \(expectedLoudest)), max |ln e − closed form| \(worst) over the lit bands")
        XCTAssertEqual(loudest, expectedLoudest)
        XCTAssertLessThan(worst, 1e-3)
        XCTAssertTrue(edges[loudest] < f0 && f0 < edges[loudest + 2], "the loudest band's triangle holds \(f0) Hz")
    }

    /// The same frames as Spectrogram.logMel (bitwise), and the same again on 1 and 3 threads and twice.
    func testFramesDeterministic() throws {
        let dir = temporaryDirectory(self)
        var clips: [AudioClip] = []
        for i in 0..<5 {
            var samples = [Float](repeating: 0, count: 700 + 313 * i)
            for j in samples.indices {
                let t = Double(j), rate = 0.07 * Double(i + 1)
                let v: Double = 0.3 * sin(t * rate) + 0.01 * cos(Double(j * j % 97))
                samples[j] = Float(v)
            }
            let w = Waveform(samples: samples, sampleRate: 8000)
            let url = dir.appendingPathComponent("c\(i).wav")
            try AudioFile.write(w, to: url.path)
            clips.append(AudioClip(path: url.path))
        }
        let f = LogMelFeatures(mels: 32, fftSize: 256, hop: 80)
        let a = try f.logMel(clips, sampleRate: 8000, threads: 1), b = try f.logMel(clips, sampleRate: 8000, threads: 3)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a, try f.logMel(clips, sampleRate: 8000, threads: 1))
        let w0 = try AudioFile.read(clips[0].path)
        XCTAssertEqual(a[0], Spectrogram(fftSize: 256, hop: 80).logMel(w0, mels: 32).values)
        XCTAssertEqual(a.map { $0.count / 32 }, clips.indices.map { 1 + (700 + 313 * $0 - 1) / 80 })
        // --max-samples keeps a prefix: the frames of the first 400 samples.
        let short = try f.logMel([clips[4]], sampleRate: 8000, maxSamples: 400, threads: 1)[0]
        XCTAssertEqual(short.count, (1 + 399 / 80) * 32)
    }

    /// μ and σ against a Double reference; the normalised training frames have mean 0 and deviation 1 per
    /// band; audio.json keeps them bit for bit; an older audio.json (no "features") still loads; a broken
    /// one is refused naming the file.
    func testNormalisationFitAndRoundTrip() throws {
        var rng = SeededRandom(seed: 3)
        let F = 6
        var frames: [[Float]] = []
        for i in 0..<4 {
            var x = [Float](repeating: 0, count: (10 + 7 * i) * F)
            for j in x.indices {
                let band = Float(j % F)
                x[j] = band * 2 - 3 + rng.uniform() * (band + 1)
            }
            frames.append(x)
        }
        var f = try LogMelFeatures(mels: F, fftSize: 64, hop: 16).fitted(to: frames)
        let all = frames.flatMap { $0 }
        var worst = 0.0
        for m in 0..<F {
            let v = stride(from: m, to: all.count, by: F).map { Double(all[$0]) }
            let mu = v.reduce(0, +) / Double(v.count)
            let sd = (v.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(v.count)).squareRoot()
            worst = max(worst, abs(Double(f.mean[m]) - mu), abs(Double(f.std[m]) - sd))
            let z = stride(from: m, to: all.count, by: F).map { Double(f.normalised(all)[$0]) }
            XCTAssertEqual(z.reduce(0, +) / Double(z.count), 0, accuracy: 1e-5)
            XCTAssertEqual((z.map { $0 * $0 }.reduce(0, +) / Double(z.count)).squareRoot(), 1, accuracy: 1e-4)
        }
        print("log-mel normalisation: max |μ, σ − Double reference| \(worst)")
        XCTAssertLessThan(worst, 1e-5)
        // A constant band gets the floor, not a division by zero.
        XCTAssertEqual(try LogMelFeatures(mels: 1, fftSize: 64, hop: 16).fitted(to: [[2, 2, 2]]).std, [LogMelFeatures.minimumStd])

        let dir = temporaryDirectory(self)
        f.mean[0] = 0.1; f.std[1] = 1.0 / 3
        let s = AudioSettings(sampleRate: 8000, task: "classify", features: f)
        try s.save(to: dir)
        let back = try AudioSettings.load(from: dir)
        XCTAssertEqual(back, s)
        XCTAssertEqual(back.features!.mean.map(\.bitPattern), f.mean.map(\.bitPattern))
        XCTAssertEqual(back.features!.std.map(\.bitPattern), f.std.map(\.bitPattern))
        let text = try String(contentsOf: dir.appendingPathComponent("audio.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"kind\" : \"log-mel\"") && text.contains("\"fft_size\" : 64"), text)

        try Data("{\"sample_rate\": 8000, \"encoding\": \"mu-law\", \"task\": \"classify\"}".utf8).write(to: dir.appendingPathComponent("audio.json"))
        XCTAssertNil(try AudioSettings.load(from: dir).features)
        let url = dir.appendingPathComponent("audio.json")
        try Data("{\"sample_rate\": 8000, \"encoding\": \"mu-law\", \"task\": \"classify\", \"features\": {\"kind\": \"log-mel\", \"mels\": 2, \"fft_size\": 64, \"hop\": 16, \"epsilon\": 1e-6, \"mean\": [0], \"std\": [1, 1]}}".utf8).write(to: url)
        XCTAssertThrowsError(try AudioSettings.load(from: dir)) { e in
            guard case CheckpointError.invalidJSON(let p, let d) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(p, url.path); XCTAssertTrue(d.contains("one value per band"), d)
        }
        // Per-clip normalisation: a constant offset per band (a channel, a level) cancels; μ ≈ 0; it round-trips.
        let pc = try LogMelFeatures(mels: F, fftSize: 64, hop: 16, normalisation: .perClip).fitted(to: frames)
        var shifted = frames[1]
        for j in shifted.indices { shifted[j] += Float(j % F) * 0.7 - 2 }
        let diff = maxAbsDiff(pc.normalised(shifted), pc.normalised(frames[1]))
        print("per-clip normalisation: max |X(M + offset) − X(M)| \(diff); μ \(pc.mean)")
        XCTAssertLessThan(diff, 1e-5)
        XCTAssertLessThan(pc.mean.map(abs).max()!, 1e-5)
        XCTAssertGreaterThan(maxAbsDiff(f.normalised(shifted), f.normalised(frames[1])), 0.5)   // the training-set one does not cancel it
        try AudioSettings(sampleRate: 8000, task: "classify", features: pc).save(to: dir)
        XCTAssertEqual(try AudioSettings.load(from: dir).features, pc)
        XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).contains("\"normalisation\" : \"per-clip\""))
        // Per-speaker normalisation: a constant offset per band on every clip of one speaker cancels, while
        // the differences between that speaker's clips stay (closed form: M_i − the speaker's band mean, in
        // Double); μ ≈ 0; a clip without a speaker is refused; it round-trips.
        let who: [String?] = ["a", "a", "b", "b"]
        let ps = try LogMelFeatures(mels: F, fftSize: 64, hop: 16, normalisation: .perSpeaker).fitted(to: frames, speakers: who)
        var moved = frames
        for k in [2, 3] { for j in moved[k].indices { moved[k][j] += Float(j % F) * 0.7 - 2 } }
        let x0 = try ps.normalised(frames, speakers: who), x1 = try ps.normalised(moved, speakers: who)
        let speakerDiff = zip(x0, x1).map { maxAbsDiff($0, $1) }.max()!
        var closed = 0.0
        for (k, group) in [(0, [0, 1]), (1, [0, 1]), (2, [2, 3]), (3, [2, 3])] {
            var c = [Double](repeating: 0, count: F), n = 0.0
            for g in group { for (j, v) in frames[g].enumerated() { c[j % F] += Double(v) }; n += Double(frames[g].count / F) }
            for (j, v) in frames[k].enumerated() {
                let want = (Double(v) - c[j % F] / n - Double(ps.mean[j % F])) / Double(ps.std[j % F])
                closed = max(closed, abs(Double(x0[k][j]) - want))
            }
        }
        print("per-speaker normalisation: max |X(M + speaker offset) − X(M)| \(speakerDiff); max |X − closed form| \(closed)")
        XCTAssertLessThan(speakerDiff, 1e-5)
        XCTAssertLessThan(closed, 1e-5)
        XCTAssertLessThan(ps.mean.map(abs).max()!, 1e-5)
        // Unlike per-clip, a clip's own level relative to its speaker's other clips is kept.
        XCTAssertGreaterThan(maxAbsDiff(x0[1], pc.normalised(frames[1])), 0.01)
        XCTAssertThrowsError(try ps.normalised(frames, speakers: ["a", nil, "b", "b"])) { e in
            XCTAssertEqual(e as? LogMelFeaturesError, .missingSpeaker(clip: 1))
        }
        XCTAssertEqual(AudioDatasetError.missingSpeaker(path: "x.wav").description.contains("--normalisation per-clip"), true)
        // the clip-level entry points name the clip's file
        let clips = who.enumerated().map { AudioClip(path: "d/\($0.offset).wav", speaker: $0.offset == 2 ? nil : $0.element) }
        XCTAssertThrowsError(try ps.normalised(frames, of: clips)) { e in
            XCTAssertEqual(e as? AudioDatasetError, .missingSpeaker(path: "d/2.wav"))
        }
        XCTAssertThrowsError(try ps.fitted(to: frames, of: clips)) { e in
            XCTAssertEqual(e as? AudioDatasetError, .missingSpeaker(path: "d/2.wav"))
        }
        try AudioSettings(sampleRate: 8000, task: "classify", features: ps).save(to: dir)
        XCTAssertEqual(try AudioSettings.load(from: dir).features, ps)
        XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).contains("\"normalisation\" : \"per-speaker\""))
        // Waveform settings are written as before: no "features" key.
        try AudioSettings(sampleRate: 8000, task: "classify").save(to: dir)
        XCTAssertFalse(try String(contentsOf: url, encoding: .utf8).contains("features"))
    }

    /// Time and band masks are contiguous runs of zeros within their bounds, the gain one constant in
    /// range; `.none` leaves the frames and the generator untouched.
    func testAugmentation() {
        let F = 8, L = 60
        let x0 = (0..<(F * L)).map { Float($0 % 13) + 1 }    // never 0
        for seed in 1...20 {
            var rng = SeededRandom(seed: UInt64(seed))
            var x = x0
            LogMelAugmentation(timeMask: 10, bandMask: 3, gain: 0).apply(&x, bands: F, random: &rng)
            let zeroFrames = (0..<L).filter { t in (0..<F).allSatisfy { x[t * F + $0] == 0 } }
            XCTAssertLessThanOrEqual(zeroFrames.count, 10)
            if let a = zeroFrames.first { XCTAssertEqual(zeroFrames, Array(a..<(a + zeroFrames.count))) }
            let zeroBands = (0..<F).filter { m in (0..<L).allSatisfy { x[$0 * F + m] == 0 } }
            XCTAssertLessThanOrEqual(zeroBands.count, 3)
            if let a = zeroBands.first { XCTAssertEqual(zeroBands, Array(a..<(a + zeroBands.count))) }
            for i in x.indices where x[i] != 0 { XCTAssertEqual(x[i], x0[i]) }
            var y = x0
            LogMelAugmentation(timeMask: 0, bandMask: 0, gain: 0.3).apply(&y, bands: F, random: &rng)
            let g = y[0] - x0[0]
            XCTAssertLessThanOrEqual(abs(g), 0.3)
            for i in y.indices { XCTAssertEqual(y[i] - x0[i], g, accuracy: 1e-5) }
        }
        var rng = SeededRandom(seed: 9), ref = SeededRandom(seed: 9)
        var x = x0
        LogMelAugmentation.none.apply(&x, bands: F, random: &rng)
        XCTAssertEqual(x, x0)
        XCTAssertEqual(rng.next(), ref.next())
    }

    /// The mel warp against its closed form: frames whose log-mel value is a smooth function g of each
    /// band's centre frequency become g(f_m / α) (up to the linear interpolation between bands); α = 1 is the
    /// identity; α > 1 moves energy to higher bands; the warp draws one number and only when W > 0.
    func testMelWarpClosedForm() {
        let F = 40, L = 3, rate = 8000
        let mean = (0..<F).map { Float($0) * 0.05 - 1 }, std = (0..<F).map { 0.5 + Float($0) * 0.01 }
        let features = LogMelFeatures(mels: F, fftSize: 256, hop: 80, mean: mean, std: std)
        let warp = MelWarp(features: features, sampleRate: rate)
        func g(_ f: Double) -> Double { Foundation.log(1 + f / 300) }
        // the band centres are those of the filter bank's triangle peaks
        let fb = Spectrogram(fftSize: 4096, hop: 80).melFilters(count: F, sampleRate: rate)
        let bins = 4096 / 2 + 1
        let peak = (0..<F).map { m in Double((0..<bins).max { fb[m * bins + $0] < fb[m * bins + $1] }!) * Double(rate) / 4096 }
        XCTAssertLessThan(zip(peak, warp.centres).map { abs($0 - $1) }.max()!, Double(rate) / 4096)
        var x0 = [Float](repeating: 0, count: L * F)
        for t in 0..<L { for m in 0..<F { x0[t * F + m] = (Float(g(warp.centres[m])) + Float(t) - mean[m]) / std[m] } }
        var same = x0
        warp.apply(&same, alpha: 1)
        let identity = maxAbsDiff(same, x0)
        var worst = 0.0
        for alpha in [0.9, 1.1] {
            var x = x0
            warp.apply(&x, alpha: alpha)
            // bands whose source stays inside the band range (the clamp holds the edges)
            let p = warp.sourcePositions(alpha: alpha)
            for t in 0..<L {
                for m in 0..<F where p[m] > 0 && p[m] < Double(F - 1) {
                    let want = g(warp.centres[m] / alpha) + Double(t)
                    worst = max(worst, abs(Double(x[t * F + m] * std[m] + mean[m]) - want))
                }
            }
            // α > 1: each band reads from a lower one (a higher formant), α < 1 from a higher one
            XCTAssertTrue(zip(p, 0..<F).dropFirst().dropLast().allSatisfy { alpha > 1 ? $0 < Double($1) : $0 > Double($1) })
        }
        print("mel warp: α = 1 max |X' − X| \(identity); α = 0.9, 1.1 max |U' − g(f/α)| \(worst) (linear interpolation between bands)")
        XCTAssertLessThan(identity, 1e-5)
        XCTAssertLessThan(worst, 0.01)
        // W = 0 draws nothing (earlier runs repeat exactly); W > 0 draws one α per example
        var a = SeededRandom(seed: 3), b = SeededRandom(seed: 3)
        var x = x0
        LogMelAugmentation(timeMask: 0, bandMask: 0, gain: 0, melWarp: 0.1, warp: warp).apply(&x, bands: F, random: &a)
        _ = b.uniform()
        XCTAssertEqual(a.next(), b.next())
        XCTAssertGreaterThan(maxAbsDiff(x, x0), 1e-3)
    }

    /// Speakers from a manifest column, else from FSDD-style names; an unknown speaker names the known ones.
    func testSpeakers() throws {
        XCTAssertEqual(AudioDataset.speaker(fromFileName: "7_lucas_12.wav"), "lucas")
        XCTAssertNil(AudioDataset.speaker(fromFileName: "7_lucas.wav"))
        XCTAssertNil(AudioDataset.speaker(fromFileName: "a_b_c.wav"))
        XCTAssertNil(AudioDataset.speaker(fromFileName: "1__2.wav"))
        let root = temporaryDirectory(self)
        for name in ["train/3/3_ann_5.wav", "train/3/3_bob_6.wav", "test/3/3_ann_0.wav", "test/4/x.wav"] {
            let u = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AudioFile.write(Waveform(samples: [Float](repeating: 0.1, count: 64), sampleRate: 8000), to: u.path)
        }
        let ds = try AudioDataset.open(root.path)
        XCTAssertEqual(ds.speakers, ["ann", "bob"])
        XCTAssertEqual(try ds.clips(speaker: "ann").count, 2)
        XCTAssertEqual(try ds.clips(speaker: "ann", among: ds.clips(split: "train")).count, 1)
        XCTAssertThrowsError(try ds.clips(speaker: "cy")) { e in
            XCTAssertEqual(e as? AudioDatasetError, .unknownSpeaker(path: root.path, speaker: "cy", speakers: ["ann", "bob"]))
            XCTAssertTrue("\(e)".contains("ann, bob"), "\(e)")
        }
        let csv = root.appendingPathComponent("m.csv")
        try Data("file,label,speaker\ntrain/3/3_ann_5.wav,3,zed\ntest/4/x.wav,4,\n".utf8).write(to: csv)
        XCTAssertEqual(try AudioDataset.open(csv.path).clips.map(\.speaker), ["zed", nil])
    }
}

// MARK: - The commands on real clips

final class LogMelCLITests: XCTestCase {
    /// Exit 64 and one stderr line holding every string of `mentions` (as CLITests checks it).
    func assertRefused(_ args: [String], mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(args)
        XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { !$0.isEmpty }.count, 1, r.stderr, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "'\(m)' not in: \(r.stderr)", file: file, line: line) }
    }

    /// A manifest of a few FSDD clips (absolute paths): 2 digits × 3 speakers × `perSpeaker` training clips, and the official test clips of the same.
    func smallFSDD(_ dir: URL, perSpeaker: Int = 4) throws -> URL? {
        let manifest = URL(fileURLWithPath: "../shared/datasets/fsdd/manifest.csv")
        guard let text = try? String(contentsOf: manifest, encoding: .utf8) else { return nil }
        let base = manifest.deletingLastPathComponent().standardizedFileURL
        var rows = ["file,digit,speaker,index,split"]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            guard f.count == 5, ["0", "1"].contains(f[1]), ["george", "jackson", "lucas"].contains(f[2]), let i = Int(f[3]) else { continue }
            if i < 2 || (i >= 5 && i < 5 + perSpeaker) { rows.append([base.appendingPathComponent(f[0]).path, f[1], f[2], f[3], f[4]].joined(separator: ",")) }
        }
        let out = dir.appendingPathComponent("small.csv")
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: out)
        return out
    }

    /// `train audio-classify --features log-mel --hold-out-speaker` on 16 clips, then `eval audio-classify`
    /// reads the saved bands and normalisation: its figure on the held-out speaker equals the one the
    /// training printed and an in-process evaluation with the saved settings; option errors are one line.
    func testTrainAndEvaluateLogMel() throws {
        let dir = temporaryDirectory(self)
        guard let csv = try smallFSDD(dir) else { throw XCTSkip("../shared/datasets/fsdd not present") }
        let out = dir.appendingPathComponent("run")
        let t = try runCLI(["train", "audio-classify", "--data", csv.path, "--label-column", "digit", "--features", "log-mel", "--mels", "24",
                            "--d-model", "16", "--n-layer", "1", "--d-state", "4", "--batch-size", "4", "--steps", "6", "--lr", "3e-3",
                            "--hold-out-speaker", "lucas", "--val-speaker", "jackson", "--threads", "1", "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("on 8 clips: 24 bands, window 256, hop 80 at 8000 Hz"), t.stderr)   // george's 8 training clips
        XCTAssertTrue(t.stderr.contains("validating on 8 clips"), t.stderr)                                  // jackson's
        let line = t.stdout.split(separator: "\n").first { $0.hasPrefix("held-out speaker lucas:") }
        XCTAssertNotNil(line, t.stdout)
        XCTAssertTrue(line?.contains("on 12 clips") ?? false, t.stdout)                                       // lucas, train and test
        let ck = try Trainer.checkpointDirectory(out)
        let settings = try AudioSettings.load(from: ck)
        let f = try XCTUnwrap(settings.features)
        XCTAssertEqual([f.mels, f.fftSize, f.hop, f.mean.count], [24, 256, 80, 24])
        let model = try SequenceClassifier.load(directory: ck)
        XCTAssertEqual(model.head.input, .features(24))

        let e = try runCLI(["eval", "audio-classify", "--model", out.path, "--data", csv.path, "--label-column", "digit", "--split", "all",
                            "--speaker", "lucas", "--json", "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["count"] as? Int, 12)
        let acc = try XCTUnwrap(obj["accuracy"] as? Double)
        let ds = try AudioDataset.open(csv.path, labelColumn: "digit")
        let ex = try LogMelClassifier.examples(try ds.clips(speaker: "lucas"), labels: model.labels, sampleRate: 8000, features: f, threads: 1)
        let inProcess = try LogMelClassifier.evaluate(model: model, examples: ex).accuracy
        print("log-mel CLI: \(line ?? ""); eval \(acc), in process \(inProcess)")
        XCTAssertEqual(acc, inProcess, accuracy: 1e-12)
        XCTAssertTrue(line?.contains(String(format: "accuracy %.4f", acc)) ?? false, "\(line ?? "") vs \(acc)")

        // Resuming continues as log-mel, with the saved settings.
        let r = try runCLI(["train", "audio-classify", "--data", csv.path, "--label-column", "digit", "--resume", out.path, "--steps", "7",
                            "--hold-out-speaker", "lucas", "--threads", "1", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("log-mel classifier") && r.stderr.contains("step 7/7"), r.stderr)

        // One-line refusals.
        try assertRefused(["train", "audio-classify", "--data", csv.path, "--features", "waveform", "--mels", "20"], mentions: ["--mels 20", "--features log-mel"])
        try assertRefused(["train", "audio-classify", "--data", csv.path, "--features", "log-mel", "--window", "1"], mentions: ["--window 1", "2…65536"])
        try assertRefused(["train", "audio-classify", "--data", csv.path, "--hold-out-speaker", "x", "--val-speaker", "x"], mentions: ["--val-speaker x"])
        try assertRefused(["train", "audio-classify", "--data", csv.path, "--resume", out.path, "--features", "waveform"], mentions: ["--features waveform", "log-mel"])
        try assertRefused(["train", "audio-classify", "--data", csv.path, "--features", "log-mel", "--mel-warp", "0.7"], mentions: ["--mel-warp 0.7"])
        try assertRefused(["train", "audio-classify", "--data", csv.path, "--features", "waveform", "--mel-warp", "0.1"], mentions: ["--mel-warp 0.1", "--features log-mel"])
        // Per-speaker normalisation with a mel warp through the CLI: saved, and eval reads it back.
        let ps = dir.appendingPathComponent("per-speaker")
        let p = try runCLI(["train", "audio-classify", "--data", csv.path, "--label-column", "digit", "--features", "log-mel", "--mels", "24",
                            "--normalisation", "per-speaker", "--mel-warp", "0.1", "--d-model", "8", "--n-layer", "1", "--d-state", "4",
                            "--batch-size", "4", "--steps", "2", "--hold-out-speaker", "lucas", "--threads", "1", "--out", ps.path])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(p.stderr.contains("per-speaker normalisation"), p.stderr)
        XCTAssertEqual(try AudioSettings.load(from: Trainer.checkpointDirectory(ps)).features?.normalisation, .perSpeaker)
        let pe = try runCLI(["eval", "audio-classify", "--model", ps.path, "--data", csv.path, "--label-column", "digit", "--split", "all",
                             "--speaker", "lucas", "--json", "--threads", "1"])
        XCTAssertEqual(pe.status, 0, pe.stderr)
        let u = try runCLI(["train", "audio-classify", "--data", csv.path, "--label-column", "digit", "--features", "log-mel", "--d-model", "8",
                            "--n-layer", "1", "--steps", "1", "--hold-out-speaker", "bob"])
        XCTAssertNotEqual(u.status, 0)
        XCTAssertTrue(u.stderr.contains("no clip of speaker 'bob'") && u.stderr.contains("george, jackson, lucas"), u.stderr)
        let g = try runCLI(["generate", "audio", "--model", out.path, "--out", dir.appendingPathComponent("g.wav").path])
        XCTAssertNotEqual(g.status, 0)
        XCTAssertTrue(g.stderr.contains("log-mel") && g.stderr.contains("eval audio-classify"), g.stderr)
    }
}

// MARK: - Labelled pictures

final class SpectrogramSVGTests: XCTestCase {
    /// A minimal XML well-formedness check (no XMLDocument on every Linux Foundation): one prolog, tags
    /// nested and closed in order, attributes name="value" without < or a bare &, text with entities only.
    /// Returns the problem, or nil; `elements` counts the elements by name.
    static func wellFormed(_ xml: String, elements: inout [String: Int]) -> String? {
        let c = Array(xml.unicodeScalars)
        var i = 0, stack: [String] = [], roots = 0
        func entityOK(_ at: Int) -> Bool {
            let rest = String(String.UnicodeScalarView(c[at..<min(c.count, at + 8)]))
            return ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains { rest.hasPrefix($0) } || rest.range(of: "^&#[0-9]+;", options: .regularExpression) != nil
        }
        if xml.hasPrefix("<?xml") {
            guard let end = xml.range(of: "?>") else { return "unclosed prolog" }
            i = xml.unicodeScalars.distance(from: xml.unicodeScalars.startIndex, to: end.upperBound)
        }
        while i < c.count {
            if c[i] == "<" {
                guard let close = c[i...].firstIndex(of: ">") else { return "unclosed tag at \(i)" }
                var body = String(String.UnicodeScalarView(c[(i + 1)..<close]))
                i = close + 1
                if body.hasPrefix("/") {
                    let name = String(body.dropFirst()).trimmingCharacters(in: .whitespaces)
                    guard stack.last == name else { return "</\(name)> closes <\(stack.last ?? "nothing")>" }
                    stack.removeLast()
                    continue
                }
                let selfClosing = body.hasSuffix("/")
                if selfClosing { body.removeLast() }
                let name = String(body.prefix { !$0.isWhitespace })
                guard name.range(of: "^[A-Za-z_][A-Za-z0-9_.:-]*$", options: .regularExpression) != nil else { return "bad tag name '\(name)'" }
                var attrs = body.dropFirst(name.count).trimmingCharacters(in: .whitespacesAndNewlines)
                var seen = Set<String>()
                while !attrs.isEmpty {
                    guard let m = attrs.range(of: "^[A-Za-z_:][A-Za-z0-9_.:-]*=\"[^\"<]*\"\\s*", options: .regularExpression) else { return "bad attributes in <\(name)>: \(attrs.prefix(40))" }
                    let a = String(attrs[m])
                    let key = String(a.prefix { $0 != "=" })
                    guard seen.insert(key).inserted else { return "attribute \(key) twice in <\(name)>" }
                    let value = Array(a.unicodeScalars)
                    for (j, ch) in value.enumerated() where ch == "&" {
                        let rest = String(String.UnicodeScalarView(value[j...]))
                        guard ["&amp;", "&lt;", "&gt;", "&quot;"].contains(where: { rest.hasPrefix($0) }) else { return "bare & in an attribute of <\(name)>" }
                    }
                    attrs = String(attrs[m.upperBound...])
                }
                if stack.isEmpty { roots += 1 }
                elements[name, default: 0] += 1
                if !selfClosing { stack.append(name) }
            } else {
                if c[i] == "&" && !entityOK(i) { return "bare & in text at \(i)" }
                if stack.isEmpty && !c[i].properties.isWhitespace { return "text outside the root element" }
                i += 1
            }
        }
        if !stack.isEmpty { return "unclosed <\(stack.last!)>" }
        return roots == 1 ? nil : "\(roots) root elements"
    }

    /// The SVG has, per panel, its title, a time axis (label and 1-2-5 second ticks), a frequency axis in
    /// Hz on the mel scale (label, ticks at the mel position of their frequency) and the panel image at
    /// its size; one colour bar in dB; it is well-formed XML and the checker refuses broken XML.
    func testLabelledSVG() throws {
        let a = Waveform(samples: (0..<8000).map { Float(0.5 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) }, sampleRate: 8000)
        let b = Waveform(samples: (0..<6000).map { Float(0.2 * sin(2 * Double.pi * 440 * Double($0) / 16000)) }, sampleRate: 16000)
        var p = SpectrogramPicture()
        p.maxPanelWidth = 300; p.panelHeight = 120; p.mels = 40; p.dynamicRange = 80
        let svg = p.svg([a, b], titles: ["real & \"quoted\"", "generated"])
        var elements: [String: Int] = [:]
        let problem = Self.wellFormed(svg, elements: &elements)
        print("labelled SVG: \(svg.utf8.count) bytes, elements \(elements.sorted { $0.key < $1.key }), well-formed: \(problem ?? "yes")")
        XCTAssertNil(problem)
        XCTAssertEqual(elements["svg"], 1)
        XCTAssertEqual(elements["image"], 3)
        var bad: [String: Int] = [:]
        XCTAssertNotNil(Self.wellFormed("<svg><g></svg></g>", elements: &bad))
        XCTAssertNotNil(Self.wellFormed("<svg><text>a & b</text></svg>", elements: &bad))
        XCTAssertNotNil(Self.wellFormed("<svg x=\"1></svg>", elements: &bad))

        // Titles (escaped), axis labels, one per panel.
        XCTAssertTrue(svg.contains(">real &amp; &quot;quoted&quot;</text>") && svg.contains(">generated</text>"))
        XCTAssertEqual(svg.components(separatedBy: ">time (s)</text>").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: ">frequency (Hz, mel scale)</text>").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: ">dB re loudest</text>").count - 1, 1)
        // Panel images at the panels' sizes: 1 s → 300 px, 0.375 s → 113 px; the colour bar as tall.
        let sizes = svg.matches(#"<image x="[0-9]+" y="[0-9]+" width="([0-9]+)" height="([0-9]+)""#).map { [Int($0[1])!, Int($0[2])!] }
        XCTAssertEqual(sizes, [[300, 120], [113, 120], [14, 120]])
        // Time ticks: 1 s over 300 px at a 0.2 s step (0.1 s would be 30 px apart); 0.375 s over 113 px at 0.2 s.
        let ticks = svg.matches(#"<text class="tick" x="[0-9.]+" y="([0-9.]+)" text-anchor="middle">([0-9.]+)</text>"#).map { $0[2] }
        XCTAssertEqual(ticks, ["0", "0.2", "0.4", "0.6", "0.8", "1", "0", "0.2"])
        // Frequency ticks: 1000 Hz of the 8 kHz panel at y = H − (b + ½)·H/M, b = mel(1000)/mel(4000)·41 − 1.
        func mel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        let bk = mel(1000) / mel(4000) * 41 - 1, y1k = 34 + 120 - (bk + 0.5) * 120 / 40
        let hz = svg.matches(#"<text class="tick" x="[0-9.]+" y="([0-9.]+)" text-anchor="end">([0-9]+)</text>"#)
        let first1k = try XCTUnwrap(hz.first { $0[2] == "1000" })
        XCTAssertEqual(Double(first1k[1])! - 4, y1k, accuracy: 0.06)
        XCTAssertEqual(hz.filter { $0[2] == "5000" }.count, 1)   // only the 16 kHz panel reaches 5 kHz
        XCTAssertTrue(hz.allSatisfy { Double($0[1])! >= 34 && Double($0[1])! <= 34 + 120 + 4 })
        // Colour bar: 0, −20, −40, −60, −80 dB.
        let db = svg.matches(#"<text class="tick" x="[0-9.]+" y="[0-9.]+">([^<]+)</text>"#).map { $0[1] }
        XCTAssertEqual(db, ["0", "−20", "−40", "−60", "−80"])
        // Overall size: margins + panels + colour bar.
        let m = SpectrogramPicture.svgMargins
        XCTAssertTrue(svg.contains("width=\"\(2 * (m.left + m.right) + 300 + 113 + SpectrogramPicture.colourBarWidth)\" height=\"\(m.top + 120 + m.bottom)\""))

        // The CLI writes it (and a PNG still).
        let dir = temporaryDirectory(self)
        let clip = dir.appendingPathComponent("a.wav")
        try AudioFile.write(a, to: clip.path)
        let r = try runCLI(["audio", "spectrogram", clip.path, "--out", dir.appendingPathComponent("s.svg").path, "--height", "100"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let written = try String(contentsOf: dir.appendingPathComponent("s.svg"), encoding: .utf8)
        XCTAssertNil(Self.wellFormed(written, elements: &bad))
        XCTAssertTrue(written.contains(">a.wav</text>") && written.contains("height=\"100\""))
    }
}

extension String {
    /// Capture groups of every match of `pattern`.
    func matches(_ pattern: String) -> [[String]] {
        let re = try! NSRegularExpression(pattern: pattern)
        return re.matches(in: self, range: NSRange(startIndex..., in: self)).map { m in
            (0..<m.numberOfRanges).map { Range(m.range(at: $0), in: self).map { String(self[$0]) } ?? "" }
        }
    }
}
