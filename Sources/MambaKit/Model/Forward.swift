// Forward.swift — the backbone forward pass, parallel over a sequence or one token at a time.
//
// Per layer (transformers' MambaBlock / mamba_ssm's Block, residual kept in float32):
//   residual = hidden + residual
//   x, z     = split(in_proj(RMSNorm(residual)))                 (T, E) each
//   x        = SiLU(causal_conv1d(x))                            (T, E)
//   dt, B, C = split(x_proj(x))                                  (T, R), (T, N), (T, N)
//   dt       = softplus(dt_proj(dt) + dt_bias)                   (T, E)  — fused into the scan
//   y        = selective_scan(x, dt, A = -exp(A_log), B, C, D)   (T, E)
//   hidden   = out_proj(y * SiLU(z))                             (T, D)
// then norm_f(hidden + residual) and the LM head. T = B·L rows, batch-major.
//
// The same code runs a whole sequence (prefill, scoring, training) and a single step
// (L = 1, generation): both read and write an explicit MambaState, so chunks of a long
// input processed one after another give the result of one pass.
import _MambaKernels

/// Scratch buffers of one forward pass, grown on demand and reused.
struct ForwardWorkspace {
    var rows = 0
    var resid = FloatBuffer(count: 0)   // (T, D)   residual stream
    var normed = FloatBuffer(count: 0)  // (T, D)   RMSNorm output
    var xz = FloatBuffer(count: 0)      // (T, 2E)  in_proj output: x | z
    var xc = FloatBuffer(count: 0)      // (T, E)   conv + SiLU output
    var dbc = FloatBuffer(count: 0)     // (T, R+2N) x_proj output: dt | B | C
    var dt = FloatBuffer(count: 0)      // (T, E)   dt_proj output (before bias and softplus)
    var y = FloatBuffer(count: 0)       // (T, E)   gated scan output
    var out = FloatBuffer(count: 0)     // (T, D)   out_proj output
    // Reverse direction (bidirectional models), each sequence reversed within its valid length:
    var xzRev = FloatBuffer(count: 0)   // (T, 2E)  xz, reversed in time
    var xcRev = FloatBuffer(count: 0)   // (T, E)
    var dbcRev = FloatBuffer(count: 0)  // (T, R+2N)
    var dtRev = FloatBuffer(count: 0)   // (T, E)
    var yRev = FloatBuffer(count: 0)    // (T, E)   reverse scan output, reversed time
    var convRev = FloatBuffer(count: 0) // (B, K-1, E) reverse conv state (starts at zero every pass)
    var ssmRev = FloatBuffer(count: 0)  // (B, E, N)   reverse SSM state (starts at zero every pass)
    var revBatch = 0

    mutating func ensure(rows T: Int, config c: MambaConfig) {
        guard T > rows else { return }
        let D = c.dModel, E = c.dInner
        resid = FloatBuffer(count: T * D); normed = FloatBuffer(count: T * D)
        xz = FloatBuffer(count: T * 2 * E); xc = FloatBuffer(count: T * E)
        dbc = FloatBuffer(count: T * (c.dtRank + 2 * c.dState)); dt = FloatBuffer(count: T * E)
        y = FloatBuffer(count: T * E); out = FloatBuffer(count: T * D)
        if c.bidirectional {
            xzRev = FloatBuffer(count: T * 2 * E); xcRev = FloatBuffer(count: T * E)
            dbcRev = FloatBuffer(count: T * (c.dtRank + 2 * c.dState)); dtRev = FloatBuffer(count: T * E)
            yRev = FloatBuffer(count: T * E)
        }
        rows = T
    }

    /// Zeroed reverse-direction states for B sequences.
    mutating func zeroReverseStates(batch B: Int, config c: MambaConfig) {
        if revBatch != B {
            convRev = FloatBuffer(count: B * (c.dConv - 1) * c.dInner); ssmRev = FloatBuffer(count: B * c.dInner * c.dState)
            revBatch = B
        } else { convRev.zero(); ssmRev.zero() }
    }
}

/// Time reversal of each sequence within its valid length: row b·L + i ↔ b·L + (len_b − 1 − i) for
/// i < len_b; padding rows stay in place. An involution, so the same call undoes it.
struct SequenceReversal {
    let batch: Int, length: Int, lengths: [Int]

    /// dst row r = src row perm(r), `width` floats per row.
    func gather(_ src: UnsafePointer<Float>, ld ldSrc: Int, width: Int, into dst: UnsafeMutablePointer<Float>, ld ldDst: Int) {
        for b in 0..<batch {
            let n = lengths[b], base = b * length
            for i in 0..<length {
                let j = i < n ? n - 1 - i : i
                (dst + (base + i) * ldDst).update(from: src + (base + j) * ldSrc, count: width)
            }
        }
    }

