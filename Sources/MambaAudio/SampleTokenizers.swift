// SampleTokenizers.swift — waveform samples ↔ 256 token ids (8-bit mu-law or linear).
import Foundation
import MambaKit

/// 8-bit mu-law (µ = 255, the WaveNet / SaShiMi convention):
///   y = sign(x) · ln(1 + µ|x|) / ln(1 + µ),  id = round((y + 1) / 2 · µ)   (x clipped to [-1, 1]);
///   decode: y = 2·id/µ − 1,  x = sign(y) · ((1 + µ)^|y| − 1) / µ.
public struct MuLawTokenizer: Tokenizer, Sendable {
    public let mu: Float = 255
    public init() {}
    public var vocabularySize: Int { 256 }
    public var specialTokens: [String: Int32] { [:] }

    public func encode(_ samples: [Float]) -> [Int32] {
        let lnMu = Foundation.log1p(mu)
        return samples.map { x in
            let c = min(1, max(-1, x))
            let y = (c < 0 ? -1 : 1) * Foundation.log1p(mu * abs(c)) / lnMu
            return Int32(((y + 1) / 2 * mu).rounded())
        }
    }

    public func decode(_ ids: [Int32]) -> [Float] {
        ids.map { id in
            let y = 2 * Float(min(255, max(0, id))) / mu - 1
            return (y < 0 ? -1 : 1) * (Foundation.pow(1 + mu, abs(y)) - 1) / mu
        }
    }
}

/// 8-bit linear: 256 equal steps over [-1, 1]: id = round((x + 1) / 2 · 255), decode x = 2·id/255 − 1.
public struct LinearSampleTokenizer: Tokenizer, Sendable {
    public init() {}
    public var vocabularySize: Int { 256 }
    public var specialTokens: [String: Int32] { [:] }
    public func encode(_ samples: [Float]) -> [Int32] { samples.map { Int32(((min(1, max(-1, $0)) + 1) / 2 * 255).rounded()) } }
    public func decode(_ ids: [Int32]) -> [Float] { ids.map { 2 * Float(min(255, max(0, $0))) / 255 - 1 } }
}
