// ComplexSSMTests.swift — the complex-valued selective SSM mixer (`ssm_mixer: "complex"`):
//   kernels: mk_cscan_fwd / mk_cscan_bwd (every ISA) against their scalar references mk_cscan_*_ref, and the
//            kernels' sin/cos against libm;
//   model:   logits and every parameter gradient against the float64 PyTorch reference
//            (Scripts/make_complex_fixtures.py: an independent block + a literal selective_scan_ref-style complex
//            scan; the script checks its autograd against finite differences), parallel chunks against
//            token-by-token steps, and the checkpoint round trip (config key, A_imag, initialisation).
//
// Kernel shapes: u, delta, z, dy, du, ddelta, dz (B, L, E);  Are, Aim, dAre, dAim (E, N);
//   bc, dbc (B, L, 4N): B (re, im)·N then C (re, im)·N;  h0, hLast, dh0 (B, E, N, 2).
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class ComplexSSMTests: XCTestCase {
    // MARK: - Kernels

    /// Random inputs of one scan problem, in stable buffers.
    struct Problem {
        let B: Int, L: Int, E: Int, N: Int
        let u, delta, z, dy, bc, Are, Aim, D, bias, h0: FloatBuffer
        /// Optional inputs present (z, D, delta_bias, softplus, h0) or all absent.
        let full: Bool

        init(B: Int, L: Int, E: Int, N: Int, full: Bool, seed: UInt64) {
            self.B = B; self.L = L; self.E = E; self.N = N; self.full = full
            var r = SeededRandom(seed: seed)
            func buf(_ n: Int, _ f: () -> Float) -> FloatBuffer { let b = FloatBuffer(count: n); for i in 0..<n { b[i] = f() }; return b }
            let T = B * L
            u = buf(T * E) { r.normal() }
            // without softplus delta is Δ itself: keep it positive
            delta = buf(T * E) { full ? r.normal() - 1 : r.uniform(0.01, 0.3) }
            z = buf(T * E) { r.normal() }
            dy = buf(T * E) { r.normal() }
            bc = buf(T * 4 * N) { r.normal() }
            Are = buf(E * N) { -Foundation.exp(Foundation.log(0.5) + 0.3 * r.normal()) }
            Aim = buf(E * N) { 0 }
            for e in 0..<E { for n in 0..<N { Aim[e * N + n] = Float.pi * Float(n) + 0.3 * r.normal() } }
            D = buf(E) { 1 + 0.5 * r.normal() }
            bias = buf(E) { r.uniform(-3, -1) }
            h0 = buf(B * E * 2 * N) { r.normal() }
        }

        func params(y: FloatBuffer?, hLast: FloatBuffer?) -> mk_cscan_params {
            mk_cscan_params(u: u.pointer, ld_u: Int32(E), delta: delta.pointer, ld_delta: Int32(E),
                            A_re: Are.pointer, A_im: Aim.pointer, Bm: bc.pointer, Cm: bc.pointer + 2 * N, ld_bc: Int32(4 * N),
                            D: full ? D.pointer : nil, delta_bias: full ? bias.pointer : nil, delta_softplus: full ? 1 : 0,
                            z: full ? z.pointer : nil, ld_z: Int32(E), y: y?.pointer, ld_y: Int32(E),
                            h0: full ? h0.pointer : nil, h_last: hLast?.pointer,
                            Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N))
        }

        /// The outputs of one backward call.
        final class Grads {
            let du, ddelta, dz, dAre, dAim, dD, dBias, dbc, dh0: FloatBuffer
            init(_ p: Problem) {
                let T = p.B * p.L
                du = FloatBuffer(count: T * p.E); ddelta = FloatBuffer(count: T * p.E); dz = FloatBuffer(count: T * p.E)
                dAre = FloatBuffer(count: p.E * p.N); dAim = FloatBuffer(count: p.E * p.N)
                dD = FloatBuffer(count: p.E); dBias = FloatBuffer(count: p.E)
                dbc = FloatBuffer(count: T * 4 * p.N); dh0 = FloatBuffer(count: p.B * p.E * 2 * p.N)
            }
            var named: [(String, FloatBuffer)] {
                [("du", du), ("ddelta", ddelta), ("dz", dz), ("dA_re", dAre), ("dA_im", dAim), ("dD", dD),
                 ("ddelta_bias", dBias), ("dB|dC", dbc), ("dh0", dh0)]
            }
        }

        func backwardParams(_ g: Grads) -> mk_cscan_bwd_params {
            mk_cscan_bwd_params(fwd: params(y: nil, hLast: nil), dy: dy.pointer, ld_dy: Int32(E),
                                du: g.du.pointer, ld_du: Int32(E), ddelta: g.ddelta.pointer, ld_ddelta: Int32(E),
                                dz: g.dz.pointer, ld_dz: Int32(E), dA_re: g.dAre.pointer, dA_im: g.dAim.pointer,
                                dD: g.dD.pointer, ddelta_bias: g.dBias.pointer,
                                dBm: g.dbc.pointer, dCm: g.dbc.pointer + 2 * N, ld_dbc: Int32(4 * N), dh0: g.dh0.pointer)
        }
    }

    /// max |a − b| / max |b| (absolute when b is all zero).
    func relativeDiff(_ a: FloatBuffer, _ b: FloatBuffer) -> Float {
        let x = Array(a.slice(0..<a.count)), y = Array(b.slice(0..<b.count))
        let top = y.map(abs).max() ?? 0
        return top > 0 ? maxAbsDiff(x, y) / top : maxAbsDiff(x, y)
    }

    /// The fast forward (channel ranges split unevenly, tails of partial blocks) equals the reference: y and the final state.
    func testForwardKernelMatchesReference() {
        for (N, full) in [(4, true), (16, true), (3, false)] {
            let p = Problem(B: 2, L: 150, E: 37, N: N, full: full, seed: UInt64(10 + N))
            let yRef = FloatBuffer(count: p.B * p.L * p.E), hRef = FloatBuffer(count: p.B * p.E * 2 * N)
            var ref = p.params(y: yRef, hLast: hRef)
            mk_cscan_fwd_ref(&ref, 0, Int32(p.E))
            forEachISA { isa in
                let y = FloatBuffer(count: yRef.count), h = FloatBuffer(count: hRef.count)
                var fast = p.params(y: y, hLast: h)
                mk_cscan_fwd(&fast, 0, 20)
                mk_cscan_fwd(&fast, 20, Int32(p.E))
                let dy = relativeDiff(y, yRef), dh = relativeDiff(h, hRef)
                print("complex scan forward N=\(N) \(full ? "z, D, bias, softplus, h0" : "bare") [\(isaName(isa))]: "
                      + "fast vs reference max relative |Δy| \(dy), |Δh_last| \(dh)")
                XCTAssertLessThan(dy, 2e-5)
                XCTAssertLessThan(dh, 2e-5)
            }
        }
    }

    /// The fast backward (chunked recomputation; L = 150 is two full chunks of 64 and a tail) equals the
    /// Double reference for every output; accumulated outputs are added to, not overwritten.
    func testBackwardKernelMatchesReference() {
        for (N, full) in [(4, true), (16, true), (3, false)] {
            let p = Problem(B: 2, L: 150, E: 37, N: N, full: full, seed: UInt64(20 + N))
            let ref = Problem.Grads(p)
            var rp = p.backwardParams(ref)
            mk_cscan_bwd_ref(&rp, 0, Int32(p.E))
            forEachISA { isa in
                let g = Problem.Grads(p)
                for b in [g.dAre, g.dAim, g.dD, g.dBias, g.dbc] { for i in 0..<b.count { b[i] = 0.25 } }   // += check
                var fp = p.backwardParams(g)
                mk_cscan_bwd(&fp, 0, 20)
                mk_cscan_bwd(&fp, 20, Int32(p.E))
                for b in [g.dAre, g.dAim, g.dD, g.dBias, g.dbc] { for i in 0..<b.count { b[i] -= 0.25 } }
                var worst: (String, Float) = ("", 0)
                for ((name, got), (_, want)) in zip(g.named, ref.named) {
                    if !full && (name == "dz" || name == "dD" || name == "ddelta_bias") { continue }   // not written without them
                    let d = relativeDiff(got, want)
                    if d > worst.1 { worst = (name, d) }
                    XCTAssertLessThan(d, 5e-5, "\(name) N=\(N) \(isaName(isa))")
                }
                print("complex scan backward N=\(N) \(full ? "z, D, bias, softplus, h0" : "bare") [\(isaName(isa))]: "
                      + "fast vs reference max relative difference \(worst.1) (\(worst.0))")
            }
        }
    }

    /// The kernels' sin/cos (range reduction by π/2, Cephes polynomials) against libm.
    func testSinCos() {
        let n = 20001
        var x = [Float](repeating: 0, count: n), s = x, c = x
        for i in 0..<n { x[i] = Float(i - n / 2) * 0.05 }   // [-500, 500]
        mk_cscan_sincos(x, &s, &c, Int32(n))
        var worst: Float = 0
        for i in 0..<n {
            worst = max(worst, abs(s[i] - Float(Foundation.sin(Double(x[i])))), abs(c[i] - Float(Foundation.cos(Double(x[i])))))
        }
        print("complex scan sin/cos on [-500, 500]: max |error| \(worst)")
        XCTAssertLessThan(worst, 5e-7)
    }

    // MARK: - Model

    func loadFixture() throws -> MambaModel {
        let m = try MambaModel.load(directory: Fixtures.dir("complex_tiny"))
        m.threads = 2
        return m
    }

    /// Logits (parallel) and every parameter gradient of the mean NLL against PyTorch float64.
    func testFixtureLogitsAndGradients() throws {
        let model = try loadFixture()
        XCTAssertEqual(model.config.ssmMixer, .complex)
        let tokens = try Fixtures.tokens("complex_tiny")
        let expected = try Fixtures.expected("complex_tiny", "logits")
        let d = maxAbsDiff(try model.logits(tokens: tokens), expected)
        print("[complex_tiny] parallel logits: max |Swift − PyTorch| \(d)")
        XCTAssertLessThan(d, 1e-4)

        let (nll, worstName, worst) = try assertGradientsMatchFixture(model, tokens: tokens, fixture: "complex_tiny")
        XCTAssertTrue(model.layout.slices.contains { $0.name.hasSuffix("mixer.A_imag") })
        print("[complex_tiny] gradients (\(model.layout.slices.count) tensors): max relative error \(worst) (\(worstName)); nll \(nll)")
    }

    /// One parallel pass = token-by-token recurrent steps = uneven chunks with the (complex) state carried.
    func testParallelEqualsRecurrent() throws {
        let model = try loadFixture()
        let tokens = try Fixtures.tokens("complex_tiny")
        let whole = try model.logits(tokens: tokens)
        let state = model.makeState(batch: 1)
        XCTAssertEqual(state.ssm.count, model.config.nLayer * model.config.dInner * 2 * model.config.dState)
        var steps: [Float] = []
        for t in tokens { steps += try model.step([t], state: state) }
        let chunkState = model.makeState(batch: 1)
        var chunks: [Float] = []
        var i = 0
        for n in [7, 30, 1, 42] { chunks += try model.logits(tokens: Array(tokens[i..<(i + n)]), state: chunkState); i += n }
        let ds = maxAbsDiff(steps, whole), dc = maxAbsDiff(chunks, whole)
        let dState = maxAbsDiff(Array(state.ssm.slice(0..<state.ssm.count)), Array(chunkState.ssm.slice(0..<chunkState.ssm.count)))
        print("[complex_tiny] token-by-token vs parallel: max |Δlogit| \(ds); chunks 7+30+1+42: \(dc); final states \(dState)")
        XCTAssertLessThan(ds, 2e-5)
        XCTAssertLessThan(dc, 2e-5)
        XCTAssertLessThan(dState, 2e-5)
    }

    /// A new complex model: S4D-Lin initialisation, no weight decay on A_imag, and save → load keeps the
    /// mixer, A_imag and the logits.
    func testInitialisationAndCheckpointRoundTrip() throws {
        var c = MambaConfig(dModel: 16, nLayer: 2, vocabSize: 19, dState: 4)
        c.ssmMixer = .complex
        let m = try MambaModel.randomlyInitialised(config: c, seed: 3)
        XCTAssertEqual(m.config.checkedParameterCount, m.parameterCount, "config's count = the layout's")
        let E = c.dInner, N = c.dState
        let aImag = try XCTUnwrap(m.tensor("backbone.layers.1.mixer.A_imag"))
        let aLog = try XCTUnwrap(m.tensor("backbone.layers.1.mixer.A_log"))
        XCTAssertEqual(aImag.count, E * N)
        for e in [0, E - 1] { for n in 0..<N { XCTAssertEqual(aImag[e * N + n], Float.pi * Float(n), accuracy: 1e-6) } }
        XCTAssertTrue(aLog.allSatisfy { abs($0 - Float(Foundation.log(0.5))) < 1e-6 })
        XCTAssertEqual(m.layout.slice(named: "backbone.layers.0.mixer.x_proj.weight")?.shape, [c.dtRank + 4 * N, E])
        XCTAssertEqual(m.layout.slice(named: "backbone.layers.0.mixer.A_imag")?.noWeightDecay, true)

        // move A_imag off its initial values so the round trip checks real data
        let s = try XCTUnwrap(m.layout.slice(named: "backbone.layers.0.mixer.A_imag"))
        for i in s.range { m.parameters.pointer[i] += 0.01 * Float(i % 7) }
        m.refreshDerived()
        let tokens: [Int32] = (0..<25).map { Int32(($0 * 7) % 19) }
        let before = try m.logits(tokens: tokens)
        let dir = temporaryDirectory(self)
        try m.save(to: dir)
        let text = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"ssm_mixer\" : \"complex\"") || text.contains("\"ssm_mixer\": \"complex\""), text)
        let back = try MambaModel.load(directory: dir)
        XCTAssertEqual(back.config.ssmMixer, .complex)
        XCTAssertEqual(back.config, m.config)
        XCTAssertEqual(back.tensor("backbone.layers.0.mixer.A_imag"), m.tensor("backbone.layers.0.mixer.A_imag"))
        let d = maxAbsDiff(try back.logits(tokens: tokens), before)
        print("complex checkpoint round trip: max |Δlogit| \(d)")
        XCTAssertEqual(d, 0)

        // the CLI: `--mixer complex` trains it (here a synthetic task) and `info` names the mixer
        let out = temporaryDirectory(self).appendingPathComponent("complex")
        let t = try runCLI(["task", "train", "induction-heads", "--length", "40", "--mixer", "complex", "--d-model", "8",
                            "--n-layer", "1", "--steps", "2", "--batch-size", "2", "--threads", "1", "--eval-count", "2",
                            "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("complex mixer"), t.stderr)
        let ck = try Trainer.checkpointDirectory(out)
        XCTAssertEqual(try MambaConfig.load(from: ck).ssmMixer, .complex)
        XCTAssertNotNil(try MambaModel.load(directory: ck).tensor("backbone.layers.0.mixer.A_imag"))
        let info = try runCLI(["info", "--model", ck.path, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("\"ssm_mixer\": \"complex\""), info.stdout)

        // bidirectional is refused by name
        var bi = c
        bi.bidirectional = true
        XCTAssertThrowsError(try MambaModel.randomlyInitialised(config: bi, seed: 1)) { XCTAssertTrue("\($0)".contains("ssm_mixer"), "\($0)") }
    }
}
