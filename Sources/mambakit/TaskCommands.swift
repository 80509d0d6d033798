// TaskCommands.swift — `mambakit task train|eval`: the Mamba paper's synthetic tasks (Selective Copying,
// Induction Heads) and MQAR, generated on the fly, trained through the language-model path with the loss
// on the positions that count, scored by exact match.
import ArgumentParser
import Foundation
import MambaKit
import MambaTasks

extension TaskSpec.Name: ExpressibleByArgument {}

struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Synthetic tasks: selective-copying, induction-heads, mqar (train, eval).",
        subcommands: [TaskTrainCommand.self, TaskEvalCommand.self])
}

/// Which task, with its parameters (defaults: the paper's settings).
struct TaskOptions: ParsableArguments {
    @Argument(help: "selective-copying, induction-heads or mqar.") var name: TaskSpec.Name
    @Option(help: "Selective copying: spread (default 4096); induction heads / MQAR: length (default 256).") var length: Int?
    @Option(help: "Selective copying: tokens to copy (16); MQAR: key-value pairs (16).") var items: Int?
    @Option(help: "Data vocabulary (16), or MQAR's key and value vocabulary (64).") var vocabulary: Int?
    @OptionGroup var warmup: LengthWarmupOptions

    var spec: TaskSpec {
        var s = TaskSpec.defaults(name)
        if let l = length { s.length = l }
        if let i = items { s.items = i }
        if let v = vocabulary { s.vocabulary = v }
        s.warmup = warmup.schedule
        return s
    }

    func validate() throws {
        try Check.int(warmup.warmupLength, "--warmup-length", 4...spec.length)
        _ = try spec.task()
        if let w = warmup.warmupLength {
            do { _ = try spec.at(length: w).task() } catch {
                throw optionError(option: "--warmup-length", value: "\(w)", allowed: "a length the task fits in (\(error))")
            }
        }
    }
}

struct TaskTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a causal model on freshly generated examples of a task.",
        discussion: """
            Every step draws new examples (seeded); the loss counts only the positions that count (the copies, the \
            induction answer, the MQAR answers). The sequence length is the task's; --seq-len is ignored. Validation: \
            exact-match accuracy on --eval-count held-out examples. task.json is saved beside the model.
              mambakit task train induction-heads --d-model 64 --n-layer 2 --steps 2000 --lr 3e-3 --out runs/ih
            """)

    @OptionGroup var task: TaskOptions
    @OptionGroup var evalEvery: EvalEveryOption
    @Option(help: "Held-out examples per validation.") var evalCount: Int = 64
    @Flag(help: "State passing: every micro-batch starts from the previous one's final state (detached), not the empty state — training sees the states long inputs reach (Buitrago Ruiz & Gu 2025). Not restored by --resume.")
    var statePassing = false
    @OptionGroup var train: TrainingArguments

    func validate() throws { try Check.int(evalCount, "--eval-count", 1...1 << 20) }

    func run() throws {
        var spec = task.spec
        let trainer: Trainer
        if let r = train.model.resume {
            trainer = try Trainer.resume(from: URL(fileURLWithPath: r), steps: train.schedule.steps) { ck, _ in
                spec = try TaskSpec.read(from: ck) ?? spec   // the run's own task and warm-up
                let objective = try SyntheticTaskObjective(model: MambaModel.load(directory: ck), spec: spec)
                objective.statePassing = statePassing
                return objective
            }
        } else {
            let full = try spec.task()
            var o = train.options()
            o.seqLen = full.length
            let model = try train.makeModel(defaultVocab: full.vocabSize, minVocab: full.vocabSize, what: spec.name.rawValue)
            let objective = try SyntheticTaskObjective(model: model, spec: spec)
            objective.statePassing = statePassing
            trainer = try Trainer(objective: objective, options: o)
        }
        let generator = try spec.task()
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery.interval(default: 100, steps: trainer.options.steps),
                              outDirectory: train.out)
        run.validate = {
            let a = try generator.accuracy(of: trainer.model, count: evalCount, seed: 0x7E57)
            return [("val_error", 1 - a.positions), ("val_accuracy", a.positions), ("val_sequences_right", a.examples)]
        }
        run.extraFiles = { [spec] in try spec.write(to: $0) }
        let warm = spec.warmup.map { w in
            ", length warm-up from \(w.startLength) doubling every \(w.stageSteps) steps (full length from step \(w.fullLengthStep(target: spec.length)))"
        } ?? ""
        try train.execute(run, summary: "training \(trainer.model.parameterCount) parameters (\(trainer.model.config.ssmMixer.rawValue) mixer) on \(spec.name.rawValue) " +
                          "(length \(generator.length), vocabulary \(generator.vocabSize), \(generator.scoredPerExample) scored per example\(warm))")
    }
}

