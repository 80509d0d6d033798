// LTIMixerTests.swift — the time-invariant (S4D-Real) mixer: its FFT convolution against its recurrence,
// chunked runs against whole ones, and every gradient against central finite differences of an
// independent float64 reference model written here.
import Foundation
import MambaKit
import XCTest

final class LTIMixerTests: XCTestCase {
    /// A small LTI language model with its parameters moved away from the initial values (so that B,
    /// log_dt and D are not all equal across channels).
    func makeModel(dModel: Int = 8, layers: Int = 2, vocab: Int = 11, dState: Int = 4, seed: UInt64 = 7) throws -> MambaModel {
        var c = MambaConfig(dModel: dModel, nLayer: layers, vocabSize: vocab, dState: dState)
        c.ssmMixer = .lti
        let m = try MambaModel.randomlyInitialised(config: c, seed: seed)
        var r = SeededRandom(seed: seed &+ 1)
        for s in m.layout.slices where s.name.hasSuffix(".B") || s.name.hasSuffix(".log_dt") || s.name.hasSuffix(".D")
            || s.name.hasSuffix(".A_log") {
            for i in s.range { m.parameters.pointer[i] += 0.3 * r.uniform(-1, 1) }
        }
        m.refreshDerived()
        return m
    }

    func randomTokens(_ n: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var r = SeededRandom(seed: seed)
        return (0..<n).map { _ in Int32(r.below(vocab)) }
    }

