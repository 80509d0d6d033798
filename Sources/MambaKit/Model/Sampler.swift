// Sampler.swift — choosing the next token from logits: temperature, top-k, top-p, repetition penalty.
// Shared by every front end that generates (text tokens, audio samples).
import Foundation

/// Next-token sampling settings. Temperature 0 means greedy.
public struct SamplingOptions: Sendable {
    public var temperature: Float = 0.8
    public var topK: Int = 0          // 0 = off
    public var topP: Float = 1.0      // 1 = off
    public var repetitionPenalty: Float = 1.0   // 1 = off (CTRL-style: divide positive logits, multiply negative ones)
    public init() {}
}

/// Draws tokens from logits with a seeded generator.
public struct Sampler {
    public var options: SamplingOptions
    var rng: SeededRandom

    public init(options: SamplingOptions, seed: UInt64) {
        self.options = options
        rng = SeededRandom(seed: seed)
    }

    /// Picks the next id from `logits` (V), given the ids seen so far (for the repetition penalty).
    public mutating func next(logits: [Float], history: [Int32]) -> Int32 {
        Int32(nextIndex(logits: logits, history: history))
    }

    /// The index in 0 ..< V chosen from `logits`.
    private mutating func nextIndex(logits: [Float], history: [Int32]) -> Int {
        var l = logits
        if options.repetitionPenalty != 1 {
            for token in Set(history) where token >= 0 && Int(token) < l.count {
                let id = Int(token)
                l[id] = l[id] > 0 ? l[id] / options.repetitionPenalty : l[id] * options.repetitionPenalty
            }
        }
        if options.temperature <= 0 {
            var best = 0
            for i in 1..<l.count where l[i] > l[best] { best = i }
            return best
        }
        if options.topK <= 0 && options.topP >= 1 {
            // Plain temperature sampling: no ranking needed (this runs once per generated audio sample).
            let m = l.max()!
            let weights = l.map { Double(Foundation.exp(($0 - m) / options.temperature)) }
            var u = Double(rng.next() >> 11) * 0x1p-53 * weights.reduce(0, +)
            for i in 0..<weights.count { u -= weights[i]; if u < 0 { return i } }
            return l.firstIndex(of: m)!   // rounding left u ≥ 0: the likeliest id
        }
        var order = Array(0..<l.count)
        order.sort { l[$0] > l[$1] }
        if options.topK > 0 { order = Array(order.prefix(options.topK)) }
        let m = l[order[0]]
        var probs = order.map { Double(Foundation.exp((l[$0] - m) / options.temperature)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if options.topP < 1 {
            var cum = 0.0, keep = 0
            for p in probs { cum += p; keep += 1; if cum >= Double(options.topP) { break } }
            order = Array(order.prefix(keep)); probs = Array(probs.prefix(keep))
            let t = probs.reduce(0, +); probs = probs.map { $0 / t }
        }
        var u = Double(rng.next() >> 11) * 0x1p-53
        for (i, p) in probs.enumerated() { u -= p; if u < 0 { return order[i] } }
        return order[order.count - 1]
    }
}
