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
// The character classes come from the Swift standard library's Unicode tables; Oniguruma may use an
// older Unicode version, so scalars assigned in newer Unicode versions can be classified differently
// (they are "other" to an engine that does not know them).

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

    /// Classes of the ASCII scalars.
    static let asciiClass: [UInt8] = (0..<128).map { v -> UInt8 in classify(Unicode.Scalar(UInt8(v))) }

    /// The class of any scalar.
    @inline(__always)
    static func classify(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    /// The class and UTF-8 length of the scalar starting at `i` (`bytes` is valid UTF-8).
    @inline(__always)
    static func scalarClass(_ p: UnsafePointer<UInt8>, _ i: Int, _ ascii: UnsafePointer<UInt8>) -> (UInt8, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (ascii[Int(b0)], 1) }
        var v: UInt32, n: Int
        if b0 < 0xE0 {
            v = (UInt32(b0 & 0x1F) << 6) | UInt32(p[i + 1] & 0x3F); n = 2
        } else if b0 < 0xF0 {
            v = (UInt32(b0 & 0x0F) << 12) | (UInt32(p[i + 1] & 0x3F) << 6) | UInt32(p[i + 2] & 0x3F); n = 3
        } else {
            v = (UInt32(b0 & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12) | (UInt32(p[i + 2] & 0x3F) << 6)
                | UInt32(p[i + 3] & 0x3F); n = 4
        }
        return (classify(Unicode.Scalar(v).unsafelyUnwrapped), n)
    }

    /// Calls `emit(start, end)` for each piece of `bytes[start..<end]` (byte offsets), in order.
    /// `bytes` must be valid UTF-8 and the range must start and end on scalar boundaries.
    @inline(__always)
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ emit: (Int, Int) -> Void) {
        guard start < end, let p = bytes.baseAddress else { return }
        asciiClass.withUnsafeBufferPointer { asciiBuf in
            let ascii = asciiBuf.baseAddress!
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
                var (cls, len) = scalarClass(p, i, ascii)
                var j = i + len
                // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" with the optional space
                if c == 0x20, j < end {
                    let (cls1, len1) = scalarClass(p, j, ascii)
                    if cls1 != space {
                        cls = cls1
                        j += len1
                    }
                }
                if cls != space {
                    while j < end {
                        let (k, l) = scalarClass(p, j, ascii)
                        if k != cls { break }
                        j += l
                    }
                    emit(i, j); i = j; continue
                }
                // "\s+(?!\S)" then "\s+"
                var lastStart = i
                while j < end {
                    let (k, l) = scalarClass(p, j, ascii)
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
