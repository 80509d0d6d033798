// MaskingScheme.swift — BERT-style masking for masked-language-model pretraining.
//
//   of a sequence of n tokens, m = max(1, round(p·n)) positions are chosen uniformly without replacement
//   (p = `probability`, 0.15 by default); each chosen position i gets target t_i = x_i and its input becomes
//     <mask>                   with probability `mask_fraction`   (0.8)
//     a token drawn uniformly  with probability `random_fraction` (0.1) from `random_tokens`
//     x_i unchanged            otherwise                          (0.1)
//   every other position has target −1 (no loss).
//
// What differs from Hugging Face's DataCollatorForLanguageModeling / Caduceus' mlm_getitem: they draw
// each position's mask as a Bernoulli(p); here the count per sequence is fixed at round(p·n), so a
// step's number of loss terms is known before it is drawn (the trainer divides by it) and every
// position is still chosen with probability p.

/// How a masked-LM objective hides tokens (saved in trainer_state.json with the run's options).
public struct MaskingScheme: Codable, Equatable, Sendable {
    /// Fraction of positions predicted (the "15 %").
    public var probability: Double = 0.15
    /// The id that replaces most chosen positions.
    public var maskToken: Int32
    /// Of the chosen positions: replaced by `maskToken` …
    public var maskFraction: Double = 0.8
    /// … or by a random token from `randomTokens` (Caduceus: the bases); the rest keep their token.
    public var randomFraction: Double = 0.1
    public var randomTokens: [Int32]

    public init(maskToken: Int32, randomTokens: [Int32], probability: Double = 0.15,
                maskFraction: Double = 0.8, randomFraction: Double = 0.1) {
        self.maskToken = maskToken; self.randomTokens = randomTokens; self.probability = probability
        self.maskFraction = maskFraction; self.randomFraction = randomFraction
    }

    enum CodingKeys: String, CodingKey {
        case probability, maskToken = "mask_token", maskFraction = "mask_fraction", randomFraction = "random_fraction"
        case randomTokens = "random_tokens"
    }

    /// The first setting outside what masking can use, or nil.
    public var problem: String? {
        if !(probability > 0 && probability <= 1) { return "the masking probability is \(probability), expected 0 < p ≤ 1" }
        if !(maskFraction >= 0 && randomFraction >= 0 && maskFraction + randomFraction <= 1) {
            return "mask_fraction \(maskFraction) and random_fraction \(randomFraction) must be ≥ 0 and sum to at most 1"
        }
        if randomFraction > 0 && randomTokens.isEmpty { return "random_fraction is \(randomFraction) but random_tokens is empty" }
        return nil
    }

    /// Positions predicted in a sequence of `n` tokens: max(1, round(p·n)), at most n.
    public func predicted(count n: Int) -> Int { min(n, max(1, Int((probability * Double(n)).rounded()))) }

    /// Masks `tokens`: (inputs, targets) with targets −1 where nothing is predicted.
    public func apply(_ tokens: ArraySlice<Int32>, random: inout SeededRandom) -> (inputs: [Int32], targets: [Int32]) {
        let n = tokens.count
        var inputs = Array(tokens), targets = [Int32](repeating: -1, count: n)
        var order = Array(0..<n)
        for k in 0..<predicted(count: n) {                   // partial Fisher–Yates: m distinct positions
            let j = k + random.below(n - k)
            order.swapAt(k, j)
            let i = order[k]
            targets[i] = inputs[i]
            let u = Double(random.uniform())
            if u < maskFraction { inputs[i] = maskToken }
            else if u < maskFraction + randomFraction { inputs[i] = randomTokens[random.below(randomTokens.count)] }
        }
        return (inputs, targets)
    }
}
