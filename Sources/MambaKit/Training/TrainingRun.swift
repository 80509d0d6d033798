// TrainingRun.swift — a Trainer driven to its last step: progress lines, metrics.jsonl,
// periodic validation, loss_curve.svg and checkpoints. Front ends plug in their validation
// and the files a checkpoint must carry (e.g. a tokenizer). In a data-parallel run (the trainer's
// communicator has several ranks) every rank trains, rank 0 alone logs and writes files.
import Foundation

public final class TrainingRun {
    public let trainer: Trainer
    /// Validate every N steps and at the last step (0 = never).
    public var evalEvery: Int
    public var outDirectory: URL?
    public var saveDType: SafetensorsDType = .f32
    /// Held-out figures, e.g. [("val_loss", nats), ("val_bits_per_byte", …)]; the first is the plotted loss.
    public var validate: (() throws -> [(String, Double)])?
    /// Data-parallel runs: true when ``validate`` splits the held-out data over the trainer's ranks and
    /// reduces its figures (then every rank calls it, in step); false: rank 0 alone validates while the
    /// other ranks go on to the next step's all-reduce and wait there.
    public var validationIsSplit = false
    /// Adds files to each checkpoint before it is moved into place.
    public var extraFiles: ((URL) throws -> Void)?
    /// Called after every step, before that step's line (if any) goes to `log`: the step's report, the
    /// held-out figures computed at it (usually none), tokens per second so far and the estimated
    /// seconds left — e.g. for a live progress line.
    public var onStep: ((StepReport, [(String, Double)], _ tokensPerSecond: Double, _ secondsLeft: Double) -> Void)?
    public private(set) var trainCurve: [(Double, Double)] = []
    public private(set) var valCurve: [(Double, Double)] = []

    public init(trainer: Trainer, evalEvery: Int = 0, outDirectory: URL? = nil) {
        self.trainer = trainer; self.evalEvery = evalEvery; self.outDirectory = outDirectory
    }

    /// Runs until `trainer.options.steps`; `log` gets a progress line every `logEvery` steps,
    /// at validations and at the end.
    public func run(log: (String) -> Void) throws {
        let o = trainer.options
        let root = trainer.communicator.isRoot, distributed = trainer.communicator.isDistributed
        var metrics: FileHandle? = nil
        if let out = outDirectory, root {
            do {
                try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
                let url = out.appendingPathComponent("metrics.jsonl")
                if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
                metrics = try FileHandle(forWritingTo: url)
            } catch {
                throw CheckpointError.writeFailed(path: out.path, reason: error.localizedDescription)
            }
            metrics?.seekToEndOfFile()
        }
        defer { try? metrics?.close() }
        let start = Date()
        var tokens = 0, stepsHere = 0
        while trainer.step < o.steps {
            let r = try trainer.trainStep()
            tokens += r.tokens; stepsHere += 1
            let elapsed = Date().timeIntervalSince(start)
            trainCurve.append((Double(r.step), r.loss))
            var figures: [(String, Double)] = []
            if let v = validate, evalEvery > 0, r.step % evalEvery == 0 || r.step == o.steps, root || validationIsSplit {
                figures = try v()
                if let first = figures.first { valCurve.append((Double(r.step), first.1)) }
                writeCurve()
            }
            let rate = Double(tokens) / max(elapsed, 1e-9)
            var line = "{\"step\": \(r.step), \"loss\": \(r.loss), \"lr\": \(r.learningRate), \"grad_norm\": \(r.gradNorm), \"tokens_per_second\": \(Int(rate)), \"skipped\": \(r.skipped)"
            if let a = r.accuracy { line += ", \"train_accuracy\": \(a)" }
            if distributed { line += ", \"ranks\": \(trainer.communicator.size), \"allreduce_seconds\": \(r.allreduceSeconds), \"step_seconds\": \(r.seconds)" }
            for (k, v) in figures { line += ", \"\(k)\": \(v)" }
            metrics?.write(Data((line + "}\n").utf8))
            let eta = Double(o.steps - r.step) * elapsed / Double(stepsHere)
            guard root else { continue }
            onStep?(r, figures, rate, eta)
            if r.step % max(1, o.logEvery) == 0 || r.step == o.steps || !figures.isEmpty || r.skipped {
                var text = String(format: "step %d/%d  loss %.4f  grad_norm %.3f  lr %.2e  %.0f tokens/s  eta %.0fs",
                                  r.step, o.steps, r.loss, r.gradNorm, r.learningRate, rate, eta)
                if let a = r.accuracy { text += String(format: "  train acc %.3f", a) }
                for (k, v) in figures { text += String(format: "  %@ %.4f", k.replacingOccurrences(of: "_", with: " "), v) }
                if r.skipped { text += "  (non-finite: skipped)" }
                log(text)
            }
            if let out = outDirectory, o.saveEvery > 0, r.step % o.saveEvery == 0, r.step < o.steps { try save(out) }
        }
        guard root else { return }
        writeCurve()
        if let out = outDirectory { try save(out) }
    }

    @discardableResult
    public func save(_ out: URL) throws -> URL {
        try trainer.saveCheckpoint(to: out, modelDType: saveDType, extraFiles: extraFiles)
    }

    func writeCurve() {
        guard let out = outDirectory, !trainCurve.isEmpty, trainer.communicator.isRoot else { return }
        var series = [LossCurve.Series(name: "train loss", color: "#1f77b4", points: trainCurve)]
        if !valCurve.isEmpty { series.append(.init(name: "validation loss", color: "#d62728", points: valCurve)) }
        let svg = LossCurve.svg(series, title: "MambaKit training — \(trainer.trainee.parameterCount) parameters")
        try? Data(svg.utf8).write(to: out.appendingPathComponent("loss_curve.svg"), options: .atomic)
    }
}
