// Trainer.swift — the training loop: data windows, gradient accumulation, truncated backprop
// through time for long windows, AdamW, non-finite guards and exactly-resumable checkpoints.
import Foundation
import _MambaKernels

/// Errors of a training run.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The loss or gradient of a step is NaN or infinite; nothing was updated or written.
    case nonFinite(step: Int, what: String)
    /// Not enough tokens for one window.
    case notEnoughTokens(have: Int, need: Int, source: String)
    /// A checkpoint to resume from is missing or inconsistent.
    case badCheckpoint(path: String, detail: String)
    /// Options that cannot work together.
    case invalidOptions(String)

    public var description: String {
        switch self {
        case let .nonFinite(step, what):
            return "training error: step \(step): \(what) is not finite — no update was applied and no checkpoint written; lower --lr, set --grad-clip, or pass --skip-nonfinite to skip such steps"
        case let .notEnoughTokens(have, need, source):
            return "training error: \(source): \(have) tokens, but one window needs \(need) (seq-len + 1) — use a shorter --seq-len or more data"
        case let .badCheckpoint(path, detail):
            return "training error: \(path): \(detail) — pass the --out directory of an earlier run (it holds 'latest') or one of its checkpoint-* directories"
        case let .invalidOptions(s):
            return "training error: \(s)"
        }
    }
}

/// Options of a run (saved in each checkpoint, so a resumed run continues with the same ones).
public struct TrainingOptions: Codable, Equatable, Sendable {
    public var seqLen = 256
    public var batchSize = 8
    public var steps = 100
    /// Micro-batches accumulated per update.
    public var gradAccumulation = 1
    /// Truncated backprop through time: process each window in chunks of this many tokens, carrying
    /// the (detached) scan and conv states between chunks. 0 = whole window at once.
    public var chunkLength = 0
    public var seed: UInt64 = 1
    public var threads = Parallel.defaultThreads
    public var skipNonFinite = false
    public var saveEvery = 0
    public var logEvery = 10
    public var adamw = AdamWOptions()
    /// Sequence-length warm-up (language-model objectives): nil = every step at seq-len.
    public var lengthWarmup: LengthWarmup? = nil

    public init() {}

    /// (window length, batch size) of optimiser step `step`: the length warm-up's stage, or (seq-len, batch size).
    public func windowStage(step: Int) -> (length: Int, batch: Int) {
        lengthWarmup?.stage(step: step, seqLen: seqLen, batchSize: batchSize) ?? (seqLen, batchSize)
    }

    /// The first option (by its trainer_state.json key) outside what a run can use, or nil: counts and
    /// sizes in sane ranges, rates finite and in range. Checked when a run resumes, before anything is built.
    public var problem: String? {
        func range(_ v: Int, _ key: String, _ r: ClosedRange<Int>) -> String? {
            r.contains(v) ? nil : "\(key) is \(v), outside \(r.lowerBound)…\(r.upperBound)"
        }
        func real(_ v: Float, _ key: String, _ ok: (Float) -> Bool, _ allowed: String) -> String? {
            v.isFinite && ok(v) ? nil : "\(key) is \(v), expected \(allowed)"
        }
        let maxCount = Int(Int32.max)
        let a = adamw
        let counts: [String?] = [
            range(seqLen, "options.seq_len", 1...(1 << 24)), range(batchSize, "options.batch_size", 1...(1 << 24)),
            range(steps, "options.steps", 1...maxCount), range(gradAccumulation, "options.grad_accumulation", 1...(1 << 20)),
            range(chunkLength, "options.chunk_length", 0...(1 << 24)), range(threads, "options.threads", 1...Parallel.maximumThreads),
            range(saveEvery, "options.save_every", 0...maxCount), range(logEvery, "options.log_every", 0...maxCount),
            range(a.warmupSteps, "options.adamw.warmup_steps", 0...maxCount),
        ]
        let rates: [String?] = [
            real(a.learningRate, "options.adamw.learning_rate", { $0 >= 0 }, "a finite rate ≥ 0"),
            real(a.beta1, "options.adamw.beta1", { (0..<1).contains($0) }, "0 ≤ β1 < 1"),
            real(a.beta2, "options.adamw.beta2", { (0..<1).contains($0) }, "0 ≤ β2 < 1"),
            real(a.eps, "options.adamw.eps", { $0 > 0 }, "a finite ε > 0"),
            real(a.weightDecay, "options.adamw.weight_decay", { $0 >= 0 }, "a finite decay ≥ 0"),
            real(a.gradClip, "options.adamw.grad_clip", { $0 >= 0 }, "a finite norm ≥ 0 (0 = off)"),
            real(a.minLearningRateRatio, "options.adamw.min_lr_ratio", { (0...1).contains($0) }, "a ratio in 0…1"),
        ]
        return (counts + rates + [lengthWarmup?.problem(seqLen: seqLen)]).compactMap { $0 }.first
    }

