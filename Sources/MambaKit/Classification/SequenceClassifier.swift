// SequenceClassifier.swift — a classifier composed from layers: a ``Backbone`` over token ids or
// continuous features, then a ``PooledHead``.
//
//   h       = Backbone(x)                           (B, L, D)  right-padded batch, valid lengths len_b
//   logit_b = PooledHead(h_b[0 ..< len_b])          (B, C)
//   loss    = Σ_b −log softmax(logit_b)[label_b]
//
// Files: the backbone's `config.json` (Hugging Face Mamba keys, no labels), `classifier.json` (the
// head: labels, pooling, bidirectional, input kind) and `model.safetensors` (`input_proj.*` or
// `backbone.embeddings.weight`, `backbone.layers.*`, `backbone.norm_f.weight`, `classifier.*`).
// ``load(directory:)`` also reads the older token-classifier checkpoints whose `config.json` holds
// `id2label`, `classifier_pooling` and `bidirectional`.
import Foundation

/// The head of a ``SequenceClassifier`` and what its backbone reads, saved as `classifier.json`.
public struct ClassifierConfig: ModelSidecar, Equatable, Sendable {
    public static let fileName = "classifier.json"
    /// Class names, index = class id.
    public var labels: [String]
    public var pooling: Pooling
    /// Caduceus-style BiMamba: every block adds a reverse-direction mixer.
    public var bidirectional: Bool
    /// Token ids (the backbone config's vocabulary) or `features` continuous values per step.
    public var input: BackboneInput

    public init(labels: [String], pooling: Pooling = .mean, bidirectional: Bool = false, input: BackboneInput) {
        self.labels = labels; self.pooling = pooling; self.bidirectional = bidirectional; self.input = input
    }

    enum CodingKeys: String, CodingKey { case labels, pooling, bidirectional, input, numFeatures = "num_features", vocabSize = "vocab_size" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        labels = try c.decode([String].self, forKey: .labels)
        pooling = try c.decodeIfPresent(Pooling.self, forKey: .pooling) ?? .mean
        bidirectional = try c.decodeIfPresent(Bool.self, forKey: .bidirectional) ?? false
        switch try c.decode(String.self, forKey: .input) {
        case "features": input = .features(try c.decode(Int.self, forKey: .numFeatures))
        case "tokens": input = .tokens(vocabSize: try c.decode(Int.self, forKey: .vocabSize))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .input, in: c, debugDescription: "is \"\(other)\", expected \"tokens\" or \"features\"")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(labels, forKey: .labels); try c.encode(pooling, forKey: .pooling)
        try c.encode(bidirectional, forKey: .bidirectional)
        switch input {
        case .features(let F): try c.encode("features", forKey: .input); try c.encode(F, forKey: .numFeatures)
        case .tokens(let V): try c.encode("tokens", forKey: .input); try c.encode(V, forKey: .vocabSize)
        }
    }
}

/// One example of feature input: (L, F) values row-major and a class id.
public struct LabeledFeatures: Sendable, Equatable {
    public var features: [Float]
    public var label: Int
    public init(features: [Float], label: Int) { self.features = features; self.label = label }
}

/// A sequence classifier built from layers: ``Backbone`` (embedding or input projection, Mamba blocks,
/// final norm) → ``PooledHead``, over one parameter block.
public final class SequenceClassifier: TrainableModel {
    /// The backbone's dimensions (`bidirectional` as the head config says; no labels).
    public let backboneConfig: MambaConfig
    public let head: ClassifierConfig
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    public let backbone: Backbone
    public let pooledHead: PooledHead
    public var threads: Int {
        get { backbone.threads }
        set { backbone.threads = newValue }
    }

    /// A classifier with all parameters zero (fill them, then call ``refreshDerived()``).
    public init(backbone config: MambaConfig, head: ClassifierConfig) {
        var c = config
        c.labels = []; c.bidirectional = head.bidirectional
        if case .tokens(let V) = head.input { c.vocabSize = V }
        backboneConfig = c; self.head = head
        var layout = ParameterLayout()
        let layers = Backbone.Layers(config: c, input: head.input, layout: &layout)
        pooledHead = PooledHead(classes: head.labels.count, dim: c.dModel, pooling: head.pooling, layout: &layout)
        self.layout = layout
        parameters = FloatBuffer(count: layout.count)
        backbone = Backbone(config: c, input: head.input, layers: layers, parameters: parameters)
    }