    /// dst row r += src row perm(r).
    func addGathered(_ src: UnsafePointer<Float>, ld ldSrc: Int, width: Int, into dst: UnsafeMutablePointer<Float>, ld ldDst: Int) {
        for b in 0..<batch {
            let n = lengths[b], base = b * length
            for i in 0..<length {
                let j = i < n ? n - 1 - i : i
                mk_add_inplace(dst + (base + i) * ldDst, src + (base + j) * ldSrc, width)
            }
        }
    }
}

/// Pointers to one layer's activations: the shared workspace (inference) or a tape slice (training).
struct LayerBuffers {
    var residIn: UnsafeMutablePointer<Float>  // (T, D)    residual entering the layer (training only)
    var normed: UnsafeMutablePointer<Float>   // (T, D)
    var xz: UnsafeMutablePointer<Float>       // (T, 2E)
    var xc: UnsafeMutablePointer<Float>       // (T, E)
    var dbc: UnsafeMutablePointer<Float>      // (T, R+2N)
    var dt: UnsafeMutablePointer<Float>       // (T, E)
    var y: UnsafeMutablePointer<Float>        // (T, E)   gated scan output (both directions summed)
    /// Reverse direction (bidirectional): conv output, x_proj output, dt_proj output, in reversed time.
    var xcRev: UnsafeMutablePointer<Float>? = nil   // (T, E)
    var dbcRev: UnsafeMutablePointer<Float>? = nil  // (T, R+2N)
    var dtRev: UnsafeMutablePointer<Float>? = nil   // (T, E)

    init(residIn: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>, xz: UnsafeMutablePointer<Float>,
         xc: UnsafeMutablePointer<Float>, dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
         y: UnsafeMutablePointer<Float>) {
        self.residIn = residIn; self.normed = normed; self.xz = xz; self.xc = xc; self.dbc = dbc; self.dt = dt; self.y = y
    }

    init(workspace ws: ForwardWorkspace) {
        self.init(residIn: ws.resid.pointer, normed: ws.normed.pointer, xz: ws.xz.pointer, xc: ws.xc.pointer,
                  dbc: ws.dbc.pointer, dt: ws.dt.pointer, y: ws.y.pointer)
        if ws.xcRev.count > 0 { xcRev = ws.xcRev.pointer; dbcRev = ws.dbcRev.pointer; dtRev = ws.dtRev.pointer }
    }
}

extension MambaModel {
    // MARK: - Matrix products

    /// Rows up to which ``linear`` streams the weights itself (``mk_linear_small``) instead of calling GEMM.
    static let smallBatchRows = 8

    /// out (T, M) = inp (T, K) · W(M, K)ᵀ (+ bias). GEMM through OpenBLAS for many rows; for a
    /// few rows (generation) a kernel that reads each weight once, threaded over output features.
    @inline(__always)
    func linear(_ inp: UnsafePointer<Float>, ldIn: Int, rows T: Int, weight: Int, outFeatures M: Int,
                inFeatures K: Int, bias: Int?, out: UnsafeMutablePointer<Float>, ldOut: Int) {
        let W = parameters.pointer + weight
        if T <= MambaModel.smallBatchRows {
            let b: UnsafePointer<Float>? = bias.map { UnsafePointer(parameters.pointer + $0) }
            Parallel.forRanges(M, threads: threads, align: 16, costPerItem: K, minWork: 1 << 16) { r in
                var lin = mk_linear_small_params(x: inp, ld_x: Int32(ldIn), W: W, bias: b, out: out, ld_out: Int32(ldOut),
                                                 Bsz: Int32(T), K: Int32(K))
                mk_linear_small(&lin, Int32(r.lowerBound), Int32(r.upperBound))
            }
            return
        }
        mk_sgemm(0, 1, Int32(T), Int32(M), Int32(K), 1, inp, Int32(ldIn), W, Int32(K), 0, out, Int32(ldOut))
        if let b = bias {
            let bp = parameters.pointer + b
            for t in 0..<T { let o = out + t * ldOut; for j in 0..<M { o[j] += bp[j] } }
        }
    }

    // MARK: - Backbone

    /// Validates token ids against the vocabulary.
    func checkTokens(_ tokens: UnsafeBufferPointer<Int32>, source: String? = nil) throws {
        let V = config.vocabSize
        for (i, t) in tokens.enumerated() where t < 0 || Int(t) >= V {
            throw ModelError.tokenOutOfRange(token: Int(t), position: i, vocabSize: V, source: source)
        }
    }

