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

    public init() {}

    enum CodingKeys: String, CodingKey {
        case seqLen = "seq_len", batchSize = "batch_size", steps, gradAccumulation = "grad_accumulation"
        case chunkLength = "chunk_length", seed, threads, skipNonFinite = "skip_nonfinite", saveEvery = "save_every"
        case logEvery = "log_every", adamw
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
}

/// Trains a ``MambaModel`` on a token sequence with AdamW.
public final class Trainer {
    public let model: MambaModel
    public let optimizer: AdamW
    public var options: TrainingOptions
    public let tokens: [Int32]
    /// Classification examples (empty for language-model training).
    public let examples: [LabeledSequence]
    /// Applied to each drawn classification example (e.g. reverse complement with probability ½).
    public let augment: ((inout [Int32], inout SeededRandom) -> Void)?
    /// Where in the data the next windows come from: the state of the seeded generator.
    public private(set) var dataRandom: SeededRandom
    let grads: FloatBuffer
    let tape: TrainingTape

    /// Language-model training on one token stream: windows of seq-len + 1 tokens at random offsets.
    public convenience init(model: MambaModel, tokens: [Int32], options: TrainingOptions, source: String = "tokens") throws {
        guard tokens.count >= options.seqLen + 1 else {
            throw TrainingError.notEnoughTokens(have: tokens.count, need: options.seqLen + 1, source: source)
        }
        if model.config.bidirectional {
            throw TrainingError.invalidOptions("a bidirectional model cannot be trained on next-token prediction")
        }
        try self.init(model: model, tokens: tokens, examples: [], augment: nil, options: options, source: source)
    }

    /// Classification training: each micro-batch draws `batchSize` examples at random (with
    /// replacement); a sequence longer than `seqLen` is cropped to a random `seqLen`-token window;
    /// `augment` is applied to each drawn example. The loss is the mean cross-entropy per example.
    public convenience init(model: MambaModel, examples: [LabeledSequence], options: TrainingOptions,
                            augment: ((inout [Int32], inout SeededRandom) -> Void)? = nil, source: String) throws {
        guard model.config.numLabels > 0 else { throw ModelError.notAClassifier }
        guard !examples.isEmpty else {
            throw TrainingError.invalidOptions("\(source): no labelled examples to train on")
        }
        for (i, e) in examples.enumerated() {
            if e.label < 0 || e.label >= model.config.numLabels {
                throw ModelError.labelOutOfRange(label: e.label, example: i, numLabels: model.config.numLabels)
            }
            if e.tokens.isEmpty { throw TrainingError.invalidOptions("\(source): example \(i) is empty") }
        }
        try self.init(model: model, tokens: [], examples: examples, augment: augment, options: options, source: source)
    }

    private init(model: MambaModel, tokens: [Int32], examples: [LabeledSequence],
                 augment: ((inout [Int32], inout SeededRandom) -> Void)?, options: TrainingOptions, source: String) throws {
        guard options.seqLen > 0, options.batchSize > 0, options.gradAccumulation > 0, options.chunkLength >= 0 else {
            throw TrainingError.invalidOptions("seq-len, batch-size and grad-accumulation must be positive")
        }
        let V = model.config.vocabSize
        if let i = tokens.firstIndex(where: { $0 < 0 || Int($0) >= V }) {
            throw ModelError.tokenOutOfRange(token: Int(tokens[i]), position: i, vocabSize: V, source: source)
        }
        for (n, e) in examples.enumerated() {
            if let i = e.tokens.firstIndex(where: { $0 < 0 || Int($0) >= V }) {
                throw ModelError.tokenOutOfRange(token: Int(e.tokens[i]), position: i, vocabSize: V, source: "\(source), example \(n)")
            }
        }
        self.model = model
        self.tokens = tokens
        self.examples = examples
        self.augment = augment
        self.options = options
        var adam = options.adamw
        adam.totalSteps = options.steps
        self.options.adamw = adam
        optimizer = AdamW(layout: model.layout, options: adam)
        optimizer.threads = options.threads
        dataRandom = SeededRandom(seed: options.seed)
        grads = FloatBuffer(count: model.parameters.count)
        tape = TrainingTape(config: model.config)
        model.threads = options.threads
        MambaRuntime.blasThreads = options.threads
    }