    enum CodingKeys: String, CodingKey {
        case seqLen = "seq_len", batchSize = "batch_size", steps, gradAccumulation = "grad_accumulation"
        case chunkLength = "chunk_length", seed, threads, skipNonFinite = "skip_nonfinite", saveEvery = "save_every"
        case logEvery = "log_every", adamw, lengthWarmup = "length_warmup"
    }
}

/// What one step did.
public struct StepReport: Sendable {
    public var step: Int
    public var loss: Double
    public var gradNorm: Double
    public var learningRate: Float
    public var tokens: Int
    public var seconds: Double
    public var skipped: Bool
    /// Classification: the fraction of the step's examples classified correctly (before the update).
    public var accuracy: Double? = nil
    /// Data-parallel runs: seconds this rank spent in the step's all-reduces (gradient block and loss
    /// sums), waiting for slower ranks included; 0 for one process.
    public var allreduceSeconds: Double = 0
}

/// Trains a model with AdamW on a ``TrainingObjective`` (language modelling, classification, or one
/// a user writes): gradient accumulation, clipping, warm-up and decay, non-finite guards, and
/// checkpoints that resume bit-identically. The trainer owns the seeded data stream; the objective
/// draws each micro-batch from it.
public final class Trainer {
    public let objective: any TrainingObjective
    public let optimizer: AdamW
    public var options: TrainingOptions
    /// Where in the data the next batches come from: the state of the seeded generator.
    public private(set) var dataRandom: SeededRandom
    let grads: FloatBuffer
    /// The ranks of the run (``distribute(over:)``); one process by default.
    public private(set) var communicator: any Communicator = SingleProcessCommunicator()

    /// The model being trained.
    public var trainee: any TrainableModel { objective.model }

    /// The model being trained, for the built-in objectives over a ``MambaModel`` (language model or
    /// token classifier); use ``trainee`` for any other model.
    public var model: MambaModel {
        guard let m = objective.model as? MambaModel else {
            preconditionFailure("this trainer trains a \(type(of: objective.model)); use trainer.trainee")
        }
        return m
    }

    /// The classifier being trained, for ``ClassificationObjective`` runs (a ``SequenceClassifier``, or an
    /// older ``MambaModel`` with labels).
    public var classifier: any TokenClassifier {
        guard let m = objective.model as? any TokenClassifier else {
            preconditionFailure("this trainer trains a \(type(of: objective.model)), not a token classifier; use trainer.trainee")
        }
        return m
    }

    /// Language-model training on one token stream: windows of seq-len + 1 tokens at random offsets.
    public convenience init(model: MambaModel, tokens: [Int32], options: TrainingOptions, source: String = "tokens") throws {
        try Self.checkOptions(options)
        try self.init(objective: LanguageModelObjective(model: model, tokens: tokens, seqLen: options.seqLen, source: source),
                      options: options)
    }

    /// Classification training (see ``ClassificationObjective``). The loss is the mean cross-entropy per example.
    public convenience init(model: any TokenClassifier, examples: [LabeledSequence], options: TrainingOptions,
                            augment: ((inout [Int32], inout SeededRandom) -> Void)? = nil, source: String) throws {
        try Self.checkOptions(options)
        try self.init(objective: ClassificationObjective(model: model, examples: examples, augment: augment, source: source),
                      options: options)
    }

    static func checkOptions(_ options: TrainingOptions) throws {
        if let problem = options.problem { throw TrainingError.invalidOptions(problem) }
    }

    /// Training of `objective.model` on any objective.
    public init(objective: any TrainingObjective, options: TrainingOptions) throws {
        try Self.checkOptions(options)
        if let lm = objective.model as? MambaModel, lm.weightFormat != .f32 {
            throw TrainingError.invalidOptions("the model holds its matrices in \(lm.weightFormat.rawValue) (inference only); training needs f32 weights — load it without a weight format (or convertWeights(to: .f32)) first")
        }
        self.objective = objective
        self.options = options
        var adam = options.adamw
        adam.totalSteps = options.steps
        self.options.adamw = adam
        let model = objective.model
        optimizer = AdamW(layout: model.layout, options: adam)
        optimizer.threads = options.threads
        dataRandom = SeededRandom(seed: options.seed)
        grads = FloatBuffer(count: model.parameters.count)
        model.threads = options.threads
        MambaRuntime.blasThreads = options.threads
    }

