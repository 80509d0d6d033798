// TokenizerJSON.swift
// Reads and validates the parts of a Hugging Face tokenizer.json that BPETokenizer supports.
//
// Layout (tokenizers' `Tokenizer.save`):
//
//   { "version": "1.0", "truncation": …, "padding": …,
//     "added_tokens": [ {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"} … ],
//     "normalizer": null | {"type": "NFC"} | {"type": "Sequence", "normalizers": [ … ]},
//     "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space", "trim_offsets", "use_regex"},
//     "post_processor": …, "decoder": {"type": "ByteLevel", …},
//     "model": {"type": "BPE", "vocab": {token: id}, "merges": ["a b", …] or [["a", "b"], …],
//               "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
//               "fuse_unk", "byte_fallback", "ignore_merges"} }

import Foundation

struct TokenizerSpec {
    var vocab: [String: Int] = [:]
    var merges: [(String, String)] = []
    var unkToken: String?
    var fuseUnk = false
    var byteFallback = false
    var ignoreMerges = false
    var normalization: BPETokenizer.Normalization = .none
    var addPrefixSpace = false
    var useRegex = true
    var addedTokens: [BPETokenizer.AddedToken] = []

    private let path: String

    private static let onlyByteLevelHint =
        "only byte-level BPE tokenizers (GPT-2 / GPT-NeoX style, as used by the pretrained Mamba models) are supported; "
        + "for other models use their own tokenizer, or ByteTokenizer for byte-level models"

