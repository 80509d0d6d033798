// Normalization.swift
// Unicode NFC for the tokenizer's "NFC" normalizer.
//
// Foundation's `precomposedStringWithCanonicalMapping` is not used: on Linux (swift-corelibs-foundation,
// Swift 6.3) it composes a supplementary-plane scalar followed by a combining mark as if it were the BMP
// scalar with the same low 16 bits (U+10041 U+0301 becomes "Á") and does not compose Hangul LV + T
// syllables. The standard library's normalizer (`String._nfcCodeUnits`, public but underscored) agrees
// with Python's `unicodedata` on every assigned scalar alone and in combination with marks, except that it
// does not reorder the marks that U+0F73, U+0F75 and U+0F81 decompose into (their decompositions start with
// a non-starter); those three are replaced by their canonical decompositions first, which leaves the NFC
// form unchanged by definition.
//
// One known difference from tokenizers 0.23 remains: the standard library (Unicode 17) composes the few
// sequences that became composable in Unicode 16 (Tulu-Tigalari, Gurung Khema and Kirat Rai vowel signs),
// which tokenizers' older normalization tables leave decomposed.

enum UnicodeNFC {
    /// Whether NFC might change `p[a..<b]`: only text with scalars from U+0300 up can change (their
    /// UTF-8 lead bytes are 0xCC and above).
    @inline(__always)
    static func mayChange(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> Bool {
        for i in a..<b where p[i] >= 0xCC { return true }
        return false
    }

    /// The NFC form of the valid UTF-8 `p[a..<b]`, as UTF-8.
    static func normalize(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(b - a)
        var i = a
        while i < b {
            // U+0F73 = E0 BD B3, U+0F75 = E0 BD B5, U+0F81 = E0 BE 81 → U+0F71 + U+0F72 / U+0F74 / U+0F80.
            if p[i] == 0xE0, i + 2 < b {
                let c1 = p[i + 1], c2 = p[i + 2]
                var second: [UInt8]? = nil
                if c1 == 0xBD && c2 == 0xB3 { second = [0xE0, 0xBD, 0xB2] }
                if c1 == 0xBD && c2 == 0xB5 { second = [0xE0, 0xBD, 0xB4] }
                if c1 == 0xBE && c2 == 0x81 { second = [0xE0, 0xBE, 0x80] }
                if let second {
                    bytes.append(contentsOf: [0xE0, 0xBD, 0xB1])
                    bytes.append(contentsOf: second)
                    i += 3
                    continue
                }
            }
            bytes.append(p[i])
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)._nfcCodeUnits
    }

    /// The NFC form of `text`.
    static func normalize(_ text: String) -> String {
        var copy = text
        return copy.withUTF8 { p in
            mayChange(p, 0, p.count) ? String(decoding: normalize(p, 0, p.count), as: UTF8.self) : text
        }
    }
}