    /// mamba_ssm's initialisation for the backbone (see ``MambaModel/randomlyInitialised(config:seed:)``),
    /// U(±1/sqrt(F)) for an input projection's weight and bias, U(±1/sqrt(D)) and zero bias for the head.
    ///
    /// - Throws: ``ModelError/unsupportedInitialisation(key:value:detail:)`` as ``MambaModel/randomlyInitialised(config:seed:)``.
    public static func randomlyInitialised(backbone config: MambaConfig, head: ClassifierConfig, seed: UInt64) throws -> SequenceClassifier {
        try config.checkInitialisationKeys()
        let m = SequenceClassifier(backbone: config, head: head)
        var rng = SeededRandom(seed: seed)
        m.backbone.initialise(random: &rng)
        m.pooledHead.initialise(m.parameters.pointer, seed: seed)
        m.refreshDerived()
        return m
    }

    /// A classifier on a trained model's backbone, for fine-tuning: the embedding (or input projection),
    /// blocks and final norm are copied, the LM head is dropped, and a new head (C, D) over pooled hidden
    /// states is initialised as in ``randomlyInitialised(backbone:head:seed:)``; `bidirectional` adds
    /// reverse-direction mixers (BiMamba; in_proj and out_proj shared) that start as copies of the
    /// forward ones. Every tensor of the same name and shape is kept, so a classifier of the same
    /// shape (an older one with labels in config.json included) keeps its head and reverse mixers.
    /// The same values as ``MambaModel/makeClassifier(labels:pooling:bidirectional:seed:)``.
    public static func fineTuning(_ source: MambaModel, labels: [String], pooling: Pooling = .mean,
                                  bidirectional: Bool = false, seed: UInt64) -> SequenceClassifier {
        fineTuning(config: source.config, input: .tokens(vocabSize: source.config.vocabSize), layout: source.layout,
                   parameters: source.parameters, threads: source.threads,
                   head: ClassifierConfig(labels: labels, pooling: pooling, bidirectional: bidirectional,
                                          input: .tokens(vocabSize: source.config.vocabSize)), seed: seed)
    }

    /// The same from another classifier (e.g. one trained on other classes): its backbone, input kind and
    /// every tensor of the same shape are kept.
    public static func fineTuning(_ source: SequenceClassifier, labels: [String], pooling: Pooling = .mean,
                                  bidirectional: Bool = false, seed: UInt64) -> SequenceClassifier {
        fineTuning(config: source.backboneConfig, input: source.head.input, layout: source.layout,
                   parameters: source.parameters, threads: source.threads,
                   head: ClassifierConfig(labels: labels, pooling: pooling, bidirectional: bidirectional,
                                          input: source.head.input), seed: seed)
    }

    static func fineTuning(config: MambaConfig, input: BackboneInput, layout source: ParameterLayout, parameters: FloatBuffer,
                           threads: Int, head: ClassifierConfig, seed: UInt64) -> SequenceClassifier {
        let m = SequenceClassifier(backbone: config, head: head)
        m.pooledHead.initialise(m.parameters.pointer, seed: seed)
        // everything the source has of the same shape
        let copied = m.layout.copyMatching(from: source, parameters.pointer, into: m.parameters.pointer)
        let copiedReverse = copied.contains { $0.contains(".mixer_rev.") }
        if !copiedReverse {
            for o in m.backbone.blocks {   // a reverse direction exists only beside the selective mixer
                if let reverse = o.reverse, let mixer = o.mixer { reverse.ssm.copyValues(from: mixer, m.parameters.pointer) }
            }
        }
        m.refreshDerived()
        m.threads = threads
        return m
    }

    /// The same classifier (same parameters) made RC-equivariant (Caduceus-PS, see ``RCPairing``): its
    /// backbone reads each sequence and its reverse complement, and the head averages the two, so its logits
    /// are exactly invariant under x → rc(x). Adds no parameters.
    ///
    /// - Throws: ``ModelError/invalidShape(_:)`` for a feature-input classifier or a map that is not an
    ///   involution of the vocabulary.
    public func withRCEquivariance(complementMap: [Int]) throws -> SequenceClassifier {
        guard case .tokens(let V) = head.input else {
            throw ModelError.invalidShape("RC equivariance needs token input (the complement of a feature is not defined)")
        }
        if let p = RCPairing.problem(complementMap: complementMap, vocabSize: V) { throw ModelError.invalidShape("the complement map \(p)") }
        var c = backboneConfig
        c.rcps = true; c.complementMap = complementMap
        let m = SequenceClassifier(backbone: c, head: head)
        m.parameters.pointer.update(from: parameters.pointer, count: parameters.count)
        m.refreshDerived()
        m.threads = threads
        return m
    }

