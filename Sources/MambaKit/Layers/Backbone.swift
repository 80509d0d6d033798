// Backbone.swift — the shared Mamba backbone: an input layer, residual Mamba blocks and a final norm,
// from token ids or continuous features to hidden states (B·L, D), and back.
//
//   forward:   h = input(x)                         Embedding (ids) or InputProjection (features)
//              for each block: h, residual = MambaBlock(h, residual)
//              hidden = norm_f(h + residual)        (B·L, D)
//   backward:  from dHidden (B·L, D): norm_f, the blocks last to first, the input layer.
//
// The backbone knows nothing of text, audio or DNA: a front end or a head sees only hidden states in
// and their gradient back. One forward serves every length (a whole sequence, chunks of it, or one
// step of generation): it always reads and writes an explicit ``MambaState``.
import Foundation
import _MambaKernels

/// What a backbone reads: token ids (an embedding table of V rows) or F continuous features per step.
public enum BackboneInput: Equatable, Sendable {
    case tokens(vocabSize: Int)
    case features(Int)
}

/// Input to one forward pass: (B, L) token ids, or (B, L, F) features, batch-major.
public enum BackboneBatch {
    case tokens(UnsafeBufferPointer<Int32>)
    case features(UnsafeBufferPointer<Float>)
}

/// The layers of a Mamba backbone over one parameter block (owned by the model that composes it).
public final class Backbone {
    /// Dimensions (D, E, N, R, K, layers, epsilon, biases) and `bidirectional`.
    public let config: MambaConfig
    public let input: BackboneInput
    /// `backbone.embeddings.weight` (token input) …
    public let embedding: Embedding?
    /// … or `input_proj.{weight,bias}` (feature input).
    public let inputProjection: InputProjection?
    /// `backbone.layers.i.*` (empty for a U-Net) …
    public let blocks: [MambaBlock]
    /// … or the multi-scale stages `backbone.{down,center,up}.*` (config `unet`).
    public let unet: UNet?
    /// `backbone.norm_f.weight`
    public let normF: RMSNorm
    /// Caduceus-PS RC equivariance (config `rcps`): every forward runs the sequences and their reverse
    /// complements as two streams of one doubled batch (see ``RCPairing``); nil for one stream.
    public let rcPairing: RCPairing?
    /// Streams per sequence: 2 with ``rcPairing``, else 1. Internally the hidden states are (streams·B·L, D).
    public var streams: Int { rcPairing == nil ? 1 : 2 }
    /// The whole model's parameter block (shared with the model and its heads).
    public let parameters: FloatBuffer
    /// A = −exp(A_log) of every scan direction; see ``refreshDerived()``.
    let derived: FloatBuffer
    /// Threads for the scan, the convolution and the row-wise kernels (OpenBLAS has its own setting).
    public var threads: Int = Parallel.defaultThreads
    /// How LTI mixers (`ssm_mixer: "lti"`) evaluate a chunk; ``LTIEvaluation/automatic`` picks the FFT
    /// convolution for long chunks and the recurrence for short ones.
    public var ltiEvaluation: LTIEvaluation = .automatic
    /// How Mamba-2 blocks compute the SSD of a chunk; ``SSDEvaluation/automatic`` picks the chunked algorithm for
    /// chunks of ``SSDMixer/chunkedMinimumLength`` steps or more and the recurrence for shorter ones.
    public var ssdEvaluation: SSDEvaluation = .automatic
    /// Matrices held in f16, bf16 or int8 for inference (set by ``MambaModel/convertWeights(to:)`` or a load with a
    /// weight format); nil when every matrix is the f32 parameter block's.
    public internal(set) var weightStore: WeightStore?
    var workspace = ForwardWorkspace()
    /// The U-Net's untaped buffers and per-level workspaces.
    lazy var unetRuntime: UNetRuntime? = unet.map { UNetRuntime(levels: $0.levels) }

    /// The backbone's slices, registered into a model's layout before its parameter block exists.
    public struct Layers: Sendable {
        public let embedding: Embedding?
        public let inputProjection: InputProjection?
        public let blocks: [MambaBlock]
        public let unet: UNet?
        public let normF: RMSNorm
        let derivedCount: Int

