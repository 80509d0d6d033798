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
        let window = kaiserTable()
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
                        let w = kaiser(u * u, window)
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

    // MARK: Window

    /// Points of the window table over v = u² ∈ [0, 1].
    static let tablePoints = 4096

    /// w(v) = I0(β·√(1 − v)) / I0(β) at v = i / (tablePoints − 1). As a function of v this is a power
    /// series in (1 − v) (I0 is even), smooth up to v = 1, so linear interpolation in v is accurate to ~1e-9.
    func kaiserTable() -> [Double] {
        let i0b = besselI0(beta), n = Self.tablePoints
        return (0..<n).map { i in besselI0(beta * (1 - Double(i) / Double(n - 1)).squareRoot()) / i0b }
    }

    /// The Kaiser window at u (|u| ≤ 1) from its table, given v = u².
    @inline(__always) func kaiser(_ v: Double, _ table: [Double]) -> Double {
        let x = min(1, max(0, v)) * Double(table.count - 1)
        let i = min(table.count - 2, Int(x)), f = x - Double(i)
        return table[i] + (table[i + 1] - table[i]) * f
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
