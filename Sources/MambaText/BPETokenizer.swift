// BPETokenizer.swift
// Byte-level BPE from a Hugging Face tokenizer.json (GPT-2 / GPT-NeoX style, as used by the pretrained
// Mamba models), giving the same ids as the `tokenizers` library.

import Foundation

// MARK: - BPETokenizer

/// A byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json`, such as GPT-NeoX-20B's,
/// which the pretrained Mamba models (`state-spaces/mamba-*`) use.
///
/// ```swift
/// let tok = try BPETokenizer(contentsOf: modelDirectory)          // or …/tokenizer.json
/// let ids = tok.encode("Hello world<|endoftext|>")                // [12092, 1533, 0]
/// tok.decode(ids)                                                 // "Hello world<|endoftext|>"
/// ```
///
/// `encode` follows the `tokenizers` library step by step, and gives identical ids:
///
/// 1. **Added tokens** (`added_tokens`: special tokens such as `<|endoftext|>`, and others such as
///    GPT-NeoX's runs of spaces) are found in the text before anything else — first those with
///    `"normalized": false` in the raw text, then, after normalization, those with `"normalized": true`
///    in the normalized text — leftmost first, longest at each position. `single_word`, `lstrip` and
///    `rstrip` are honoured (`lstrip`/`rstrip` make the token absorb the white space beside it).
/// 2. **Normalizer**: `NFC` (alone or in a `Sequence`), or none.
/// 3. **Pre-tokenizer** `ByteLevel`: split with GPT-2's regex (``ByteLevelPreTokenizer``) unless
///    `use_regex` is false; `add_prefix_space` puts a space before each text segment that lacks one.
/// 4. **Model** `BPE`: each piece's UTF-8 bytes, as GPT-2's byte characters (``ByteLevel``), are merged
///    by rank. Results are cached per piece.
///
/// `decode` maps each id to its token text (an added token's content, or the vocabulary entry), turns
/// it back into bytes with the `ByteLevel` decoder, and decodes the bytes as UTF-8 with invalid
/// sequences replaced by U+FFFD (as `tokenizers` does). Unknown ids are skipped.
///
/// Supported: `model.type` `"BPE"` (merges as `"a b"` strings or `["a", "b"]` pairs; `unk_token`,
/// `fuse_unk`, `byte_fallback`, `ignore_merges`), pre-tokenizer `ByteLevel`, decoder `ByteLevel`,
/// post-processor `ByteLevel` or none. Anything else throws ``TokenizerError``. `truncation` and
/// `padding` are ignored.
///
/// Unicode versions: letters and numbers first assigned in Unicode 17 are "other" to the pre-tokenizer,
/// as they are to the regex engine of `tokenizers` 0.23 (Unicode 16), so they get the same ids. One known
/// difference remains: NFC here composes the few sequences that became composable in Unicode 16 (vowel
/// signs of Tulu-Tigalari, Gurung Khema and Kirat Rai), which `tokenizers` leaves apart, so text in those
/// three scripts can get different ids. Added tokens keep the ids written in the file (`tokenizers`
/// renumbers added tokens that are not in the vocabulary from the vocabulary size up, which gives the
/// same ids for any file it saved). Besides the committed fixtures, this was checked against
/// `tokenizers` on every assigned scalar in several contexts, on 20,000 random strings and on all of
/// Tiny Shakespeare.
///
/// Instances are immutable apart from an internal cache and safe to use from several threads.
public final class BPETokenizer: TextTokenizer, @unchecked Sendable {

    /// One entry of the file's `added_tokens`.
    public struct AddedToken: Equatable, Sendable {
        public var id: Int32
        public var content: String
        /// Special tokens are skipped by `decode(_:skipSpecialTokens: true)` and are not matched by
        /// `encode(_:allowSpecial: false)`.
        public var special: Bool
        /// Only matched when not preceded or followed by a word character.
        public var singleWord: Bool
        /// Absorbs the white space before it.
        public var lstrip: Bool
        /// Absorbs the white space after it.
        public var rstrip: Bool
        /// Matched in the normalized text (true) or in the raw text (false).
        public var normalized: Bool
    }

    /// The text normalization applied before pre-tokenization.
    public enum Normalization: String, Sendable {
        case none
        /// Unicode canonical composition (NFC).
        case nfc
    }

    /// The file this tokenizer was loaded from (or the name given to `init(jsonData:path:)`).
    public let path: String
    /// The largest id (vocabulary or added token) plus one.
    public let vocabularySize: Int
    /// The special added tokens by content, e.g. `["<|endoftext|>": 0, "<|padding|>": 1]` for GPT-NeoX.
    public let specialTokens: [String: Int32]
    /// The file's `added_tokens`, in file order.
    public let addedTokens: [AddedToken]
    /// The normalization from the file's `normalizer`.
    public let normalization: Normalization
    /// Number of merges in the model.
    public let mergeCount: Int

