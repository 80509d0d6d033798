// Mamba2Tests.swift — Mamba-2 (SSD) blocks:
//   kernels: mk_ssd_scan (every ISA) against a float64 loop of the recurrence; mk_ssd_scan_bwd and the gated
//            RMSNorm's backward against central finite differences of float64 references;
//   model:   transformers-made checkpoints (Scripts/make_mamba2_fixtures.py: Mamba2ForCausalLM's torch path)
//            score like PyTorch with the chunked and the recurrent SSD, token by token and in uneven chunks,
//            and every parameter gradient matches PyTorch's; config/checkpoint round trip; training lowers the loss.
//
// Kernel shapes: x, y, dy (B·L, H·P);  Bm, Cm (B·L, G·N);  dt (B·L, H);  A, D (H);  state (B, H, P, N).
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class Mamba2Tests: XCTestCase {
    // MARK: - Kernels

    /// A random SSD problem (float32 buffers) and its float64 reference.
    struct Problem {
        let B = 2, L: Int, H = 4, P = 3, G = 2, N = 5
        var x, bm, cm, dt, A, D, s0, dy: [Float]

        init(L: Int, seed: UInt64) {
            self.L = L
            var r = SeededRandom(seed: seed)
            let T = B * L
            x = (0..<(T * H * P)).map { _ in r.normal() }
            bm = (0..<(T * G * N)).map { _ in r.normal() }
            cm = (0..<(T * G * N)).map { _ in r.normal() }
            dt = (0..<(T * H)).map { _ in r.uniform(0.05, 0.6) }
            A = (0..<H).map { _ in -r.uniform(0.3, 2) }
            D = (0..<H).map { _ in 1 + 0.5 * r.normal() }
            s0 = (0..<(B * H * P * N)).map { _ in r.normal() }
            dy = (0..<(T * H * P)).map { _ in r.normal() }
        }

        /// y (T, H·P) and the final state of the recurrence, in float64, from float64 copies of the inputs.
        static func reference(_ p: Problem, x: [Double], bm: [Double], cm: [Double], dt: [Double], A: [Double], D: [Double],
                              s0: [Double]) -> (y: [Double], state: [Double]) {
            let (B, L, H, P, G, N) = (p.B, p.L, p.H, p.P, p.G, p.N), Hg = H / G
            var y = [Double](repeating: 0, count: B * L * H * P), S = s0
            for b in 0..<B {
                for t in 0..<L {
                    let r = b * L + t
                    for h in 0..<H {
                        let g = h / Hg, a = Foundation.exp(dt[r * H + h] * A[h])
                        for i in 0..<P {
                            var acc = 0.0
                            for n in 0..<N {
                                let k = ((b * H + h) * P + i) * N + n
                                S[k] = a * S[k] + dt[r * H + h] * x[r * H * P + h * P + i] * bm[r * G * N + g * N + n]
                                acc += cm[r * G * N + g * N + n] * S[k]
                            }
                            y[r * H * P + h * P + i] = acc + D[h] * x[r * H * P + h * P + i]
                        }
                    }
                }
            }
            return (y, S)
        }

        /// Σ y·dy of the float64 reference.
        func loss(x: [Double], bm: [Double], cm: [Double], dt: [Double], A: [Double], D: [Double], s0: [Double]) -> Double {
            let y = Self.reference(self, x: x, bm: bm, cm: cm, dt: dt, A: A, D: D, s0: s0).y
            return zip(y, dy).reduce(0) { $0 + $1.0 * Double($1.1) }
        }

        func d(_ a: [Float]) -> [Double] { a.map(Double.init) }
    }

    func testScanKernelMatchesFloat64Recurrence() {
        let pr = Problem(L: 37, seed: 11)
        let ref = Problem.reference(pr, x: pr.d(pr.x), bm: pr.d(pr.bm), cm: pr.d(pr.cm), dt: pr.d(pr.dt), A: pr.d(pr.A),
                                    D: pr.d(pr.D), s0: pr.d(pr.s0))
        forEachISA { isa in
            var y = [Float](repeating: 0, count: pr.x.count), state = pr.s0
            pr.x.withUnsafeBufferPointer { x in pr.bm.withUnsafeBufferPointer { bm in pr.cm.withUnsafeBufferPointer { cm in
            pr.dt.withUnsafeBufferPointer { dt in pr.A.withUnsafeBufferPointer { A in pr.D.withUnsafeBufferPointer { D in
            y.withUnsafeMutableBufferPointer { yp in state.withUnsafeMutableBufferPointer { sp in
                var p = mk_ssd_params(x: x.baseAddress, Bm: bm.baseAddress, Cm: cm.baseAddress, dt: dt.baseAddress, A: A.baseAddress,
                                      D: D.baseAddress, y: yp.baseAddress, state: sp.baseAddress,
                                      ld_x: Int32(pr.H * pr.P), ld_bc: Int32(pr.G * pr.N), ld_dt: Int32(pr.H), ld_y: Int32(pr.H * pr.P),
                                      Bsz: Int32(pr.B), L: Int32(pr.L), H: Int32(pr.H), P: Int32(pr.P), G: Int32(pr.G), N: Int32(pr.N))
                mk_ssd_scan(&p, 0, Int32(pr.B * pr.H))
            }}}}}}}}
            let dy = zip(y, ref.y).map { abs(Double($0) - $1) }.max()!
            let ds = zip(state, ref.state).map { abs(Double($0) - $1) }.max()!
            print("[ssd scan \(isaName(isa))] max |float32 kernel − float64| y \(dy), final state \(ds)")
            XCTAssertLessThan(dy, 1e-4); XCTAssertLessThan(ds, 1e-4)
        }
    }

    /// mk_ssd_scan_bwd against central differences of Σ y·dy in float64 (dx, dΔ, dB, dC, dA, dD; chunks of 16
    /// steps recomputed: L = 37 crosses two chunk boundaries).
    func testScanBackwardMatchesFiniteDifferences() {
        let pr = Problem(L: 37, seed: 12)
        let (B, L, H, P, G, N) = (pr.B, pr.L, pr.H, pr.P, pr.G, pr.N), T = B * L, Hg = H / G
        forEachISA { isa in
            var dx = [Float](repeating: 0, count: pr.x.count), ddt = [Float](repeating: 0, count: pr.dt.count)
            var dBp = [Float](repeating: 0, count: T * H * N), dCp = dBp
            var dAp = [Float](repeating: 0, count: B * H), dDp = dAp
            pr.x.withUnsafeBufferPointer { x in pr.bm.withUnsafeBufferPointer { bm in pr.cm.withUnsafeBufferPointer { cm in
            pr.dt.withUnsafeBufferPointer { dt in pr.A.withUnsafeBufferPointer { A in pr.D.withUnsafeBufferPointer { D in
            pr.s0.withUnsafeBufferPointer { s0 in pr.dy.withUnsafeBufferPointer { dy in
                let f = mk_ssd_params(x: x.baseAddress, Bm: bm.baseAddress, Cm: cm.baseAddress, dt: dt.baseAddress, A: A.baseAddress,
                                      D: D.baseAddress, y: nil, state: nil,
                                      ld_x: Int32(H * P), ld_bc: Int32(G * N), ld_dt: Int32(H), ld_y: Int32(H * P),
                                      Bsz: Int32(B), L: Int32(L), H: Int32(H), P: Int32(P), G: Int32(G), N: Int32(N))
                dx.withUnsafeMutableBufferPointer { dxp in ddt.withUnsafeMutableBufferPointer { ddtp in
                dBp.withUnsafeMutableBufferPointer { bp in dCp.withUnsafeMutableBufferPointer { cp in
                dAp.withUnsafeMutableBufferPointer { ap in dDp.withUnsafeMutableBufferPointer { dp in
                    var q = mk_ssd_bwd_params(fwd: f, state_in: s0.baseAddress, dy: dy.baseAddress, ld_dy: Int32(H * P),
                                              dx: dxp.baseAddress, ld_dx: Int32(H * P), ddt: ddtp.baseAddress, ld_ddt: Int32(H),
                                              dB_part: bp.baseAddress, dC_part: cp.baseAddress, dA_part: ap.baseAddress, dD_part: dp.baseAddress)
                    mk_ssd_scan_bwd(&q, 0, Int32(B * H))
                }}}}}}
            }}}}}}}}
            // the kernel's gradients w.r.t. the shared inputs: sum the per-head / per-item parts
            var dB = [Double](repeating: 0, count: T * G * N), dC = dB
            for r in 0..<T { for h in 0..<H { for n in 0..<N {
                dB[r * G * N + (h / Hg) * N + n] += Double(dBp[(r * H + h) * N + n])
                dC[r * G * N + (h / Hg) * N + n] += Double(dCp[(r * H + h) * N + n])
            } } }
            var dA = [Double](repeating: 0, count: H), dD = dA
            for b in 0..<B { for h in 0..<H { dA[h] += Double(dAp[b * H + h]); dD[h] += Double(dDp[b * H + h]) } }

            var worst = 0.0
            var inputs = (x: pr.d(pr.x), bm: pr.d(pr.bm), cm: pr.d(pr.cm), dt: pr.d(pr.dt), A: pr.d(pr.A), D: pr.d(pr.D))
            let s0 = pr.d(pr.s0)
            func fd(_ path: WritableKeyPath<(x: [Double], bm: [Double], cm: [Double], dt: [Double], A: [Double], D: [Double]), [Double]>,
                    _ i: Int) -> Double {
                let h = 1e-6, v = inputs[keyPath: path][i]
                inputs[keyPath: path][i] = v + h
                let lp = pr.loss(x: inputs.x, bm: inputs.bm, cm: inputs.cm, dt: inputs.dt, A: inputs.A, D: inputs.D, s0: s0)
                inputs[keyPath: path][i] = v - h
                let lm = pr.loss(x: inputs.x, bm: inputs.bm, cm: inputs.cm, dt: inputs.dt, A: inputs.A, D: inputs.D, s0: s0)
                inputs[keyPath: path][i] = v
                return (lp - lm) / (2 * h)
            }
            let checks: [(String, WritableKeyPath<(x: [Double], bm: [Double], cm: [Double], dt: [Double], A: [Double], D: [Double]), [Double]>, [Double])] = [
                ("dx", \.x, dx.map(Double.init)), ("dΔ", \.dt, ddt.map(Double.init)), ("dB", \.bm, dB), ("dC", \.cm, dC),
                ("dA", \.A, dA), ("dD", \.D, dD)]
            for (name, path, got) in checks {
                let n = got.count
                for i in Set([0, 1, n / 3, n / 2, n - 2, n - 1]) {
                    let want = fd(path, i)
                    let rel = abs(got[i] - want) / max(abs(want), 1)
                    worst = max(worst, rel)
                    XCTAssertLessThan(rel, 2e-4, "\(name)[\(i)] kernel \(got[i]) vs finite difference \(want)")
                }
            }
            print("[ssd backward \(isaName(isa))] max relative |kernel − float64 finite difference| \(worst)")
        }
    }

    /// The gated RMSNorm's backward (both orders of norm and gate) against central differences in float64.
    func testGatedNormBackwardMatchesFiniteDifferences() {
        let rows = 3, E = 12, G = 3, S = E / G
        let eps: Float = 1e-5
        var r = SeededRandom(seed: 5)
        let y = (0..<(rows * E)).map { _ in r.normal() }, z = (0..<(rows * E)).map { _ in 2 * r.normal() }
        let w = (0..<E).map { _ in 1 + 0.3 * r.normal() }, dOut = (0..<(rows * E)).map { _ in r.normal() }
        func reference(_ y: [Double], _ z: [Double], _ w: [Double], before: Bool) -> Double {
            var loss = 0.0
            for t in 0..<rows { for g in 0..<G {
                let idx = (0..<S).map { t * E + g * S + $0 }
                let silu = idx.map { z[$0] / (1 + Foundation.exp(-z[$0])) }
                let u = before ? idx.map { y[$0] } : zip(idx, silu).map { y[$0.0] * $0.1 }
                let inv = 1 / (u.reduce(0) { $0 + $1 * $1 } / Double(S) + Double(eps)).squareRoot()
                for (k, i) in idx.enumerated() {
                    let o = w[g * S + k] * u[k] * inv * (before ? silu[k] : 1)
                    loss += o * Double(dOut[i])
                }
            } }
            return loss
        }
        for before in [false, true] {
            var dy = [Float](repeating: 0, count: rows * E), dz = dy, dw = [Float](repeating: 0, count: E)
            var out = dy
            mk_gated_rmsnorm_fwd(y, Int32(E), z, Int32(E), w, &out, Int32(E), Int32(rows), Int32(E), Int32(G), eps, before ? 1 : 0)
            mk_gated_rmsnorm_bwd(y, Int32(E), z, Int32(E), w, dOut, Int32(E), &dy, Int32(E), &dz, Int32(E), &dw,
                                 Int32(rows), Int32(E), Int32(G), eps, before ? 1 : 0)
            var yd = y.map(Double.init), zd = z.map(Double.init), wd = w.map(Double.init)
            let lossF = zip(out, dOut).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lossF, reference(yd, zd, wd, before: before), accuracy: 1e-4)
            var worst = 0.0
            func check(_ got: [Float], _ set: (Double) -> Void, _ get: () -> Double, _ name: String, _ i: Int) {
                let v = get(), h = 1e-6
                set(v + h); let lp = reference(yd, zd, wd, before: before)
                set(v - h); let lm = reference(yd, zd, wd, before: before)
                set(v)
                let want = (lp - lm) / (2 * h), rel = abs(Double(got[i]) - want) / max(abs(want), 1)
                worst = max(worst, rel)
                XCTAssertLessThan(rel, 1e-4, "\(name)[\(i)] before=\(before): \(got[i]) vs \(want)")
            }
            for i in [0, 5, 17, rows * E - 1] {
                check(dy, { yd[i] = $0 }, { yd[i] }, "dy", i)
                check(dz, { zd[i] = $0 }, { zd[i] }, "dz", i)
            }
            for i in [0, 4, E - 1] { check(dw, { wd[i] = $0 }, { wd[i] }, "dw", i) }
            print("[gated RMSNorm norm_before_gate=\(before)] max relative |kernel − float64 finite difference| \(worst)")
        }
    }

    // MARK: - transformers checkpoints

    static let fixtures = ["mamba2_groups", "mamba2_heads", "mamba2_bf16"]

    func load(_ name: String, _ evaluation: SSDEvaluation) throws -> MambaModel {
        let m = try MambaModel.load(directory: Fixtures.dir(name))
        m.threads = 2
        m.backbone.ssdEvaluation = evaluation
        return m
    }

    /// Logits of one pass (chunked and recurrent SSD), token by token and in uneven chunks, against transformers.
    func testFixtureLogitsBothModes() throws {
        for name in Self.fixtures {
            let tokens = try Fixtures.tokens(name)
            let expected = try Fixtures.expected(name, "logits")
            for evaluation in [SSDEvaluation.chunked, .recurrent] {
                let model = try load(name, evaluation)
                XCTAssertEqual(model.config.ssmMixer, .ssd)
                let d = maxAbsDiff(try model.logits(tokens: tokens), expected)
                let state = model.makeState(batch: 1)
                var steps: [Float] = []
                for t in tokens { steps += try model.step([t], state: state) }
                let chunkState = model.makeState(batch: 1)
                var chunks: [Float] = [], i = 0
                for n in [5, 17, 1, tokens.count - 23] { chunks += try model.logits(tokens: Array(tokens[i..<(i + n)]), state: chunkState); i += n }
                let ds = maxAbsDiff(steps, expected), dc = maxAbsDiff(chunks, expected)
                print("[\(name) \(evaluation.rawValue)] max |MambaKit − PyTorch| logits: one pass \(d), token by token \(ds), chunks 5+17+1+… \(dc)")
                XCTAssertLessThan(d, 1e-4, name); XCTAssertLessThan(ds, 1e-4, name); XCTAssertLessThan(dc, 1e-4, name)
            }
        }
        // transformers' own recurrent form agrees where it applies time_step_limit the same way (no clamping limit)
        let steps = try Fixtures.expected("mamba2_groups", "step_logits")
        XCTAssertLessThan(maxAbsDiff(steps, try Fixtures.expected("mamba2_groups", "logits")), 1e-4)
    }

    /// Chunks longer than the intra-chunk row block (64), a last chunk shorter than the others, a batch of two, and
    /// threads that split heads across groups unevenly: the chunked SSD equals the recurrence (float64 loop of it
    /// checked above), and the state it leaves carries on.
    func testChunkedEqualsRecurrentOnLongChunksAndThreads() throws {
        var c = MambaConfig.mamba2(dModel: 24, nLayer: 2, vocabSize: 31, dState: 16, headDim: 8, nGroups: 3, chunkSize: 128)
        c.tieWordEmbeddings = false
        let m = try MambaModel.randomlyInitialised(config: c, seed: 4)
        var r = SeededRandom(seed: 8)
        let seqs = (0..<2).map { _ in (0..<300).map { _ in Int32(r.below(31)) } }
        let next: [Int32] = [3, 7]
        m.backbone.ssdEvaluation = .recurrent
        let refState = m.makeState(batch: 2)
        let ref = try m.logits(batch: seqs, state: refState)
        let refNext = try m.logits(batch: next.map { [$0] }, state: refState)
        let scale = ref.map { abs($0) }.max()!
        for threads in [1, 2, 4] {
            m.threads = threads
            m.backbone.ssdEvaluation = .chunked
            let state = m.makeState(batch: 2)
            let out = try m.logits(batch: seqs, state: state)
            m.backbone.ssdEvaluation = .recurrent
            let outNext = try m.logits(batch: next.map { [$0] }, state: state)
            let d = maxAbsDiff(out, ref), dn = maxAbsDiff(outNext, refNext)
            print("[mamba2 chunk 128, L 300, B 2, \(threads) threads] max |chunked − recurrent| logits \(d) (of \(scale)), next token from the chunked state \(dn)")
            XCTAssertLessThan(d, 2e-5 * max(1, scale)); XCTAssertLessThan(dn, 2e-5 * max(1, scale))
        }
    }

    /// d(mean next-token NLL)/d(every parameter) against PyTorch autograd through transformers.
    func testFixtureGradients() throws {
        for name in Self.fixtures {
            for evaluation in [SSDEvaluation.chunked, .recurrent] {
                let model = try load(name, evaluation)
                let (nll, worstName, worst) = try assertGradientsMatchFixture(model, tokens: try Fixtures.tokens(name), fixture: name)
                print("[\(name) \(evaluation.rawValue)] gradients (\(model.layout.slices.count) tensors): max relative error \(worst) (\(worstName)); nll \(nll)")
            }
        }
    }

    // MARK: - Config, checkpoints, training

    func testConfigRoundTripAndRefusals() throws {
        let c = try MambaConfig.load(from: Fixtures.dir("mamba2_heads"))
        XCTAssertEqual(c.ssd, SSDConfig(numHeads: 3, headDim: 16, nGroups: 1, chunkSize: 8, timeStepLimit: [0, 0.05]))
        XCTAssertEqual(c.inProjWidth, 2 * 48 + 2 * 8 + 3)
        let m = try MambaModel.load(directory: Fixtures.dir("mamba2_heads"))
        XCTAssertEqual(m.config.checkedParameterCount, m.parameterCount, "config's count = the layout's")
        XCTAssertEqual(m.layout.slice(named: "backbone.layers.0.mixer.dt_bias")?.noWeightDecay, true)
        let dir = temporaryDirectory(self)
        try m.save(to: dir)
        let back = try MambaModel.load(directory: dir)
        XCTAssertEqual(back.config, m.config)
        let tokens = try Fixtures.tokens("mamba2_heads")
        XCTAssertEqual(maxAbsDiff(try back.logits(tokens: tokens), try m.logits(tokens: tokens)), 0)

        // transformers writes Python's Infinity in time_step_limit; mamba_ssm's format with "layer": "Mamba2"
        let hf = dir.appendingPathComponent("hf.json")
        try #"{"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "num_heads": 2, "head_dim": 64, "n_groups": 1, "time_step_limit": [0.0, Infinity]}"#
            .write(to: hf, atomically: true, encoding: .utf8)
        let h = try MambaConfig.load(from: hf)
        XCTAssertEqual(h.ssd?.timeStepLimit, [0, .infinity]); XCTAssertEqual(h.dState, 128); XCTAssertFalse(h.tieWordEmbeddings)
        let ms = dir.appendingPathComponent("ms.json")
        try #"{"d_model": 64, "n_layer": 2, "vocab_size": 100, "ssm_cfg": {"layer": "Mamba2", "d_state": 32, "headdim": 32}}"#
            .write(to: ms, atomically: true, encoding: .utf8)
        let s = try MambaConfig.load(from: ms)
        XCTAssertEqual(s.ssd, SSDConfig(numHeads: 4, headDim: 32, nGroups: 1)); XCTAssertEqual(s.vocabSize, 104)
        // bad heads: named key, the file, and the fix
        let bad = dir.appendingPathComponent("bad.json")
        try #"{"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "num_heads": 3, "head_dim": 64}"#
            .write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MambaConfig.load(from: bad)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("bad.json") && text.contains("num_heads") && text.contains("must equal"), text)
        }
    }

    /// A new Mamba-2 model (mamba_ssm's initialisation) trains: AdamW steps lower the loss on a repeating sequence,
    /// and the trained model's parallel and recurrent forms still agree.
    func testTrainingLowersLoss() throws {
        var c = MambaConfig(dModel: 32, nLayer: 2, vocabSize: 17, dState: 16)
        c.ssmMixer = .ssd
        c.ssd = SSDConfig(numHeads: 4, headDim: 16, nGroups: 2, chunkSize: 16)
        c.tieWordEmbeddings = false
        let m = try MambaModel.randomlyInitialised(config: c, seed: 9)
        m.threads = 2
        let aLog = try XCTUnwrap(m.tensor("backbone.layers.0.mixer.A_log"))
        XCTAssertTrue(aLog.allSatisfy { $0 >= 0 && $0 <= Float(Foundation.log(16.0)) }, "A ~ U[1, 16]")
        let tokens: [Int32] = (0..<96).map { Int32(($0 * 5 + $0 / 7) % 17) }
        var o = AdamWOptions(); o.learningRate = 3e-3; o.schedule = .constant; o.totalSteps = 30
        let opt = AdamW(layout: m.layout, options: o)
        var first = 0.0, last = 0.0
        for step in 0..<30 {
            let (nll, g) = try m.meanNLLGradient(tokens: tokens)
            if step == 0 { first = nll }
            last = nll
            _ = opt.update(parameters: m.parameters, grads: g)
            m.refreshDerived()
        }
        print("[mamba2 training] 30 AdamW steps: nll \(first) → \(last)")
        XCTAssertLessThan(last, first * 0.7)
        let whole = try m.logits(tokens: tokens)
        let state = m.makeState(batch: 1)
        var steps: [Float] = []
        for t in tokens { steps += try m.step([t], state: state) }
        XCTAssertLessThan(maxAbsDiff(steps, whole), 1e-4)
    }

    // MARK: - Commands

    /// `train text --mixer ssd` makes, trains and saves a Mamba-2 model that `info`, `eval text`, `generate` and
    /// `convert` (f16/bf16/int8) read back; size options that do not fit are refused with the option named.
    func testCommandsWithMamba2Blocks() throws {
        let dir = temporaryDirectory(self)
        let data = dir.appendingPathComponent("train.txt")
        let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 60)
        try text.write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        let r = try runCLI(["train", "text", "--data", data.path, "--tokenizer", "byte", "--mixer", "ssd", "--d-model", "32",
                            "--n-layer", "2", "--head-dim", "16", "--n-groups", "2", "--d-state", "16", "--seq-len", "64",
                            "--batch-size", "2", "--steps", "40", "--eval-every", "20", "--eval-tokens", "300", "--lr", "0.01",
                            "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let i = try runCLI(["info", "--model", out.path, "--json"])
        XCTAssertEqual(i.status, 0, i.stderr)
        let info = try JSONSerialization.jsonObject(with: Data(i.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(info["ssm_mixer"] as? String, "ssd")
        XCTAssertEqual(info["num_heads"] as? Int, 4)
        XCTAssertEqual(info["n_groups"] as? Int, 2)
        XCTAssertNil(info["dt_rank"])

        func bitsPerByte(_ model: URL) throws -> Double {
            let e = try runCLI(["eval", "text", "--model", model.path, "--data", data.path, "--json"])
            XCTAssertEqual(e.status, 0, e.stderr)
            let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
            return try XCTUnwrap(obj["bits_per_byte"] as? Double)
        }
        let f32 = try bitsPerByte(out)
        print("[mamba2 CLI] 40 steps: \(f32) bits/byte (untrained: log2 258 = 8.01)")
        XCTAssertLessThan(f32, 5.5, "a repeated sentence is learnable in 40 steps")
        for (format, tolerance) in [("f16", 0.001), ("bf16", 0.01), ("int8", 0.01)] {
            let converted = dir.appendingPathComponent(format)
            let c = try runCLI(["convert", "--model", out.path, "--weights", format, "--out", converted.path])
            XCTAssertEqual(c.status, 0, c.stderr)
            let bpb = try bitsPerByte(converted)
            print("[mamba2 CLI] \(format): \(bpb) bits/byte (relative change \((bpb - f32) / f32))")
            XCTAssertLessThan(abs(bpb - f32) / f32, tolerance)
        }
        let g = try runCLI(["generate", "--model", out.path, "--prompt", "the quick", "--max-tokens", "16", "--seed", "3"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertTrue(g.stdout.hasPrefix("the quick"), g.stdout)

        for (args, mention) in [(["--head-dim", "16"], "--mixer ssd"), (["--mixer", "ssd", "--head-dim", "24"], "--head-dim"),
                                (["--mixer", "ssd", "--head-dim", "16", "--n-groups", "3"], "n_groups 3")] {
            let bad = try runCLI(["train", "text", "--data", data.path, "--d-model", "32", "--n-layer", "1", "--steps", "1"] + args)
            XCTAssertEqual(bad.status, 64, bad.stderr)
            XCTAssertTrue(bad.stderr.contains(mention), bad.stderr)
        }
    }
}
