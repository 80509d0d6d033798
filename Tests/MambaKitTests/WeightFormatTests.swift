// WeightFormatTests.swift — f16 / bf16 / int8 weights (issue #14): the kernels at every ISA against a Double
// reference, the quantiser against its closed form, the fixtures against PyTorch, paths against each other,
// and checkpoints that load back as they were saved.
import Foundation
import MambaKit
import XCTest
import _MambaKernels

final class WeightFormatTests: XCTestCase {
    override func tearDown() { mk_force_isa(-1) }

    /// The ISA levels this CPU can run (the others are reported as skipped).
    var levels: [Int32] {
        let hw = mk_cpu_isa_detected()
        let all = [Int32(MK_ISA_PORTABLE), Int32(MK_ISA_AVX2), Int32(MK_ISA_AVX512)]
        for l in all where l > hw { print("ISA \(String(cString: mk_isa_name(l))) not on this CPU: not tested here") }
        return all.filter { $0 <= hw }
    }

    func randoms(_ n: Int, _ rng: inout SeededRandom, scale: Float = 1) -> [Float] { (0..<n).map { _ in scale * rng.normal() } }

    /// out (B, M) from the stored matrix at one ISA, through mk_linear_quant.
    func kernelOutput(_ m: StoredMatrixProbe, x: [Float], B: Int, bias: [Float]?) -> [Float] {
        var out = [Float](repeating: .nan, count: B * m.M)
        let Kp = Int(mk_q8_padded(Int32(m.K)))
        var xq = [Int8](repeating: 0, count: B * Kp), xd = [Float](repeating: 0, count: B * Kp / 32)
        mk_quantize_rows_q8(x, Int32(m.K), Int32(B), Int32(m.K), &xq, &xd)
        m.data.withUnsafeBytes { w in
            m.scales.withUnsafeBufferPointer { s in
                x.withUnsafeBufferPointer { xp in
                    (bias ?? []).withUnsafeBufferPointer { bp in
                        out.withUnsafeMutableBufferPointer { o in
                            xq.withUnsafeBufferPointer { q in
                                xd.withUnsafeBufferPointer { d in
                                    var p = mk_linear_quant_params(
                                        x: xp.baseAddress, ld_x: Int32(m.K), xq: q.baseAddress, xd: d.baseAddress, format: m.format,
                                        W: w.baseAddress, scales: s.baseAddress, bias: bias == nil ? nil : bp.baseAddress,
                                        out: o.baseAddress, ld_out: Int32(m.M), Bsz: Int32(B), K: Int32(m.K))
                                    // two calls over a split of the rows, as two threads would
                                    mk_linear_quant(&p, 0, Int32(m.M / 2)); mk_linear_quant(&p, Int32(m.M / 2), Int32(m.M))
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// A matrix in one format, with its values widened by HalfConversion (independent of the kernels).
    struct StoredMatrixProbe {
        let format: Int32, M: Int, K: Int
        var data: [UInt8], scales: [UInt16]
        var widened: [Double]   // (M, K) the weight each stored value stands for

        init(format: Int32, w: [Float], M: Int, K: Int) {
            self.format = format; self.M = M; self.K = K
            switch Int(format) {
            case MK_WF_F16, MK_WF_BF16:
                var h = [UInt16](repeating: 0, count: M * K)
                for i in 0..<(M * K) { h[i] = format == MK_WF_F16 ? HalfConversion.f32ToF16(w[i]) : HalfConversion.f32ToBF16(w[i]) }
                data = h.withUnsafeBytes { Array($0) }; scales = [0]
                widened = h.map { Double(format == MK_WF_F16 ? HalfConversion.f16ToF32($0) : HalfConversion.bf16ToF32($0)) }
            default:
                let Kp = Int(mk_q8_padded(Int32(K)))
                var q = [Int8](repeating: 0, count: M * Kp), s = [UInt16](repeating: 0, count: M * Kp / 32)
                mk_quantize_q8_weights(w, Int32(M), Int32(K), &q, &s)
                data = q.map { UInt8(bitPattern: $0) }; scales = s
                widened = (0..<(M * K)).map { i in
                    let j = i / K, k = i % K
                    return Double(HalfConversion.f16ToF32(s[j * (Kp / 32) + k / 32])) * Double(q[j * Kp + k])
                }
            }
        }
    }

    /// The kernels at every ISA and batch 1…8 equal a Double product of the stored values (for int8: of the
    /// quantised activations too), for shapes with every kind of tail (K = 48, 77, 768; odd M).
    func testKernelsMatchDoubleReferenceAtEveryISA() {
        var rng = SeededRandom(seed: 14)
        for (M, K) in [(37, 48), (50, 77), (96, 768), (3, 16)] {
            let w = randoms(M * K, &rng, scale: 0.05)
            let bias = randoms(M, &rng)
            for format in [Int32(MK_WF_F16), Int32(MK_WF_BF16), Int32(MK_WF_Q8)] {
                let m = StoredMatrixProbe(format: format, w: w, M: M, K: K)
                for B in [1, 3, 8] {
                    let x = randoms(B * K, &rng)
                    // the activations the int8 kernels multiply: x̂ = e · round(x / e) per row and block
                    var xHat = x.map(Double.init)
                    if format == MK_WF_Q8 {
                        let Kp = Int(mk_q8_padded(Int32(K)))
                        var xq = [Int8](repeating: 0, count: B * Kp), xd = [Float](repeating: 0, count: B * Kp / 32)
                        mk_quantize_rows_q8(x, Int32(K), Int32(B), Int32(K), &xq, &xd)
                        for b in 0..<B { for k in 0..<K { xHat[b * K + k] = Double(xd[b * (Kp / 32) + k / 32]) * Double(xq[b * Kp + k]) } }
                    }
                    var ref = [Double](repeating: 0, count: B * M), mag = [Double](repeating: 0, count: B * M)
                    for b in 0..<B { for j in 0..<M {
                        var s = Double(bias[j]), a = abs(Double(bias[j]))
                        for k in 0..<K { s += m.widened[j * K + k] * xHat[b * K + k]; a += abs(m.widened[j * K + k] * xHat[b * K + k]) }
                        ref[b * M + j] = s; mag[b * M + j] = a
                    } }
                    for isa in levels {
                        mk_force_isa(isa)
                        let got = kernelOutput(m, x: x, B: B, bias: bias)
                        var worst = 0.0
                        for i in 0..<(B * M) { worst = max(worst, abs(Double(got[i]) - ref[i]) / max(mag[i], 1e-30)) }
                        let kernel = String(cString: mk_linear_quant_kernel(format))
                        if B == 8 && M == 96 { print("format \(format) \(kernel) M=\(M) K=\(K) B=\(B): max |kernel − Double| / Σ|w x| = \(worst)") }
                        XCTAssertLessThan(worst, 2e-6, "format \(format) at \(kernel), M=\(M) K=\(K) B=\(B)")
                    }
                }
            }
        }
    }

    /// The int8 quantiser's closed form: scale = f16(max|w| / 127) per block of 32, |q| ≤ 127, and every weight
    /// within half a step of its stored value; zero blocks stay zero; padding is zero.
    func testInt8QuantisationClosedForm() {
        var rng = SeededRandom(seed: 5)
        let M = 7, K = 77, Kp = Int(mk_q8_padded(Int32(K)))
        var w = randoms(M * K, &rng)
        for k in 32..<64 { w[2 * K + k] = 0 }            // one all-zero block
        w[3 * K + 5] = 1000                              // one outlier
        var q = [Int8](repeating: 1, count: M * Kp), s = [UInt16](repeating: 0, count: M * Kp / 32)
        mk_quantize_q8_weights(w, Int32(M), Int32(K), &q, &s)
        XCTAssertEqual(Kp, 128)
        var worst: Float = 0
        for j in 0..<M {
            for c in 0..<(Kp / 32) {
                let lo = 32 * c, hi = min(K, 32 * c + 32)
                let amax = lo < hi ? (lo..<hi).map { abs(w[j * K + $0]) }.max()! : 0
                XCTAssertEqual(s[j * (Kp / 32) + c], HalfConversion.f32ToF16(amax / 127), "scale of block (\(j), \(c))")
                let d = HalfConversion.f16ToF32(s[j * (Kp / 32) + c])
                for k in lo..<(32 * c + 32) {
                    let v = q[j * Kp + k]
                    XCTAssertLessThanOrEqual(abs(Int(v)), 127)
                    if k >= K { XCTAssertEqual(v, 0, "padding"); continue }
                    let err = abs(w[j * K + k] - d * Float(v))
                    worst = max(worst, d > 0 ? err / d : err)
                    XCTAssertLessThanOrEqual(err, 0.5 * d * 1.0001 + (amax - 127 * d > 0 ? amax - 127 * d : 0), "w(\(j), \(k))")
                }
            }
        }
        print("int8 quantiser: worst |w − d q| / d = \(worst) (closed form: ≤ 0.5)")
        for k in 32..<64 { XCTAssertEqual(q[2 * Kp + k], 0) }
    }

    /// The f16 and bf16 fixtures (PyTorch models saved in those dtypes, expected logits in float64 from the
    /// stored values) loaded with their matrices kept in 16 bits give PyTorch's logits, parallel and recurrent;
    /// their f32 slices are never written (no f32 copy: zero, untouched pages).
    func testSixteenBitFixturesMatchPyTorchWithoutAnF32Copy() throws {
        for (name, format) in [("f16_weights", WeightFormat.f16), ("bf16_weights", .bf16)] {
            let m = try MambaModel.load(directory: Fixtures.dir(name), weights: format)
            XCTAssertEqual(m.weightFormat, format)
            let tokens = try Fixtures.tokens(name), expected = try Fixtures.expected(name, "logits")
            let parallel = try m.logits(tokens: tokens)
            let state = m.makeState(batch: 1)
            var recurrent: [Float] = []
            for t in tokens { recurrent += try m.step([t], state: state) }
            let dp = maxAbsDiff(parallel, expected), dr = maxAbsDiff(recurrent, expected)
            print("[\(name)] weights \(format): max |Swift − PyTorch| parallel \(dp), recurrent \(dr)")
            XCTAssertLessThanOrEqual(dp, 1e-4); XCTAssertLessThanOrEqual(dr, 1e-4)
            let slice = m.layout.slice(named: "backbone.layers.0.mixer.in_proj.weight")!
            XCTAssertTrue(m.parameters.slice(slice.range).allSatisfy { $0 == 0 }, "the f32 slice of a 16-bit matrix stays empty")
            XCTAssertEqual(m.tensor("backbone.layers.0.mixer.in_proj.weight"),
                           try MambaModel.load(directory: Fixtures.dir(name)).tensor("backbone.layers.0.mixer.in_proj.weight"))
        }
    }

    /// Each format against f32 on the fixture: f16/bf16 within the rounding of the weights, int8 within a few
    /// percent of the logits' spread; parallel and recurrent agree in every format; converting back to f32 restores
    /// f32's logits when the round trip is exact (f32 → f16 → f32 of f16-representable weights).
    func testFormatsAgainstF32AndAcrossPaths() throws {
        let name = "tiny_f32"
        let tokens = try Fixtures.tokens(name), expected = try Fixtures.expected(name, "logits")
        let spread = expected.max()! - expected.min()!
        let limits: [WeightFormat: Float] = [.f32: 1e-4, .f16: 2e-3 * spread, .bf16: 2e-2 * spread, .int8: 3e-2 * spread]
        for format in WeightFormat.allCases {
            let m = try MambaModel.load(directory: Fixtures.dir(name))
            m.convertWeights(to: format)
            let parallel = try m.logits(tokens: tokens)
            let state = m.makeState(batch: 1)
            var recurrent: [Float] = []
            for t in tokens { recurrent += try m.step([t], state: state) }
            let dF = maxAbsDiff(parallel, expected), dPaths = maxAbsDiff(parallel, recurrent)
            print("[\(name)] \(format): max |logits − f32 PyTorch| = \(dF) (logit spread \(spread)); parallel vs recurrent \(dPaths)")
            XCTAssertLessThanOrEqual(dF, limits[format]!, "\(format)")
            XCTAssertLessThanOrEqual(dPaths, 1e-4 * max(1, spread), "\(format): the two paths")
            if format != .f32 { XCTAssertGreaterThan(dF, 0, "\(format) rounds something") }
        }
    }

    /// A model converted to each format saves and loads back as it was held: the same stored bytes (int8 not
    /// re-quantised), the same logits; an int8 checkpoint loads as int8 by default and widens on request.
    func testSaveAndLoadKeepTheFormat() throws {
        let tokens = try Fixtures.tokens("odd_untied")
        for format in [WeightFormat.f16, .bf16, .int8] {
            let m = try MambaModel.load(directory: Fixtures.dir("odd_untied"))
            m.convertWeights(to: format)
            let before = try m.logits(tokens: tokens)
            let dir = temporaryDirectory(self)
            try m.save(to: dir)
            let back = try MambaModel.load(directory: dir, weights: format == .int8 ? nil : format)
            XCTAssertEqual(back.weightFormat, format)
            let after = try back.logits(tokens: tokens)
            print("[odd_untied] \(format): saved and loaded back, max logit change \(maxAbsDiff(before, after))")
            XCTAssertEqual(before, after, "\(format): bit-identical after a round trip")
            for s in m.layout.slices { XCTAssertEqual(m.tensor(s.name), back.tensor(s.name), s.name) }
            let file = try SafetensorsFile(url: dir.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(file.metadata["mambakit_weights"], format.rawValue)
            if format == .int8 {
                XCTAssertEqual(try file.info("lm_head.weight.q8").dtype, .i8)
                XCTAssertEqual(try file.info("lm_head.weight.q8_scales").dtype, .f16)
                XCTAssertFalse(file.contains("lm_head.weight"))
                XCTAssertEqual(try file.info("backbone.layers.0.mixer.A_log").dtype, .f32)
                let widened = try MambaModel.load(directory: dir, weights: .f32)
                XCTAssertEqual(widened.weightFormat, .f32)
                XCTAssertEqual(widened.tensor("lm_head.weight"), m.tensor("lm_head.weight"))
            }
        }
    }

    /// Bad int8 tensors are refused by name (file, tensor, what was expected).
    func testMalformedInt8CheckpointIsRefusedByName() throws {
        let m = try MambaModel.load(directory: Fixtures.dir("tiny_f32"))
        m.convertWeights(to: .int8)
        let dir = temporaryDirectory(self)
        try m.save(to: dir)
        // rewrite the file with one scale tensor one column short
        let f = try SafetensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        var tensors: [SafetensorsWriter.Tensor] = [], buffers: [UnsafeMutableRawBufferPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        for n in f.names {
            let info = try f.info(n), raw = try f.rawBytes(n)
            var shape = info.shape
            if n == "backbone.layers.1.mixer.out_proj.weight.q8_scales" { shape[1] -= 1 }
            let count = shape.reduce(1, *) * info.dtype.byteSize
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 8)
            b.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<count]))
            buffers.append(b)
            tensors.append(.init(name: n, shape: shape, dtype: info.dtype, bytes: UnsafeRawBufferPointer(rebasing: b[0..<count])))
        }
        try SafetensorsWriter.write(tensors, metadata: f.metadata, to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try MambaModel.load(directory: dir)) { e in
            let s = "\(e)"
            print("malformed int8 checkpoint: \(s)")
            XCTAssertTrue(s.contains("out_proj.weight.q8_scales") && s.contains("model.safetensors"), s)
        }
    }

    /// Training needs f32 weights: a trainer over a model held in int8 is refused with the fix.
    func testTrainingAQuantisedModelIsRefused() throws {
        let m = try MambaModel.load(directory: Fixtures.dir("tiny_f32"))
        m.convertWeights(to: .int8)
        var o = TrainingOptions(); o.seqLen = 8; o.batchSize = 1; o.steps = 1
        XCTAssertThrowsError(try Trainer(model: m, tokens: (0..<64).map { Int32($0 % 61) }, options: o)) { e in
            XCTAssertTrue("\(e)".contains("int8"), "\(e)")
        }
    }

    /// The CLI: `convert --weights int8` writes a checkpoint that `score` reads as int8 by default, scoring as the
    /// in-memory int8 model does; a bad --weights value is refused naming the allowed ones.
    func testConvertAndWeightsOptionFromTheCLI() throws {
        let out = temporaryDirectory(self).appendingPathComponent("int8")
        let c = try runCLI(["convert", "--model", Fixtures.dir("tiny_f32").path, "--weights", "int8", "--out", out.path])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("int8 weights"), c.stdout)
        let tokens = Fixtures.dir("tiny_f32").appendingPathComponent("tokens.txt").path
        let s = try runCLI(["score", "--model", out.path, "--tokens", tokens, "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let m = try MambaModel.load(directory: Fixtures.dir("tiny_f32"))
        m.convertWeights(to: .int8)
        let lp = try m.logProbs(tokens: try Fixtures.tokens("tiny_f32"))
        let nll = -lp.reduce(0.0) { $0 + Double($1) } / Double(lp.count)
        let json = try JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as! [String: Any]
        let cliNLL = json["nll"] as! Double
        print("int8 checkpoint from the CLI: nll \(cliNLL), in memory \(nll)")
        XCTAssertEqual(cliNLL, nll, accuracy: 1e-6)
        let bad = try runCLI(["score", "--model", out.path, "--tokens", tokens, "--weights", "int4"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("int4") && bad.stderr.contains("int8"), bad.stderr)
        // convert refuses to write over its own model directory, and needs a format
        let same = try runCLI(["convert", "--model", out.path, "--weights", "f16", "--out", out.path])
        XCTAssertNotEqual(same.status, 0)
        XCTAssertTrue(same.stderr.contains("--out") && same.stderr.contains("model directory"), same.stderr)
        let none = try runCLI(["convert", "--model", out.path, "--out", out.path + "-x"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("--weights"), none.stderr)
    }
}