    /// Updates done so far.
    public var step: Int { optimizer.step }

    /// Start offsets of the next batch of windows (seq-len + 1 tokens each).
    func nextWindows() -> [Int] {
        let span = tokens.count - (options.seqLen + 1)
        return (0..<options.batchSize).map { _ in span == 0 ? 0 : dataRandom.below(span + 1) }
    }

    /// One optimiser step: `gradAccumulation` micro-batches of `batchSize` windows, mean loss over
    /// all predictions, clipping, AdamW. A non-finite loss or gradient throws (or skips the update
    /// with `skipNonFinite`); the parameters are then unchanged.
    public func trainStep() throws -> StepReport {
        if !examples.isEmpty { return try classificationStep() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let L = options.seqLen, B = options.batchSize
        let chunk = options.chunkLength > 0 ? min(options.chunkLength, L) : L
        let totalPredictions = options.gradAccumulation * B * L
        let scale = 1 / Float(totalPredictions)
        grads.zero()
        var lossSum = 0.0
        for _ in 0..<options.gradAccumulation {
            let starts = nextWindows()
            let state = model.makeState(batch: B)          // each window starts from the empty state
            var c0 = 0
            while c0 < L {                                  // chunks of the window; state carried, detached
                let n = min(chunk, L - c0)
                var inputs = [Int32](repeating: 0, count: B * n), targets = inputs
                for b in 0..<B {
                    for i in 0..<n {
                        inputs[b * n + i] = tokens[starts[b] + c0 + i]
                        targets[b * n + i] = tokens[starts[b] + c0 + i + 1]
                    }
                }
                let r = try model.accumulateGradient(inputs: inputs, targets: targets, batch: B, state: state,
                                                     tape: tape, grads: grads, gradScale: scale)
                lossSum += r.lossSum
                c0 += n
            }
        }
        return try finishStep(lossSum: lossSum, count: totalPredictions, tokens: totalPredictions, started: t0)
    }

    /// The examples of the next classification micro-batch: drawn, cropped, augmented.
    func nextExamples() -> [LabeledSequence] {
        (0..<options.batchSize).map { _ in
            var e = examples[dataRandom.below(examples.count)]
            if e.tokens.count > options.seqLen {
                let start = dataRandom.below(e.tokens.count - options.seqLen + 1)
                e.tokens = Array(e.tokens[start..<(start + options.seqLen)])
            }
            augment?(&e.tokens, &dataRandom)
            return e
        }
    }

    func classificationStep() throws -> StepReport {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let n = options.gradAccumulation * options.batchSize
        grads.zero()
        var lossSum = 0.0, correct = 0, tokenCount = 0
        for _ in 0..<options.gradAccumulation {
            let batch = nextExamples()
            tokenCount += batch.reduce(0) { $0 + $1.tokens.count }
            let r = try model.accumulateClassificationGradient(batch, tape: tape, grads: grads, gradScale: 1 / Float(n))
            lossSum += r.lossSum; correct += r.correct
        }
        var report = try finishStep(lossSum: lossSum, count: n, tokens: tokenCount, started: t0)
        report.accuracy = Double(correct) / Double(n)
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
            lr = optimizer.update(parameters: model.parameters, grads: grads, gradNorm: norm).lr
            model.refreshDerived()
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
    /// checkpoint usable.
    @discardableResult
    public func saveCheckpoint(to out: URL, modelDType: SafetensorsDType = .f32,
                               extraFiles: ((URL) throws -> Void)? = nil) throws -> URL {
        let fm = FileManager.default
        let name = String(format: "checkpoint-%08d", step)
        let final = out.appendingPathComponent(name)
        let tmp = out.appendingPathComponent(".tmp-\(name)-\(getpid())")
        do {
            try fm.createDirectory(at: out, withIntermediateDirectories: true)
            try? fm.removeItem(at: tmp)
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: out.path, reason: error.localizedDescription)
        }
        try model.save(to: tmp, dtype: modelDType)
        let n = model.parameters.count
        try SafetensorsWriter.write([
            .init(name: "adamw.m", shape: [n], data: UnsafeBufferPointer(start: optimizer.m.pointer, count: n)),
            .init(name: "adamw.v", shape: [n], data: UnsafeBufferPointer(start: optimizer.v.pointer, count: n)),
            .init(name: "master_weights", shape: [n], data: UnsafeBufferPointer(start: model.parameters.pointer, count: n)),
        ], metadata: ["format": "mambakit-optimizer"], to: tmp.appendingPathComponent("optimizer.safetensors"))
        let state = TrainerState(step: step, dataRandom: dataRandom.stateWords.map { String($0) }, options: options,
                                 parameterCount: n)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(state), to: tmp.appendingPathComponent("trainer_state.json"))
        try extraFiles?(tmp)   // e.g. the tokenizer, so the checkpoint is self-contained
        try? fm.removeItem(at: final)
        do { try fm.moveItem(at: tmp, to: final) } catch {
            throw CheckpointError.writeFailed(path: final.path, reason: error.localizedDescription)
        }
        AtomicFile.syncDirectory(out)
        try AtomicFile.write(Data((name + "\n").utf8), to: out.appendingPathComponent("latest"))
        // Older checkpoints go only after `latest` names the new one.
        if let items = try? fm.contentsOfDirectory(atPath: out.path) {
            for item in items where item.hasPrefix("checkpoint-") && item != name {
                try? fm.removeItem(at: out.appendingPathComponent(item))
            }
        }
        return final
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

    /// Restores a trainer from a checkpoint written by ``saveCheckpoint(to:modelDType:)`` so that it
    /// continues bit-identically (same data order, moments, step, float32 weights). `steps` may
    /// extend the run.
    public static func resume(from dir: URL, tokens: [Int32], steps: Int? = nil, source: String = "tokens") throws -> Trainer {
        try resume(from: dir, steps: steps) { model, options in
            try Trainer(model: model, tokens: tokens, options: options, source: source)
        }
    }

    /// Restores a classification run (see ``resume(from:tokens:steps:source:)``); `augment` is given again.
    public static func resume(from dir: URL, examples: [LabeledSequence], steps: Int? = nil,
                              augment: ((inout [Int32], inout SeededRandom) -> Void)? = nil, source: String) throws -> Trainer {
        try resume(from: dir, steps: steps) { model, options in
            try Trainer(model: model, examples: examples, options: options, augment: augment, source: source)
        }
    }

    static func resume(from dir: URL, steps: Int?, make: (MambaModel, TrainingOptions) throws -> Trainer) throws -> Trainer {
        let ck = try checkpointDirectory(dir)
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
        let model = try MambaModel.load(directory: ck)
        guard state.parameterCount == model.parameters.count else {
            throw TrainingError.badCheckpoint(path: ck.path, detail: "trainer_state.json is for \(state.parameterCount) parameters, the model has \(model.parameters.count)")
        }
        let opt = try SafetensorsFile(url: ck.appendingPathComponent("optimizer.safetensors"))
        var options = state.options
        if let s = steps { options.steps = s }
        let trainer = try make(model, options)
        try opt.readFloat32("master_weights", into: model.parameters.buffer)
        model.refreshDerived()
        try opt.readFloat32("adamw.m", into: trainer.optimizer.m.buffer)
        try opt.readFloat32("adamw.v", into: trainer.optimizer.v.buffer)
        trainer.optimizer.step = state.step
        trainer.dataRandom.stateWords = state.dataRandom.compactMap { UInt64($0) }
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
