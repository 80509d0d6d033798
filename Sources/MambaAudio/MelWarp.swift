// MelWarp.swift — vocal-tract-length perturbation (VTLP, Jaitly & Hinton 2013) of normalised log-mel
// frames: the spectrum is read at frequencies scaled by 1/α, as if a speaker with a vocal tract 1/α as
// long had said the same thing (formants move up for α > 1).
//
//   U[t, m]  = X[t, m] · σ_m + μ_m                       (L, F)  back to (centred) log-mel values
//   p_m(α)   = mel(f_m / α) / Δ − 1,  clamped to [0, F−1] (F)     f_m = band m's centre in Hz, Δ = mel(top)/(F+1)
//   U'[t, m] = (1 − w) · U[t, ⌊p_m⌋] + w · U[t, ⌊p_m⌋ + 1], w = p_m − ⌊p_m⌋
//   X'[t, m] = (U'[t, m] − μ_m) / σ_m
//
// with mel(f) = 2595 log10(1 + f/700) and band centres f_m = hz((m + 1) Δ), the peaks of the HTK triangles
// of ``Spectrogram/melFilters(count:sampleRate:fMin:fMax:)`` from 0 to rate/2 (``Spectrogram/melPoints``).
// Interpolating between neighbouring bands' energies approximates re-filtering the warped power spectrum;
// the clamp holds the lowest and highest band at the edge (where the paper's piecewise-linear VTLP bends
// back instead).
import Foundation

/// The band geometry and normalisation a warp needs, for frames of ``LogMelFeatures`` at one sample rate.
public struct MelWarp: Equatable, Sendable {
    /// Band centres f_m (F), Hz.
    public let centres: [Double]
    /// mel(top) / (F + 1): the spacing of band centres on the mel axis.
    let spacing: Double
    let mean: [Float], std: [Float]

    /// The warp of fitted `features` at `sampleRate` Hz.
    public init(features: LogMelFeatures, sampleRate: Int) {
        precondition(features.isFitted, "warp with fitted settings")
        let F = features.mels
        spacing = Spectrogram.mel(Double(sampleRate) / 2) / Double(F + 1)
        centres = Array(Spectrogram.melPoints(count: F, sampleRate: sampleRate)[1...F])
        mean = features.mean; std = features.std
    }

    /// The fractional band index p_m(α) each band reads from (F).
    public func sourcePositions(alpha: Double) -> [Double] {
        let top = Double(centres.count - 1)
        return centres.map { min(max(Spectrogram.mel($0 / alpha) / spacing - 1, 0), top) }
    }

    /// Warps normalised frames `x` ((L, F), F = the band count) by α in place.
    public func apply(_ x: inout [Float], alpha: Double) {
        let F = centres.count, L = x.count / F
        let p = sourcePositions(alpha: alpha)
        let lower = p.map { min(Int($0), F - 1) }, weight = zip(p, lower).map { Float($0 - Double($1)) }
        var u = [Float](repeating: 0, count: F)    // (F) one frame back to log-mel units
        for t in 0..<L {
            for m in 0..<F { u[m] = x[t * F + m] * std[m] + mean[m] }
            for m in 0..<F {
                let i = lower[m], w = weight[m]
                let v = w > 0 && i + 1 < F ? (1 - w) * u[i] + w * u[i + 1] : u[i]
                x[t * F + m] = (v - mean[m]) / std[m]
            }
        }
    }
}
