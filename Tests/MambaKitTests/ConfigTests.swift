// ConfigTests.swift — config.json in the Hugging Face and mamba_ssm formats.
import Foundation
import MambaKit
import XCTest

final class ConfigTests: XCTestCase {

    // MARK: Helpers

    private func scratchDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mambakit-config-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Writes `text` as config.json in a fresh directory and returns the directory.
    private func directory(with text: String) -> URL {
        let dir = scratchDirectory()
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("config.json").path, contents: Data(text.utf8))
        return dir
    }

    private func assertLoadFails(_ text: String, file: StaticString = #filePath, line: UInt = #line,
                                 matches: (CheckpointError, String) -> Bool) {
        let dir = directory(with: text)
        let path = dir.appendingPathComponent("config.json").path
        do {
            let config = try MambaConfig.load(from: dir)
            XCTFail("expected an error, loaded \(config)", file: file, line: line)
        } catch let error as CheckpointError {
            XCTAssertTrue(matches(error, path), "unexpected error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("checkpoint error: \(path): "), "\(error)", file: file, line: line)
        } catch {
            XCTFail("expected a CheckpointError, got \(error)", file: file, line: line)
        }
    }

    private func invalidValue(_ key: String) -> (CheckpointError, String) -> Bool {
        { error, path in
            if case .invalidConfigValue(path, key, _) = error { return true } else { return false }
        }
    }

    /// config.json of state-spaces/mamba-130m-hf.
    private let mamba130mHF = """
    {
      "_name_or_path": "./",
      "architectures": ["MambaForCausalLM"],
      "bos_token_id": 0,
      "conv_kernel": 4,
      "d_inner": 1536,
      "d_model": 768,
      "eos_token_id": 0,
      "expand": 2,
      "fused_add_norm": true,
      "hidden_act": "silu",
      "hidden_size": 768,
      "initializer_range": 0.1,
      "intermediate_size": 1536,
      "layer_norm_epsilon": 1e-05,
      "model_type": "mamba",
      "n_layer": 24,
      "num_hidden_layers": 24,
      "pad_token_id": 0,
      "pad_vocab_size_multiple": 8,
      "rescale_prenorm_residual": false,
      "residual_in_fp32": true,
      "rms_norm": true,
      "ssm_cfg": {},
      "state_size": 16,
      "time_step_floor": 0.0001,
      "time_step_init_scheme": "random",
      "time_step_max": 0.1,
      "time_step_min": 0.001,
      "time_step_rank": 48,
      "time_step_scale": 1.0,
      "torch_dtype": "float32",
      "transformers_version": "4.39.0.dev0",
      "use_bias": false,
      "use_cache": true,
      "use_conv_bias": true,
      "vocab_size": 50280
    }
    """

    /// config.json of state-spaces/mamba-130m (mamba_ssm).
    private let mamba130mSSM = """
    {"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {}, "rms_norm": true,
     "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8}
    """

    /// The parameter count of mamba-130m, worked out by hand:
    /// embedding 50280·768 = 38,615,040; per layer: norm 768 + in_proj 2·1536·768 = 2,359,296
    /// + conv1d 1536·4 + 1536 = 7,680 + x_proj (48 + 32)·1536 = 122,880 + dt_proj 1536·48 + 1536 = 75,264
    /// + A_log 1536·16 = 24,576 + D 1,536 + out_proj 768·1536 = 1,179,648 → 3,771,648; × 24 = 90,519,552;
    /// + norm_f 768; tied head → 38,615,040 + 90,519,552 + 768 = 129,135,360.
    private let mamba130mParameters = 129_135_360

    // MARK: Hugging Face format

    func testLoadsHuggingFaceConfig() throws {
        let config = try MambaConfig.load(from: directory(with: mamba130mHF))
        XCTAssertEqual(config.dModel, 768)
        XCTAssertEqual(config.nLayer, 24)
        XCTAssertEqual(config.vocabSize, 50280)
        XCTAssertEqual(config.dState, 16)
        XCTAssertEqual(config.dConv, 4)
        XCTAssertEqual(config.expand, 2)
        XCTAssertEqual(config.dInner, 1536)
        XCTAssertEqual(config.dtRank, 48)
        XCTAssertFalse(config.useBias)
        XCTAssertTrue(config.useConvBias)
        XCTAssertEqual(config.layerNormEpsilon, 1e-5)
        XCTAssertTrue(config.residualInFp32)
        XCTAssertTrue(config.tieWordEmbeddings)
        XCTAssertEqual(config.timeStepScale, 1)
        XCTAssertEqual(config.timeStepMin, 0.001)
        XCTAssertEqual(config.timeStepMax, 0.1)
        XCTAssertEqual(config.timeStepFloor, 1e-4)
        XCTAssertEqual(config.timeStepInitScheme, "random")
        XCTAssertEqual(config.initializerRange, 0.1)
        XCTAssertFalse(config.rescalePrenormResidual)
        XCTAssertEqual(config.bosTokenId, 0)
        XCTAssertEqual(config.eosTokenId, 0)
        XCTAssertEqual(config.padTokenId, 0)
        XCTAssertEqual(config.parameterCount, mamba130mParameters)
        XCTAssertEqual(config, MambaConfig(dModel: 768, nLayer: 24, vocabSize: 50280).with { $0.padVocabSizeMultiple = 8 })
        XCTAssertTrue(config.description.contains("d_model=768"), config.description)
        XCTAssertTrue(config.description.contains("129.1M"), config.description)
    }

    func testHuggingFaceDefaultsAndAuto() throws {
        let config = try MambaConfig.load(from: directory(with: """
            {"model_type": "mamba", "hidden_size": 40, "num_hidden_layers": 3, "vocab_size": 99,
             "time_step_rank": "auto", "expand": 3, "tie_word_embeddings": false, "use_bias": true,
             "layer_norm_epsilon": 1e-6, "pad_token_id": null, "some_future_key": [1, {"x": 2}]}
            """))
        XCTAssertEqual(config.dInner, 120)          // int(expand * hidden_size)
        XCTAssertEqual(config.dtRank, 3)            // ceil(40 / 16)
        XCTAssertEqual(config.vocabSize, 99)        // no padding in the HF format
        XCTAssertEqual(config.dState, 16)
        XCTAssertEqual(config.dConv, 4)
        XCTAssertFalse(config.tieWordEmbeddings)
        XCTAssertTrue(config.useBias)
        XCTAssertEqual(config.layerNormEpsilon, 1e-6)
        XCTAssertNil(config.padTokenId)
        XCTAssertEqual(config.eosTokenId, 0)
        // Untied head and biases are counted.
        let D = 40, E = 120, N = 16, K = 4, R = 3, V = 99
        let layer = D + (2 * E * D + 2 * E) + (E * K + E) + (R + 2 * N) * E + (E * R + E) + E * N + E + (D * E + D)
        XCTAssertEqual(config.parameterCount, V * D + 3 * layer + D + V * D)
    }

    func testLoadsFileURLAndFixtures() throws {
        let dir = directory(with: mamba130mHF)
        XCTAssertEqual(try MambaConfig.load(from: dir.appendingPathComponent("config.json")).dModel, 768)

        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("no fixtures in the test bundle")
        }
        let tiny = root.appendingPathComponent("tiny_f32")
        if FileManager.default.fileExists(atPath: tiny.path) {
            let config = try MambaConfig.load(from: tiny)
            XCTAssertEqual(config.dModel, 32)
            XCTAssertEqual(config.dtRank, 3)
            XCTAssertEqual(config.vocabSize, 61)
        }
        let sharded = root.appendingPathComponent("mamba_ssm_sharded")
        if FileManager.default.fileExists(atPath: sharded.path) {
            let config = try MambaConfig.load(from: sharded)
            XCTAssertEqual(config.dModel, 32)
            XCTAssertEqual(config.vocabSize, 48)    // 45 padded to a multiple of 8
        }
    }

    // MARK: mamba_ssm format

    func testLoadsMambaSSMConfig() throws {
        let config = try MambaConfig.load(from: directory(with: mamba130mSSM))
        XCTAssertEqual(config.dModel, 768)
        XCTAssertEqual(config.nLayer, 24)
        XCTAssertEqual(config.vocabSize, 50280)     // 50277 padded up to a multiple of 8
        XCTAssertEqual(config.padVocabSizeMultiple, 8)
        XCTAssertEqual(config.dtRank, 48)
        XCTAssertEqual(config.dInner, 1536)
        XCTAssertEqual(config.dState, 16)
        XCTAssertEqual(config.dConv, 4)
        XCTAssertEqual(config.layerNormEpsilon, 1e-5)
        XCTAssertTrue(config.tieWordEmbeddings)
        XCTAssertTrue(config.rescalePrenormResidual)
        XCTAssertEqual(config.initializerRange, 0.02)
        XCTAssertEqual(config.parameterCount, mamba130mParameters)
    }

    func testMambaSSMNestedKeys() throws {
        let config = try MambaConfig.load(from: directory(with: """
            {"d_model": 64, "n_layer": 2, "vocab_size": 100, "pad_vocab_size_multiple": 16, "tie_embeddings": false,
             "ssm_cfg": {"d_state": 8, "d_conv": 3, "expand": 4, "dt_rank": 7, "bias": true, "conv_bias": false,
                         "dt_min": 0.002, "dt_max": 0.2, "dt_init_floor": 0.001, "dt_scale": 2.0, "dt_init": "constant",
                         "layer": "Mamba1"}}
            """))
        XCTAssertEqual(config.vocabSize, 112)
        XCTAssertEqual(config.dState, 8)
        XCTAssertEqual(config.dConv, 3)
        XCTAssertEqual(config.expand, 4)
        XCTAssertEqual(config.dInner, 256)
        XCTAssertEqual(config.dtRank, 7)
        XCTAssertTrue(config.useBias)
        XCTAssertFalse(config.useConvBias)
        XCTAssertFalse(config.tieWordEmbeddings)
        XCTAssertEqual(config.timeStepMin, 0.002)
        XCTAssertEqual(config.timeStepMax, 0.2)
        XCTAssertEqual(config.timeStepFloor, 0.001)
        XCTAssertEqual(config.timeStepScale, 2)
        XCTAssertEqual(config.timeStepInitScheme, "constant")
        // mamba_ssm's dataclass default for pad_vocab_size_multiple is 8.
        XCTAssertEqual(try MambaConfig.load(from: directory(with: #"{"d_model": 16, "n_layer": 1, "vocab_size": 9}"#)).vocabSize, 16)
    }

    // MARK: Errors

    func testMissingKeys() {
        assertLoadFails(#"{"num_hidden_layers": 2, "vocab_size": 10}"#) { error, path in
            error == .missingConfigKey(path: path, key: "hidden_size") && error.description.contains("d_model")
        }
        assertLoadFails(#"{"d_model": 16, "vocab_size": 10}"#) { error, path in
            error == .missingConfigKey(path: path, key: "num_hidden_layers") && error.description.contains("n_layer")
        }
        assertLoadFails(#"{"hidden_size": 16, "num_hidden_layers": 2}"#) { error, path in
            error == .missingConfigKey(path: path, key: "vocab_size")
        }
        assertLoadFails(#"{}"#) { error, path in error == .missingConfigKey(path: path, key: "hidden_size") }
    }

    func testInvalidValues() {
        let base = #""num_hidden_layers": 2, "vocab_size": 10"#
        assertLoadFails(#"{"hidden_size": "768", \#(base)}"#, matches: invalidValue("hidden_size"))
        assertLoadFails(#"{"hidden_size": -16, \#(base)}"#, matches: invalidValue("hidden_size"))
        assertLoadFails(#"{"hidden_size": 0, \#(base)}"#, matches: invalidValue("hidden_size"))
        assertLoadFails(#"{"hidden_size": 16.5, \#(base)}"#, matches: invalidValue("hidden_size"))
        assertLoadFails(#"{"hidden_size": true, \#(base)}"#, matches: invalidValue("hidden_size"))
        assertLoadFails(#"{"hidden_size": 16, "num_hidden_layers": 2, "vocab_size": 10, "state_size": 1.5}"#, matches: invalidValue("state_size"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "use_bias": "no"}"#, matches: invalidValue("use_bias"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "use_conv_bias": 1}"#, matches: invalidValue("use_conv_bias"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "time_step_rank": "big"}"#, matches: invalidValue("time_step_rank"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "time_step_rank": 0}"#, matches: invalidValue("time_step_rank"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "layer_norm_epsilon": -1}"#, matches: invalidValue("layer_norm_epsilon"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "layer_norm_epsilon": "tiny"}"#, matches: invalidValue("layer_norm_epsilon"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "time_step_min": 0.5, "time_step_max": 0.1}"#, matches: invalidValue("time_step_max"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "time_step_init_scheme": "fancy"}"#, matches: invalidValue("time_step_init_scheme"))
        assertLoadFails(#"{"hidden_size": 16, \#(base), "model_type": "mamba3"}"#, matches: invalidValue("model_type"))
        // Mamba-2 with its default head_dim 64 on a 32-wide block: no heads, and the error says which key to set.
        assertLoadFails(#"{"hidden_size": 16, \#(base), "model_type": "mamba2"}"#) { error, path in
            if case .invalidConfigValue(path, "num_heads", let why) = error { return why.contains("head_dim 64") } else { return false }
        }
        assertLoadFails(#"{"hidden_size": 16, \#(base), "bos_token_id": -1}"#, matches: invalidValue("bos_token_id"))
        // mamba_ssm format
        let ssmBase = #""d_model": 16, "n_layer": 2, "vocab_size": 10"#
        assertLoadFails(#"{\#(ssmBase), "ssm_cfg": {"layer": "Mamba3"}}"#, matches: invalidValue("ssm_cfg.layer"))
        assertLoadFails(#"{\#(ssmBase), "ssm_cfg": {"layer": "Mamba2"}}"#) { error, path in
            if case .invalidConfigValue(path, "num_heads", let why) = error { return why.contains("head_dim 64") } else { return false }
        }
        assertLoadFails(#"{\#(ssmBase), "ssm_cfg": {"d_state": 0}}"#, matches: invalidValue("ssm_cfg.d_state"))
        assertLoadFails(#"{\#(ssmBase), "ssm_cfg": {"dt_rank": "huge"}}"#, matches: invalidValue("ssm_cfg.dt_rank"))
        assertLoadFails(#"{\#(ssmBase), "ssm_cfg": [1]}"#, matches: invalidValue("ssm_cfg"))
        assertLoadFails(#"{\#(ssmBase), "rms_norm": false}"#, matches: invalidValue("rms_norm"))
        assertLoadFails(#"{\#(ssmBase), "d_intermediate": 64}"#, matches: invalidValue("d_intermediate"))
        assertLoadFails(#"{\#(ssmBase), "attn_layer_idx": [1]}"#, matches: invalidValue("attn_layer_idx"))
        assertLoadFails(#"{\#(ssmBase), "pad_vocab_size_multiple": 0}"#, matches: invalidValue("pad_vocab_size_multiple"))
        assertLoadFails(#"{"d_model": 16, "n_layer": "two", "vocab_size": 10}"#, matches: invalidValue("n_layer"))
    }

    // MARK: Bounds (issue #17)

    /// Every dimension is bounded by name before anything is allocated: huge, beyond-Int, negative and
    /// zero values are each one clear error naming the file and key.
    func testConfigDimensionsAreBounded() {
        let base: [String: String] = ["hidden_size": "16", "num_hidden_layers": "2", "vocab_size": "10"]
        for key in ["hidden_size", "state_size", "conv_kernel", "intermediate_size", "time_step_rank",
                    "num_hidden_layers", "vocab_size", "expand"] {
            for value in ["16777216", "2147483648", "1e18", "99999999999999999999999", "-1", "0", "-9223372036854775808"] {
                var fields = base
                fields[key] = value
                let text = "{" + fields.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
                assertLoadFails(text) { error, path in
                    guard case .invalidConfigValue(path, key, _) = error else { return false }
                    return error.description.contains(key) && !error.description.contains("\n")
                }
            }
        }
        // mamba_ssm names
        for (key, json) in [("d_model", #""d_model": 16777216, "n_layer": 2"#), ("n_layer", #""d_model": 16, "n_layer": 2147483648"#)] {
            assertLoadFails("{\(json), \"vocab_size\": 10}", matches: invalidValue(key))
        }
        assertLoadFails(#"{"d_model": 16, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"d_state": 16777216}}"#,
                        matches: invalidValue("ssm_cfg.d_state"))
        assertLoadFails(#"{"hidden_size": 65536, "num_hidden_layers": 2, "vocab_size": 10, "expand": 8}"#,
                        matches: invalidValue("expand"))
    }

    func testClassifierLabelsAreBounded() {
        let base = #""hidden_size": 16, "num_hidden_layers": 2, "vocab_size": 10, "architectures": ["MambaForSequenceClassification"]"#
        for n in ["16777216", "2147483648", "-1", "1e18"] {
            assertLoadFails("{\(base), \"num_labels\": \(n)}", matches: invalidValue("num_labels"))
        }
        // A huge id2label id is an error, not a trap or a giant allocation.
        for id in ["2147483648", "16777216", "9223372036854775807", "-1", "99999999999999999999999", "2"] {
            assertLoadFails("{\(base), \"id2label\": {\"0\": \"a\", \"\(id)\": \"b\"}}") { error, path in
                guard case .invalidConfigValue(path, "id2label", let detail) = error else { return false }
                return id == "99999999999999999999999" || detail.contains(id)
            }
        }
        // With num_labels, ids up to num_labels − 1 are fine (the others are named LABEL_i).
        let config = try? MambaConfig.load(from: directory(with: "{\(base), \"num_labels\": 4, \"id2label\": {\"0\": \"a\", \"3\": \"d\"}}"))
        XCTAssertEqual(config?.labels, ["a", "LABEL_1", "LABEL_2", "d"])
        assertLoadFails("{\(base), \"num_labels\": 4, \"id2label\": {\"4\": \"e\"}}", matches: invalidValue("id2label"))
    }

    /// Dimensions each within bounds can still describe an absurd model: the total is computed with
    /// overflow checks and refused above 2^34 parameters, with the bytes it would need.
    func testTotalParameterCountIsBounded() {
        assertLoadFails(#"{"hidden_size": 65536, "intermediate_size": 262144, "num_hidden_layers": 4096, "vocab_size": 4194304}"#) { error, path in
            guard case .modelTooLarge(path, let count?, 1 << 34) = error else { return false }
            return count > 1 << 34 && error.description.contains("bytes") && error.description.contains("TiB")
        }
        let huge = MambaConfig(dModel: 1 << 40, nLayer: 1 << 40, vocabSize: 1 << 40)
        XCTAssertNil(huge.checkedParameterCount)
        XCTAssertEqual(huge.parameterCount, Int.max)
        XCTAssertEqual(CheckpointError.modelTooLarge(path: "p", parameters: nil, limit: 1 << 34).description.contains("64-bit"), true)
        XCTAssertEqual(MambaConfig(dModel: 768, nLayer: 24, vocabSize: 50280).checkedParameterCount, mamba130mParameters)
    }

    /// residual_in_fp32 = false and unknown Δ init schemes are refused, naming the file, key, value and what is supported.
    func testIgnoredInitialisationKeysAreRejected() {
        let base = #""hidden_size": 16, "num_hidden_layers": 2, "vocab_size": 10"#
        assertLoadFails(#"{\#(base), "residual_in_fp32": false}"#) { error, path in
            guard case .invalidConfigValue(path, "residual_in_fp32", let detail) = error else { return false }
            return detail.contains("false") && detail.contains("only true")
        }
        assertLoadFails(#"{"d_model": 16, "n_layer": 2, "vocab_size": 10, "residual_in_fp32": false}"#, matches: invalidValue("residual_in_fp32"))
        assertLoadFails(#"{\#(base), "time_step_init_scheme": "xavier"}"#) { error, path in
            guard case .invalidConfigValue(path, "time_step_init_scheme", let detail) = error else { return false }
            return detail.contains("\"xavier\"") && detail.contains("\"random\"") && detail.contains("\"constant\"")
        }
        assertLoadFails(#"{"d_model": 16, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"dt_init": "xavier"}}"#, matches: invalidValue("ssm_cfg.dt_init"))
        // Kept for round-tripping: any non-negative initializer_range and either rescale value load.
        XCTAssertEqual(try MambaConfig.load(from: directory(with: #"{\#(base), "initializer_range": 0.05, "rescale_prenorm_residual": true}"#)).initializerRange, 0.05)
    }

    func testInvalidJSON() {
        for text in [#"{"hidden_size": 16, "#, "not json at all", "", #"{"a": tru}"#] {
            assertLoadFails(text) { error, path in
                if case .invalidJSON(path, let detail) = error { return !detail.isEmpty } else { return false }
            }
        }
        assertLoadFails("[1, 2]") { error, path in
            if case .invalidJSON(path, _) = error { return true } else { return false }
        }
    }

    func testMissingFile() {
        let dir = scratchDirectory()
        let path = dir.appendingPathComponent("config.json").path
        XCTAssertThrowsError(try MambaConfig.load(from: dir)) { error in
            XCTAssertEqual(error as? CheckpointError, .fileNotFound(path: path))
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    // MARK: Writing

    func testWriteLoadRoundTrip() throws {
        let dir = scratchDirectory().appendingPathComponent("saved")   // created by write(to:)
        let config = MambaConfig(dModel: 80, nLayer: 5, vocabSize: 1001, dState: 12, dConv: 3, expand: 3,
                                 dInner: 250, dtRank: 9, useBias: true, useConvBias: false,
                                 layerNormEpsilon: 1e-6, residualInFp32: true, tieWordEmbeddings: false,
                                 timeStepScale: 0.5, timeStepMin: 0.0005, timeStepMax: 0.05, timeStepFloor: 2e-4,
                                 timeStepInitScheme: "constant", initializerRange: 0.03, rescalePrenormResidual: true,
                                 bosTokenId: 1, eosTokenId: 2, padTokenId: nil)
        try config.write(to: dir)
        let url = dir.appendingPathComponent("config.json")
        XCTAssertEqual(try MambaConfig.load(from: dir), config)

        // Hugging Face keys, pretty-printed with sorted keys.
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("}\n"))
        XCTAssertTrue(text.contains("\n  \"architectures\": [\n    \"MambaForCausalLM\"\n  ],"), text)
        XCTAssertTrue(text.contains("\"layer_norm_epsilon\": 1e-06,"), text)
        XCTAssertTrue(text.contains("\"pad_token_id\": null,"), text)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(object["model_type"] as? String, "mamba")
        XCTAssertEqual(object["hidden_size"] as? Int, 80)
        XCTAssertEqual(object["intermediate_size"] as? Int, 250)
        XCTAssertEqual(object["time_step_rank"] as? Int, 9)
        XCTAssertEqual(object["torch_dtype"] as? String, "float32")
        XCTAssertEqual(object["use_cache"] as? Bool, true)
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keys, keys.sorted())
        for key in ["hidden_size", "num_hidden_layers", "vocab_size", "state_size", "conv_kernel", "expand",
                    "intermediate_size", "time_step_rank", "use_bias", "use_conv_bias", "layer_norm_epsilon",
                    "residual_in_fp32", "tie_word_embeddings", "time_step_scale", "time_step_min", "time_step_max",
                    "time_step_floor", "time_step_init_scheme", "initializer_range", "rescale_prenorm_residual",
                    "bos_token_id", "eos_token_id", "pad_token_id"] {
            XCTAssertNotNil(object[key], "missing \(key)")
        }

        // Overwriting replaces the file and leaves no temporary files.
        let other = MambaConfig(dModel: 16, nLayer: 1, vocabSize: 10)
        try other.write(to: dir)
        XCTAssertEqual(try MambaConfig.load(from: dir), other)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["config.json"])

        // A mamba_ssm config written back out becomes an equivalent HF config.
        let ssm = try MambaConfig.load(from: directory(with: mamba130mSSM))
        try ssm.write(to: dir)
        XCTAssertEqual(try MambaConfig.load(from: dir), ssm)
    }

    func testCodableRoundTrip() throws {
        let config = MambaConfig(dModel: 48, nLayer: 2, vocabSize: 77, tieWordEmbeddings: false, eosTokenId: 5)
        let data = try JSONEncoder().encode(config)
        XCTAssertEqual(try JSONDecoder().decode(MambaConfig.self, from: data), config)
        XCTAssertEqual(try JSONDecoder().decode(MambaConfig.self, from: Data(mamba130mSSM.utf8)).vocabSize, 50280)
    }

    func testWriteFailureLeavesOldConfig() throws {
        let dir = scratchDirectory()
        let file = dir.appendingPathComponent("not-a-directory")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8))
        XCTAssertThrowsError(try MambaConfig(dModel: 16, nLayer: 1, vocabSize: 10).write(to: file)) { error in
            guard case .writeFailed? = error as? CheckpointError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try Data(contentsOf: file), Data("x".utf8))
    }

    func testConvenienceInitialiser() {
        let config = MambaConfig(dModel: 768, nLayer: 24, vocabSize: 50277, padVocabSizeMultiple: 8)
        XCTAssertEqual(config.vocabSize, 50280)
        XCTAssertEqual(config.dInner, 1536)
        XCTAssertEqual(config.dtRank, 48)
        XCTAssertEqual(config.parameterCount, mamba130mParameters)
        XCTAssertEqual(MambaConfig(dModel: 2560, nLayer: 64, vocabSize: 50280).dtRank, 160)
        XCTAssertEqual(MambaConfig(dModel: 33, nLayer: 1, vocabSize: 5).dtRank, 3)
    }
}

private extension MambaConfig {
    func with(_ change: (inout MambaConfig) -> Void) -> MambaConfig {
        var copy = self
        change(&copy)
        return copy
    }
}
