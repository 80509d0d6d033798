// ByteTokenizer.swift
// The simplest text tokenizer: one id per UTF-8 byte, plus two special tokens.

// MARK: - ByteTokenizer

/// A byte-level text tokenizer: ids `0...255` are the UTF-8 bytes of the text, followed by two
/// special tokens.
///
/// | id | token |
/// |---|---|
/// | 0–255 | the byte with that value |
/// | 256 | `<|endoftext|>` (``endOfText``) |
/// | 257 | `<|padding|>` (``padding``) |
///
/// ``vocabularySize`` is 258. It needs no vocabulary file, never fails, and round-trips every
/// string exactly: `decode(encode(s)) == s`.
///
/// ```swift
/// let tok = ByteTokenizer()
/// tok.encode("hé")                                      // [104, 195, 169]
/// tok.encode("a<|endoftext|>", allowSpecial: true)      // [97, 256]
/// tok.decode([104, 195, 169, 256])                      // "hé<|endoftext|>"
/// ```
public struct ByteTokenizer: TextTokenizer, Sendable, Equatable {
    /// The id of `<|endoftext|>`: 256.
    public static let endOfText: Int32 = 256
    /// The id of `<|padding|>`: 257.
    public static let padding: Int32 = 257
    /// The string of ``endOfText``.
    public static let endOfTextString = "<|endoftext|>"
    /// The string of ``padding``.
    public static let paddingString = "<|padding|>"

    public init() {}

    /// 258: the 256 byte values and the two special tokens.
    public var vocabularySize: Int { 258 }

    /// `["<|endoftext|>": 256, "<|padding|>": 257]`.
    public var specialTokens: [String: Int32] {
        [Self.endOfTextString: Self.endOfText, Self.paddingString: Self.padding]
    }

    /// The UTF-8 bytes of `text`, one id each. Special-token strings in the text are encoded as
    /// their bytes too (this is `encode(text, allowSpecial: false)`), so untrusted text can never
    /// produce a special id.
    public func encode(_ text: String) -> [Int32] {
        encode(text, allowSpecial: false)
    }

    /// The UTF-8 bytes of `text`, one id each; with `allowSpecial`, each occurrence of
    /// `<|endoftext|>` or `<|padding|>` in the text becomes the single id 256 or 257 instead.
    public func encode(_ text: String, allowSpecial: Bool) -> [Int32] {
        var text = text
        return text.withUTF8 { bytes -> [Int32] in
            var out = [Int32]()
            out.reserveCapacity(bytes.count)
            guard allowSpecial else {
                for b in bytes { out.append(Int32(b)) }
                return out
            }
            let eot = Array(Self.endOfTextString.utf8), pad = Array(Self.paddingString.utf8)
            let n = bytes.count
            var i = 0
            while i < n {
                let b = bytes[i]
                if b == UInt8(ascii: "<") {
                    if Self.matches(eot, bytes, at: i) { out.append(Self.endOfText); i += eot.count; continue }
                    if Self.matches(pad, bytes, at: i) { out.append(Self.padding); i += pad.count; continue }
                }
                out.append(Int32(b))
                i += 1
            }
            return out
        }
    }

    private static func matches(_ pattern: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + pattern.count <= bytes.count else { return false }
        for k in 0..<pattern.count where bytes[i + k] != pattern[k] { return false }
        return true
    }

    /// The text of `ids`, with special tokens rendered as their strings
    /// (this is `decode(ids, skipSpecialTokens: false)`).
    public func decode(_ ids: [Int32]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// The text of `ids`.
    ///
    /// The bytes are decoded as UTF-8. Invalid UTF-8 — a lone continuation byte, a truncated
    /// sequence, an overlong form, a surrogate, a value above U+10FFFF — is replaced by U+FFFD
    /// REPLACEMENT CHARACTER, one per maximal invalid subsequence (Unicode's recommended practice,
    /// the same as Python's `bytes.decode("utf-8", "replace")` and Rust's `from_utf8_lossy`); bytes on
    /// either side of a special token are decoded separately. Special tokens become their strings,
    /// or nothing with `skipSpecialTokens`. Ids outside `0..<258` are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var result = ""
        var bytes = [UInt8]()
        bytes.reserveCapacity(ids.count)
        func flush() {
            if !bytes.isEmpty {
                result += String(decoding: bytes, as: UTF8.self)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        for id in ids {
            switch id {
            case 0...255:
                bytes.append(UInt8(id))
            case Self.endOfText, Self.padding:
                flush()
                if !skipSpecialTokens { result += id == Self.endOfText ? Self.endOfTextString : Self.paddingString }
            default:
                continue
            }
        }
        flush()
        return result
    }
}
