// TaskSpec.swift — a synthetic task by name and parameters, saved with a trained model as task.json.
import MambaKit

/// Which task and its parameters (`task.json` beside a trained model's config.json).
public struct TaskSpec: ModelSidecar, Equatable, Sendable {
    public static let fileName = "task.json"
    public enum Name: String, Codable, CaseIterable, Sendable {
        case selectiveCopying = "selective-copying", inductionHeads = "induction-heads", mqar
    }
    public var name: Name
    /// Selective copying: the spread (positions holding the data tokens); induction heads, MQAR: the length.
    public var length: Int
    /// Selective copying: tokens to remember; MQAR: key-value pairs. Unused by induction heads.
    public var items: Int
    /// Data (selective copying, induction heads) or key and value (MQAR) vocabulary.
    public var vocabulary: Int
    /// Length warm-up for training (nil: always the full length).
    public var warmup: LengthWarmup?

    enum CodingKeys: String, CodingKey { case name, length, items, vocabulary, warmup }

    public init(name: Name, length: Int, items: Int, vocabulary: Int) {
        self.name = name; self.length = length; self.items = items; self.vocabulary = vocabulary
    }

    /// The paper's settings, or Zoology's small MQAR grid point.
    public static func defaults(_ name: Name) -> TaskSpec {
        switch name {
        case .selectiveCopying: return TaskSpec(name: name, length: 4096, items: 16, vocabulary: 16)
        case .inductionHeads: return TaskSpec(name: name, length: 256, items: 1, vocabulary: 16)
        case .mqar: return TaskSpec(name: name, length: 256, items: 16, vocabulary: 64)
        }
    }

    /// The same task at another length (selective copying: spread).
    public func at(length n: Int) -> TaskSpec { var s = self; s.length = n; return s }

    /// The generator for training step `step`: the length the warm-up gives then (the full length without one).
    public func task(atStep step: Int) throws -> any SyntheticTask {
        try at(length: warmup?.length(atStep: step, target: length) ?? length).task()
    }

    /// The generator, or an error naming the parameter that does not fit.
    public func task() throws -> any SyntheticTask {
        func need(_ ok: Bool, _ what: String) throws { if !ok { throw TrainingError.invalidOptions("\(name.rawValue): \(what)") } }
        try need(vocabulary >= 1 && vocabulary <= 1 << 16, "vocabulary \(vocabulary) must be 1…65536")
        try need(length >= 4 && length <= 1 << 24, "length \(length) must be 4…2^24")
        switch name {
        case .selectiveCopying:
            try need(items >= 1 && items <= length, "tokens to copy \(items) must be 1…length (\(length))")
            return SelectiveCopying(spread: length, tokens: items, dataTokens: vocabulary)
        case .inductionHeads:
            return InductionHeads(length: length, dataTokens: vocabulary)
        case .mqar:
            try need(items >= 1 && items <= vocabulary && 3 * items <= length, "pairs \(items) must be 1…vocabulary and 3·pairs ≤ length")
            return AssociativeRecall(length: length, pairs: items, keyTokens: vocabulary, valueTokens: vocabulary)
        }
    }
}

// LengthWarmup (MambaKit) is the sequence-length warm-up; a task saves it in task.json
// (`warmup: {"start_length", "stage_steps"}`), so a resumed run continues the same schedule.