    /// Updates done so far.
    public var step: Int { optimizer.step }

    /// Runs the model, the optimiser and OpenBLAS on `n` threads from now on (saved in later checkpoints'
    /// options); e.g. one thread per rank when a run resumes under mpirun.
    public func useThreads(_ n: Int) {
        options.threads = n
        optimizer.threads = n
        trainee.threads = n
        MambaRuntime.blasThreads = n
    }

    /// Makes this trainer one rank of a data-parallel run: every step, each rank draws the whole batch from
    /// the same seeded stream and computes its ``BatchShard`` of it, the gradient blocks and loss sums are
    /// summed over the ranks (MPI_Allreduce), and every rank applies the same clipping and AdamW update to
    /// the same summed gradient, so the parameters stay identical. The options (batch size included) are
    /// the global ones: N ranks train what one process with the same options trains, to float rounding.
    /// Call on every rank before the first step; it broadcasts rank 0's parameters and moments (so all
    /// ranks start identical whatever their initialisation) and checks that the ranks agree on the model
    /// size, step, options and data position.
    /// - Throws: ``DistributedError/cannotSplit(_:)`` when a batch has fewer items than ranks,
    ///   ``DistributedError/ranksDisagree(_:)``, ``DistributedError/callFailed(_:)``.
    public func distribute(over communicator: any Communicator) throws {
        let n = communicator.size
        if n > 1 {
            let smallest = Swift.min(options.batchSize, options.windowStage(step: options.steps - 1).batch,
                                     options.windowStage(step: 0).batch)
            guard smallest >= n else {
                throw DistributedError.cannotSplit("a batch of \(smallest) cannot be split over \(n) ranks (--batch-size is the global batch: pass at least \(n), ideally a multiple of \(n))")
            }
            // Agreement: the same numbers on every rank (max = min over ranks).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]   // the same bytes in every process
            let optionsHash = (try? encoder.encode(OptionsForAgreement(options))).map { Self.fnv1a($0) } ?? 0
            let mine: [Double] = [Double(trainee.parameters.count), Double(step), Double(optionsHash % (1 << 52)),
                                  Double(dataRandom.stateWords[0] % (1 << 52))]
            var high = mine, low = mine.map { -$0 }
            try communicator.allreduceMax(&high)
            try communicator.allreduceMax(&low)
            let names = ["parameter count", "step (resumed from different checkpoints?)", "training options (hash)", "data position"]
            for i in mine.indices where high[i] != -low[i] {
                throw DistributedError.ranksDisagree("not all ranks have the same \(names[i]) (rank \(communicator.rank): \(Int(mine[i])))")
            }
            try communicator.broadcast(trainee.parameters, root: 0)
            try communicator.broadcast(optimizer.m, root: 0)
            try communicator.broadcast(optimizer.v, root: 0)
            trainee.refreshDerived()
        }
        self.communicator = communicator
    }

    /// The options every rank must share (threads may differ between hosts).
    struct OptionsForAgreement: Encodable {
        var o: TrainingOptions
        init(_ options: TrainingOptions) { o = options; o.threads = 1 }
    }