    func testConfigRoundTripAndParameterCount() throws {
        let m = try makeModel()
        XCTAssertEqual(m.config.checkedParameterCount, m.parameterCount, "config's count = the layout's")
        XCTAssertNotNil(m.tensor("backbone.layers.1.mixer.log_dt"))
        XCTAssertNil(m.tensor("backbone.layers.1.mixer.x_proj.weight"))
        let dir = temporaryDirectory(self)
        try m.config.write(to: dir)
        let back = try MambaConfig.load(from: dir)
        XCTAssertEqual(back.ssmMixer, .lti)
        XCTAssertEqual(back, m.config)
        // a bad value and the unsupported combination are refused by name
        let text = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        try text.replacingOccurrences(of: "\"lti\"", with: "\"s4\"").write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MambaConfig.load(from: dir)) { XCTAssertTrue("\($0)".contains("ssm_mixer"), "\($0)") }
        var bi = m.config
        bi.bidirectional = true
        XCTAssertThrowsError(try MambaModel.randomlyInitialised(config: bi, seed: 1)) { XCTAssertTrue("\($0)".contains("ssm_mixer"), "\($0)") }
    }

    func testConvolutionSizes() {
        for L in [1, 2, 3, 31, 32, 100, 300, 4096, 5000, 65_537] {
            let M = RealFFT.convolutionSize(L)
            var m = M
            for f in [2, 3, 5] { while m % f == 0 { m /= f } }
            XCTAssertEqual(m, 1, "\(M) is 5-smooth")
            XCTAssertGreaterThanOrEqual(M, 2 * L)
            XCTAssertEqual(M % 2, 0)
        }
        XCTAssertEqual(RealFFT.convolutionSize(5000), 10_000)
        XCTAssertEqual(RealFFT.convolutionSize(4096), 8192)
    }

    /// The FFT convolution equals the recurrence on the same parameters, from a zero and from a carried
    /// state, with the same final states; and a sequence run in chunks equals the whole.
    func testConvolutionEqualsRecurrence() throws {
        let m = try makeModel(dModel: 16, layers: 2, vocab: 13, dState: 8)
        m.backbone.threads = 2
        let B = 3
        for L in [40, 300, 5000] {
            let first = randomTokens(B * 17, vocab: 13, seed: 3), ids = randomTokens(B * L, vocab: 13, seed: UInt64(L))
            func run(_ how: LTIEvaluation) throws -> (h: [Float], state: [Float]) {
                m.backbone.ltiEvaluation = how
                let st = m.makeState(batch: B)
                _ = try m.backbone.hiddenStates(tokens: first, batch: B, state: st)   // a nonzero state to start from
                let h = try m.backbone.hiddenStates(tokens: ids, batch: B, state: st)
                return (h, Array(UnsafeBufferPointer(start: st.ssm.pointer, count: st.ssm.count)))
            }
            let conv = try run(.convolution), rec = try run(.recurrence)
            let dh = maxAbsDiff(conv.h, rec.h), ds = maxAbsDiff(conv.state, rec.state)
            let scale = rec.state.map(abs).max()!
            print("LTI L=\(L): convolution vs recurrence: hidden max |Δ| \(dh), final state max |Δ| \(ds) (state max \(scale))")
            XCTAssertLessThan(dh, 2e-4)
            XCTAssertLessThan(ds, 1e-4 * max(1, scale))
        }
        // chunks of 64 with the state carried (convolution mode) = one pass
        m.backbone.ltiEvaluation = .automatic
        let ids = randomTokens(640, vocab: 13, seed: 9)
        let whole = try m.backbone.hiddenStates(tokens: ids, batch: 1)
        let st = m.makeState(batch: 1)
        var chunked: [Float] = []
        for c in stride(from: 0, to: 640, by: 64) { chunked += try m.backbone.hiddenStates(tokens: Array(ids[c..<(c + 64)]), batch: 1, state: st) }
        let d = maxAbsDiff(whole, chunked)
        print("LTI chunks of 64 vs one pass of 640: max |Δ| \(d)")
        XCTAssertLessThan(d, 2e-4)
    }

    /// Every LTI and conv gradient of the model (backward through the FFT correlations) against central
    /// finite differences of the float64 reference, from a nonzero initial state (the h0 terms).
    func testGradientsAgainstFiniteDifferencesInDouble() throws {
        let m = try makeModel()
        let B = 2, L = 40, V = m.config.vocabSize
        let warm = randomTokens(B * 7, vocab: V, seed: 21)
        let inputs = randomTokens(B * L, vocab: V, seed: 22)
        var targets = randomTokens(B * L, vocab: V, seed: 23)
        targets[5] = -1   // an unscored position
        let state = m.makeState(batch: B)
        _ = try m.backbone.hiddenStates(tokens: warm, batch: B, state: state)
        let ref = ReferenceLTIModel(m, state: state)
        let grads = FloatBuffer(count: m.parameterCount)
        let tape = TrainingTape(config: m.config)
        let r = try m.accumulateGradient(inputs: inputs, targets: targets, batch: B, state: state, tape: tape,
                                         grads: grads, gradScale: 1)
        let refLoss = ref.loss(inputs: inputs, targets: targets, batch: B)
        print("LTI loss: MambaKit \(r.lossSum), float64 reference \(refLoss)")
        XCTAssertEqual(r.lossSum, refLoss, accuracy: 1e-4 * abs(refLoss))

        var worst = 0.0
        for s in m.layout.slices where s.name.contains(".mixer.") && !s.name.contains("proj") {
            var maxDiff = 0.0, maxGrad = 0.0
            for i in s.range {
                let h = 1e-6
                let saved = ref.p[i]
                ref.p[i] = saved + h; let up = ref.loss(inputs: inputs, targets: targets, batch: B)
                ref.p[i] = saved - h; let down = ref.loss(inputs: inputs, targets: targets, batch: B)
                ref.p[i] = saved
                let fd = (up - down) / (2 * h)
                maxDiff = max(maxDiff, abs(fd - Double(grads.pointer[i])))
                maxGrad = max(maxGrad, abs(fd))
            }
            let rel = maxDiff / max(maxGrad, 1e-3)
            worst = max(worst, rel)
            print("LTI gradient \(s.name): max |analytic − finite difference| \(maxDiff) (max |grad| \(maxGrad), relative \(rel))")
            XCTAssertLessThan(rel, 2e-3, s.name)
        }
        print("LTI gradients: worst relative difference \(worst)")
    }
}

/// A float64 LTI language model read from a MambaModel's parameters: embedding, blocks (RMSNorm, in_proj,
/// causal conv1d + SiLU, the S4D-Real recurrence, SiLU(z) gate, out_proj), norm_f and the tied head,
/// with the summed cross-entropy. Written from the formulas, independently of MambaKit's kernels.
final class ReferenceLTIModel {
    var p: [Double]
    let slices: [String: Range<Int>]
    let c: MambaConfig
    let conv0: [[Double]], ssm0: [[Double]]   // per layer: (B, K−1, E), (B, E, N)