    public var labels: [String] { head.labels }
    public func refreshDerived() { backbone.refreshDerived() }
    public func makeState(batch: Int = 1) -> MambaState { backbone.makeState(batch: batch) }
    /// A tape for training this classifier.
    public func makeTape() -> TrainingTape { TrainingTape(config: backboneConfig) }

    /// A tensor's values by checkpoint name.
    public func tensor(_ name: String) -> [Float]? { layout.slice(named: name).map { Array(parameters.slice($0.range)) } }

    // MARK: - Batches

    /// Right-pads sequences of `width` values per step into one (B, L, width) batch.
    static func padded<T: Numeric>(_ sequences: [[T]], width: Int, pad: T) throws -> (values: [T], length: Int, lengths: [Int]) {
        for (i, s) in sequences.enumerated() where s.isEmpty || s.count % width != 0 {
            throw ModelError.invalidShape("example \(i) has \(s.count) values: " +
                (s.isEmpty ? "every example needs at least one step" : "not a whole number of \(width)-value steps"))
        }
        guard let L = sequences.map({ $0.count / width }).max() else {
            throw ModelError.emptyInput(what: "the batch", hint: "give at least one example")
        }
        var values = [T](repeating: pad, count: sequences.count * L * width)
        for (b, s) in sequences.enumerated() {
            for (i, v) in s.enumerated() { values[b * L * width + i] = v }
        }
        return (values, L, sequences.map { $0.count / width })
    }

    var stepWidth: Int { if case .features(let F) = head.input { return F } else { return 1 } }

    // MARK: - Inference

    /// Logits (n, C) of examples given as token ids (a token-input classifier).
    public func logits(tokens sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        try rows(tokens: sequences, batchSize: batchSize, pooledOnly: false)
    }

    /// Logits (n, C) of examples given as features, each (L_i·F) values (a feature-input classifier).
    public func logits(features sequences: [[Float]], batchSize: Int = 16) throws -> [[Float]] {
        try rows(features: sequences, batchSize: batchSize, pooledOnly: false)
    }

    /// Pooled hidden states (n, D) of token examples: the head's input p_b, before its linear layer
    /// (``logits(pooled:)`` of them are ``logits(tokens:batchSize:)``).
    public func pooledFeatures(tokens sequences: [[Int32]], batchSize: Int = 16) throws -> [[Float]] {
        try rows(tokens: sequences, batchSize: batchSize, pooledOnly: true)
    }

    /// Pooled hidden states (n, D) of feature examples (a feature-input classifier).
    public func pooledFeatures(features sequences: [[Float]], batchSize: Int = 16) throws -> [[Float]] {
        try rows(features: sequences, batchSize: batchSize, pooledOnly: true)
    }

    /// Logits (n, C) = W p + bias of pooled rows (n, D), the head's linear layer alone.
    public func logits(pooled: [[Float]]) throws -> [[Float]] {
        let C = pooledHead.classes, D = pooledHead.dim
        if let i = pooled.firstIndex(where: { $0.count != D }) {
            throw ModelError.invalidShape("pooled row \(i) has \(pooled[i].count) values, the head reads \(D)")
        }
        guard !pooled.isEmpty else { return [] }
        let logits = FloatBuffer(count: pooled.count * C)
        Array(pooled.joined()).withUnsafeBufferPointer {
            pooledHead.forwardPooled($0.baseAddress!, batch: pooled.count, logits: logits.pointer, backbone.context())
        }
        return (0..<pooled.count).map { Array(UnsafeBufferPointer(start: logits.pointer + $0 * C, count: C)) }
    }

    func rows(tokens sequences: [[Int32]], batchSize: Int, pooledOnly: Bool) throws -> [[Float]] {
        try rows(count: sequences.count, lengths: sequences.map(\.count), batchSize: batchSize, pooledOnly: pooledOnly) { idx in
            let (values, L, lengths) = try Self.padded(idx.map { sequences[$0] }, width: 1, pad: 0)
            try values.withUnsafeBufferPointer { try self.backbone.forward(.tokens($0), batch: idx.count, state: self.makeState(batch: idx.count), lengths: lengths) }
            return (L, lengths)
        }
    }