    static func fnv1a(_ data: Data) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// One optimiser step: `gradAccumulation` micro-batches, mean loss over all loss terms, clipping,
    /// AdamW. A non-finite loss or gradient throws (or skips the update with `skipNonFinite`); the
    /// parameters are then unchanged.
    public func trainStep() throws -> StepReport {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try objective.beginStep(step, options: options)
        let terms = options.gradAccumulation * objective.lossTerms(options: options)
        grads.zero()
        var lossSum = 0.0, tokenCount = 0, correct: Int? = nil
        let shard = communicator.shard
        for _ in 0..<options.gradAccumulation {
            let r = try objective.accumulate(options: options, random: &dataRandom, grads: grads, scale: 1 / Float(terms), shard: shard)
            lossSum += r.lossSum; tokenCount += r.tokens
            if let c = r.correct { correct = (correct ?? 0) + c }
        }
        var reduceSeconds = 0.0
        if communicator.isDistributed {   // Σ over ranks: each shard's gradient is already scaled by 1/terms of the whole step
            let tr = DispatchTime.now().uptimeNanoseconds
            try communicator.allreduceSum(grads)
            var sums = [lossSum, Double(tokenCount), Double(correct ?? 0)]
            try communicator.allreduceSum(&sums)
            lossSum = sums[0]; tokenCount = Int(sums[1])
            if correct != nil { correct = Int(sums[2]) }
            reduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - tr) * 1e-9
        }
        var report = try finishStep(lossSum: lossSum, count: terms, tokens: tokenCount, started: t0)
        report.accuracy = correct.map { Double($0) / Double(terms) }
        report.allreduceSeconds = reduceSeconds
        return report
    }

    /// Mean loss, non-finite guard, clipping and the AdamW update of the accumulated gradient.
    func finishStep(lossSum: Double, count: Int, tokens tokenCount: Int, started t0: UInt64) throws -> StepReport {
        let tGrad = DispatchTime.now().uptimeNanoseconds
        let loss = lossSum / Double(count)
        let nextStep = optimizer.step + 1
        let norm = AdamW.globalNorm(grads, threads: options.threads)
        let finite = loss.isFinite && norm.isFinite
        var lr: Float = optimizer.options.learningRate(step: nextStep)
        if !finite {
            if !options.skipNonFinite {
                throw TrainingError.nonFinite(step: nextStep, what: loss.isFinite ? "the gradient norm" : "the loss")
            }
            optimizer.step += 1           // the step is consumed (schedule moves on), parameters untouched
        } else {
            lr = optimizer.update(parameters: trainee.parameters, grads: grads, gradNorm: norm).lr
            trainee.refreshDerived()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        if MambaRuntime.profiling {
            FileHandle.standardError.write(Data(String(format: "step: forward+backward %.3f s, optimizer %.3f s\n",
                Double(tGrad - t0) * 1e-9, Double(DispatchTime.now().uptimeNanoseconds - tGrad) * 1e-9).utf8))
        }
        return StepReport(step: optimizer.step, loss: loss, gradNorm: norm, learningRate: lr,
                          tokens: tokenCount, seconds: seconds, skipped: !finite)
    }

    // MARK: - Checkpoints

    /// Writes a checkpoint `out/checkpoint-<step>/` (config.json + model.safetensors in the Hugging
    /// Face format, optimizer.safetensors with both moments and the float32 master weights,
    /// trainer_state.json with the step, options and data position), then points `out/latest` at it
    /// and removes older checkpoints. `extraFiles` may add files (a tokenizer) to the directory
    /// before it is moved into place. Every file is written to a temporary directory and fsynced
    /// first, and `latest` is replaced atomically, so a kill at any moment leaves the previous
    /// checkpoint usable; old checkpoints are renamed aside before they are deleted, so no
    /// half-deleted `checkpoint-*` directory is ever left, and leftovers of a killed run are cleared
    /// at the next save or resume (``clearLeftovers(in:)``).
    @discardableResult
    public func saveCheckpoint(to out: URL, modelDType: SafetensorsDType = .f32,
                               extraFiles: ((URL) throws -> Void)? = nil) throws -> URL {
        let fm = FileManager.default
        let name = String(format: "checkpoint-%08d", step)
        let final = out.appendingPathComponent(name)
        Self.clearLeftovers(in: out)
        let tmp = out.appendingPathComponent(".tmp-\(name)-\(getpid())")
        do {
            try fm.createDirectory(at: out, withIntermediateDirectories: true)
            try? fm.removeItem(at: tmp)
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: out.path, reason: error.localizedDescription)
        }
        try trainee.save(to: tmp, dtype: modelDType)
        let n = trainee.parameters.count
        try SafetensorsWriter.write([
            .init(name: "adamw.m", shape: [n], data: UnsafeBufferPointer(start: optimizer.m.pointer, count: n)),
            .init(name: "adamw.v", shape: [n], data: UnsafeBufferPointer(start: optimizer.v.pointer, count: n)),
            .init(name: "master_weights", shape: [n], data: UnsafeBufferPointer(start: trainee.parameters.pointer, count: n)),
        ], metadata: ["format": "mambakit-optimizer"], to: tmp.appendingPathComponent("optimizer.safetensors"))
        let state = TrainerState(step: step, dataRandom: dataRandom.stateWords.map { String($0) }, options: options,
                                 parameterCount: n)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(state), to: tmp.appendingPathComponent("trainer_state.json"))
        try extraFiles?(tmp)   // e.g. the tokenizer, so the checkpoint is self-contained
        // The same step saved again: the old directory goes aside (restored by clearLeftovers if a kill
        // comes before the new one is in place), the new one moves in, then the old one is deleted.
        let aside = out.appendingPathComponent(".trash-\(name)-\(getpid())")
        if fm.fileExists(atPath: final.path) { try? fm.removeItem(at: aside); try? fm.moveItem(at: final, to: aside) }
        do { try fm.moveItem(at: tmp, to: final) } catch {
            throw CheckpointError.writeFailed(path: final.path, reason: error.localizedDescription)
        }
        AtomicFile.syncDirectory(out)
        try AtomicFile.write(Data((name + "\n").utf8), to: out.appendingPathComponent("latest"))
        try? fm.removeItem(at: aside)
        // Older checkpoints go only after `latest` names the new one, each renamed aside first.
        if let items = try? fm.contentsOfDirectory(atPath: out.path) {
            for item in items where item.hasPrefix("checkpoint-") && item != name {
                try? Self.discard(out.appendingPathComponent(item), in: out)
            }
        }
        return final
    }

    /// Removes a checkpoint directory so that a kill at any moment leaves either the whole directory or
    /// nothing under its name: it is renamed to `.trash-<name>-<pid>` (one atomic step), the directory is
    /// synced, then the renamed copy is deleted. A leftover `.trash-*` is cleared by ``clearLeftovers(in:)``.
    static func discard(_ dir: URL, in out: URL) throws {
        let trash = out.appendingPathComponent(".trash-\(dir.lastPathComponent)-\(getpid())")
        try? FileManager.default.removeItem(at: trash)
        try FileManager.default.moveItem(at: dir, to: trash)
        AtomicFile.syncDirectory(out)
        try FileManager.default.removeItem(at: trash)
    }

    /// Deletes what a killed run can leave in an output directory: half-written `.tmp-checkpoint-*` and
    /// half-deleted `.trash-checkpoint-*` directories. Complete checkpoints and `latest` are never touched;
    /// when `latest` names a checkpoint that was renamed aside (a kill while the same step was being
    /// saved again), that checkpoint is moved back instead. Called before every save and when a run resumes.
    public static func clearLeftovers(in out: URL) {
        let fm = FileManager.default
        guard let items = try? fm.contentsOfDirectory(atPath: out.path) else { return }
        let latest = (fm.contents(atPath: out.appendingPathComponent("latest").path)
            .flatMap { String(data: $0, encoding: .utf8) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        for item in items.sorted() where item.hasPrefix(".trash-checkpoint-") {
            let named = String(item.dropFirst(".trash-".count).prefix("checkpoint-00000000".count))
            let url = out.appendingPathComponent(item), target = out.appendingPathComponent(named)
            if named == latest, !fm.fileExists(atPath: target.path), (try? fm.moveItem(at: url, to: target)) != nil { continue }
            try? fm.removeItem(at: url)
        }
        for item in items where item.hasPrefix(".tmp-checkpoint-") { try? fm.removeItem(at: out.appendingPathComponent(item)) }
        AtomicFile.removeLeftoverTemporaries(of: out.appendingPathComponent("latest"))   // a kill while `latest` was replaced
        AtomicFile.syncDirectory(out)
    }

    /// Resolves a checkpoint directory: `dir` itself if it holds trainer_state.json, or the one `dir/latest` names.
    public static func checkpointDirectory(_ dir: URL) throws -> URL {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("trainer_state.json").path) { return dir }
        let latest = dir.appendingPathComponent("latest")
        try FileChecks.requireRegularFile(path: latest.path) { TrainingError.badCheckpoint(path: latest.path, detail: $0) }
        guard let data = fm.contents(atPath: latest.path),
              let name = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty
        else { throw TrainingError.badCheckpoint(path: dir.path, detail: "no trainer_state.json and no 'latest' file") }
        let ck = dir.appendingPathComponent(name)
        guard fm.fileExists(atPath: ck.appendingPathComponent("trainer_state.json").path) else {
            throw TrainingError.badCheckpoint(path: ck.path, detail: "'latest' names a checkpoint without trainer_state.json")
        }
        return ck
    }

    /// Restores a trainer from a checkpoint written by ``saveCheckpoint(to:modelDType:extraFiles:)`` so that it
    /// continues bit-identically (same data order, moments, step, float32 weights). `steps` may
    /// extend the run.
    public static func resume(from dir: URL, tokens: [Int32], steps: Int? = nil, source: String = "tokens") throws -> Trainer {
        try resume(from: dir, steps: steps) { model, options in
            try Trainer(model: model, tokens: tokens, options: options, source: source)
        }
    }

    /// Restores a classification run (see ``resume(from:tokens:steps:source:)``); `augment` is given again.
    /// A checkpoint with `classifier.json` continues as a ``SequenceClassifier``, an older one (labels in
    /// config.json) as the ``MambaModel`` it was trained as.
    public static func resume(from dir: URL, examples: [LabeledSequence], steps: Int? = nil,
                              augment: ((inout [Int32], inout SeededRandom) -> Void)? = nil, source: String) throws -> Trainer {
        try restore(from: dir, steps: steps) { ck, options in
            let model: any TokenClassifier = try ClassifierConfig.read(from: ck) != nil
                ? SequenceClassifier.load(directory: ck) : MambaModel.load(directory: ck)
            return try Trainer(model: model, examples: examples, options: options, augment: augment, source: source)
        }
    }

    static func resume(from dir: URL, steps: Int?, make: (MambaModel, TrainingOptions) throws -> Trainer) throws -> Trainer {
        try restore(from: dir, steps: steps) { ck, options in try make(MambaModel.load(directory: ck), options) }
    }

    /// Restores a run of any objective: `objective` gets the checkpoint directory and the saved options,
    /// loads its model from that directory and returns the objective over it; the master weights,
    /// moments, step and data position are then restored as for the built-in objectives.
    public static func resume(from dir: URL, steps: Int? = nil,
                              objective: (URL, TrainingOptions) throws -> any TrainingObjective) throws -> Trainer {
        try restore(from: dir, steps: steps) { ck, options in try Trainer(objective: objective(ck, options), options: options) }
    }

    static func restore(from dir: URL, steps: Int?, make: (URL, TrainingOptions) throws -> Trainer) throws -> Trainer {
        let ck = try checkpointDirectory(dir)
        clearLeftovers(in: ck.deletingLastPathComponent())
        let stateURL = ck.appendingPathComponent("trainer_state.json")
        let state: TrainerState
        try FileChecks.requireRegularFile(path: stateURL.path) { TrainingError.badCheckpoint(path: stateURL.path, detail: $0) }
        do { state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: stateURL)) } catch {
            throw TrainingError.badCheckpoint(path: stateURL.path, detail: "unreadable trainer state (\(error))")
        }
        // Bound what the state asks to allocate per step (sequence length × batch) before building anything.
        let (tokensPerStep, overflow) = state.options.seqLen.multipliedReportingOverflow(by: state.options.batchSize)
        guard !overflow, tokensPerStep <= 1 << 28 else {
            throw TrainingError.badCheckpoint(path: stateURL.path, detail: "seq_len \(state.options.seqLen) × batch \(state.options.batchSize) is implausibly large (at most 2^28 tokens a step)")
        }
        if let problem = state.options.problem {
            throw TrainingError.badCheckpoint(path: stateURL.path, detail: problem)
        }
        // Four decimal UInt64 words, else the generator's precondition would trap (issue #17, fuzz-trainerstate).
        let words = state.dataRandom.compactMap { UInt64($0) }
        guard words.count == 4, state.dataRandom.count == 4 else {
            throw TrainingError.badCheckpoint(path: stateURL.path, detail: "data_random must be four unsigned 64-bit integers in decimal")
        }
        var options = state.options
        if let s = steps { options.steps = s }
        let trainer = try make(ck, options)
        let model = trainer.trainee
        guard state.parameterCount == model.parameters.count else {
            throw TrainingError.badCheckpoint(path: ck.path, detail: "trainer_state.json is for \(state.parameterCount) parameters, the model has \(model.parameters.count)")
        }
        let opt = try SafetensorsFile(url: ck.appendingPathComponent("optimizer.safetensors"))
        try opt.readFloat32("master_weights", into: model.parameters.buffer)
        model.refreshDerived()
        try opt.readFloat32("adamw.m", into: trainer.optimizer.m.buffer)
        try opt.readFloat32("adamw.v", into: trainer.optimizer.v.buffer)
        trainer.optimizer.step = state.step
        trainer.dataRandom.stateWords = words
        return trainer
    }
}

/// trainer_state.json
struct TrainerState: Codable {
    var step: Int
    /// The data generator's four state words, as decimal strings (JSON numbers lose 64-bit precision).
    var dataRandom: [String]
    var options: TrainingOptions
    var parameterCount: Int

    enum CodingKeys: String, CodingKey {
        case step, dataRandom = "data_random", options, parameterCount = "parameter_count"
    }
}
