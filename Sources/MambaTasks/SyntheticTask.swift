// SyntheticTask.swift — the Mamba paper's synthetic tasks (Selective Copying, Induction Heads) and
// Zoology's multi-query associative recall, as seeded, streamed generators: no data files.
//
// Every example is an input sequence and a target sequence of the same length; a target of −1 means
// "no loss here" (MambaModel.accumulateGradient skips it), so a task trains with the language-model
// machinery and is scored by exact match on the positions that count.
import MambaKit

/// One generated example: input ids (L) and targets (L), −1 where nothing is predicted.
public struct TaskExample: Equatable, Sendable {
    public var inputs: [Int32]
    public var targets: [Int32]
    /// Positions whose target counts.
    public var scored: [Int] { targets.indices.filter { targets[$0] >= 0 } }
}

/// A synthetic sequence task: a vocabulary and a seeded generator of examples.
public protocol SyntheticTask: Sendable {
    /// Token ids used by inputs and targets are in 0..<vocabSize.
    var vocabSize: Int { get }
    /// Sequence length of every example.
    var length: Int { get }
    /// Scored positions per example (the same for every example).
    var scoredPerExample: Int { get }
    /// One example drawn from `random`.
    func example(_ random: inout SeededRandom) -> TaskExample
}

extension SyntheticTask {
    /// `count` examples from `seed` (the same seed gives the same examples).
    public func examples(_ count: Int, seed: UInt64) -> [TaskExample] {
        var r = SeededRandom(seed: seed)
        return (0..<count).map { _ in example(&r) }
    }
}

/// k distinct positions from 0..<n, increasing (Floyd's algorithm, then sorted).
func distinctPositions(_ k: Int, below n: Int, _ random: inout SeededRandom) -> [Int] {
    precondition(k <= n)
    var chosen = Set<Int>()
    for j in (n - k)..<n {
        let t = random.below(j + 1)
        chosen.insert(chosen.contains(t) ? j : t)
    }
    return chosen.sorted()
}

// MARK: - Selective Copying (Mamba §4.1, Table 1)

/// Selective Copying: `tokens` data tokens are scattered at random positions among noise tokens in
/// the first `spread` positions; then `tokens` marker tokens follow, at which the model must output
/// the data tokens in order. Unlike the original Copying task the spacing is random, so a
/// time-invariant model cannot solve it by a fixed shift.
///
/// Vocabulary: 0 = noise, 1 = marker, 2 … 2 + dataTokens − 1 = data. Length = spread + tokens.
/// The paper's setting: 16 data tokens to remember, vocabulary 16, length 4096.
public struct SelectiveCopying: SyntheticTask {
    public let spread: Int, tokens: Int, dataTokens: Int
    public static let noise: Int32 = 0, marker: Int32 = 1

    public init(spread: Int = 4096, tokens: Int = 16, dataTokens: Int = 16) {
        precondition(tokens >= 1 && tokens <= spread && dataTokens >= 1)
        self.spread = spread; self.tokens = tokens; self.dataTokens = dataTokens
    }

    public var vocabSize: Int { 2 + dataTokens }
    public var length: Int { spread + tokens }
    public var scoredPerExample: Int { tokens }

    public func example(_ random: inout SeededRandom) -> TaskExample {
        var inputs = [Int32](repeating: Self.noise, count: length)
        var targets = [Int32](repeating: -1, count: length)
        let data = (0..<tokens).map { _ in Int32(2 + random.below(dataTokens)) }
        for (i, p) in distinctPositions(tokens, below: spread, &random).enumerated() { inputs[p] = data[i] }
        for i in 0..<tokens {
            inputs[spread + i] = Self.marker
            targets[spread + i] = data[i]   // predicted at the marker positions (next-token style: at the marker)
        }
        return TaskExample(inputs: inputs, targets: targets)
    }
}

// MARK: - Induction Heads (Mamba §4.1, Table 2)

/// Induction Heads: a random sequence over `dataTokens` tokens in which a special trigger token
/// appears once, followed by a key token; the sequence ends with the trigger again, and the model must
/// output the key there. The trigger occurs nowhere else.
///
/// Vocabulary: 0 = trigger, 1 … dataTokens = data. The paper trains at length 256 with vocabulary 16
/// and tests at every length up to 2^20.
public struct InductionHeads: SyntheticTask {
    public let length: Int, dataTokens: Int
    public static let trigger: Int32 = 0

    public init(length: Int = 256, dataTokens: Int = 16) {
        precondition(length >= 4 && dataTokens >= 1)
        self.length = length; self.dataTokens = dataTokens
    }

    public var vocabSize: Int { 1 + dataTokens }
    public var scoredPerExample: Int { 1 }

    /// The same task at another length (the paper's length generalisation).
    public func at(length n: Int) -> InductionHeads { InductionHeads(length: n, dataTokens: dataTokens) }

    public func example(_ random: inout SeededRandom) -> TaskExample {
        var inputs = (0..<length).map { _ in Int32(1 + random.below(dataTokens)) }
        var targets = [Int32](repeating: -1, count: length)
        let p = random.below(length - 2)           // trigger at p, key at p + 1, p + 1 < length − 1
        inputs[p] = Self.trigger
        inputs[length - 1] = Self.trigger
        targets[length - 1] = inputs[p + 1]
        return TaskExample(inputs: inputs, targets: targets)
    }
}

// MARK: - Multi-query associative recall (Zoology, Arora et al. 2023)

/// MQAR: the sequence opens with `pairs` key-value pairs (k₁ v₁ k₂ v₂ …, distinct keys); later, keys
/// appear again as queries at random positions of the rest (random filler elsewhere), and at each
/// query the model must output that key's value.
///
/// Vocabulary: 0 = filler, keys 1 … keyTokens, values keyTokens + 1 … keyTokens + valueTokens.
public struct AssociativeRecall: SyntheticTask {
    public let length: Int, pairs: Int, queries: Int, keyTokens: Int, valueTokens: Int
    public static let filler: Int32 = 0

    public init(length: Int = 256, pairs: Int = 16, queries: Int? = nil, keyTokens: Int = 64, valueTokens: Int = 64) {
        let q = queries ?? pairs
        precondition(pairs >= 1 && pairs <= keyTokens && q >= 1 && 2 * pairs + q <= length && valueTokens >= 1)
        self.length = length; self.pairs = pairs; self.queries = q; self.keyTokens = keyTokens; self.valueTokens = valueTokens
    }

    public var vocabSize: Int { 1 + keyTokens + valueTokens }
    public var scoredPerExample: Int { queries }

    public func example(_ random: inout SeededRandom) -> TaskExample {
        var inputs = [Int32](repeating: Self.filler, count: length)
        var targets = [Int32](repeating: -1, count: length)
        let keys = distinctPositions(pairs, below: keyTokens, &random).map { Int32(1 + $0) }
        var shuffled = keys
        for i in stride(from: pairs - 1, to: 0, by: -1) { shuffled.swapAt(i, random.below(i + 1)) }
        var value: [Int32: Int32] = [:]
        for (i, k) in shuffled.enumerated() {
            let v = Int32(1 + keyTokens + random.below(valueTokens))
            value[k] = v
            inputs[2 * i] = k; inputs[2 * i + 1] = v
        }
        for p in distinctPositions(queries, below: length - 2 * pairs, &random).map({ $0 + 2 * pairs }) {
            let k = shuffled[random.below(pairs)]
            inputs[p] = k
            targets[p] = value[k]!
        }
        return TaskExample(inputs: inputs, targets: targets)
    }
}
