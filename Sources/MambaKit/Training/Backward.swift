// Backward.swift — the loss and its gradient w.r.t. every parameter.
//
// Forward with a TrainingTape, then the layers in reverse (llm.c style: each step is the
// backward of one forward step, outputs first, gradients accumulate into one block laid out
// like the parameters):
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
        guard !config.bidirectional else {
            throw ModelError.invalidShape("a bidirectional model sees the future, so it cannot be trained on next-token prediction; train the language model unidirectional and add the reverse direction with makeClassifier")
        }
        let tStart = DispatchTime.now().uptimeNanoseconds
        try inputs.withUnsafeBufferPointer { try backbone($0, batch: B, state: state, tape: tape) }
        let tFwd = DispatchTime.now().uptimeNanoseconds
        let c = config
        let T = inputs.count, D = c.dModel, V = c.vocabSize
        for (i, t) in targets.enumerated() where Int(t) >= V {
            throw ModelError.tokenOutOfRange(token: Int(t), position: i, vocabSize: V, source: nil)
        }
        let count = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        let p = parameters.pointer, g = grads.pointer

        // MARK: head + cross-entropy, in blocks of rows
        tape.dHidden.zero()
        let head = p + headOffset, dHead = g + headOffset
        var lossSum = 0.0
        var r0 = 0
        while r0 < T {
            let rows = min(tape.headRows, T - r0)
            let hid = tape.hidden.pointer + r0 * D
            mk_sgemm(0, 1, Int32(rows), Int32(V), Int32(D), 1, hid, Int32(D), head, Int32(D), 0, tape.logits.pointer, Int32(V))
            lossSum += targets.withUnsafeBufferPointer {
                mk_xent_fwd_bwd(tape.logits.pointer, Int32(rows), Int32(V), Int32(V), $0.baseAddress! + r0, gradScale)
            }
            // dHidden = dLogits · head (rows, D);  dHead += dLogitsᵀ · hidden (V, D)
            mk_sgemm(0, 0, Int32(rows), Int32(D), Int32(V), 1, tape.logits.pointer, Int32(V), head, Int32(D), 0,
                     tape.dHidden.pointer + r0 * D, Int32(D))
            mk_sgemm(1, 0, Int32(V), Int32(D), Int32(rows), 1, tape.logits.pointer, Int32(V), hid, Int32(D), 1, dHead, Int32(D))
            r0 += rows
        }

        let tHead = DispatchTime.now().uptimeNanoseconds
        backwardFromHidden(inputs: inputs, batch: B, tape: tape, grads: grads)
        if MambaRuntime.profiling {
            let now = DispatchTime.now().uptimeNanoseconds
            FileHandle.standardError.write(Data(String(format: "  forward %.3f s, head+xent %.3f s, layers backward %.3f s\n",
                Double(tFwd - tStart) * 1e-9, Double(tHead - tFwd) * 1e-9, Double(now - tHead) * 1e-9).utf8))
        }
        return (lossSum, count)
    }

    /// The backbone's backward from `tape.dHidden` (T, D), the gradient w.r.t. the final normed hidden
    /// states of the last taped forward of `inputs`: norm_f, the layers last to first, the embedding.
    func backwardFromHidden(inputs: [Int32], batch B: Int, tape: TrainingTape, grads: FloatBuffer) {
        let c = config, T = inputs.count, D = c.dModel
        let p = parameters.pointer, g = grads.pointer
        // MARK: norm_f
        tape.dResid.zero()
        mk_rmsnorm_bwd(tape.finalResid.pointer, p + layout.normF, tape.dHidden.pointer, tape.dResid.pointer,
                       g + layout.normF, Int32(T), Int32(D), c.layerNormEpsilon)
        // MARK: layers, last to first
        for l in stride(from: c.nLayer - 1, through: 0, by: -1) {
            layerBackward(l, batch: B, length: T / B, tape: tape, grads: grads)
        }
        // MARK: embedding
        let dEmb = g + layout.embedding
        for t in 0..<T {
            let row = dEmb + Int(inputs[t]) * D, d = tape.dResid.pointer + t * D
            for i in 0..<D { row[i] += d[i] }
        }
    }

    /// Backward of layer `l`: reads dResid (gradient w.r.t. the layer's output stream), adds the
    /// layer's parameter gradients to `grads`, and leaves the gradient w.r.t. its input in dResid.
    func layerBackward(_ l: Int, batch B: Int, length L: Int, tape: TrainingTape, grads: FloatBuffer) {
        let c = config
        let T = B * L, D = c.dModel, E = c.dInner, N = c.dState
        let o = layout.layers[l]
        let buf = tape.layer(l)
        let p = parameters.pointer, g = grads.pointer
        let dOut = tape.dResid.pointer

        // out_proj: dY (T, E) = dOut (T, D) · W_out (D, E);  dW_out (D, E) += dOutᵀ · y
        mk_sgemm(0, 0, Int32(T), Int32(E), Int32(D), 1, dOut, Int32(D), p + o.outProj, Int32(E), 0, tape.dY.pointer, Int32(E))
        mk_sgemm(1, 0, Int32(D), Int32(E), Int32(T), 1, dOut, Int32(D), buf.y, Int32(E), 1, g + o.outProj, Int32(E))
        if let b = o.outProjBias { mk_colsum_add(dOut, Int32(T), Int32(D), Int32(D), g + b) }

        // scan → dt_proj → x_proj → conv, forward direction: dXz (T, 2E)
        ssmBackward(o.forward, A: negA.pointer + l * E * N, xz: buf.xz, xc: buf.xc, dbc: buf.dbc, dt: buf.dt,
                    convIn: tape.convStateIn(l), ssmIn: tape.ssmStateIn(l), dY: tape.dY.pointer, dXz: tape.dXz.pointer,
                    batch: B, length: L, tape: tape, grads: grads)
        if let rev = o.reverse, let xcRev = buf.xcRev, let dbcRev = buf.dbcRev, let dtRev = buf.dtRev {
            // reverse direction: the same steps in reversed time from zero states; dXz += reversed dXzRev
            let reversal = SequenceReversal(batch: B, length: L, lengths: tape.lengths)
            reversal.gather(buf.xz, ld: 2 * E, width: 2 * E, into: workspace.xzRev.pointer, ld: 2 * E)
            reversal.gather(tape.dY.pointer, ld: E, width: E, into: tape.dYRev.pointer, ld: E)
            workspace.zeroReverseStates(batch: B, config: c)
            ssmBackward(rev, A: negA.pointer + (c.nLayer + l) * E * N, xz: workspace.xzRev.pointer, xc: xcRev, dbc: dbcRev,
                        dt: dtRev, convIn: workspace.convRev.pointer, ssmIn: workspace.ssmRev.pointer,
                        dY: tape.dYRev.pointer, dXz: tape.dXzRev.pointer, batch: B, length: L, tape: tape, grads: grads)
            reversal.addGathered(tape.dXzRev.pointer, ld: 2 * E, width: 2 * E, into: tape.dXz.pointer, ld: 2 * E)
        }

        // in_proj: dNormed (T, D) = dXz (T, 2E) · W_in (2E, D);  dW_in (2E, D) += dXzᵀ · normed
        mk_sgemm(0, 0, Int32(T), Int32(D), Int32(2 * E), 1, tape.dXz.pointer, Int32(2 * E), p + o.inProj, Int32(D), 0,
                 tape.dNormed.pointer, Int32(D))
        mk_sgemm(1, 0, Int32(2 * E), Int32(D), Int32(T), 1, tape.dXz.pointer, Int32(2 * E), buf.normed, Int32(D), 1,
                 g + o.inProj, Int32(D))
        if let b = o.inProjBias { mk_colsum_add(tape.dXz.pointer, Int32(T), Int32(2 * E), Int32(2 * E), g + b) }

        // RMSNorm: dResid += RMSNorm'(residIn) · dNormed  (the residual path passes dResid through unchanged)
        mk_rmsnorm_bwd(buf.residIn, p + o.norm, tape.dNormed.pointer, dOut, g + o.norm, Int32(T), Int32(D),
                       c.layerNormEpsilon)
    }

    /// Backward of ``ssmForward``: from dY (T, E), the gradient w.r.t. the gated scan output, writes
    /// dXz (T, 2E) (conv input and gate) and adds the direction's parameter gradients to `grads`.
    /// Uses the tape's dXc, dDt, dDbc, dA and dB/dC parts as scratch.
    func ssmBackward(_ o: SSMOffsets, A: UnsafePointer<Float>, xz: UnsafeMutablePointer<Float>,
                     xc: UnsafeMutablePointer<Float>, dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                     convIn: UnsafeMutablePointer<Float>, ssmIn: UnsafeMutablePointer<Float>,
                     dY: UnsafeMutablePointer<Float>, dXz: UnsafeMutablePointer<Float>,
                     batch B: Int, length L: Int, tape: TrainingTape, grads: FloatBuffer) {
        let c = config
        let T = B * L, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv
        let ldBC = R + 2 * N
        let p = parameters.pointer, g = grads.pointer
        let nThreads = threads

        // scan: channels split over threads; dB, dC (shared by all channels) into per-thread buffers
        tape.dA.zero()
        let parts = tape.bcParts(threads: nThreads)
        let partSize = T * ldBC
        let used = Parallel.forParts(E, threads: nThreads, align: 16) { part, r in
            let mine = parts.pointer + part * partSize
            mine.update(repeating: 0, count: partSize)
            var scan = mk_scan_bwd_params(
                fwd: mk_scan_params(u: xc, ld_u: Int32(E), delta: dt, ld_delta: Int32(E), A: A,
                                    Bm: dbc + R, Cm: dbc + R + N, ld_bc: Int32(ldBC),
                                    D: p + o.D, delta_bias: p + o.dtProjBias, delta_softplus: 1, z: xz + E, ld_z: Int32(2 * E),
                                    y: nil, ld_y: 0, h0: ssmIn, h_last: nil,
                                    Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N)),
                dy: dY, ld_dy: Int32(E),
                du: tape.dXc.pointer, ld_du: Int32(E), ddelta: tape.dDt.pointer, ld_ddelta: Int32(E), dz: dXz + E, ld_dz: Int32(2 * E),
                dA: tape.dA.pointer, dD: g + o.D, ddelta_bias: g + o.dtProjBias, dBm: mine + R, dCm: mine + R + N,
                ld_dbc: Int32(ldBC), dh0: nil)
            mk_scan_bwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
        }
        // dA_log = dA ⊙ A  (A = −exp(A_log))
        let dALog = g + o.aLog
        for i in 0..<(E * N) { dALog[i] += tape.dA.pointer[i] * A[i] }
        // dDbc = Σ parts (the dt columns are zero there), then the dt_proj part
        let dDbc = tape.dDbc.pointer
        dDbc.update(from: parts.pointer, count: partSize)
        for part in 1..<max(used, 1) { mk_add_inplace(dDbc, parts.pointer + part * partSize, partSize) }

        // dt_proj: dDbc[:, :R] (T, R) = dDt (T, E) · W_dt (E, R);  dW_dt (E, R) += dDtᵀ · dbc[:, :R]
        mk_sgemm(0, 0, Int32(T), Int32(R), Int32(E), 1, tape.dDt.pointer, Int32(E), p + o.dtProj, Int32(R), 0, dDbc, Int32(ldBC))
        mk_sgemm(1, 0, Int32(E), Int32(R), Int32(T), 1, tape.dDt.pointer, Int32(E), dbc, Int32(ldBC), 1, g + o.dtProj, Int32(R))

        // x_proj: dXc (T, E) += dDbc (T, R+2N) · W_x (R+2N, E);  dW_x (R+2N, E) += dDbcᵀ · xc
        mk_sgemm(0, 0, Int32(T), Int32(E), Int32(ldBC), 1, dDbc, Int32(ldBC), p + o.xProj, Int32(E), 1, tape.dXc.pointer, Int32(E))
        mk_sgemm(1, 0, Int32(ldBC), Int32(E), Int32(T), 1, dDbc, Int32(ldBC), xc, Int32(E), 1, g + o.xProj, Int32(E))

        // conv1d + SiLU: dXz[:, :E]; d conv weight (E, 1, K), d conv bias
        let convB: UnsafePointer<Float>? = o.conv1dBias.map { UnsafePointer(p + $0) }
        let dConvB: UnsafeMutablePointer<Float>? = o.conv1dBias.map { g + $0 }
        Parallel.forRanges(E, threads: nThreads, align: 16, costPerItem: T * K * 2) { r in
            var conv = mk_conv1d_bwd_params(
                fwd: mk_conv1d_params(x: xz, ld_x: Int32(2 * E), w: p + o.conv1d, bias: convB, state_in: convIn,
                                      state_out: nil, out: nil, ld_out: 0,
                                      Bsz: Int32(B), L: Int32(L), E: Int32(E), K: Int32(K), act: 1),
                dout: tape.dXc.pointer, ld_dout: Int32(E), dx: dXz, ld_dx: Int32(2 * E), dw: g + o.conv1d, dbias: dConvB)
            mk_conv1d_bwd(&conv, Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// Gradient of the mean next-token NLL of one sequence (`tokens[i+1]` predicted from `tokens[0…i]`)
    /// w.r.t. every parameter, in a new block laid out like `parameters`. Returns (mean NLL, gradient).
    public func meanNLLGradient(tokens: [Int]) throws -> (nll: Double, gradient: FloatBuffer) {
        guard tokens.count >= 2 else {
            throw ModelError.emptyInput(what: "a sequence of \(tokens.count) token(s)",
                                        hint: "a gradient needs at least 2 tokens (a context and a next token)")
        }
        try checkIds([tokens])
        let inputs = tokens.dropLast().map { Int32($0) }, targets = tokens.dropFirst().map { Int32($0) }
        let grads = FloatBuffer(count: parameters.count)
        let tape = TrainingTape(config: config)
        let (sum, count) = try accumulateGradient(inputs: inputs, targets: targets, batch: 1, state: makeState(batch: 1),
                                                  tape: tape, grads: grads, gradScale: 1 / Float(inputs.count))
        return (sum / Double(count), grads)
    }
}
