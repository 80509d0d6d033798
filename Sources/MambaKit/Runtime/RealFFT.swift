// RealFFT.swift — FFTW real-to-complex plans, made once per size and shared, for the long convolutions
// of the time-invariant SSM (LTISSM). FFTW's planner is not thread-safe and is serialised here; executing
// a plan on other (equally aligned, FFTW-allocated) arrays is, so every thread brings its own buffers.
import Foundation
import _CFFTW

/// A pair of FFTW plans of one size M: real (M) → complex (M/2 + 1) and back (unnormalised: a round
/// trip multiplies by M).
public final class RealFFT: @unchecked Sendable {
    /// The transform size M.
    public let size: Int
    /// Complex bins of a transform: M/2 + 1.
    public var bins: Int { size / 2 + 1 }
    let forwardPlan: fftwf_plan
    let inversePlan: fftwf_plan

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [Int: RealFFT] = [:]

    private init(size M: Int) {
        size = M
        let real = fftwf_alloc_real(M)!, complex = fftwf_alloc_complex(M / 2 + 1)!
        defer { fftwf_free(real); fftwf_free(complex) }
        let flags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_DESTROY_INPUT)
        forwardPlan = fftwf_plan_dft_r2c_1d(Int32(M), real, complex, flags)
        inversePlan = fftwf_plan_dft_c2r_1d(Int32(M), complex, real, flags)
    }

    /// The shared plans of size `M` (made on first use; ``convolutionSize(_:)`` picks M for a length).
    public static func shared(size M: Int) -> RealFFT {
        precondition(M >= 2 && M % 2 == 0, "real FFT sizes here are even")
        lock.lock(); defer { lock.unlock() }
        if let p = cache[M] { return p }
        let p = RealFFT(size: M)
        cache[M] = p
        return p
    }

    /// The smallest M = 2^a·3^b·5^c ≥ 2L (even), so that a linear convolution or correlation of two
    /// length-L sequences equals the circular one of size M on their first L outputs.
    public static func convolutionSize(_ L: Int) -> Int {
        var best = 2
        while best < 2 * L { best *= 2 }
        var p3 = 1
        while p3 <= best {
            var p35 = p3
            while p35 <= best {
                var m = p35
                while m < 2 * L { m *= 2 }
                if m % 2 == 0 && m < best { best = m }
                p35 *= 5
            }
            p3 *= 3
        }
        return best
    }

    /// Scratch for one thread: a real array (M) and `complexArrays` complex arrays (M/2 + 1 each,
    /// interleaved re/im), FFTW-allocated so that the shared plans run on them.
    public final class Buffers {
        public let real: UnsafeMutablePointer<Float>
        public let complex: [UnsafeMutablePointer<Float>]
        init(_ fft: RealFFT, complexArrays: Int) {
            real = fftwf_alloc_real(fft.size)!
            complex = (0..<complexArrays).map { _ in
                UnsafeMutableRawPointer(fftwf_alloc_complex(fft.bins)!).assumingMemoryBound(to: Float.self)
            }
        }
        deinit { fftwf_free(real); for c in complex { fftwf_free(c) } }
    }

    public func buffers(complexArrays: Int) -> Buffers { Buffers(self, complexArrays: complexArrays) }

    /// out (M/2 + 1 complex) = FFT(real (M)); `real` is destroyed.
    public func forward(_ real: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        fftwf_execute_dft_r2c(forwardPlan, real, UnsafeMutableRawPointer(out).assumingMemoryBound(to: fftwf_complex.self))
    }

    /// real (M) = M · IFFT(inp (M/2 + 1 complex)); `inp` is destroyed.
    public func inverse(_ inp: UnsafeMutablePointer<Float>, _ real: UnsafeMutablePointer<Float>) {
        fftwf_execute_dft_c2r(inversePlan, UnsafeMutableRawPointer(inp).assumingMemoryBound(to: fftwf_complex.self), real)
    }

    /// Loads x[0], x[stride], … x[(n−1)·stride] into `real`, zero-padded to M, and transforms it into `out`.
    public func forward(strided x: UnsafePointer<Float>, count n: Int, stride: Int, scratch real: UnsafeMutablePointer<Float>,
                        into out: UnsafeMutablePointer<Float>) {
        for t in 0..<n { real[t] = x[t * stride] }
        (real + n).update(repeating: 0, count: size - n)
        forward(real, out)
    }
}