        /// Registers, in checkpoint order: the input layer, `backbone.layers.0 …`, `backbone.norm_f.weight`.
        /// `config.bidirectional` adds reverse mixers to every block.
        public init(config c: MambaConfig, input: BackboneInput, layout: inout ParameterLayout) {
            switch input {
            case .tokens(let V):
                embedding = Embedding("backbone.embeddings.weight", vocabSize: V, dim: c.dModel, layout: &layout)
                inputProjection = nil
            case .features(let F):
                embedding = nil
                inputProjection = InputProjection("input_proj", features: F, dim: c.dModel, layout: &layout)
            }
            var derived = 0
            blocks = (0..<c.flatLayerCount).map { i in
                MambaBlock(prefix: "backbone.layers.\(i).", config: c, bidirectional: c.bidirectional,
                           layout: &layout, derived: &derived)
            }
            unet = c.unet == nil ? nil : UNet(config: c, layout: &layout, derived: &derived)
            normF = RMSNorm("backbone.norm_f.weight", dim: c.dModel, eps: c.layerNormEpsilon, layout: &layout)
            derivedCount = derived
        }
    }

    /// A backbone over `parameters` (the composed model's block, laid out with `layers` registered).
    public init(config: MambaConfig, input: BackboneInput, layers: Layers, parameters: FloatBuffer) {
        self.config = config; self.input = input
        embedding = layers.embedding; inputProjection = layers.inputProjection
        blocks = layers.blocks; unet = layers.unet; normF = layers.normF
        self.parameters = parameters
        derived = FloatBuffer(count: layers.derivedCount)
        rcPairing = config.rcps ? RCPairing(complementMap: config.complementMap) : nil
    }

    /// The context layers run in: this block, `gradients` (training) and the thread count.
    func context(gradients: FloatBuffer? = nil) -> LayerContext {
        precondition(gradients == nil || weightStore == nil,
                     "a backward pass needs f32 weights; this model holds its matrices in \(weightStore?.format.rawValue ?? "")")
        return LayerContext(parameters: parameters.pointer, gradients: gradients?.pointer, derived: derived.pointer, threads: threads,
                            ltiEvaluation: ltiEvaluation, ssdEvaluation: ssdEvaluation, weights: weightStore)
    }

    /// Recomputes A = −exp(A_log) for every block; call after changing parameters.
    public func refreshDerived() {
        let ctx = context()
        for b in blocks { b.refreshDerived(ctx) }
        for b in unet?.allBlocks ?? [] { b.block.refreshDerived(ctx) }
    }

    /// A fresh, empty recurrent state for `batch` sequences.
    public func makeState(batch: Int = 1) -> MambaState { MambaState(config: config, batch: batch) }

    // MARK: - Forward

    /// Runs the backbone on a (B, L) batch from `state` (advanced past it) and returns the final
    /// normed hidden states (B·L, D), batch-major.
    ///
    /// - Parameters:
    ///   - lengths: valid lengths (B) of right-padded sequences; they matter only to the reverse direction of
    ///     a bidirectional backbone, which reverses each sequence within its valid length. Default: all L.
    ///   - tape: keeps every activation the backward pass needs (training); then call
    ///     ``backward(dHidden:input:tape:gradients:dFeatures:)``.
    public func hiddenStates(_ batch: BackboneBatch, batch B: Int, lengths: [Int]? = nil, state: MambaState? = nil,
                             tape: TrainingTape? = nil) throws -> [Float] {
        try forward(batch, batch: B, state: state ?? makeState(batch: B), tape: tape, lengths: lengths)
        let n = tape?.rows ?? workspace.rowsUsed
        guard let rc = rcPairing else { return Array(UnsafeBufferPointer(start: workspace.normed.pointer, count: n * config.dModel)) }
        let L = n / (2 * B)   // the streams' (2B·L, D) in Caduceus' layout (B·L, 2D)
        var out = [Float](repeating: 0, count: n * config.dModel)
        out.withUnsafeMutableBufferPointer {
            rc.caduceusLayout(workspace.normed.pointer, into: $0.baseAddress!, batch: B, length: L,
                              lengths: lengths ?? [Int](repeating: L, count: B), dim: config.dModel)
        }
        return out
    }

    /// Token ids (B·L) → hidden states (B·L, D). See ``hiddenStates(_:batch:lengths:state:tape:)``.
    public func hiddenStates(tokens: [Int32], batch B: Int = 1, lengths: [Int]? = nil, state: MambaState? = nil,
                             tape: TrainingTape? = nil) throws -> [Float] {
        try tokens.withUnsafeBufferPointer { try hiddenStates(.tokens($0), batch: B, lengths: lengths, state: state, tape: tape) }
    }

    /// Features (B·L·F) → hidden states (B·L, D). See ``hiddenStates(_:batch:lengths:state:tape:)``.
    public func hiddenStates(features: [Float], batch B: Int = 1, lengths: [Int]? = nil, state: MambaState? = nil,
                             tape: TrainingTape? = nil) throws -> [Float] {
        try features.withUnsafeBufferPointer { try hiddenStates(.features($0), batch: B, lengths: lengths, state: state, tape: tape) }
    }

