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
    @Option(help: ArgumentHelp("Under mpirun: seconds a rank may wait in one collective call (an all-reduce) before it reports the hang and exits, which ends the job; 0 = wait forever.", valueName: "seconds"))
    var collectiveTimeout: Double = 600

    func validate() throws {
        try Check.number(collectiveTimeout, "--collective-timeout", 0...1e7)
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
        o.threads = threads.threads ?? Distributed.defaultThreadsPerRank   // all cores, shared among this host's ranks under mpirun
        o.saveEvery = checkpoints.saveEvery; o.logEvery = max(1, checkpoints.logEvery)
        return o
    }

    /// The trainer of a language-model `train` command: with --resume the run restored from its
    /// checkpoint (model, optimiser, data order; --steps may extend it), else a new run of `newModel()`.
    func trainer(tokens: [Int32], source: String, newModel: () throws -> MambaModel) throws -> Trainer {
        if let r = model.resume { return try Trainer.resume(from: URL(fileURLWithPath: r), tokens: tokens, steps: schedule.steps, source: source) }
        return try Trainer(model: try newModel(), tokens: tokens, options: options(), source: source)
    }

    /// The trainer of a classification `train` command and its classifier, as
    /// ``trainer(tokens:source:newModel:)``: the resumed checkpoint (with classifier.json, or an older
    /// one with labels in config.json) continues as a ``SequenceClassifier``.
    func trainer(examples: [LabeledSequence], augment: ((inout [Int32], inout SeededRandom) -> Void)?, source: String,
                 newModel: () throws -> SequenceClassifier) throws -> (Trainer, SequenceClassifier) {
        var classifier: SequenceClassifier! = nil
        let trainer: Trainer
        if let r = model.resume {
            trainer = try Trainer.resume(from: URL(fileURLWithPath: r), steps: schedule.steps) { ck, _ in
                classifier = try SequenceClassifier.load(directory: ck)
                return try ClassificationObjective(model: classifier, examples: examples, augment: augment, source: source)
            }
        } else {
            classifier = try newModel()
            trainer = try Trainer(model: classifier, examples: examples, options: options(), augment: augment, source: source)
        }
        return (trainer, classifier)
    }

    /// The class labels of the run: the resumed checkpoint's, else `fresh()`.
    func labels(fresh: () throws -> [String]) throws -> [String] {
        guard let ck = try model.resumeCheckpoint() else { return try fresh() }
        return try SequenceClassifier.headConfig(in: ck).labels
    }

    /// A new classifier of `labels` on the backbone of --init (a language model, or a classifier whose
    /// tensors of the same shape are kept), --config or the size options, checked to have at least
    /// `minVocab` ids; `bidirectional` adds reverse mixers (always, when the --init model has them).
    func makeClassifier(labels: [String], pooling: Pooling, bidirectional: Bool, defaultVocab: Int? = nil,
                        minVocab: Int = 1, what: String = "") throws -> SequenceClassifier {
        let c: SequenceClassifier
        if let i = model.initFrom, try ClassifierConfig.read(from: resolveModelDirectory(i)) != nil {
            let source = try SequenceClassifier.load(directory: resolveModelDirectory(i))
            c = SequenceClassifier.fineTuning(source, labels: labels, pooling: pooling,
                                              bidirectional: bidirectional || source.head.bidirectional, seed: seed)
        } else {
            let lm = try model.makeModel(defaultVocab: defaultVocab, seed: seed)
            c = SequenceClassifier.fineTuning(lm, labels: labels, pooling: pooling,
                                              bidirectional: bidirectional || lm.config.bidirectional, seed: seed)
        }
        guard c.vocabSize >= minVocab else {
            throw CLIError.usage("the model's vocabulary has \(c.vocabSize) ids; \(what) needs \(minVocab) (--vocab-size \(minVocab))")
        }
        return c
    }

    /// A new model from --init, --config or the size options, checked to have at least `minVocab` ids.
    func makeModel(defaultVocab: Int? = nil, minVocab: Int = 1, what: String = "",
                   adjust: (inout MambaConfig) -> Void = { _ in }) throws -> MambaModel {
        let m = try model.makeModel(defaultVocab: defaultVocab, seed: seed, adjust: adjust)
        guard m.config.vocabSize >= minVocab else {
            throw CLIError.usage("the model's vocabulary has \(m.config.vocabSize) ids; \(what) needs \(minVocab) (--vocab-size \(minVocab))")
        }
        return m
    }

    /// Prints `summary` (what is trained on what) to stderr, then runs `run` to its last step with these
    /// arguments' checkpoint dtype: progress to stderr (one live line on a terminal), then the path of
    /// the saved checkpoint (with --out) to stdout.
    ///
    /// Started by `mpirun`, the run is data-parallel (Docs/Distributed.md): every rank trains its share of
    /// each global batch (--batch-size is the global batch), rank 0 alone prints and writes files, and an
    /// error on any rank is printed with the rank and ends the whole job (MPI_Abort).
    func execute(_ run: TrainingRun, summary: String) throws {
        let world = try Distributed.world()
        defer { Distributed.finish() }
        do {
            var line = summary
            if world.isDistributed {
                (world as? MPICommunicator)?.setCollectiveTimeout(collectiveTimeout)
                let trainer = run.trainer
                if model.resume != nil { trainer.useThreads(threads.threads ?? Distributed.defaultThreadsPerRank) }
                try trainer.distribute(over: world)
                let b = trainer.options.batchSize, n = world.size
                let share = b % n == 0 ? "\(b / n)" : "\(b / n)–\(b / n + 1)"
                line += "; data-parallel over \(n) ranks: \(share) of the global batch of \(b) per rank, \(trainer.options.threads) thread(s) each"
            }
            if world.isRoot { stderrLine(line) }
            run.saveDType = checkpoints.saveDtype
            try run.run(showing: Progress(.stderr))
            if world.isRoot, let out { print("saved \(try Trainer.checkpointDirectory(out).path)") }
        } catch where world.isDistributed {
            stderrLine("error: rank \(world.rank) of \(world.size): \(error)")
            world.abort(code: 1)
        }
    }
}
