// Backward.swift — the language model's loss and its gradient w.r.t. every parameter.
//
// Forward with a TrainingTape, then the layers in reverse (llm.c style: each layer's backward sits
// beside its forward in Layers/, outputs first, gradients accumulate into one block laid out like
// the parameters):
//
//   head + cross-entropy (row blocks, logits never held whole)   → dHidden (T, D), d head
//   norm_f                                                        → dResid (T, D), d norm_f
//   per layer l = n-1 … 0, with dOut = dResid:
//     out_proj   dY = dOut·W_out,  dW_out += dOutᵀ·y
//     scan       dXc, dDt, dZ, dA→dA_log, dD, d dt_bias, dB, dC   (C kernel, states recomputed)
//     dt_proj    dDbc[:, :R] = dDt·W_dt,  dW_dt += dDtᵀ·dbc[:, :R]
//     x_proj     dXc += dDbc·W_x,  dW_x += dDbcᵀ·xc
//     conv1d     dXz[:, :E], d conv weight, d conv bias          (C kernel)
//     in_proj    dNormed = dXz·W_in,  dW_in += dXzᵀ·normed
//     RMSNorm    dResid += RMSNorm'(residIn)·dNormed,  d norm weight
//   embedding    dE[token] += dResid
import Foundation
import _MambaKernels

extension MambaModel {
    /// Runs a training forward of `inputs` (B, L) from `state` (advanced past them) and the backward
    /// of the summed next-token loss. Gradients are **added** to `grads` (laid out like
    /// `parameters`), scaled so that they are `gradScale` × d(Σ losses)/dθ.
    ///
    /// - Parameters:
    ///   - targets: (B, L) the token each position should predict; negative = no loss at that position.
    ///   - gradScale: e.g. 1 / (number of predictions), to get the gradient of the mean.
    /// - Returns: the sum of the losses (nats) and the number of predictions counted.
    @discardableResult
    public func accumulateGradient(inputs: [Int32], targets: [Int32], batch B: Int, state: MambaState,
                                   tape: TrainingTape, grads: FloatBuffer, gradScale: Float) throws -> (lossSum: Double, count: Int) {
        precondition(grads.count == parameters.count, "gradient block must match the parameter block")
        guard inputs.count == targets.count else {
            throw ModelError.invalidShape("inputs (\(inputs.count)) and targets (\(targets.count)) differ in length")
        }
        guard !config.readsBothDirections else {
            throw ModelError.invalidShape("a bidirectional model sees the future, so it cannot be trained on next-token prediction; train the language model unidirectional and add the reverse direction with makeClassifier")
        }
        guard let head = lmHead else { throw ModelError.notALanguageModel }
        let V = config.vocabSize
        for (i, t) in targets.enumerated() where Int(t) >= V {
            throw ModelError.tokenOutOfRange(token: Int(t), position: i, vocabSize: V, source: nil)
        }
        let tStart = DispatchTime.now().uptimeNanoseconds
        let count = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        var lossSum = 0.0
        try inputs.withUnsafeBufferPointer { ids in
            try backbone.forward(.tokens(ids), batch: B, state: state, tape: tape)
            let tFwd = DispatchTime.now().uptimeNanoseconds
            // head + cross-entropy, in blocks of rows → tape.dHidden
            lossSum = targets.withUnsafeBufferPointer {
                head.lossAndBackward(tape.hidden.pointer, targets: $0, scale: gradScale, dHidden: tape.dHidden.pointer,
                                     scratch: tape.logits.pointer, blockRows: tape.headRows, backbone.context(gradients: grads))
            }
            let tHead = DispatchTime.now().uptimeNanoseconds
            backbone.backward(input: .tokens(ids), tape: tape, gradients: grads)
            if MambaRuntime.profiling {
                let now = DispatchTime.now().uptimeNanoseconds
                FileHandle.standardError.write(Data(String(format: "  forward %.3f s, head+xent %.3f s, layers backward %.3f s\n",
                    Double(tFwd - tStart) * 1e-9, Double(tHead - tFwd) * 1e-9, Double(now - tHead) * 1e-9).utf8))
            }
        }
        return (lossSum, count)
    }

    /// Gradient of the mean next-token NLL of one sequence (`tokens[i+1]` predicted from `tokens[0…i]`)
    /// w.r.t. every parameter, in a new block laid out like `parameters`. Returns (mean NLL, gradient).
    public func meanNLLGradient(tokens: [Int32]) throws -> (nll: Double, gradient: FloatBuffer) {
        guard tokens.count >= 2 else {
            throw ModelError.emptyInput(what: "a sequence of \(tokens.count) token(s)",
                                        hint: "a gradient needs at least 2 tokens (a context and a next token)")
        }
        try checkIds(tokens)
        let inputs = Array(tokens.dropLast()), targets = Array(tokens.dropFirst())
        let grads = FloatBuffer(count: parameters.count)
        let tape = TrainingTape(config: config)
        let (sum, count) = try accumulateGradient(inputs: inputs, targets: targets, batch: 1, state: makeState(batch: 1),
                                                  tape: tape, grads: grads, gradScale: 1 / Float(inputs.count))
        return (sum / Double(count), grads)
    }
}