    init(_ m: MambaModel, state: MambaState) {
        p = (0..<m.parameterCount).map { Double(m.parameters.pointer[$0]) }
        slices = Dictionary(uniqueKeysWithValues: m.layout.slices.map { ($0.name, $0.range) })
        let c = m.config
        self.c = c
        conv0 = (0..<c.nLayer).map { l in
            Array(UnsafeBufferPointer(start: state.convState(layer: l), count: state.batch * (c.dConv - 1) * c.dInner)).map(Double.init)
        }
        ssm0 = (0..<c.nLayer).map { l in
            Array(UnsafeBufferPointer(start: state.ssmState(layer: l), count: state.batch * c.dInner * c.dState)).map(Double.init)
        }
    }

    func w(_ name: String) -> ArraySlice<Double> { p[slices[name]!] }

    func rmsnorm(_ x: [Double], _ weight: ArraySlice<Double>) -> [Double] {
        let r = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(c.layerNormEpsilon)).squareRoot()
        return x.indices.map { x[$0] * r * weight[weight.startIndex + $0] }
    }

    func silu(_ x: Double) -> Double { x / (1 + exp(-x)) }

    func loss(inputs: [Int32], targets: [Int32], batch B: Int) -> Double {
        let D = c.dModel, E = c.dInner, N = c.dState, K = c.dConv, V = c.vocabSize, L = inputs.count / B
        let emb = w("backbone.embeddings.weight")
        var total = 0.0
        for b in 0..<B {
            var resid = (0..<L).map { t in (0..<D).map { emb[emb.startIndex + Int(inputs[b * L + t]) * D + $0] } }   // (L, D)
            var out = [[Double]](repeating: [Double](repeating: 0, count: D), count: L)
            for l in 0..<c.nLayer {
                let pre = "backbone.layers.\(l)."
                let inW = w(pre + "mixer.in_proj.weight"), outW = w(pre + "mixer.out_proj.weight")
                let cw = w(pre + "mixer.conv1d.weight"), cb = w(pre + "mixer.conv1d.bias")
                let logDt = w(pre + "mixer.log_dt"), aLog = w(pre + "mixer.A_log"), Bv = w(pre + "mixer.B")
                let Cv = w(pre + "mixer.C"), Dv = w(pre + "mixer.D"), normW = w(pre + "norm.weight")
                if l > 0 { for t in 0..<L { for d in 0..<D { resid[t][d] += out[t][d] } } }
                let xz = (0..<L).map { t -> [Double] in
                    let n = rmsnorm(resid[t], normW)
                    return (0..<(2 * E)).map { j in (0..<D).reduce(0) { $0 + inW[inW.startIndex + j * D + $1] * n[$1] } }
                }
                var y = [[Double]](repeating: [Double](repeating: 0, count: E), count: L)
                for e in 0..<E {
                    // conv1d over [state (K−1 rows), x], then SiLU
                    let xs = (0..<(K - 1)).map { conv0[l][(b * (K - 1) + $0) * E + e] } + (0..<L).map { xz[$0][e] }
                    let dt = exp(logDt[logDt.startIndex + e])
                    var h = (0..<N).map { ssm0[l][(b * E + e) * N + $0] }
                    for t in 0..<L {
                        var u = cb[cb.startIndex + e]
                        for k in 0..<K { u += cw[cw.startIndex + e * K + k] * xs[t + k] }
                        u = silu(u)
                        var s = Dv[Dv.startIndex + e] * u
                        for n in 0..<N {
                            let i = e * N + n
                            let a = exp(dt * -exp(aLog[aLog.startIndex + i]))
                            h[n] = a * h[n] + dt * Bv[Bv.startIndex + i] * u
                            s += Cv[Cv.startIndex + i] * h[n]
                        }
                        y[t][e] = s * silu(xz[t][E + e])
                    }
                }
                out = (0..<L).map { t in (0..<D).map { d in (0..<E).reduce(0) { $0 + outW[outW.startIndex + d * E + $1] * y[t][$1] } } }
            }
            let normF = w("backbone.norm_f.weight")
            for t in 0..<L {
                let target = Int(targets[b * L + t])
                guard target >= 0 else { continue }
                let hidden = rmsnorm((0..<D).map { resid[t][$0] + out[t][$0] }, normF)
                let logits = (0..<V).map { v in (0..<D).reduce(0) { $0 + emb[emb.startIndex + v * D + $1] * hidden[$1] } }
                let mx = logits.max()!
                let lse = mx + log(logits.reduce(0) { $0 + exp($1 - mx) })
                total += lse - logits[target]
            }
        }
        return total
    }
}
