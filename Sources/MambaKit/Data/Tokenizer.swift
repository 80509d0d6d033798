// Tokenizer.swift
// The protocol every front end (text, audio, DNA, …) implements to turn its input into token ids
// for the backbone and back, plus the typed error raised while loading tokenizer files.

import Foundation

// MARK: - Tokenizer

/// Turns one modality's input into token ids for the backbone, and ids back into that input.
///
/// The backbone only ever sees ids in `0..<vocabularySize`; a front end supplies a tokenizer for its
/// own kind of input:
///
/// | front end | `Input` | example |
/// |---|---|---|
/// | text | `String` | byte-level BPE (`BPETokenizer`), raw UTF-8 bytes (`ByteTokenizer`) |
/// | DNA | `String` or `[UInt8]` of bases | one id per base `A C G T N` |
/// | audio | `[Float]` samples | μ-law or codec codes |
///
/// Text tokenizers refine this protocol as ``TextTokenizer``.
///
/// Conforming types should be immutable after creation (or internally synchronised) so that one
/// instance can encode from several threads at once.
public protocol Tokenizer<Input> {
    /// What this tokenizer reads and reproduces: `String` for text, samples for audio, ….
    associatedtype Input

    /// The number of ids the backbone's embedding needs: every id `encode` can return is in
    /// `0..<vocabularySize` (this is the largest id plus one, so it also counts unused ids in gaps).
    var vocabularySize: Int { get }

    /// The tokenizer's special tokens (end of text, padding, …) by name, e.g. `"<|endoftext|>": 0`.
    var specialTokens: [String: Int32] { get }

    /// Converts `input` to token ids, each in `0..<vocabularySize`.
    func encode(_ input: Input) -> [Int32]

    /// Converts token ids back to input. Ids the tokenizer does not know (negative, or out of range)
    /// are skipped; each conforming type documents how it renders special tokens and malformed input.
    func decode(_ ids: [Int32]) -> Input
}

// MARK: - TextTokenizer

/// A ``Tokenizer`` for text, with control over special tokens.
///
/// Special tokens (such as `<|endoftext|>`) can occur *as text* inside a document. `encode(_:allowSpecial:)`
/// decides whether such text becomes the special token's id (`true`) or is encoded like any other text
/// (`false`, the safe choice for untrusted input). The plain `encode(_:)` uses each type's documented
/// default.
public protocol TextTokenizer: Tokenizer where Input == String {
    /// Encodes `text`; when `allowSpecial` is true, occurrences of special-token strings become their ids.
    func encode(_ text: String, allowSpecial: Bool) -> [Int32]

    /// Decodes `ids`; when `skipSpecialTokens` is true, special tokens are left out of the text,
    /// otherwise they are rendered as their strings (e.g. `"<|endoftext|>"`).
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
}

extension TextTokenizer {
    /// The id of the special token named `name` (e.g. `"<|endoftext|>"`), if the tokenizer has one.
    public func specialTokenID(_ name: String) -> Int32? { specialTokens[name] }
}

// MARK: - TokenizerError

/// An error raised while loading a tokenizer description (for example a Hugging Face `tokenizer.json`).
///
/// Every case names the file it concerns, and ``description`` is one line of the form
///
/// ```text
/// tokenizer error: <path>: <what went wrong> — <how to fix it>
/// ```
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file exists at `path`.
    case fileNotFound(path: String)

    /// The file exists but could not be read.
    case unreadable(path: String, reason: String)

    /// The file is not valid JSON, or its top level is not an object.
    case invalidJSON(path: String, detail: String)

    /// The file is well-formed but uses a feature this implementation does not support, for example
    /// a model type other than `"BPE"` or an unknown pre-tokenizer. `feature` names it, e.g.
    /// `model.type "WordPiece"`.
    case unsupported(path: String, feature: String, hint: String)

    /// The file is inconsistent or lacks a required part: missing `model.merges`, a merge whose
    /// tokens are not in the vocabulary, a duplicate id, ….
    case invalidFile(path: String, detail: String)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .fileNotFound(let path), .unreadable(let path, _), .invalidJSON(let path, _),
             .unsupported(let path, _, _), .invalidFile(let path, _):
            return path
        }
    }

    /// What went wrong, without the path prefix or the hint.
    public var problem: String {
        switch self {
        case .fileNotFound: return "no such file"
        case .unreadable(_, let reason): return "cannot read file: \(reason)"
        case .invalidJSON(_, let detail): return "invalid JSON: \(detail)"
        case .unsupported(_, let feature, _): return "unsupported \(feature)"
        case .invalidFile(_, let detail): return "invalid tokenizer file: \(detail)"
        }
    }

    /// A one-line suggestion for fixing the problem.
    public var hint: String {
        switch self {
        case .fileNotFound: return "check the path; a Hugging Face model directory has it as tokenizer.json"
        case .unreadable: return "check the file permissions and that it is a regular file"
        case .invalidJSON: return "the file is corrupt or truncated; re-download or re-save it with tokenizers' Tokenizer.save"
        case .unsupported(_, _, let hint): return hint
        case .invalidFile: return "re-save the tokenizer with the Hugging Face tokenizers library (Tokenizer.save)"
        }
    }

    /// One line: `tokenizer error: <path>: <problem> — <hint>`.
    public var description: String { "tokenizer error: \(path): \(problem) — \(hint)" }
}