    /// Runs the backbone on `tokens` (B, L) batch-major, starting from and updating `state`
    /// (B sequences), and leaves the final normed hidden states (B·L, D) in `workspace.normed`
    /// (and in `tape.hidden` when training).
    ///
    /// With a `tape`, every activation the backward pass needs is kept there, per layer; without
    /// one, all layers share the workspace buffers.
    ///
    /// `lengths` (B) are the valid lengths of right-padded sequences; they matter only to the reverse
    /// direction of a bidirectional model, which reverses each sequence within its valid length (the
    /// causal forward direction never lets padding reach earlier positions). Default: all L.
    func backbone(_ tokens: UnsafeBufferPointer<Int32>, batch B: Int, state: MambaState,
                  tape: TrainingTape? = nil, lengths: [Int]? = nil) throws {
        let c = config
        let L = tokens.count / max(B, 1)
        guard B > 0, L > 0, L * B == tokens.count else {
            throw ModelError.invalidShape("\(tokens.count) tokens do not form a batch of \(B) equal-length sequences")
        }
        guard state.batch == B, state.config == c else {
            throw ModelError.stateMismatch(expected: "batch \(B)", found: "batch \(state.batch)")
        }
        try checkTokens(tokens)
        if c.bidirectional && c.useBias {
            throw ModelError.invalidShape("a bidirectional model with use_bias is not supported (the shared out_proj bias would count twice)")
        }
        let lens = lengths ?? [Int](repeating: L, count: B)
        guard lens.count == B, lens.allSatisfy({ $0 >= 1 && $0 <= L }) else {
            throw ModelError.invalidShape("sequence lengths \(lens) do not fit a batch of \(B) × \(L)")
        }
        let reversal = SequenceReversal(batch: B, length: L, lengths: lens)
        let T = B * L, D = c.dModel, E = c.dInner, N = c.dState, K = c.dConv
        workspace.ensure(rows: T, config: c)
        let ws = workspace
        tape?.prepare(batch: B, length: L)
        tape?.lengths = lens
        let p = parameters.pointer

        // Embedding lookup: resid[t, :] = E[token[t], :]
        for t in 0..<T {
            (ws.resid.pointer + t * D).update(from: p + layout.embedding + Int(tokens[t]) * D, count: D)
        }

        for (l, o) in layout.layers.enumerated() {
            let buf = tape?.layer(l) ?? LayerBuffers(workspace: ws)
            // residual += previous mixer output (fused), normed = RMSNorm(residual)
            let add: UnsafePointer<Float>? = l == 0 ? nil : UnsafePointer(ws.out.pointer)
            rmsnorm(ws.resid.pointer, add: add, weight: o.norm, out: buf.normed, rows: T)
            let convState = state.convState(layer: l)
            let ssm = state.ssmState(layer: l)
            if let tape {   // what backward needs that the forward overwrites
                buf.residIn.update(from: ws.resid.pointer, count: T * D)
                tape.convStateIn(l).update(from: convState, count: B * (K - 1) * E)
                tape.ssmStateIn(l).update(from: ssm, count: B * E * N)
            }

            // in_proj: xz (T, 2E)
            linear(buf.normed, ldIn: D, rows: T, weight: o.inProj, outFeatures: 2 * E, inFeatures: D,
                   bias: o.inProjBias, out: buf.xz, ldOut: 2 * E)

            // conv1d → x_proj → dt_proj → scan, forward in time; states (B, K-1, E), (B, E, N) carried
            ssmForward(o.forward, A: negA.pointer + l * E * N, xz: buf.xz, xc: buf.xc, dbc: buf.dbc, dt: buf.dt,
                       y: buf.y, convState: convState, ssm: ssm, batch: B, length: L)
            if let rev = o.reverse, let xcRev = buf.xcRev, let dbcRev = buf.dbcRev, let dtRev = buf.dtRev {
                // reverse direction (BiMamba): the same in_proj output read backwards, own conv/SSM
                // tensors, zero initial state; its gated output, turned forwards again, adds to y.
                reversal.gather(buf.xz, ld: 2 * E, width: 2 * E, into: ws.xzRev.pointer, ld: 2 * E)
                workspace.zeroReverseStates(batch: B, config: c)
                ssmForward(rev, A: negA.pointer + (c.nLayer + l) * E * N, xz: ws.xzRev.pointer, xc: xcRev,
                           dbc: dbcRev, dt: dtRev, y: ws.yRev.pointer, convState: workspace.convRev.pointer,
                           ssm: workspace.ssmRev.pointer, batch: B, length: L)
                reversal.addGathered(ws.yRev.pointer, ld: E, width: E, into: buf.y, ld: E)
            }

            // out_proj: out (T, D)
            linear(buf.y, ldIn: E, rows: T, weight: o.outProj, outFeatures: D, inFeatures: E,
                   bias: o.outProjBias, out: ws.out.pointer, ldOut: D)
        }
        // final residual add and norm_f
        rmsnorm(ws.resid.pointer, add: UnsafePointer(ws.out.pointer), weight: layout.normF,
                out: ws.normed.pointer, rows: T)
        if let tape {
            tape.finalResid.pointer.update(from: ws.resid.pointer, count: T * D)
            tape.hidden.pointer.update(from: ws.normed.pointer, count: T * D)
        }
        state.position += L
    }

