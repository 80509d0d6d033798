// PreTokenizer.swift
// GPT-2's pre-tokenization regex, implemented as a hand-written scanner over UTF-8.
//
// The regex (as used by Hugging Face tokenizers' ByteLevel pre-tokenizer, run by Oniguruma):
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Every Unicode scalar is a letter (\p{L}: Lu Ll Lt Lm Lo), a number (\p{N}: Nd Nl No), white space
// (\s: the Unicode White_Space property — 9–13, 0x20, 0x85, 0xA0, 0x1680, 0x2000–0x200A, 0x2028,
// 0x2029, 0x202F, 0x205F, 0x3000) or "other", so the matches tile the text and the scanner only has to
// find where each match ends:
//
//   • at an ASCII apostrophe followed by s t m d / re ve ll (case-sensitive): that contraction;
//   • at a space (U+0020) followed by a letter, number or other: the space and the run of that class;
//   • at a letter, number or other: the run of that class (so "?'s" is "?'" + "s");
//   • at white space: the run of white space, minus its last scalar if the run is followed by a
//     non-space and is longer than one scalar (`\s+(?!\S)` backtracks one step), so that the last
//     space can start the next word: "a   b" → "a", "  ", " b".
//
// The character classes come from the Swift standard library's Unicode tables (Unicode 17 in Swift 6.3).
// The Oniguruma inside tokenizers 0.23 knows Unicode 16, so letters and numbers first assigned in a later
// Unicode version are "other" here too (checked against tokenizers over every assigned scalar).

// MARK: - ByteLevelPreTokenizer

/// Splits text into the pieces ("pre-tokens") that byte-level BPE encodes independently, exactly as
/// Hugging Face tokenizers' `ByteLevel` pre-tokenizer does with `use_regex: true` (GPT-2's regex).
///
/// ```swift
/// ByteLevelPreTokenizer.split("It's  2 cats!\n")   // ["It", "'s", " ", " 2", " cats", "!", "\n"]
/// ```
public enum ByteLevelPreTokenizer {
    /// The pieces of `text`, in order; joined they give `text` back.
    public static func split(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { bytes -> [String] in
            var pieces = [String]()
            GPT2Scanner.split(bytes, 0, bytes.count) { a, b in
                pieces.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[a..<b]), as: UTF8.self))
            }
            return pieces
        }
    }
}

// MARK: - Scanner

enum GPT2Scanner {
    // Scalar classes.
    static let letter: UInt8 = 0
    static let number: UInt8 = 1
    static let space: UInt8 = 2   // White_Space
    static let other: UInt8 = 3

    /// Classes of the scalars U+0000…U+FFFF (built on first use, in a few milliseconds).
    static let bmpClass: [UInt8] = (0..<0x10000).map { v -> UInt8 in
        guard let s = Unicode.Scalar(UInt32(v)) else { return other }  // surrogates: never in a String
        return classify(s)
    }

    /// The newest Unicode version whose letters and numbers count as such (see the file comment).
    static let newestUnicodeMajor = 16

    /// The class of any scalar.
    static func classify(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        if p.isWhitespace { return space }
        let cls: UInt8
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            cls = letter
        case .decimalNumber, .letterNumber, .otherNumber:
            cls = number
        default:
            return other
        }
        if let age = p.age, age.major > newestUnicodeMajor { return other }
        return cls
    }

    /// The class and UTF-8 length of the scalar starting at `i` (`bytes` is valid UTF-8);
    /// `table` is ``bmpClass``.
    @inline(__always)
    static func scalarClass(_ p: UnsafePointer<UInt8>, _ i: Int, _ table: UnsafePointer<UInt8>) -> (UInt8, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (table[Int(b0)], 1) }
        if b0 < 0xE0 {
            return (table[Int(b0 & 0x1F) << 6 | Int(p[i + 1] & 0x3F)], 2)
        }
        if b0 < 0xF0 {
            return (table[Int(b0 & 0x0F) << 12 | Int(p[i + 1] & 0x3F) << 6 | Int(p[i + 2] & 0x3F)], 3)
        }
        let v = (UInt32(b0 & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12) | (UInt32(p[i + 2] & 0x3F) << 6)
            | UInt32(p[i + 3] & 0x3F)
        return (classify(Unicode.Scalar(v).unsafelyUnwrapped), 4)
    }

    /// Calls `emit(start, end)` for each piece of `bytes[start..<end]` (byte offsets), in order.
    /// `bytes` must be valid UTF-8 and the range must start and end on scalar boundaries.
    @inline(__always)
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ emit: (Int, Int) -> Void) {
        guard start < end, let p = bytes.baseAddress else { return }
        bmpClass.withUnsafeBufferPointer { tableBuf in
            let table = tableBuf.baseAddress!
            var i = start
            while i < end {
                let c = p[i]
                // 's 't 'm 'd 're 've 'll
                if c == 0x27, i + 1 < end {
                    let c1 = p[i + 1]
                    if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 {  // s t m d
                        emit(i, i + 2); i += 2; continue
                    }
                    if i + 2 < end {
                        let c2 = p[i + 2]
                        if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {  // re ve ll
                            emit(i, i + 3); i += 3; continue
                        }
                    }
                }
                var (cls, len) = scalarClass(p, i, table)
                var j = i + len
                // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" with the optional space
                if c == 0x20, j < end {
                    let (cls1, len1) = scalarClass(p, j, table)
                    if cls1 != space {
                        cls = cls1
                        j += len1
                    }
                }
                if cls != space {
                    while j < end {
                        let (k, l) = scalarClass(p, j, table)
                        if k != cls { break }
                        j += l
                    }
                    emit(i, j); i = j; continue
                }
                // "\s+(?!\S)" then "\s+"
                var lastStart = i
                while j < end {
                    let (k, l) = scalarClass(p, j, table)
                    if k != space { break }
                    lastStart = j
                    j += l
                }
                if j < end && lastStart > i { j = lastStart }
                emit(i, j); i = j
            }
        }
    }
}
