// ModelFixtureTests.swift — the Swift forward pass against PyTorch (transformers MambaForCausalLM) fixtures.
import Foundation
import MambaKit
import XCTest

final class ModelFixtureTests: XCTestCase {
    let tolerance: Float = 1e-4

    func load(_ name: String) throws -> MambaModel {
        let m = try MambaModel.load(directory: Fixtures.dir(name))
        m.threads = 2
        return m
    }

    /// Parallel mode: full-sequence logits match the float64 PyTorch reference.
    func testParallelLogitsMatchPyTorch() throws {
        for name in Fixtures.modelNames {
            let model = try load(name)
            let tokens = try Fixtures.tokens(name)
            let expected = try Fixtures.expected(name, "logits")
            let got = try model.logits(tokens: tokens)
            let d = maxAbsDiff(got, expected)
            print("[\(name)] parallel logits: max |Swift - PyTorch| = \(d)")
            XCTAssertLessThanOrEqual(d, tolerance, name)
        }
    }

    /// Recurrent mode: one token at a time from the state gives the same logits.
    func testRecurrentLogitsMatchPyTorch() throws {
        for name in Fixtures.modelNames {
            let model = try load(name)
            let tokens = try Fixtures.tokens(name)
            let expected = try Fixtures.expected(name, "logits")
            let state = model.makeState(batch: 1)
            var got: [Float] = []
            for t in tokens { got += try model.step([t], state: state) }
            let d = maxAbsDiff(got, expected)
            print("[\(name)] recurrent logits: max |Swift - PyTorch| = \(d)")
            XCTAssertLessThanOrEqual(d, tolerance, name)
            XCTAssertEqual(state.position, tokens.count)
        }
    }

    /// Prefill of a prefix followed by steps equals one long parallel pass; so do uneven chunks.
    func testPrefillThenStepsAndChunksMatchOnePass() throws {
        for name in ["tiny_f32", "odd_untied", "long_seq"] {
            let model = try load(name)
            let tokens = try Fixtures.tokens(name)
            let expected = try Fixtures.expected(name, "logits")
            let V = model.config.vocabSize
            let split = tokens.count / 3
            // prefill + steps
            let state = model.makeState(batch: 1)
            var got = try model.logits(tokens: Array(tokens[..<split]), state: state)
            for t in tokens[split...] { got += try model.step([t], state: state) }
            var d = maxAbsDiff(got, expected)
            print("[\(name)] prefill(\(split)) + steps: max diff \(d)")
            XCTAssertLessThanOrEqual(d, tolerance)
            // uneven chunks in parallel mode, state passed between them
            let chunkState = model.makeState(batch: 1)
            var chunked: [Float] = []
            var i = 0
            for len in [1, 7, 2, 13, 100, 1000] where i < tokens.count {
                let end = min(tokens.count, i + len)
                chunked += try model.logits(tokens: Array(tokens[i..<end]), state: chunkState)
                i = end
            }
            if i < tokens.count { chunked += try model.logits(tokens: Array(tokens[i...]), state: chunkState) }
            d = maxAbsDiff(chunked, expected)
            print("[\(name)] chunked parallel: max diff \(d)")
            XCTAssertLessThanOrEqual(d, tolerance)
            // prefill returns the last logits only
            let last = try model.prefill(tokens, state: model.makeState(batch: 1), chunkLength: 17)
            XCTAssertLessThanOrEqual(maxAbsDiff(last, Array(expected[(tokens.count - 1) * V..<tokens.count * V])), tolerance)
        }
    }

    /// logProbs (both modes) against the fixture's logprobs and nll.
    func testLogProbsMatchPyTorch() throws {
        for name in Fixtures.modelNames {
            let model = try load(name)
            let tokens = try Fixtures.tokens(name)
            let expected = try Fixtures.expected(name, "logprobs")
            for mode in ForwardMode.allCases {
                let lp = try model.logProbs(tokens: tokens, mode: mode, chunkLength: 64, headRows: 5)
                let d = maxAbsDiff(lp, expected)
                print("[\(name)] logprobs \(mode): max diff \(d)")
                XCTAssertLessThanOrEqual(d, tolerance)
            }
        }
    }

    /// A batch of different sequences gives each sequence's own logits, in both modes.
    func testBatchMatchesSingleSequences() throws {
        let model = try load("odd_untied")
        let tokens = try Fixtures.tokens("odd_untied")
        let V = model.config.vocabSize
        let a = Array(tokens[0..<12]), b = Array(tokens[5..<17]), c = Array(tokens.reversed()[0..<12])
        let batch = try model.logits(batch: [a, b, c])
        for (i, seq) in [a, b, c].enumerated() {
            let single = try model.logits(tokens: seq)
            XCTAssertLessThanOrEqual(maxAbsDiff(Array(batch[i * 12 * V..<(i + 1) * 12 * V]), single), 1e-5)
        }
        let state = model.makeState(batch: 3)
        var stepped = [[Float]](repeating: [], count: 3)
        for t in 0..<12 {
            let l = try model.step([a[t], b[t], c[t]], state: state)
            for i in 0..<3 { stepped[i] += l[i * V..<(i + 1) * V] }
        }
        for (i, seq) in [a, b, c].enumerated() {
            XCTAssertLessThanOrEqual(maxAbsDiff(stepped[i], try model.logits(tokens: seq)), 1e-4)
        }
    }

    /// Thread count does not change results beyond rounding.
    func testThreadCountsAgree() throws {
        let model = try load("long_seq")
        let tokens = try Fixtures.tokens("long_seq")
        model.threads = 1
        let one = try model.logits(tokens: tokens)
        model.threads = 3
        let three = try model.logits(tokens: tokens)
        XCTAssertLessThanOrEqual(maxAbsDiff(one, three), 1e-5)
    }

    /// Saving and reloading (F32 exactly; BF16 within its rounding) keeps the model.
    func testSaveReload() throws {
        let model = try load("odd_untied")
        let dir = temporaryDirectory(self)
        try model.save(to: dir)
        let back = try MambaModel.load(directory: dir)
        XCTAssertEqual(back.config, model.config)
        XCTAssertEqual(back.parameters.array, model.parameters.array)
        let bdir = dir.appendingPathComponent("bf16")
        try model.save(to: bdir, dtype: .bf16)
        let b16 = try MambaModel.load(directory: bdir)
        let rel = zip(b16.parameters.array, model.parameters.array).map { abs($0 - $1) / max(abs($1), 1e-30) }.max()!
        XCTAssertLessThanOrEqual(rel, 1.0 / 256)
    }
}