    /// One scan direction of a mixer, from the in_proj output xz (T, 2E) to the gated scan output y (T, E):
    ///
    ///     xc = SiLU(causal_conv1d(x));  dt, B, C = split(x_proj(xc));  dt = dt_proj(dt)
    ///     y  = selective_scan(xc, softplus(dt + dt_bias), A, B, C, D) ⊙ SiLU(z)
    ///
    /// `convState` (B, K-1, E) and `ssm` (B, E, N) are read as the initial states and overwritten
    /// with the final ones.
    func ssmForward(_ o: SSMOffsets, A: UnsafePointer<Float>, xz: UnsafeMutablePointer<Float>,
                    xc: UnsafeMutablePointer<Float>, dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
                    y: UnsafeMutablePointer<Float>, convState: UnsafeMutablePointer<Float>, ssm: UnsafeMutablePointer<Float>,
                    batch B: Int, length L: Int) {
        let c = config
        let T = B * L, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv, ldBC = R + 2 * N
        let p = parameters.pointer
        let nThreads = threads
        // causal depthwise conv1d + SiLU over time: xc (T, E)
        let convW = p + o.conv1d, convB: UnsafePointer<Float>? = o.conv1dBias.map { UnsafePointer(p + $0) }
        Parallel.forRanges(E, threads: nThreads, align: 16, costPerItem: T * K) { r in
            var conv = mk_conv1d_params(x: xz, ld_x: Int32(2 * E), w: convW, bias: convB, state_in: convState,
                                        state_out: convState, out: xc, ld_out: Int32(E),
                                        Bsz: Int32(B), L: Int32(L), E: Int32(E), K: Int32(K), act: 1)
            mk_conv1d_fwd(&conv, Int32(r.lowerBound), Int32(r.upperBound))
        }
        // x_proj: dbc (T, R+2N); dt_proj: dt (T, E) (bias + softplus happen in the scan)
        linear(xc, ldIn: E, rows: T, weight: o.xProj, outFeatures: ldBC, inFeatures: E, bias: nil, out: dbc, ldOut: ldBC)
        linear(dbc, ldIn: ldBC, rows: T, weight: o.dtProj, outFeatures: E, inFeatures: R, bias: nil, out: dt, ldOut: E)
        // fused selective scan with D skip and SiLU(z) gate: y (T, E)
        let dSkip = p + o.D, dtBias = p + o.dtProjBias
        Parallel.forRanges(E, threads: nThreads, align: 16, costPerItem: T * N * 4) { r in
            var scan = mk_scan_params(u: xc, ld_u: Int32(E), delta: dt, ld_delta: Int32(E), A: A,
                                      Bm: dbc + R, Cm: dbc + R + N, ld_bc: Int32(ldBC),
                                      D: dSkip, delta_bias: dtBias, delta_softplus: 1, z: xz + E, ld_z: Int32(2 * E),
                                      y: y, ld_y: Int32(E), h0: ssm, h_last: ssm,
                                      Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N))
            mk_scan_fwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
        }
    }

    /// RMSNorm over rows, threaded by rows.
    func rmsnorm(_ x: UnsafeMutablePointer<Float>, add: UnsafePointer<Float>?, weight: Int,
                 out: UnsafeMutablePointer<Float>, rows T: Int) {
        let D = config.dModel, eps = config.layerNormEpsilon, w = parameters.pointer + weight
        Parallel.forRanges(T, threads: threads, costPerItem: D, minWork: 1 << 17) { r in
            let o = r.lowerBound * D
            mk_rmsnorm_fwd(x + o, add.map { $0 + o }, w, out + o, Int32(r.count), Int32(D), eps)
        }
    }

    /// logits (rows, V) = hidden (rows, D) · headᵀ for hidden rows [row0, row0+rows) of the last backbone run.
    func headLogits(row0: Int, rows: Int, into logits: UnsafeMutablePointer<Float>) {
        linear(workspace.normed.pointer + row0 * config.dModel, ldIn: config.dModel, rows: rows,
               weight: headOffset, outFeatures: config.vocabSize, inFeatures: config.dModel, bias: nil,
               out: logits, ldOut: config.vocabSize)
    }
}
