// TrainingArguments.swift — the options of every `train` command (model source, schedule, threads,
// checkpoints) and the one resume-or-new path they all take to a Trainer.
import ArgumentParser
import Foundation
import MambaKit

struct TrainingArguments: ParsableArguments {
    @OptionGroup(title: "Model") var model: ModelSourceOptions
    @OptionGroup(title: "Schedule") var schedule: ScheduleOptions
    @OptionGroup var threads: ThreadsOption
    @OptionGroup(title: "Output") var checkpoints: CheckpointOptions

    func validate() throws {
        if checkpoints.saveEvery > 0 && checkpoints.output.out == nil {
            throw optionError(option: "--save-every", value: "\(checkpoints.saveEvery)", allowed: "needs --out DIR to save into")
        }
    }

    var seed: UInt64 { schedule.seed.seed }
    var seqLen: Int { schedule.seqLen }
    var out: URL? { checkpoints.output.url }

    func options() -> TrainingOptions {
        var o = TrainingOptions()
        schedule.apply(to: &o)
        o.threads = threads.count
        o.saveEvery = checkpoints.saveEvery; o.logEvery = max(1, checkpoints.logEvery)
        return o
    }

    /// What a Trainer trains on: a token stream (language models) or labelled examples (classifiers).
    enum Data {
        case tokens([Int32])
        case examples([LabeledSequence], augment: ((inout [Int32], inout SeededRandom) -> Void)?)
    }

    /// The trainer of a `train` command: with --resume the run restored from its checkpoint (model,
    /// optimiser, data order; --steps may extend it), else a new run of `newModel()` with these options.
    func trainer(_ data: Data, source: String, newModel: () throws -> MambaModel) throws -> Trainer {
        if let r = model.resume {
            let dir = URL(fileURLWithPath: r)
            switch data {
            case let .tokens(t): return try Trainer.resume(from: dir, tokens: t, steps: schedule.steps, source: source)
            case let .examples(e, augment): return try Trainer.resume(from: dir, examples: e, steps: schedule.steps, augment: augment, source: source)
            }
        }
        let m = try newModel()
        switch data {
        case let .tokens(t): return try Trainer(model: m, tokens: t, options: options(), source: source)
        case let .examples(e, augment): return try Trainer(model: m, examples: e, options: options(), augment: augment, source: source)
        }
    }

    /// The class labels of the run: the resumed checkpoint's, else `fresh()`.
    func labels(fresh: () throws -> [String]) throws -> [String] {
        guard let ck = try model.resumeCheckpoint() else { return try fresh() }
        return try MambaConfig.load(from: ck.appendingPathComponent(MambaConfig.fileName)).labels
    }

    /// A new model from --init, --config or the size options, checked to have at least `minVocab` ids.
    func makeModel(defaultVocab: Int? = nil, minVocab: Int = 1, what: String = "") throws -> MambaModel {
        let m = try model.makeModel(defaultVocab: defaultVocab, seed: seed)
        guard m.config.vocabSize >= minVocab else {
            throw CLIError.usage("the model's vocabulary has \(m.config.vocabSize) ids; \(what) needs \(minVocab) (--vocab-size \(minVocab))")
        }
        return m
    }

    /// Prints `summary` (what is trained on what) to stderr, then runs `run` to its last step with these
    /// arguments' checkpoint dtype: progress to stderr (one live line on a terminal), then the path of
    /// the saved checkpoint (with --out) to stdout.
    func execute(_ run: TrainingRun, summary: String) throws {
        stderrLine(summary)
        run.saveDType = checkpoints.saveDtype
        try run.run(showing: Progress(.stderr))
        if let out { print("saved \(try Trainer.checkpointDirectory(out).path)") }
    }
}
