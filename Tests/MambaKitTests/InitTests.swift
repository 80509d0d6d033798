// InitTests.swift — random initialisation follows mamba_ssm's scheme and is reproducible.
import Foundation
import MambaKit
import XCTest

final class InitTests: XCTestCase {
    func testMambaSSMInitialisation() throws {
        let c = MambaConfig(dModel: 64, nLayer: 4, vocabSize: 100)
        let m = try MambaModel.randomlyInitialised(config: c, seed: 5)
        let E = c.dInner, N = c.dState, R = c.dtRank
        for l in [0, 3] {
            let p = "backbone.layers.\(l).mixer."
            let aLog = m.tensor(p + "A_log")!
            for e in [0, E - 1] { for n in 0..<N { XCTAssertEqual(aLog[e * N + n], Foundation.log(Float(n + 1)), accuracy: 1e-6) } }
            XCTAssertEqual(Set(m.tensor(p + "D")!), [1])
            // softplus(dt bias) lies in [dt_min, dt_max] (floor 1e-4 is below dt_min)
            for b in m.tensor(p + "dt_proj.bias")! {
                let dt = Foundation.log1p(Foundation.exp(Double(b)))
                XCTAssertGreaterThanOrEqual(dt, 0.001 * 0.999); XCTAssertLessThanOrEqual(dt, 0.1 * 1.001)
            }
            let bound = Double(c.timeStepScale) / Double(R).squareRoot()
            XCTAssertLessThanOrEqual(m.tensor(p + "dt_proj.weight")!.map { abs(Double($0)) }.max()!, bound)
            let outBound = 1 / Double(E).squareRoot() / Double(c.nLayer).squareRoot()
            let out = m.tensor(p + "out_proj.weight")!
            XCTAssertLessThanOrEqual(out.map { abs(Double($0)) }.max()!, outBound)
            XCTAssertGreaterThan(out.map { abs(Double($0)) }.max()!, 0.9 * outBound)
        }
        let emb = m.tensor("backbone.embeddings.weight")!.map(Double.init)
        let mean = emb.reduce(0, +) / Double(emb.count)
        let sd = (emb.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(emb.count)).squareRoot()
        XCTAssertEqual(sd, 0.02, accuracy: 0.001)
        XCTAssertEqual(Set(m.tensor("backbone.norm_f.weight")!), [1])
        // Same seed, same model; other seed, other model.
        XCTAssertEqual(try MambaModel.randomlyInitialised(config: c, seed: 5).parameters.array, m.parameters.array)
        XCTAssertNotEqual(try MambaModel.randomlyInitialised(config: c, seed: 6).parameters.array, m.parameters.array)
        XCTAssertEqual(m.parameterCount, c.parameterCount)
    }

    /// time_step_init_scheme "constant" is honoured: every dt_proj weight is dt_scale / √R.
    func testConstantTimeStepInitialisation() throws {
        let c = MambaConfig(dModel: 32, nLayer: 2, vocabSize: 20, timeStepScale: 0.5, timeStepInitScheme: "constant")
        let m = try MambaModel.randomlyInitialised(config: c, seed: 5)
        let expected = 0.5 / Float(c.dtRank).squareRoot()
        for l in 0..<2 { XCTAssertEqual(Set(m.tensor("backbone.layers.\(l).mixer.dt_proj.weight")!), [expected]) }
        let random = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 32, nLayer: 2, vocabSize: 20, timeStepScale: 0.5), seed: 5)
        XCTAssertGreaterThan(Set(random.tensor("backbone.layers.0.mixer.dt_proj.weight")!).count, 1)
    }

    /// initializer_range and rescale_prenorm_residual are kept for round-tripping only: initialisation is
    /// mamba_ssm's (N(0, 0.02) embeddings, out_proj / √n_layer) with the values accepted, and a value it
    /// would ignore is refused by name.
    func testIgnoredInitialisationKeys() throws {
        let defaults = MambaConfig(dModel: 32, nLayer: 2, vocabSize: 20)
        XCTAssertEqual(defaults.initializerRange, 0.1)
        XCTAssertFalse(defaults.rescalePrenormResidual)
        let reference = try MambaModel.randomlyInitialised(config: defaults, seed: 7).parameters.array
        var ssm = defaults
        ssm.initializerRange = 0.02
        ssm.rescalePrenormResidual = true
        XCTAssertEqual(try MambaModel.randomlyInitialised(config: ssm, seed: 7).parameters.array, reference)

        func assertRefused(_ change: (inout MambaConfig) -> Void, key: String, file: StaticString = #filePath, line: UInt = #line) {
            var c = defaults
            change(&c)
            XCTAssertThrowsError(try MambaModel.randomlyInitialised(config: c, seed: 7), file: file, line: line) { error in
                guard case let ModelError.unsupportedInitialisation(k, _, _) = error else { return XCTFail("\(error)", file: file, line: line) }
                XCTAssertEqual(k, key, file: file, line: line)
                XCTAssertTrue("\(error)".contains(key), "\(error)", file: file, line: line)
            }
        }
        assertRefused({ $0.initializerRange = 0.05 }, key: "initializer_range")
        assertRefused({ $0.residualInFp32 = false }, key: "residual_in_fp32")
        assertRefused({ $0.timeStepInitScheme = "xavier" }, key: "time_step_init_scheme")
    }
}
