// AudioTests.swift — libsndfile I/O and the 8-bit sample tokenizers against their closed forms.
import Foundation
import MambaAudio
import MambaKit
import XCTest

final class AudioTests: XCTestCase {
    func testMuLawClosedForm() {
        let t = MuLawTokenizer()
        XCTAssertEqual(t.encode([-1, 0, 1]), [0, 128, 255])   // round(127.5) = 128
        var rng = SeededRandom(seed: 31)
        let xs = (0..<2000).map { _ in rng.uniform(-1, 1) }
        let ids = t.encode(xs)
        for (x, id) in zip(xs, ids) {
            let y = (x < 0 ? -1.0 : 1.0) * Foundation.log1p(255 * Double(abs(x))) / Foundation.log(256.0)
            XCTAssertEqual(id, Int32(((y + 1) / 2 * 255).rounded()), "x = \(x)")
        }
        // Decoding inverts encoding up to the quantisation step of the companded value.
        let back = t.decode(ids)
        print("mu-law: max |decode(encode(x)) - x| = \(zip(xs, back).map { abs($0 - $1) }.max()!)")
        for (x, b) in zip(xs, back) {
            // |dx/dy| = ln(256)·256^|y|/255 ≤ ln(256)·(1 + 255|x|)·256^(1/255)/255 over one step (Δy = 2/255, error ≤ Δy/2)
            let ax = Double(x.magnitude)
            let bound: Double = Foundation.log(256.0) * (1 + 255 * ax) * 1.03 / 255 * (1.0 / 255) + 1e-6
            XCTAssertLessThanOrEqual(Double((b - x).magnitude), bound, "x = \(x)")
        }
        XCTAssertEqual(t.encode(t.decode(Array(0..<256))), Array(0..<256))   // ids survive a round trip
        XCTAssertEqual(t.encode([-3, 7]), [0, 255])                           // clipped
    }

    func testLinearClosedForm() {
        let t = LinearSampleTokenizer()
        XCTAssertEqual(t.encode([-1, 0, 1, 0.5]), [0, 128, 255, 191])
        XCTAssertEqual(t.encode(t.decode(Array(0..<256))), Array(0..<256))
        for id in [0, 17, 128, 255] as [Int32] { XCTAssertEqual(Double(t.decode([id])[0]), 2 * Double(id) / 255 - 1, accuracy: 1e-6) }
    }

    func testWriteReadWavAndFlacStereoToMono() throws {
        let dir = temporaryDirectory(self)
        let rate = 16000
        let tone = (0..<1600).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        for name in ["a.wav", "a.flac"] {
            let path = dir.appendingPathComponent(name).path
            try AudioFile.write(Waveform(samples: tone, sampleRate: rate), to: path)
            let back = try AudioFile.read(path)
            XCTAssertEqual(back.sampleRate, rate)
            let d = maxAbsDiff(back.samples, tone)
            print("\(name) 16-bit round trip: max |difference| \(d)")
            XCTAssertLessThanOrEqual(d, 1.0 / 32768 + 1e-6, name)
        }
        // Real speech from Debian's alsa-utils when present (48 kHz mono 16-bit).
        if let wav = ["/usr/share/sounds/alsa/Front_Center.wav"].first(where: { FileManager.default.fileExists(atPath: $0) }) {
            let w = try AudioFile.read(wav)
            XCTAssertEqual(w.sampleRate, 48000)
            XCTAssertGreaterThan(w.samples.count, 10000)
        }
    }

    func testUnreadableAndEmptyFiles() throws {
        let dir = temporaryDirectory(self)
        let junk = dir.appendingPathComponent("junk.wav")
        try Data("this is not audio".utf8).write(to: junk)
        XCTAssertThrowsError(try AudioFile.read(junk.path)) { e in
            guard case DataError.unreadable(let p, _, .audio) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(p, junk.path)
        }
        XCTAssertThrowsError(try AudioFile.read(dir.appendingPathComponent("missing.flac").path))
        XCTAssertThrowsError(try AudioFile.write(Waveform(samples: [0], sampleRate: 8000), to: "/nonexistent/dir/x.wav")) { e in
            guard case DataError.writeFailed(_, _, .audio) = e else { return XCTFail("\(e)") }
        }
    }
}

final class ResamplerTests: XCTestCase {
    func tone(_ f: Double, rate: Int, count: Int, amplitude: Double = 0.5) -> [Float] {
        (0..<count).map { Float(amplitude * sin(2 * Double.pi * f * Double($0) / Double(rate))) }
    }