    func rows(features sequences: [[Float]], batchSize: Int, pooledOnly: Bool) throws -> [[Float]] {
        let F = stepWidth
        return try rows(count: sequences.count, lengths: sequences.map { $0.count / F }, batchSize: batchSize, pooledOnly: pooledOnly) { idx in
            let (values, L, lengths) = try Self.padded(idx.map { sequences[$0] }, width: F, pad: 0)
            try values.withUnsafeBufferPointer { try self.backbone.forward(.features($0), batch: idx.count, state: self.makeState(batch: idx.count), lengths: lengths) }
            return (L, lengths)
        }
    }

    func rows(count n: Int, lengths: [Int], batchSize: Int, pooledOnly: Bool, forward: ([Int]) throws -> (Int, [Int])) throws -> [[Float]] {
        try pooledHead.logits(count: n, lengths: lengths, batchSize: batchSize, backbone: backbone, pooledOnly: pooledOnly, forward: forward)
    }

    // MARK: - Training

    /// Forward and backward of the summed cross-entropy of feature examples (right-padded into one
    /// batch). Gradients are **added** to `grads` scaled by `gradScale`; `dFeatures`, when given, gets
    /// dLoss/d(features) per example (scaled likewise).
    @discardableResult
    public func accumulateGradient(_ examples: [LabeledFeatures], tape: TrainingTape, grads: FloatBuffer, gradScale: Float,
                                   dFeatures: UnsafeMutablePointer<[[Float]]>? = nil) throws -> (lossSum: Double, correct: Int) {
        let F = stepWidth
        guard case .features = head.input else { throw ModelError.invalidShape("this classifier reads token ids, not features") }
        let (values, L, lengths) = try Self.padded(examples.map(\.features), width: F, pad: 0)
        let dX = dFeatures == nil ? nil : FloatBuffer(count: values.count)
        let r = try values.withUnsafeBufferPointer {
            try accumulate(.features($0), labels: examples.map(\.label), length: L, lengths: lengths, tape: tape,
                           grads: grads, gradScale: gradScale, dFeatures: dX?.pointer)
        }
        if let dX, let dFeatures {
            dFeatures.pointee = lengths.enumerated().map { b, n in Array(UnsafeBufferPointer(start: dX.pointer + b * L * F, count: n * F)) }
        }
        return r
    }

    /// The same for token examples (a token-input classifier).
    @discardableResult
    public func accumulateGradient(_ examples: [LabeledSequence], tape: TrainingTape, grads: FloatBuffer,
                                   gradScale: Float) throws -> (lossSum: Double, correct: Int) {
        guard case .tokens = head.input else { throw ModelError.invalidShape("this classifier reads features, not token ids") }
        let (values, L, lengths) = try Self.padded(examples.map(\.tokens), width: 1, pad: 0)
        return try values.withUnsafeBufferPointer {
            try accumulate(.tokens($0), labels: examples.map(\.label), length: L, lengths: lengths, tape: tape,
                           grads: grads, gradScale: gradScale, dFeatures: nil)
        }
    }

    func accumulate(_ input: BackboneBatch, labels: [Int], length L: Int, lengths: [Int], tape: TrainingTape,
                    grads: FloatBuffer, gradScale: Float, dFeatures: UnsafeMutablePointer<Float>?) throws -> (lossSum: Double, correct: Int) {
        let C = pooledHead.classes, B = labels.count
        for (i, y) in labels.enumerated() where y < 0 || y >= C {
            throw ModelError.labelOutOfRange(label: y, example: i, numLabels: C)
        }
        try backbone.forward(input, batch: B, state: makeState(batch: B), tape: tape, lengths: lengths)
        let r = pooledHead.lossAndBackward(tape.hidden.pointer, batch: B, length: L, lengths: lengths, labels: labels,
                                           scale: gradScale, dHidden: tape.dHidden.pointer, backbone.context(gradients: grads),
                                           streams: backbone.streams)
        backbone.backward(input: input, tape: tape, gradients: grads, dFeatures: dFeatures)
        return r
    }

    // MARK: - Files

