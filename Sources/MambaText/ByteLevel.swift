// ByteLevel.swift
// GPT-2's reversible byte ↔ Unicode mapping, used by byte-level BPE vocabularies (GPT-2, GPT-NeoX, …).

// MARK: - ByteLevel

/// GPT-2's byte-to-Unicode mapping ("bytes_to_unicode").
///
/// Byte-level BPE vocabularies store tokens as strings of *printable* characters, one per byte:
/// the bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves, and the other 68 byte values
/// (controls, space, 0x7F–0xA0, 0xAD) are shifted to U+0100…U+0143 in byte order. So the space
/// 0x20 is `Ġ` (U+0120), the newline 0x0A is `Ċ` (U+010A), and the UTF-8 bytes `C3 A9` of "é"
/// are the token text `Ã©`.
public enum ByteLevel {
    /// The character standing for each byte value, indexed by the byte.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var shifted: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + shifted)!
                shifted += 1
            }
        }
        return table
    }()

    /// The inverse of ``byteToScalar``, indexed by scalar value (0…0x143); -1 where no byte maps there.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// The byte-level text of `bytes`: one character per byte.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(byteToScalar[Int(b)]) }
        return String(scalars)
    }

    /// The bytes that the byte-level text `text` stands for, or `nil` if some character of it is
    /// not in the mapping (such as a plain space, which the mapping writes as `Ġ`).
    public static func decode(_ text: String) -> [UInt8]? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            let v = Int(s.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            bytes.append(UInt8(scalarToByte[v]))
        }
        return bytes
    }
}