    /// Rows (B·L) of a batch, validated against the input kind.
    func rows(of input: BackboneBatch, batch B: Int) throws -> Int {
        switch (input, self.input) {
        case let (.tokens(ids), .tokens(V)):
            for (i, t) in ids.enumerated() where t < 0 || Int(t) >= V {
                throw ModelError.tokenOutOfRange(token: Int(t), position: i, vocabSize: V, source: nil)
            }
            return ids.count
        case let (.features(x), .features(F)):
            guard x.count % F == 0 else {
                throw ModelError.invalidShape("\(x.count) feature values are not a whole number of \(F)-feature steps")
            }
            return x.count / F
        case (.tokens, .features(let F)):
            throw ModelError.invalidShape("this backbone reads \(F) features per step, not token ids")
        case (.features, .tokens):
            throw ModelError.invalidShape("this backbone reads token ids, not features")
        }
    }

    /// The forward pass; leaves the hidden states (streams·B·L, D) in `workspace.normed` (and `tape.hidden`).
    func forward(_ input: BackboneBatch, batch B: Int, state: MambaState, tape: TrainingTape? = nil,
                 lengths: [Int]? = nil) throws {
        guard let rc = rcPairing else { return try forwardStreams(input, batch: B, state: state, tape: tape, lengths: lengths) }
        // RC-equivariant: the sequences and their reverse complements as one batch of 2B streams
        guard case .tokens(let ids) = input else {
            throw ModelError.invalidShape("an RC-equivariant (rcps) backbone reads token ids, whose complements it knows, not features")
        }
        let (_, L, lens) = try shape(of: input, batch: B, lengths: lengths)
        guard state.position == 0, state.batch == B else {
            throw ModelError.invalidShape("an RC-equivariant (rcps) backbone reads each sequence whole (its second stream runs from the sequence's end): " +
                                          "give the whole sequence from a fresh state, not a chunk or a generation step")
        }
        let paired = rc.pairedTokens(ids, batch: B, length: L, lengths: lens)
        try paired.withUnsafeBufferPointer {
            try forwardStreams(.tokens($0), batch: 2 * B, state: MambaState(config: config, batch: 2 * B), tape: tape, lengths: lens + lens)
        }
        tape?.pairedTokens = paired
        state.position += L
    }

    /// (rows T = B·L, length L, valid lengths) of a batch, checked: B equal-length sequences, lengths in 1 … L.
    func shape(of input: BackboneBatch, batch B: Int, lengths: [Int]?) throws -> (rows: Int, length: Int, lengths: [Int]) {
        let T = try rows(of: input, batch: B)
        let L = T / max(B, 1)
        guard B > 0, L > 0, L * B == T else {
            throw ModelError.invalidShape("\(T) steps do not form a batch of \(B) equal-length sequences")
        }
        let lens = lengths ?? [Int](repeating: L, count: B)
        guard lens.count == B, lens.allSatisfy({ $0 >= 1 && $0 <= L }) else {
            throw ModelError.invalidShape("sequence lengths \(lens) do not fit a batch of \(B) × \(L)")
        }
        return (T, L, lens)
    }

    /// The forward of one stream per sequence (both streams of an RC-equivariant backbone as one batch).
    func forwardStreams(_ input: BackboneBatch, batch B: Int, state: MambaState, tape: TrainingTape? = nil,
                        lengths: [Int]? = nil) throws {
        let c = config
        let (T, L, lens) = try shape(of: input, batch: B, lengths: lengths)
        guard state.batch == B, state.config.nLayer == c.nLayer, state.config.dInner == c.dInner,
              state.config.dState == c.dState, state.config.ssmStateWidth == c.ssmStateWidth, state.config.dConv == c.dConv,
              state.config.unet == c.unet else {
            throw ModelError.stateMismatch(expected: "batch \(B)", found: "batch \(state.batch)")
        }
        if c.bidirectional && c.useBias {
            throw ModelError.invalidShape("a bidirectional model with use_bias is not supported (the shared out_proj bias would count twice)")
        }
        let reversal = SequenceReversal(batch: B, length: L, lengths: lens)
        let D = c.dModel
        workspace.ensure(rows: T, config: c)
        workspace.rowsUsed = T
        tape?.prepare(batch: B, length: L)
        tape?.lengths = lens
        let ctx = context()
        let resid = workspace.resid.pointer, out = workspace.out.pointer

        switch input {   // resid (T, D) = the input layer's output
        case .tokens(let ids): embedding!.forward(ids, out: resid, ctx)
        case .features(let x): inputProjection!.forward(x.baseAddress!, rows: T, out: resid, ctx)
        }
        if let unet, let runtime = unetRuntime, let us = state.unet {   // resid (T, D) = the U-Net's output stream
            unet.forward(ctx, x: resid, out: resid, batch: B, length: L, state: us, tape: tape?.unet, runtime: runtime)
            normF.forward(resid, add: nil, out: workspace.normed.pointer, rows: T, ctx)
        }
        for (l, block) in blocks.enumerated() {
            let buf = tape?.layer(l) ?? LayerBuffers(workspace: workspace)
            block.forward(ctx, resid: resid, add: l == 0 ? nil : UnsafePointer(out), out: out, buffers: buf,
                          convState: state.convState(layer: l), ssm: state.ssmState(layer: l),
                          taped: tape.map { ($0.convStateIn(l), $0.ssmStateIn(l)) },
                          reversal: reversal, workspace: &workspace)
        }
        // final residual add and norm_f
        if unet == nil { normF.forward(resid, add: UnsafePointer(out), out: workspace.normed.pointer, rows: T, ctx) }
        if let tape {
            tape.finalResid.pointer.update(from: resid, count: T * D)
            tape.hidden.pointer.update(from: workspace.normed.pointer, count: T * D)
        }
        state.position += L
    }