struct TaskEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Exact-match accuracy of a trained task model, at its length or at many lengths.",
        discussion: """
            --lengths scores induction heads at each length (e.g. 64,256,4096,1048576): every example runs through the \
            model in chunks with the state carried, so memory stays bounded at any length. Prints a table; --json one \
            object per length; --svg a plot of accuracy against length.
            """)

    @OptionGroup var model: ModelDirectoryOption
    @Option(help: "Examples per length.") var count: Int = 64
    @Option(help: "Comma-separated lengths (induction heads only; default: the trained length).") var lengths: String?
    @Option(help: "Seed of the evaluation examples.") var seed: UInt64 = 0x7E57
    @Option(help: "Write accuracy against length as an SVG picture.") var svg: String?
    @Option(help: "Write every example's score as JSON lines (length, index, right, scored, margin; induction heads also the trigger's position and its distance to the query), rewritten after each length.")
    var examples: String?
    @OptionGroup var json: JSONOption

    func validate() throws {
        try Check.int(count, "--count", 1...1 << 20)
        try Check.outputFile(svg, "--svg"); try Check.outputFile(examples, "--examples")
    }

    func run() throws {
        let (m, dir) = try model.load()
        guard let spec = try TaskSpec.read(from: dir) else {
            throw CLIError.usage("\(dir.path): no task.json — train the model with `mambakit task train`")
        }
        var list = [spec.length]
        if let l = lengths {
            guard spec.name == .inductionHeads else { throw CLIError.usage("--lengths: only induction heads is scored at other lengths") }
            list = try l.split(separator: ",").map { s in
                guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n >= 4, n <= 1 << 24 else {
                    throw CLIError.usage("--lengths \(l): each length must be a whole number 4…2^24")
                }
                return n
            }
        }
        var points: [(Double, Double)] = []
        var lines: [String] = []
        if !json.json { print("length      accuracy   sequences right") }
        for n in list {
            var s = spec; s.length = n
            let t0 = Date()
            let record: ((Int, TaskExample, ExampleScore) -> Void)? = examples == nil ? nil : { index, e, score in
                var line = "{\"task\": \"\(spec.name.rawValue)\", \"length\": \(n), \"index\": \(index), \"right\": \(score.right), \"scored\": \(score.scored), \"margin\": \(score.margin)"
                if spec.name == .inductionHeads, let p = e.inputs.firstIndex(of: InductionHeads.trigger) {
                    line += ", \"trigger\": \(p), \"distance\": \(n - 1 - p)"
                }
                lines.append(line + "}")
            }
            let a = try s.task().accuracy(of: m, count: count, seed: seed, perExample: record)
            if let examples {   // after every length, so a long sweep keeps what it has scored
                try AtomicFile.write(Data(lines.map { $0 + "\n" }.joined().utf8), to: URL(fileURLWithPath: examples))
            }
            points.append((Foundation.log2(Double(n)), a.positions))
            if json.json {
                print("{\"task\": \"\(spec.name.rawValue)\", \"length\": \(n), \"accuracy\": \(a.positions), \"sequences_right\": \(a.examples), \"count\": \(a.count), \"seconds\": \(Date().timeIntervalSince(t0))}")
            } else {
                print(String(format: "%-10d  %8.4f   %8.4f   (%.1f s)", n, a.positions, a.examples, Date().timeIntervalSince(t0)))
            }
            fflush(stdout)   // a sweep to 2^20 takes minutes: show each length as it finishes, also through a pipe
        }
        if let svg {
            let picture = LossCurve.svg([.init(name: spec.name.rawValue, color: "#1f77b4", points: points)],
                                        title: "\(spec.name.rawValue): accuracy against log2(length), trained at \(spec.length)",
                                        yLabel: "exact-match accuracy")
            try AtomicFile.write(Data(picture.utf8), to: URL(fileURLWithPath: svg))
        }
    }
}
