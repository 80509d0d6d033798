// SystemLibraryTests.swift — the FFTW (single precision) and libsndfile system-library targets link and work.
import Foundation
import XCTest
import _CFFTW
import _CSndFile

final class SystemLibraryTests: XCTestCase {
    /// FFT of a cosine with k cycles has |X[k]| = n/2 and nothing elsewhere (closed form).
    func testFFTWSinglePrecision() {
        let n = 64, k = 5
        let input = fftwf_alloc_real(n)!, output = fftwf_alloc_complex(n / 2 + 1)!
        defer { fftwf_free(input); fftwf_free(output) }
        let plan = fftwf_plan_dft_r2c_1d(Int32(n), input, output, UInt32(FFTW_ESTIMATE))
        defer { fftwf_destroy_plan(plan) }
        for i in 0..<n { input[i] = Float(cos(2 * Double.pi * Double(k * i) / Double(n))) }
        fftwf_execute(plan)
        let raw = UnsafeMutableRawPointer(output).assumingMemoryBound(to: Float.self)
        for j in 0...(n / 2) {
            let mag = (raw[2 * j] * raw[2 * j] + raw[2 * j + 1] * raw[2 * j + 1]).squareRoot()
            XCTAssertEqual(mag, j == k ? Float(n) / 2 : 0, accuracy: 1e-4)
        }
    }

    /// libsndfile writes a 16-bit WAV and reads back the same samples (within 16-bit rounding).
    func testSndFileRoundTrip() throws {
        let url = temporaryDirectory(self).appendingPathComponent("tone.wav")
        let rate = 8000, frames = 800
        let samples = (0..<frames).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        var info = SF_INFO()
        info.samplerate = Int32(rate); info.channels = 1; info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        let w = sf_open(url.path, Int32(SFM_WRITE), &info)
        XCTAssertNotNil(w, String(cString: sf_strerror(nil)))
        XCTAssertEqual(sf_writef_float(w, samples, sf_count_t(frames)), sf_count_t(frames))
        sf_close(w)
        var rinfo = SF_INFO()
        let r = sf_open(url.path, Int32(SFM_READ), &rinfo)
        XCTAssertNotNil(r)
        XCTAssertEqual(rinfo.frames, sf_count_t(frames)); XCTAssertEqual(rinfo.samplerate, Int32(rate))
        var back = [Float](repeating: 0, count: frames)
        XCTAssertEqual(sf_readf_float(r, &back, sf_count_t(frames)), sf_count_t(frames))
        sf_close(r)
        XCTAssertLessThanOrEqual(maxAbsDiff(samples, back), 1.0 / 32768 + 1e-6)
    }
}