    // MARK: - Backward

    /// The backward of the last taped forward, from dHidden (B·L, D) = dLoss/d(hidden states): adds every
    /// backbone parameter's gradient to `gradients` (laid out like the parameter block) and, for feature
    /// input, writes dLoss/d(features) (B·L, F) into `dFeatures` when given.
    ///
    /// For an RC-equivariant backbone dHidden is (B·L, 2D) in Caduceus' layout, as ``hiddenStates(_:batch:lengths:state:tape:)`` returns.
    public func backward(dHidden: [Float], input: BackboneBatch, tape: TrainingTape, gradients: FloatBuffer,
                         dFeatures: UnsafeMutablePointer<Float>? = nil) {
        precondition(dHidden.count == tape.rows * config.dModel, "dHidden must be (B·L, D) of the taped forward")
        if let rc = rcPairing {
            let B = tape.batch / 2
            dHidden.withUnsafeBufferPointer {
                rc.streamsFromCaduceusLayout($0.baseAddress!, into: tape.dHidden.pointer, batch: B, length: tape.length,
                                             lengths: Array(tape.lengths.prefix(B)), dim: config.dModel)
            }
        } else {
            tape.dHidden.pointer.update(from: dHidden, count: dHidden.count)
        }
        backward(input: input, tape: tape, gradients: gradients, dFeatures: dFeatures)
    }

    /// The backward from `tape.dHidden` (streams·B·L, D).
    func backward(input: BackboneBatch, tape: TrainingTape, gradients: FloatBuffer, dFeatures: UnsafeMutablePointer<Float>? = nil) {
        if rcPairing != nil {   // the embedding's backward reads both streams' ids
            tape.pairedTokens.withUnsafeBufferPointer { backwardStreams(input: .tokens($0), tape: tape, gradients: gradients) }
        } else {
            backwardStreams(input: input, tape: tape, gradients: gradients, dFeatures: dFeatures)
        }
    }

    func backwardStreams(input: BackboneBatch, tape: TrainingTape, gradients: FloatBuffer, dFeatures: UnsafeMutablePointer<Float>? = nil) {
        precondition(gradients.count == parameters.count, "gradient block must match the parameter block")
        let T = tape.rows, B = tape.batch, L = tape.length
        let ctx = context(gradients: gradients)
        // norm_f
        tape.dResid.zero()
        normF.backward(tape.finalResid.pointer, dOut: tape.dHidden.pointer, dX: tape.dResid.pointer, rows: T, ctx)
        if let unet, let tu = tape.unet, let runtime = unetRuntime {
            unet.backward(ctx, dOut: tape.dResid.pointer, dX: tape.dResid.pointer, tape: tu, runtime: runtime)
        }
        // blocks, last to first
        let reversal = SequenceReversal(batch: B, length: L, lengths: tape.lengths)
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            blocks[l].backward(ctx, buffers: tape.layer(l), convIn: tape.convStateIn(l), ssmIn: tape.ssmStateIn(l),
                               reversal: reversal, tape: tape, workspace: &workspace)
        }
        // input layer
        switch input {
        case .tokens(let ids): embedding!.backward(ids, dOut: tape.dResid.pointer, ctx)
        case .features(let x):
            inputProjection!.backward(x.baseAddress!, rows: T, dOut: tape.dResid.pointer, dX: dFeatures, ctx)
        }
    }
}
