// Spectrogram.swift — short-time Fourier transform and log-mel spectrogram with FFTW.
import Foundation
import _CFFTW

/// STFT magnitudes and log-mel energies of a waveform, computed with one FFTW plan (made once,
/// reused for every frame; FFTW's execute on a given plan with its own buffers is thread-safe, and
/// plan creation is serialised here).
public final class Spectrogram: @unchecked Sendable {
    public let fftSize: Int
    public let hop: Int
    let window: [Float]          // (fftSize) periodic Hann
    let input: UnsafeMutablePointer<Float>
    let output: OpaquePointer   // fftwf_complex*
    let plan: fftwf_plan
    static let planLock = NSLock()

    public init(fftSize: Int = 512, hop: Int = 128) {
        precondition(fftSize >= 2 && hop >= 1)
        self.fftSize = fftSize
        self.hop = hop
        window = (0..<fftSize).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(fftSize))) }
        input = fftwf_alloc_real(fftSize)!
        let out = fftwf_alloc_complex(fftSize / 2 + 1)!
        output = OpaquePointer(out)
        Spectrogram.planLock.lock()
        plan = fftwf_plan_dft_r2c_1d(Int32(fftSize), input, out, UInt32(FFTW_ESTIMATE))
        Spectrogram.planLock.unlock()
    }

    deinit {
        Spectrogram.planLock.lock()
        fftwf_destroy_plan(plan)
        Spectrogram.planLock.unlock()
        fftwf_free(input)
        fftwf_free(UnsafeMutableRawPointer(output))
    }

    /// Bins per frame: fftSize/2 + 1.
    public var bins: Int { fftSize / 2 + 1 }

    /// |STFT| as frames × bins (row-major), Hann-windowed frames every `hop` samples (the last partial frame zero-padded).
    public func magnitudes(_ samples: [Float]) -> (frames: Int, values: [Float]) {
        let frames = samples.isEmpty ? 0 : 1 + max(0, (samples.count - 1) / hop)
        var values = [Float](repeating: 0, count: frames * bins)
        let out = UnsafeMutableRawPointer(output).assumingMemoryBound(to: Float.self)
        for f in 0..<frames {
            let start = f * hop
            for i in 0..<fftSize {
                let k = start + i
                input[i] = k < samples.count ? samples[k] * window[i] : 0
            }
            fftwf_execute(plan)
            for b in 0..<bins {
                let re = out[2 * b], im = out[2 * b + 1]
                values[f * bins + b] = (re * re + im * im).squareRoot()
            }
        }
        return (frames, values)
    }

    /// The HTK mel scale, 2595·log10(1 + f/700), of `f` Hz.
    public static func mel(_ f: Double) -> Double { 2595 * Foundation.log10(1 + f / 700) }
    /// Hz of `m` mel (the inverse of ``mel(_:)``).
    public static func hz(_ m: Double) -> Double { 700 * (Foundation.pow(10, m / 2595) - 1) }

    /// The count + 2 frequencies (Hz) that bound the mel filters, evenly spaced in mel from fMin to fMax
    /// (default rate/2): filter m rises from point m, peaks at point m + 1 (its centre) and ends at m + 2.
    public static func melPoints(count: Int, sampleRate: Int, fMin: Double = 0, fMax: Double? = nil) -> [Double] {
        let top = fMax ?? Double(sampleRate) / 2
        return (0...(count + 1)).map { hz(mel(fMin) + (mel(top) - mel(fMin)) * Double($0) / Double(count + 1)) }
    }

    /// Triangular mel filters (HTK mel scale, ``melPoints(count:sampleRate:fMin:fMax:)``), mels × bins, each filter's peak 1.
    public func melFilters(count: Int, sampleRate: Int, fMin: Double = 0, fMax: Double? = nil) -> [Float] {
        let points = Self.melPoints(count: count, sampleRate: sampleRate, fMin: fMin, fMax: fMax)
        var fb = [Float](repeating: 0, count: count * bins)
        for m in 0..<count {
            let (lo, mid, hi) = (points[m], points[m + 1], points[m + 2])
            for b in 0..<bins {
                let f = Double(b) * Double(sampleRate) / Double(fftSize)
                let w = f <= mid ? (f - lo) / (mid - lo) : (hi - f) / (hi - mid)
                fb[m * bins + b] = Float(max(0, w))
            }
        }
        return fb
    }

    /// log(ε + mel energies) as frames × mels.
    public func logMel(_ wave: Waveform, mels: Int = 64, epsilon: Float = 1e-6) -> (frames: Int, values: [Float]) {
        let (frames, mag) = magnitudes(wave.samples)
        let fb = melFilters(count: mels, sampleRate: wave.sampleRate)
        var out = [Float](repeating: 0, count: frames * mels)
        for f in 0..<frames {
            for m in 0..<mels {
                var e: Float = 0
                for b in 0..<bins { e += fb[m * bins + b] * mag[f * bins + b] * mag[f * bins + b] }
                out[f * mels + m] = Foundation.log(epsilon + e)
            }
        }
        return (frames, out)
    }
}
