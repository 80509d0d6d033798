// Resampler.swift — band-limited sample-rate conversion (Kaiser-windowed sinc).
import Foundation

/// Converts a waveform to another sample rate with a windowed-sinc low-pass filter:
///
///   y[j] = Σ_k x[k] · 2f_c · sinc(2f_c (t_j − k)) · w((t_j − k) / H),   t_j = j · r_in / r_out,
///
/// f_c = 0.5 · min(1, r_out / r_in) · rolloff (cycles per input sample), w a Kaiser window
/// (β = 10) over |τ| ≤ H = zeroCrossings / (2 f_c). With the defaults the stop band is below −80 dB,
/// so a tone above the new Nyquist frequency is removed instead of aliasing.
public struct Resampler: Sendable {
    public var zeroCrossings: Int = 32
    public var rolloff: Double = 0.94
    public var beta: Double = 10
    public init() {}

    public func resample(_ wave: Waveform, to rate: Int) -> Waveform {
        guard rate != wave.sampleRate, rate > 0, !wave.samples.isEmpty else { return Waveform(samples: wave.samples, sampleRate: rate) }
        let rIn = Double(wave.sampleRate), rOut = Double(rate)
        let fc = 0.5 * min(1, rOut / rIn) * rolloff
        let halfWidth = Double(zeroCrossings) / (2 * fc)
        let n = wave.samples.count
        let outCount = Int((Double(n) * rOut / rIn).rounded(.down))
        let i0b = besselI0(beta)
        var out = [Float](repeating: 0, count: outCount)
        wave.samples.withUnsafeBufferPointer { x in
            for j in 0..<outCount {
                let t = Double(j) * rIn / rOut
                let lo = max(0, Int((t - halfWidth).rounded(.up))), hi = min(n - 1, Int((t + halfWidth).rounded(.down)))
                var acc = 0.0
                if lo <= hi {
                    for k in lo...hi {
                        let tau = t - Double(k)
                        let u = tau / halfWidth
                        let w = besselI0(beta * (max(0, 1 - u * u)).squareRoot()) / i0b
                        let arg = 2 * fc * tau
                        let sinc = arg == 0 ? 1 : Foundation.sin(Double.pi * arg) / (Double.pi * arg)
                        acc += Double(x[k]) * 2 * fc * sinc * w
                    }
                }
                out[j] = Float(acc)
            }
        }
        return Waveform(samples: out, sampleRate: rate)
    }

    /// Modified Bessel function of the first kind, order 0 (power series).
    func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0
        let q = x * x / 4
        for k in 1..<64 {
            term *= q / Double(k * k)
            sum += term
            if term < sum * 1e-17 { break }
        }
        return sum
    }
}
