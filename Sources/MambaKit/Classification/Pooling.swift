// Pooling.swift — how a classifier turns a sequence of hidden states into one vector.

/// Pooling of the final hidden states h (L, D) of one sequence with `len` valid positions.
///
/// - `mean`: p = (1/len) Σ_{t < len} h[t]
/// - `last`: p = h[len − 1] (for a causal backbone, the state after the whole sequence)
///
/// Positions at and after `len` (right padding) never contribute, so padding a sequence in a
/// batch does not change its result.
public enum Pooling: String, Codable, CaseIterable, Sendable {
    case mean, last
}

/// One example for sequence classification: token ids and a class id in 0..<C.
public struct LabeledSequence: Sendable, Equatable {
    public var tokens: [Int32]
    public var label: Int
    public init(tokens: [Int32], label: Int) { self.tokens = tokens; self.label = label }
}