    /// A tone below the new Nyquist frequency comes out as the analytic sine at the new rate;
    /// a tone above it is removed (below −60 dB) instead of aliasing.
    func testSineSweepAgainstAnalyticSignal() {
        let rIn = 44100, rOut = 16000, n = 8820
        let r = Resampler()
        for f in [440.0, 3000.0, 6500.0] {
            let y = r.resample(Waveform(samples: tone(f, rate: rIn, count: n), sampleRate: rIn), to: rOut).samples
            let ref = tone(f, rate: rOut, count: y.count)
            let m = 200   // skip the filter's edges
            var err: Float = 0
            for j in m..<(y.count - m) { err = max(err, abs(y[j] - ref[j])) }
            print("resample 44.1k→16k, \(f) Hz: max |error| \(err)")
            XCTAssertLessThan(err, 2e-3, "\(f) Hz")
        }
        for f in [9000.0, 12000.0, 20000.0] {
            let y = r.resample(Waveform(samples: tone(f, rate: rIn, count: n), sampleRate: rIn), to: rOut).samples
            let core = y[200..<(y.count - 200)]
            let rms = (core.map { Double($0 * $0) }.reduce(0, +) / Double(core.count)).squareRoot()
            let db = 20 * Foundation.log10(rms / (0.5 / 2.0.squareRoot()))
            print("resample 44.1k→16k, \(f) Hz (above 8 kHz): \(db) dB")
            XCTAssertLessThan(db, -60, "\(f) Hz aliased")
        }
        // Linear sweeps (chirps): x(t) = A·sin(2π(f0·t + (f1 − f0)·t²/(2T))). A sweep inside the new band
        // comes out as the analytic sweep sampled at the new rate; one above the new Nyquist is removed.
        func chirp(_ f0: Double, _ f1: Double, rate: Int, seconds: Double) -> [Float] {
            let count = Int(seconds * Double(rate))
            return (0..<count).map { i -> Float in
                let t = Double(i) / Double(rate)
                return Float(0.5 * sin(2 * Double.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))))
            }
        }
        let pass = r.resample(Waveform(samples: chirp(100, 7000, rate: rIn, seconds: 0.5), sampleRate: rIn), to: rOut).samples
        let passRef = chirp(100, 7000, rate: rOut, seconds: 0.5)
        var sweepErr: Float = 0
        for j in 200..<(min(pass.count, passRef.count) - 200) { sweepErr = max(sweepErr, abs(pass[j] - passRef[j])) }
        print("resample 44.1k→16k, sweep 100 Hz → 7 kHz: max |error| vs the analytic sweep \(sweepErr)")
        XCTAssertLessThan(sweepErr, 2e-3)
        let stop = r.resample(Waveform(samples: chirp(9000, 21000, rate: rIn, seconds: 0.5), sampleRate: rIn), to: rOut).samples
        let stopCore = stop[200..<(stop.count - 200)]
        let stopRMS = (stopCore.map { Double($0 * $0) }.reduce(0, +) / Double(stopCore.count)).squareRoot()
        let stopDB = 20 * Foundation.log10(stopRMS / (0.5 / 2.0.squareRoot()))
        print("resample 44.1k→16k, sweep 9 → 21 kHz (above 8 kHz): \(stopDB) dB")
        XCTAssertLessThan(stopDB, -60)
        // Upsampling keeps a tone too.
        let up = r.resample(Waveform(samples: tone(1000, rate: 8000, count: 4000), sampleRate: 8000), to: 16000).samples
        let refUp = tone(1000, rate: 16000, count: up.count)
        XCTAssertLessThan((400..<(up.count - 400)).map { abs(up[$0] - refUp[$0]) }.max()!, 2e-3)
    }
}

final class SpectrogramTests: XCTestCase {
    /// A sine at an exact bin frequency: the Hann-windowed FFT has |X| = A·N/4 at that bin and its
    /// neighbours at half that (closed form of the Hann window's transform), nothing elsewhere.
    func testSinePeakClosedForm() {
        let n = 512, rate = 16000, bin = 37
        let f = Double(bin) * Double(rate) / Double(n)
        let x = (0..<(4 * n)).map { Float(0.8 * sin(2 * Double.pi * f * Double($0) / Double(rate))) }
        let s = Spectrogram(fftSize: n, hop: n / 4)
        let (frames, mag) = s.magnitudes(x)
        XCTAssertEqual(frames, 1 + (x.count - 1) / (n / 4))
        let row = Array(mag[(2 * s.bins)..<(3 * s.bins)])    // a frame fully inside the signal
        print("STFT peak: |X[k]| = \(row[bin]) vs closed form \(0.8 * Double(n) / 4); neighbours \(row[bin - 1]), \(row[bin + 1]) vs \(0.8 * Double(n) / 8)")
        XCTAssertEqual(row[bin], Float(0.8 * Double(n) / 4), accuracy: 1e-2)
        XCTAssertEqual(row[bin - 1], Float(0.8 * Double(n) / 8), accuracy: 1e-2)
        XCTAssertEqual(row[bin + 1], Float(0.8 * Double(n) / 8), accuracy: 1e-2)
        for b in 0..<s.bins where abs(b - bin) > 1 { XCTAssertLessThan(row[b], 1e-2) }
    }

    func testMelFiltersAndLogMel() {
        let s = Spectrogram(fftSize: 256, hop: 64)
        let fb = s.melFilters(count: 20, sampleRate: 8000)
        for m in 0..<20 { XCTAssertEqual(fb[(m * s.bins)..<((m + 1) * s.bins)].max()!, 1, accuracy: 0.2) }
        let tone = Waveform(samples: (0..<4000).map { Float(sin(2 * Double.pi * 1000 * Double($0) / 8000)) }, sampleRate: 8000)
        let (frames, lm) = s.logMel(tone, mels: 20)
        XCTAssertGreaterThan(frames, 10)
        // The loudest mel band of a middle frame is the one whose centre is nearest 1 kHz.
        let row = Array(lm[(5 * 20)..<(6 * 20)])
        let loudest = row.firstIndex(of: row.max()!)!
        func mel(_ f: Double) -> Double { 2595 * Foundation.log10(1 + f / 700) }
        let centres = (1...20).map { mel(4000) * Double($0) / 21 }
        let nearest = centres.enumerated().min { abs($0.1 - mel(1000)) < abs($1.1 - mel(1000)) }!.offset
        XCTAssertEqual(loudest, nearest)
    }
}