    /// Writes `config.json` (the backbone; `vocab_size` 1 and unused for feature input),
    /// `classifier.json` and `model.safetensors` into `directory`, each atomically.
    public func save(to directory: URL, dtype: SafetensorsDType = .f32) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CheckpointError.writeFailed(path: directory.path, reason: error.localizedDescription)
        }
        let tensors = layout.slices.map { s in
            SafetensorsWriter.Tensor(name: s.name, shape: s.shape,
                                     data: UnsafeBufferPointer(start: parameters.pointer + s.offset, count: s.count))
        }
        try SafetensorsWriter.write(tensors, dtype: dtype, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors"))
        var c = backboneConfig
        c.bidirectional = false
        if case .features = head.input { c.vocabSize = 1 }
        try c.write(to: directory)
        try head.write(to: directory)
    }

    /// The head config of a classifier directory: its `classifier.json`, or for an older classifier the
    /// labels, pooling and direction in its `config.json` (`config`, when already read).
    ///
    /// - Throws: ``CheckpointError/wrongModelKind(path:holds:fix:)`` for a language model's directory.
    public static func headConfig(in directory: URL, config: MambaConfig? = nil) throws -> ClassifierConfig {
        if let h = try ClassifierConfig.read(from: directory) { return h }
        let config = try config ?? MambaConfig.load(from: directory)
        guard config.numLabels > 0 else {
            throw CheckpointError.wrongModelKind(
                path: directory.appendingPathComponent(MambaConfig.fileName).path,
                holds: "a language model, not a classifier (config.json has no id2label and there is no classifier.json beside it)",
                fix: "pass a classifier's directory (saved by SequenceClassifier.save or `mambakit train …-classify`), or use an `eval …-lm` command")
        }
        return ClassifierConfig(labels: config.labels, pooling: config.pooling, bidirectional: config.bidirectional,
                                input: .tokens(vocabSize: config.vocabSize))
    }

    /// Loads a classifier saved by ``save(to:dtype:)``, or an older token classifier whose `config.json`
    /// holds `id2label` (then the head config comes from there).
    public static func load(directory: URL) throws -> SequenceClassifier {
        let config = try MambaConfig.load(from: directory)
        let head = try headConfig(in: directory, config: config)
        let m = SequenceClassifier(backbone: config, head: head)
        try m.layout.read(from: SafetensorsCheckpoint(directory: directory), directory: directory, into: m.parameters)
        m.refreshDerived()
        return m
    }
}

/// Classification of labelled feature sequences with a feature-input ``SequenceClassifier``: each
/// micro-batch draws `batchSize` examples at random (with replacement); an example longer than seq-len
/// steps is cropped to a random seq-len-step window. One loss term per example.
public final class FeatureClassificationObjective: TrainingObjective {
    public let classifier: SequenceClassifier
    public let examples: [LabeledFeatures]
    let tape: TrainingTape
    public var model: any TrainableModel { classifier }

    public init(model: SequenceClassifier, examples: [LabeledFeatures], source: String) throws {
        guard case .features(let F) = model.head.input else {
            throw TrainingError.invalidOptions("\(source): the classifier reads token ids; use ClassificationObjective")
        }
        guard !examples.isEmpty else { throw TrainingError.invalidOptions("\(source): no labelled examples to train on") }
        for (i, e) in examples.enumerated() {
            if e.label < 0 || e.label >= model.labels.count {
                throw ModelError.labelOutOfRange(label: e.label, example: i, numLabels: model.labels.count)
            }
            if e.features.isEmpty || e.features.count % F != 0 {
                throw TrainingError.invalidOptions("\(source): example \(i) has \(e.features.count) values, not a positive multiple of \(F) features")
            }
            if let j = e.features.firstIndex(where: { !$0.isFinite }) {
                throw TrainingError.invalidOptions("\(source): example \(i) has a non-finite feature at value \(j)")
            }
        }
        classifier = model; self.examples = examples
        tape = model.makeTape()
    }

    public func lossTerms(options o: TrainingOptions) -> Int { o.batchSize }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float) throws -> ObjectiveResult {
        try accumulate(options: o, random: &random, grads: grads, scale: scale, shard: .whole)
    }

    public func accumulate(options o: TrainingOptions, random: inout SeededRandom, grads: FloatBuffer,
                           scale: Float, shard: BatchShard) throws -> ObjectiveResult {
        let F = classifier.stepWidth
        let batch: [LabeledFeatures] = shard.slice((0..<o.batchSize).map { _ in
            var e = examples[random.below(examples.count)]
            let steps = e.features.count / F
            if steps > o.seqLen {
                let start = random.below(steps - o.seqLen + 1)
                e.features = Array(e.features[(start * F)..<((start + o.seqLen) * F)])
            }
            return e
        })
        guard !batch.isEmpty else { return ObjectiveResult(lossSum: 0, tokens: 0, correct: 0) }
        let r = try classifier.accumulateGradient(batch, tape: tape, grads: grads, gradScale: scale)
        return ObjectiveResult(lossSum: r.lossSum, tokens: batch.reduce(0) { $0 + $1.features.count / F }, correct: r.correct)
    }
}
