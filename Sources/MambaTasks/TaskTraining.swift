// TaskTraining.swift — training and scoring a causal model on a synthetic task.
import MambaKit

/// Next-token training on freshly generated examples: each micro-batch draws `batchSize` examples
/// from the trainer's seeded generator; the loss counts only the scored positions (targets ≥ 0). With
/// a length warm-up in the spec, the examples of step s come from `spec.task(atStep: s)`.
public final class SyntheticTaskObjective: TrainingObjective {
    public let lm: MambaModel
    public let spec: TaskSpec?
    /// The generator of the current step.
    public private(set) var task: any SyntheticTask
    let tape: TrainingTape
    public var model: any TrainableModel { lm }
    /// State passing (Buitrago Ruiz & Gu 2025): each micro-batch starts from the final state of the one
    /// before (detached) instead of the empty state, so training sees the states that long inputs reach.
    /// The carried state is not part of a checkpoint: a resumed run starts it empty again.
    public var statePassing = false
    var carried: MambaState? = nil

    /// Trains on `task` at its own length throughout.
    public convenience init(model: MambaModel, task: any SyntheticTask) throws {
        try self.init(model: model, task: task, spec: nil)
    }

    /// Trains on `spec`'s task, following its length warm-up if it has one.
    public convenience init(model: MambaModel, spec: TaskSpec) throws {
        try self.init(model: model, task: spec.task(), spec: spec)
    }

    init(model: MambaModel, task: any SyntheticTask, spec: TaskSpec?) throws {
        guard model.config.vocabSize >= task.vocabSize else {
            throw TrainingError.invalidOptions("the task uses \(task.vocabSize) token ids; the model's vocabulary has \(model.config.vocabSize)")
        }
        guard model.lmHead != nil, !model.config.bidirectional else { throw ModelError.notALanguageModel }
        lm = model; self.task = task; self.spec = spec
        tape = TrainingTape(config: model.config)
    }

    public func beginStep(_ step: Int, options: TrainingOptions) throws {
        guard let spec, spec.warmup != nil else { return }
        task = try spec.task(atStep: step)   // a few checks and a struct: cheap next to a step
    }

    public func lossTerms(options o: TrainingOptions) -> Int { o.batchSize * task.scoredPerExample }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float) throws -> ObjectiveResult {
        try accumulate(options: o, random: &random, grads: grads, scale: scale, shard: .whole)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float, shard: BatchShard) throws -> ObjectiveResult {
        let batch = shard.slice((0..<o.batchSize).map { _ in task.example(&random) })   // this rank's examples
        let B = batch.count
        guard B > 0 else { return ObjectiveResult(lossSum: 0, tokens: 0) }
        var state = lm.makeState(batch: B)
        if statePassing {   // the previous micro-batch's final state (of this rank's rows), advanced in place by this one
            if let c = carried, c.batch == B { state = c }
            carried = state
        }
        let r = try lm.accumulateGradient(inputs: batch.flatMap(\.inputs), targets: batch.flatMap(\.targets),
                                          batch: B, state: state,
                                          tape: tape, grads: grads, gradScale: scale)
        return ObjectiveResult(lossSum: r.lossSum, tokens: B * task.length)
    }
}

/// Exact-match accuracy of a model on a task.
public struct TaskAccuracy: Equatable, Sendable {
    /// Fraction of scored positions predicted exactly (argmax).
    public var positions: Double
    /// Fraction of examples with every scored position right.
    public var examples: Double
    public var count: Int
}

/// How one example was scored: positions right of those scored, and the smallest logit margin
/// (target logit minus the best other logit; negative where a position is wrong).
public struct ExampleScore: Equatable, Sendable {
    public var right: Int
    public var scored: Int
    public var margin: Float
}

extension SyntheticTask {
    /// Scores `count` examples from `seed` with `model`, each run in chunks of `chunkLength` tokens with
    /// the recurrent state carried (so memory is bounded at any length; chunks equal one pass).
    /// `perExample`, if given, sees every example with its score (index, example, score), in order.
    public func accuracy(of model: MambaModel, count: Int, seed: UInt64, chunkLength: Int = 4096,
                         perExample: ((Int, TaskExample, ExampleScore) throws -> Void)? = nil) throws -> TaskAccuracy {
        let V = model.config.vocabSize
        var right = 0, total = 0, whole = 0
        for (index, e) in examples(count, seed: seed).enumerated() {
            let state = model.makeState(batch: 1)
            var score = ExampleScore(right: 0, scored: 0, margin: .infinity)
            var start = 0
            while start < e.inputs.count {
                let end = min(e.inputs.count, start + max(1, chunkLength))
                let scored = (start..<end).filter { e.targets[$0] >= 0 }
                let logits = try model.logits(tokens: Array(e.inputs[start..<end]), state: state)
                for p in scored {   // right ⇔ the target's logit beats every other one (margin > 0; a tie is wrong)
                    let row = (p - start) * V, target = Int(e.targets[p])   // logits[row ..< row + V]: (V)
                    var other = -Float.infinity
                    for v in 0..<V where v != target { other = max(other, logits[row + v]) }
                    let margin = logits[row + target] - other
                    score.scored += 1
                    score.margin = min(score.margin, margin)
                    if margin > 0 { score.right += 1 }
                }
                start = end
            }
            right += score.right; total += score.scored
            if score.right == score.scored { whole += 1 }
            try perExample?(index, e, score)
        }
        return TaskAccuracy(positions: Double(right) / Double(max(total, 1)), examples: Double(whole) / Double(max(count, 1)), count: count)
    }
}