    // Model.
    private let vocab: [String: Int]
    private let merges: MergeTable
    private let byteIDs: [Int32]            // id of each single byte, -1 = none (then unk or dropped)
    private let unkID: Int32                 // -1 = none
    private let fuseUnk: Bool
    private let wholeWordIDs: [[UInt8]: Int32]?   // ignore_merges: pieces that are whole vocabulary entries
    // Pre-tokenizer.
    private let addPrefixSpace: Bool
    private let useRegex: Bool
    // Added tokens.
    private let rawTrie: AddedTokenTrie
    private let normalizedTrie: AddedTokenTrie
    // Decoding.
    private let tokenStrings: [String?]      // by id
    private let decodeBytes: [UInt8]
    private let decodeOffsets: [Int32]       // by id, count vocabularySize + 1
    private let decodeKnown: [Bool]
    private let isSpecialID: [Bool]

    // Per-call encoding state, reused: one spare context, checked out under a lock.
    private let lock = NSLock()
    private var spareContext: EncodeContext?

    // MARK: Loading

    /// Loads `tokenizer.json` from a file, or from a directory that contains one.
    public convenience init(contentsOf url: URL) throws {
        var file = url
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = url.appendingPathComponent("tokenizer.json")
        }
        let path = file.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.fileNotFound(path: path) }
        try FileChecks.requireRegularFile(path: path) { TokenizerError.unreadable(path: path, reason: $0) }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw TokenizerError.unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        try self.init(jsonData: data, path: path)
    }

    /// Loads `tokenizer.json` from a file path (or a directory that contains one).
    public convenience init(contentsOfFile path: String) throws {
        try self.init(contentsOf: URL(fileURLWithPath: path))
    }

    /// Loads a tokenizer from the contents of a `tokenizer.json`; `path` names it in errors.
    public init(jsonData: Data, path: String = "<tokenizer.json data>") throws {
        let spec = try TokenizerSpec(jsonData: jsonData, path: path)
        self.path = path
        vocab = spec.vocab
        normalization = spec.normalization
        addPrefixSpace = spec.addPrefixSpace
        useRegex = spec.useRegex
        fuseUnk = spec.fuseUnk
        mergeCount = spec.merges.count

        // Merges → ids.
        var mergeIDs = [(left: Int32, right: Int32, merged: Int32)]()
        mergeIDs.reserveCapacity(spec.merges.count)
        for (k, m) in spec.merges.enumerated() {
            guard let a = spec.vocab[m.0] else {
                throw TokenizerError.invalidFile(path: path, detail: "merge #\(k) (\"\(m.0) \(m.1)\"): \"\(m.0)\" is not in model.vocab")
            }
            guard let b = spec.vocab[m.1] else {
                throw TokenizerError.invalidFile(path: path, detail: "merge #\(k) (\"\(m.0) \(m.1)\"): \"\(m.1)\" is not in model.vocab")
            }
            guard let c = spec.vocab[m.0 + m.1] else {
                throw TokenizerError.invalidFile(path: path, detail: "merge #\(k) (\"\(m.0) \(m.1)\"): \"\(m.0 + m.1)\" is not in model.vocab")
            }
            mergeIDs.append((Int32(a), Int32(b), Int32(c)))
        }
        merges = MergeTable(mergeIDs)

        // Unknown token and bytes.
        var unk: Int32 = -1
        if let u = spec.unkToken {
            guard let id = spec.vocab[u] else {
                throw TokenizerError.invalidFile(path: path, detail: "model.unk_token \"\(u)\" is not in model.vocab")
            }
            unk = Int32(id)
        }
        unkID = unk
        var bytes = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = spec.vocab[String(Character(ByteLevel.byteToScalar[b]))] {
                bytes[b] = Int32(id)
            } else if spec.byteFallback, let id = spec.vocab[String(format: "<0x%02X>", b)] {
                bytes[b] = Int32(id)
            }
        }
        byteIDs = bytes

        // Added tokens.
        addedTokens = spec.addedTokens
        var raw = AddedTokenTrie(), normalizedTokens = AddedTokenTrie()
        var specials = [String: Int32]()
        var maxID = spec.vocab.values.max() ?? -1
        for (k, t) in spec.addedTokens.enumerated() {
            maxID = max(maxID, Int(t.id))
            if t.special { specials[t.content] = t.id }
            if t.normalized {
                let content = spec.normalization == .nfc ? UnicodeNFC.normalize(t.content) : t.content
                normalizedTokens.insert(Array(content.utf8), value: Int32(k))
            } else {
                raw.insert(Array(t.content.utf8), value: Int32(k))
            }
        }
        rawTrie = raw
        normalizedTrie = normalizedTokens
        specialTokens = specials
        vocabularySize = maxID + 1

        // Decoding tables: token text by id (added tokens take precedence), then its bytes.
        var strings = [String?](repeating: nil, count: maxID + 1)
        for (token, id) in spec.vocab where id >= 0 { strings[id] = token }
        var special = [Bool](repeating: false, count: maxID + 1)
        for t in spec.addedTokens {
            // Like tokenizers' id_to_token / decode: a normalized added token is spelled as its normalized content.
            strings[Int(t.id)] = t.normalized && spec.normalization == .nfc ? UnicodeNFC.normalize(t.content) : t.content
            special[Int(t.id)] = t.special
        }
        var arena = [UInt8](), offsets = [Int32](), known = [Bool]()
        offsets.reserveCapacity(maxID + 2)
        known.reserveCapacity(maxID + 1)
        for s in strings {
            offsets.append(Int32(arena.count))
            known.append(s != nil)
            guard let s else { continue }
            // The ByteLevel decoder: bytes of the byte characters, or the raw UTF-8 if any character is not one.
            arena.append(contentsOf: ByteLevel.decode(s) ?? Array(s.utf8))
        }
        offsets.append(Int32(arena.count))
        tokenStrings = strings
        decodeBytes = arena
        decodeOffsets = offsets
        decodeKnown = known
        isSpecialID = special

        if spec.ignoreMerges {
            var whole = [[UInt8]: Int32]()
            for (token, id) in spec.vocab { if let b = ByteLevel.decode(token) { whole[b] = Int32(id) } }
            wholeWordIDs = whole
        } else {
            wholeWordIDs = nil
        }
    }

    // MARK: Lookup

    /// The id of a token (an added token's content, or a vocabulary entry in its byte-level spelling
    /// such as `"Ġworld"`), or nil.
    public func tokenID(_ token: String) -> Int32? {
        if let t = addedTokens.first(where: { $0.content == token }) { return t.id }
        return vocab[token].map { Int32($0) }
    }

    /// The token text of `id` (an added token's content — normalized if the token is matched in normalized
    /// text, as in `tokenizers` — or the vocabulary entry), or nil.
    public func token(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < tokenStrings.count else { return nil }
        return tokenStrings[Int(id)]
    }

    /// `text` after the file's normalizer (NFC or nothing).
    public func normalize(_ text: String) -> String {
        normalization == .nfc ? UnicodeNFC.normalize(text) : text
    }

    // MARK: Encoding

    /// Encodes `text` like `tokenizers`' `Tokenizer.encode(text)`: special-token strings in the text
    /// become their ids (this is `encode(text, allowSpecial: true)`).
    public func encode(_ text: String) -> [Int32] {
        encode(text, allowSpecial: true)
    }

    /// Encodes `text`. With `allowSpecial: false`, special tokens (`"special": true` in the file) in the
    /// text are encoded as ordinary text, like `tokenizers` with `encode_special_tokens = True`; other
    /// added tokens are still matched.
    public func encode(_ text: String, allowSpecial: Bool) -> [Int32] {
        let context = checkOut()
        defer { checkIn(context) }
        var out = [Int32]()
        out.reserveCapacity(text.utf8.count / 3 + 4)
        var text = text
        text.withUTF8 { raw in
            guard raw.count > 0 else { return }
            splitAddedTokens(raw, 0, raw.count, rawTrie, allowSpecial) { token, a, b in
                if token >= 0 {
                    out.append(addedTokens[Int(token)].id)
                } else {
                    encodeUnnormalized(raw, a, b, allowSpecial, context, &out)
                }
            }
        }
        return out
    }

    /// A segment of raw text without non-normalized added tokens: normalize, then find normalized added tokens.
    private func encodeUnnormalized(_ raw: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ allowSpecial: Bool,
                                    _ context: EncodeContext, _ out: inout [Int32]) {
        if normalization == .nfc && UnicodeNFC.mayChange(raw, a, b) {
            let normalized = UnicodeNFC.normalize(raw, a, b)
            normalized.withUnsafeBufferPointer { n in
                encodeNormalized(n, 0, n.count, allowSpecial, context, &out)
            }
        } else {
            encodeNormalized(raw, a, b, allowSpecial, context, &out)
        }
    }

    private func encodeNormalized(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ allowSpecial: Bool,
                                  _ context: EncodeContext, _ out: inout [Int32]) {
        guard a < b else { return }
        if normalizedTrie.isEmpty {
            encodeSegment(p, a, b, context, &out)
            return
        }
        splitAddedTokens(p, a, b, normalizedTrie, allowSpecial) { token, x, y in
            if token >= 0 {
                out.append(addedTokens[Int(token)].id)
            } else {
                encodeSegment(p, x, y, context, &out)
            }
        }
    }

    /// A segment between added tokens: pre-tokenize and BPE each piece.
    private func encodeSegment(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int,
                               _ context: EncodeContext, _ out: inout [Int32]) {
        guard a < b else { return }
        if addPrefixSpace && p[a] != 0x20 {
            var prefixed = [UInt8](repeating: 0x20, count: b - a + 1)
            for i in a..<b { prefixed[i - a + 1] = p[i] }
            prefixed.withUnsafeBufferPointer { q in encodePieces(q, 0, q.count, context, &out) }
        } else {
            encodePieces(p, a, b, context, &out)
        }
    }

    private func encodePieces(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int,
                              _ context: EncodeContext, _ out: inout [Int32]) {
        if useRegex {
            GPT2Scanner.split(p, a, b) { x, y in encodePiece(p.baseAddress! + x, y - x, context, &out) }
        } else {
            encodePiece(p.baseAddress! + a, b - a, context, &out)
        }
    }

    /// Pieces up to this many bytes are cached (like tokenizers' 256-character limit).
    private static let maxCachedPieceBytes = 255

    @inline(__always)
    private func encodePiece(_ p: UnsafePointer<UInt8>, _ n: Int, _ context: EncodeContext, _ out: inout [Int32]) {
        let cache = context.cache
        if n <= Self.maxCachedPieceBytes {
            let h = hashBytes(p, n)
            if let r = cache.lookup(p, n, hash: h) {
                cache.values.withUnsafeBufferPointer { v in
                    for i in r { out.append(v[i]) }
                }
                return
            }
            let start = out.count
            bpe(p, n, context, &out)
            cache.insert(p, n, hash: h, ids: out[start...])
        } else {
            bpe(p, n, context, &out)
        }
    }

    private func bpe(_ p: UnsafePointer<UInt8>, _ n: Int, _ context: EncodeContext, _ out: inout [Int32]) {
        if let whole = wholeWordIDs, let id = whole[Array(UnsafeBufferPointer(start: p, count: n))] {
            out.append(id)
            return
        }
        context.scratch.c.removeAll(keepingCapacity: true)
        context.scratch.len.removeAll(keepingCapacity: true)
        byteIDs.withUnsafeBufferPointer { ids in
            for i in 0..<n {
                var id = ids[Int(p[i])]
                if id < 0 {
                    if unkID < 0 { continue }  // no unk token: the byte is dropped, as in tokenizers
                    id = unkID
                    if fuseUnk, let last = context.scratch.c.last, last == unkID {
                        context.scratch.len[context.scratch.len.count - 1] += 1
                        continue
                    }
                }
                context.scratch.c.append(id)
                context.scratch.len.append(1)
            }
        }
        merges.mergeWord(&context.scratch, into: &out)
    }

    /// tokenizers' `AddedVocabulary::find_matches`: calls `emit(token index, start, end)` for each added
    /// token found in `p[a..<b]` and `emit(-1, start, end)` for the text between them.
    private func splitAddedTokens(_ buffer: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ trie: AddedTokenTrie,
                                  _ allowSpecial: Bool, _ emit: (Int32, Int, Int) -> Void) {
        guard a < b else { return }
        if trie.isEmpty { emit(-1, a, b); return }
        let p = buffer.baseAddress!
        var startOffset = a
        var i = a
        while i < b {
            guard let (token, matchEnd) = trie.longestMatch(p, i, b) else { i += 1; continue }
            var start = i, stop = matchEnd
            i = matchEnd
            let t = addedTokens[Int(token)]
            if t.special && !allowSpecial { continue }
            if t.singleWord {
                let startSpace = start == a || !UnicodeText.endsWithWordCharacter(p, a, start)
                let stopSpace = stop == b || !UnicodeText.startsWithWordCharacter(p, stop, b)
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip { start = max(UnicodeText.startOfTrailingWhitespace(p, a, start), startOffset) }
            if t.rstrip { stop = UnicodeText.endOfLeadingWhitespace(p, stop, b) }
            if startOffset < start { emit(-1, startOffset, start) }
            emit(token, start, stop)
            startOffset = stop
        }
        if startOffset < b { emit(-1, startOffset, b) }
    }

    private func checkOut() -> EncodeContext {
        lock.lock()
        defer { lock.unlock() }
        if let c = spareContext {
            spareContext = nil
            return c
        }
        return EncodeContext()
    }

    private func checkIn(_ context: EncodeContext) {
        lock.lock()
        if spareContext == nil { spareContext = context }
        lock.unlock()
    }

    // MARK: Decoding

    /// Decodes `ids`, rendering special tokens as their strings (this is `decode(ids, skipSpecialTokens: false)`).
    public func decode(_ ids: [Int32]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// Decodes `ids` like `tokenizers`' `Tokenizer.decode(ids, skip_special_tokens:)`: the bytes of all
    /// tokens, decoded as UTF-8 with each invalid sequence replaced by U+FFFD. Unknown ids are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(ids.count * 4)
        decodeBytes.withUnsafeBufferPointer { arena in
            for id32 in ids {
                let id = Int(id32)
                guard id >= 0, id < vocabularySize, decodeKnown[id] else { continue }
                if skipSpecialTokens && isSpecialID[id] { continue }
                let a = Int(decodeOffsets[id]), b = Int(decodeOffsets[id + 1])
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: arena[a..<b]))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes of one token (its decoded text's UTF-8, which may be part of a character), or nil for an
    /// unknown id. Useful for streaming generation, where a character can span several tokens.
    public func tokenBytes(_ id32: Int32) -> [UInt8]? {
        let id = Int(id32)
        guard id >= 0, id < vocabularySize, decodeKnown[id] else { return nil }
        return Array(decodeBytes[Int(decodeOffsets[id])..<Int(decodeOffsets[id + 1])])
    }
}

// MARK: - EncodeContext

/// Mutable state for one `encode` call at a time: the piece cache and merge scratch space.
final class EncodeContext {
    let cache = PieceCache()
    var scratch = MergeScratch()
}

// MARK: - Unicode helpers (Rust regex `\s` and `\w` semantics, as used for added tokens)

enum UnicodeText {
    /// Decodes the scalar starting at `i` (valid UTF-8); returns it and its length.
    @inline(__always)
    static func scalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (Unicode.Scalar, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        var v: UInt32, n: Int
        if b0 < 0xE0 {
            v = (UInt32(b0 & 0x1F) << 6) | UInt32(p[i + 1] & 0x3F); n = 2
        } else if b0 < 0xF0 {
            v = (UInt32(b0 & 0x0F) << 12) | (UInt32(p[i + 1] & 0x3F) << 6) | UInt32(p[i + 2] & 0x3F); n = 3
        } else {
            v = (UInt32(b0 & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12) | (UInt32(p[i + 2] & 0x3F) << 6)
                | UInt32(p[i + 3] & 0x3F); n = 4
        }
        return (Unicode.Scalar(v) ?? "\u{FFFD}", n)
    }

    /// The start of the scalar that ends at `end` (exclusive), not before `lower`.
    @inline(__always)
    static func previousScalarStart(_ p: UnsafePointer<UInt8>, _ lower: Int, _ end: Int) -> Int {
        var i = end - 1
        while i > lower && (p[i] & 0xC0) == 0x80 { i -= 1 }
        return i
    }

    /// Unicode `\w`: Alphabetic, marks, decimal numbers, connector punctuation, join controls.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    static func endsWithWordCharacter(_ p: UnsafePointer<UInt8>, _ lower: Int, _ end: Int) -> Bool {
        guard end > lower else { return false }
        return isWordCharacter(scalar(p, previousScalarStart(p, lower, end)).0)
    }

    static func startsWithWordCharacter(_ p: UnsafePointer<UInt8>, _ start: Int, _ upper: Int) -> Bool {
        guard start < upper else { return false }
        return isWordCharacter(scalar(p, start).0)
    }

    /// The start of the run of white space that ends at `end` (`end` itself if there is none).
    static func startOfTrailingWhitespace(_ p: UnsafePointer<UInt8>, _ lower: Int, _ end: Int) -> Int {
        var i = end
        while i > lower {
            let s = previousScalarStart(p, lower, i)
            if !scalar(p, s).0.properties.isWhitespace { break }
            i = s
        }
        return i
    }

    /// The end of the run of white space that starts at `start` (`start` itself if there is none).
    static func endOfLeadingWhitespace(_ p: UnsafePointer<UInt8>, _ start: Int, _ upper: Int) -> Int {
        var i = start
        while i < upper {
            let (s, n) = scalar(p, i)
            if !s.properties.isWhitespace { break }
            i += n
        }
        return i
    }
}
