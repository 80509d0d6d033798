// Nucleotides.swift — the IUPAC nucleotide alphabet: validation, case folding and complements.
//
//   code:        A C G T  U  R   Y   S   W   K   M   B    D    H    V    N
//   meaning:     A C G T  T  A/G C/T G/C A/T G/T A/C !A   !C   !G   !T   any
//   complement:  T G C A  A  Y   R   S   W   M   K   V    H    D    B    N

/// The IUPAC nucleotide codes and operations on them. All functions accept either case.
public enum Nucleotides {
    /// Upper-case IUPAC codes accepted by the readers (`U` is read as `T`).
    public static let iupac: [UInt8] = Array("ACGTURYSWKMBDHVN".utf8)

    /// Byte → upper-case IUPAC code (`U` → `T`), 0 for anything else.
    public static let normalized: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for c in iupac {
            let v = c == UInt8(ascii: "U") ? UInt8(ascii: "T") : c
            t[Int(c)] = v
            t[Int(c) + 32] = v   // lower case (soft-masked)
        }
        return t
    }()

    /// Byte → complement, keeping case; bytes that are not IUPAC codes map to themselves.
    public static let complementTable: [UInt8] = {
        var t = (0..<256).map { UInt8($0) }
        let pairs: [(Character, Character)] = [("A", "T"), ("C", "G"), ("R", "Y"), ("S", "S"), ("W", "W"), ("K", "M"),
                                                ("B", "V"), ("D", "H"), ("N", "N")]
        for (a, b) in pairs {
            let x = a.asciiValue!, y = b.asciiValue!
            t[Int(x)] = y; t[Int(y)] = x
            t[Int(x) + 32] = y + 32; t[Int(y) + 32] = x + 32
        }
        t[Int(UInt8(ascii: "U"))] = UInt8(ascii: "A"); t[Int(UInt8(ascii: "u"))] = UInt8(ascii: "a")
        return t
    }()

    /// True when `c` is an IUPAC nucleotide code (either case).
    @inlinable public static func isValid(_ c: UInt8) -> Bool { normalized[Int(c)] != 0 }

    /// The reverse complement of bases (case kept; `U` complements to `A`).
    public static func reverseComplement(_ bases: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bases.count)
        let n = bases.count
        for i in 0..<n { out[n - 1 - i] = complementTable[Int(bases[i])] }
        return out
    }

    /// The reverse complement of a DNA string, e.g. `"AACGTn"` → `"nACGTT"`.
    public static func reverseComplement(_ s: String) -> String {
        String(decoding: reverseComplement(Array(s.utf8)), as: UTF8.self)
    }
}
