// InitTests.swift — random initialisation follows mamba_ssm's scheme and is reproducible.
import Foundation
import MambaKit
import XCTest

final class InitTests: XCTestCase {
    func testMambaSSMInitialisation() throws {
        let c = MambaConfig(dModel: 64, nLayer: 4, vocabSize: 100)
        let m = MambaModel.randomlyInitialised(config: c, seed: 5)
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
        XCTAssertEqual(MambaModel.randomlyInitialised(config: c, seed: 5).parameters.array, m.parameters.array)
        XCTAssertNotEqual(MambaModel.randomlyInitialised(config: c, seed: 6).parameters.array, m.parameters.array)
        XCTAssertEqual(m.parameterCount, c.parameterCount)
    }
}
