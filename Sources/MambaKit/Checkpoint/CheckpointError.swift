// CheckpointError.swift
// Typed errors for reading and writing checkpoints (safetensors files, shard indexes, config.json).

import Foundation

// MARK: - CheckpointError

/// An error raised while reading or writing a model checkpoint.
///
/// Every case names the file it concerns (and the tensor or key, where relevant), and its
/// ``description`` is a single line of the form
///
/// ```text
/// checkpoint error: <path>: <what went wrong> — <how to fix it>
/// ```
///
/// so that it can be printed as-is by a command-line tool.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {

    // MARK: Files

    /// No file exists at `path`.
    ///
    /// When `path` is a model directory, `lookedFor` lists the file names that were tried
    /// (for example `model.safetensors` and `model.safetensors.index.json`).
    case fileNotFound(path: String, lookedFor: [String] = [])

    /// The file exists but could not be opened, inspected or mapped into memory.
    case unreadable(path: String, reason: String)

    /// The file (config.json, a shard index or a safetensors header) is not valid JSON,
    /// or its top level has the wrong kind (for example an array instead of an object).
    case invalidJSON(path: String, detail: String)

    // MARK: config.json

    /// A required key is missing from a config.json. `key` is the Hugging Face name; the
    /// description also names the original `mamba_ssm` alternative when there is one.
    case missingConfigKey(path: String, key: String)

    /// A config.json key has the wrong type or an out-of-range value.
    case invalidConfigValue(path: String, key: String, detail: String)

    /// A config.json describes a model of more than `limit` parameters (`parameters` is nil when the
    /// count does not even fit an `Int`); it is refused before anything is allocated.
    case modelTooLarge(path: String, parameters: Int?, limit: Int)

    // MARK: safetensors

    /// A safetensors header is malformed or inconsistent with the file: truncated file,
    /// header length larger than the file, missing fields, sizes that do not match shape × dtype,
    /// offsets outside the data section, overlapping tensors, negative dimensions, ….
    case invalidHeader(path: String, detail: String)

    /// The checkpoint has no tensor called `name`.
    case missingTensor(path: String, name: String)

    /// The tensor `name` exists but has a different shape than the caller expects.
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])

    /// The tensor `name` is stored with a dtype that cannot be read the requested way
    /// (or a dtype string MambaKit does not know at all).
    case unsupportedDType(path: String, name: String, dtype: String)

    // MARK: Sharded checkpoints

    /// A `model.safetensors.index.json` has the wrong structure, or lists a tensor that
    /// is not in the shard it names.
    case invalidIndex(path: String, detail: String)

    /// A `model.safetensors.index.json` at `indexPath` names a shard file that does not exist.
    case missingShard(indexPath: String, shard: String)

    /// The directory holds another kind of model than the one asked for (`holds`, e.g. "a sequence
    /// classifier (classifier.json)"); `fix` says what to load it with.
    case wrongModelKind(path: String, holds: String, fix: String)

    // MARK: Writing

    /// Writing `path` failed; any previous file at `path` is left untouched.
    case writeFailed(path: String, reason: String)

    // MARK: Accessors

    /// The file (or directory) the error is about.
    public var path: String {
        switch self {
        case .fileNotFound(let path, _), .unreadable(let path, _), .invalidJSON(let path, _),
             .missingConfigKey(let path, _), .invalidConfigValue(let path, _, _), .modelTooLarge(let path, _, _),
             .invalidHeader(let path, _), .missingTensor(let path, _),
             .shapeMismatch(let path, _, _, _), .unsupportedDType(let path, _, _),
             .invalidIndex(let path, _), .writeFailed(let path, _), .wrongModelKind(let path, _, _):
            return path
        case .missingShard(let indexPath, _):
            return indexPath
        }
    }

    /// A one-line suggestion for fixing the problem.
    public var hint: String {
        switch self {
        case .fileNotFound(_, let lookedFor) where !lookedFor.isEmpty:
            return "pass a directory containing \(lookedFor.joined(separator: " or ")) (as saved by save_pretrained or `mambakit`)"
        case .fileNotFound:
            return "check the path and that the download finished"
        case .unreadable:
            return "check the file permissions and that it is a regular file"
        case .invalidJSON:
            return "the file is corrupt or truncated; re-download or re-export it"
        case .missingConfigKey(_, let key):
            if let alt = MambaConfigKeyNames.mambaSSMAlternative[key] {
                return "add \"\(key)\" (Hugging Face) or \"\(alt)\" (mamba_ssm) to config.json"
            }
            return "add \"\(key)\" to config.json"
        case .invalidConfigValue:
            return "fix the value in config.json (see the Hugging Face MambaConfig documentation)"
        case .modelTooLarge:
            return "check hidden_size, intermediate_size, num_hidden_layers and vocab_size in config.json"
        case .invalidHeader:
            return "the safetensors file is corrupt or truncated; re-download or re-export it"
        case .missingTensor:
            return "the checkpoint does not match this model; check tensor names with `names`"
        case .shapeMismatch:
            return "was the checkpoint saved with a different config.json?"
        case .unsupportedDType:
            return "convert the checkpoint to F32, F16, BF16 or F64 (integers: I64, I32, I16, I8, U8, BOOL)"
        case .invalidIndex:
            return "regenerate model.safetensors.index.json together with its shards"
        case .missingShard:
            return "download every shard listed in the index's weight_map"
        case .writeFailed:
            return "check that the directory exists, is writable and has free space"
        case .wrongModelKind(_, _, let fix):
            return fix
        }
    }

    /// What went wrong, without the path prefix or the hint.
    public var problem: String {
        switch self {
        case .fileNotFound(_, let lookedFor) where !lookedFor.isEmpty:
            return "no checkpoint found (looked for \(lookedFor.map { "\"\($0)\"" }.joined(separator: ", ")))"
        case .fileNotFound:
            return "no such file"
        case .unreadable(_, let reason):
            return "cannot read file: \(reason)"
        case .invalidJSON(_, let detail):
            return "invalid JSON: \(detail)"
        case .missingConfigKey(_, let key):
            if let alt = MambaConfigKeyNames.mambaSSMAlternative[key] {
                return "required key \"\(key)\" (or \"\(alt)\") is missing"
            }
            return "required key \"\(key)\" is missing"
        case .invalidConfigValue(_, let key, let detail):
            return "key \"\(key)\" has an invalid value: \(detail)"
        case .modelTooLarge(_, let parameters, let limit):
            let count = parameters.map { "\($0) parameters (\(Self.byteText(Double($0) * 4)) as Float32)" }
                ?? "more parameters than fit a 64-bit integer"
            return "the config describes a model of \(count), above the supported \(limit) parameters (\(Self.byteText(Double(limit) * 4)))"
        case .invalidHeader(_, let detail):
            return "invalid safetensors header: \(detail)"
        case .missingTensor(_, let name):
            return "no tensor named \"\(name)\""
        case .shapeMismatch(_, let name, let expected, let found):
            return "tensor \"\(name)\" has shape \(found) but the config expects \(expected)"
        case .unsupportedDType(_, let name, let dtype):
            return "tensor \"\(name)\" has dtype \"\(dtype)\", which cannot be read here"
        case .invalidIndex(_, let detail):
            return "invalid shard index: \(detail)"
        case .missingShard(_, let shard):
            return "shard \"\(shard)\" listed in the weight_map does not exist"
        case .writeFailed(_, let reason):
            return "write failed: \(reason)"
        case .wrongModelKind(_, let holds, _):
            return "this directory holds \(holds)"
        }
    }

    /// A byte count for messages, e.g. "17179869184 bytes (16.0 GiB)".
    static func byteText(_ bytes: Double) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = bytes, unit = -1
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        let exact = bytes < 0x1p63 ? String(Int64(bytes)) : String(format: "%.3g", bytes)
        return unit < 0 ? "\(exact) bytes" : "\(exact) bytes, " + String(format: "%.1f ", value) + units[unit]
    }

    /// One line: `checkpoint error: <path>: <problem> — <hint>`.
    public var description: String {
        "checkpoint error: \(path): \(problem) — \(hint)"
    }
}

// MARK: - Key names

/// Hugging Face config.json keys and their original `mamba_ssm` spellings, used in error messages.
enum MambaConfigKeyNames {
    static let mambaSSMAlternative: [String: String] = [
        "hidden_size": "d_model",
        "num_hidden_layers": "n_layer",
        "state_size": "ssm_cfg.d_state",
        "conv_kernel": "ssm_cfg.d_conv",
        "expand": "ssm_cfg.expand",
        "time_step_rank": "ssm_cfg.dt_rank",
        "use_bias": "ssm_cfg.bias",
        "use_conv_bias": "ssm_cfg.conv_bias",
        "tie_word_embeddings": "tie_embeddings",
    ]
}