    init(jsonData: Data, path: String) throws {
        self.path = path
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: jsonData, options: [])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw TokenizerError.invalidJSON(path: path, detail: detail ?? "cannot parse the file as JSON")
        }
        guard let root = object as? [String: Any] else {
            throw TokenizerError.invalidJSON(path: path, detail: "the top level is not an object")
        }

        // Model.
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.invalidFile(path: path, detail: "no \"model\" object")
        }
        let type = model["type"] as? String ?? (model["merges"] != nil ? "BPE" : "(none)")
        guard type == "BPE" else {
            throw TokenizerError.unsupported(path: path, feature: "model type \"\(type)\"", hint: Self.onlyByteLevelHint)
        }
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw TokenizerError.invalidFile(path: path, detail: "model.vocab is missing or not an object")
        }
        let addedCount = (root["added_tokens"] as? [Any])?.count ?? 0
        let idLimit = Self.idLimit(entries: vocabObject.count + addedCount)
        let entries = "\(vocabObject.count) vocabulary entries and \(addedCount) added tokens (ids must be below \(idLimit))"
        vocab.reserveCapacity(vocabObject.count)
        for (token, value) in vocabObject {
            guard let id = Self.int(value), id >= 0 else {
                throw TokenizerError.invalidFile(path: path, detail: "model.vocab[\"\(token)\"] is not a non-negative integer")
            }
            guard id < idLimit else {
                throw TokenizerError.invalidFile(path: path, detail: "model.vocab[\"\(token)\"] has id \(id), far above the \(entries)")
            }
            vocab[token] = id
        }
        guard let mergesArray = model["merges"] as? [Any] else {
            throw TokenizerError.invalidFile(path: path, detail: "model.merges is missing (a BPE model needs its merges)")
        }
        merges.reserveCapacity(mergesArray.count)
        for (k, m) in mergesArray.enumerated() {
            if let s = m as? String {
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts[1].contains(" ") else {
                    throw TokenizerError.invalidFile(path: path, detail: "model.merges[\(k)] \"\(s)\" is not two tokens separated by one space")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw TokenizerError.invalidFile(path: path, detail: "model.merges[\(k)] is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        if let dropout = Self.double(model["dropout"]), dropout != 0 {
            throw TokenizerError.unsupported(path: path, feature: "BPE dropout \(dropout)",
                                             hint: "dropout is for training; set \"dropout\": null for inference")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key] as? String, !v.isEmpty {
                throw TokenizerError.unsupported(path: path, feature: "BPE \(key) \"\(v)\"", hint: Self.onlyByteLevelHint)
            }
        }
        unkToken = model["unk_token"] as? String
        fuseUnk = model["fuse_unk"] as? Bool ?? false
        byteFallback = model["byte_fallback"] as? Bool ?? false
        ignoreMerges = model["ignore_merges"] as? Bool ?? false

        // Normalizer.
        normalization = try Self.isNFC(root["normalizer"], path: path) ? .nfc : .none

        // Pre-tokenizer.
        guard let pre = Self.single(root["pre_tokenizer"]), pre["type"] as? String == "ByteLevel" else {
            throw TokenizerError.unsupported(path: path, feature: "pre_tokenizer \(Self.describe(root["pre_tokenizer"]))",
                                             hint: "only the ByteLevel pre-tokenizer (GPT-2's regex) is supported; " + Self.onlyByteLevelHint)
        }
        addPrefixSpace = pre["add_prefix_space"] as? Bool ?? false
        useRegex = pre["use_regex"] as? Bool ?? true

        // Decoder.
        guard let decoder = Self.single(root["decoder"]), decoder["type"] as? String == "ByteLevel" else {
            throw TokenizerError.unsupported(path: path, feature: "decoder \(Self.describe(root["decoder"]))",
                                             hint: "only the ByteLevel decoder is supported; " + Self.onlyByteLevelHint)
        }

        // Post-processor: must not add tokens.
        if let post = root["post_processor"], !(post is NSNull) {
            guard let p = Self.single(post), p["type"] as? String == "ByteLevel" else {
                throw TokenizerError.unsupported(
                    path: path, feature: "post_processor \(Self.describe(post))",
                    hint: "post-processors that add tokens around a sequence are not applied here; "
                        + "set \"post_processor\" to null (or ByteLevel) and add such tokens yourself")
            }
        }

        // Added tokens.
        if let list = root["added_tokens"] as? [Any] {
            for (k, item) in list.enumerated() {
                guard let t = item as? [String: Any], let id = Self.int(t["id"]), id >= 0,
                      let content = t["content"] as? String else {
                    throw TokenizerError.invalidFile(path: path, detail: "added_tokens[\(k)] needs an \"id\" and a \"content\"")
                }
                guard id < idLimit else {
                    throw TokenizerError.invalidFile(path: path, detail: "added_tokens[\(k)] \"\(content)\" has id \(id), far above the \(entries)")
                }
                if content.isEmpty || addedTokens.contains(where: { $0.content == content }) { continue }
                let special = t["special"] as? Bool ?? false
                addedTokens.append(BPETokenizer.AddedToken(
                    id: Int32(id), content: content, special: special,
                    singleWord: t["single_word"] as? Bool ?? false,
                    lstrip: t["lstrip"] as? Bool ?? false,
                    rstrip: t["rstrip"] as? Bool ?? false,
                    normalized: t["normalized"] as? Bool ?? !special))
            }
        } else if let v = root["added_tokens"], !(v is NSNull) {
            throw TokenizerError.invalidFile(path: path, detail: "added_tokens is not an array")
        }
    }

    /// The exclusive bound on token ids for a file of `entries` vocabulary entries and added tokens:
    /// twice the entries plus 1,024 (room for padded or sparse id spaces), and never above 2²⁴. The ids
    /// index dense decoding tables, so a corrupt id (2³¹, 1e18) is an error, not a giant allocation.
    static func idLimit(entries: Int) -> Int { min(1 << 24, 2 * entries + 1024) }

    /// Whether a normalizer is NFC (possibly inside Sequences, with nothing else); nil/null is no normalizer.
    private static func isNFC(_ value: Any?, path: String) throws -> Bool {
        guard let value, !(value is NSNull) else { return false }
        guard let n = value as? [String: Any], let type = n["type"] as? String else {
            throw TokenizerError.invalidFile(path: path, detail: "normalizer is not an object with a \"type\"")
        }
        switch type {
        case "NFC":
            return true
        case "Sequence":
            var nfc = false
            for inner in n["normalizers"] as? [Any] ?? [] {
                if try isNFC(inner, path: path) { nfc = true }
            }
            return nfc
        default:
            throw TokenizerError.unsupported(path: path, feature: "normalizer \"\(type)\"",
                                             hint: "only NFC normalization (or none) is supported, as in GPT-NeoX's tokenizer.json")
        }
    }

    /// The component itself, or the only element of a one-element "Sequence" of components.
    private static func single(_ value: Any?) -> [String: Any]? {
        guard let d = value as? [String: Any] else { return nil }
        if d["type"] as? String == "Sequence" {
            let inner = (d["pretokenizers"] ?? d["decoders"] ?? d["processors"]) as? [Any] ?? []
            guard inner.count > 0, let first = inner[0] as? [String: Any] else { return nil }
            let type = first["type"] as? String
            return inner.allSatisfy({ ($0 as? [String: Any])?["type"] as? String == type }) ? first : nil
        }
        return d
    }

    private static func describe(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "null" }
        guard let d = value as? [String: Any], let type = d["type"] as? String else { return "(not an object with a \"type\")" }
        if type == "Sequence" {
            let inner = (d["pretokenizers"] ?? d["decoders"] ?? d["processors"]) as? [Any] ?? []
            let types = inner.map { (($0 as? [String: Any])?["type"] as? String) ?? "?" }
            return "\"Sequence\" [\(types.joined(separator: ", "))]"
        }
        return "\"\(type)\""
    }

    private static func int(_ value: Any?) -> Int? {
        if let i = value as? Int { return i }
        if let n = value as? NSNumber, let i = Int(exactly: n.doubleValue) { return i }
        return nil
    }

    private static func double(_ value: Any?) -> Double? {
        if let d = value as? Double { return d }
        if let n = value as? NSNumber { return n.doubleValue }
        return nil
    }
}
