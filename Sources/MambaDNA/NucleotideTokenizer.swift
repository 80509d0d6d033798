// NucleotideTokenizer.swift — character-level DNA tokenizer: one id per base.
//
//   id:     0     1      2      3       4      5  6  7  8  9
//   token:  <pad> <cls>  <eos>  <mask>  <unk>  A  C  G  T  N
//
// Case-insensitive (soft-masked lower-case bases are the same bases); IUPAC ambiguity codes
// (R Y S W K M B D H V) become N; U reads as T; any other character becomes <unk>.
import MambaKit

/// The DNA tokenizer: `A C G T N` plus special tokens, vocabulary 10.
///
/// `<cls>` doubles as beginning-of-sequence. Reverse complement is defined on ids as on strings:
/// `rc(encode(s)) == encode(rc(s))`, and it is an involution on ids (specials map to themselves).
public struct NucleotideTokenizer: Tokenizer, Sendable {
    public typealias Input = String

    public static let pad: Int32 = 0, cls: Int32 = 1, eos: Int32 = 2, mask: Int32 = 3, unk: Int32 = 4
    public static let a: Int32 = 5, c: Int32 = 6, g: Int32 = 7, t: Int32 = 8, n: Int32 = 9
    /// The id string stored in checkpoints (dna.json) so a model is read back with the same ids.
    public static let name = "nucleotide-v1"

    public init() {}

    public var vocabularySize: Int { 10 }

    public var specialTokens: [String: Int32] {
        ["<pad>": Self.pad, "<cls>": Self.cls, "<eos>": Self.eos, "<mask>": Self.mask, "<unk>": Self.unk]
    }

    /// Byte → id.
    public static let table: [Int32] = {
        var t = [Int32](repeating: unk, count: 256)
        for (i, ch) in "ACGTN".utf8.enumerated() { t[Int(ch)] = a + Int32(i); t[Int(ch) + 32] = a + Int32(i) }
        for ch in "RYSWKMBDHV".utf8 { t[Int(ch)] = n; t[Int(ch) + 32] = n }
        t[Int(UInt8(ascii: "U"))] = 8; t[Int(UInt8(ascii: "u"))] = 8   // U reads as T
        return t
    }()

    /// Id → complement id: A↔T, C↔G, N→N, specials unchanged.
    public static let complementID: [Int32] = [0, 1, 2, 3, 4, t, g, c, a, n]

    /// Ids of bases given as ASCII bytes.
    @inlinable public func encode<S: Sequence>(bytes: S) -> [Int32] where S.Element == UInt8 {
        bytes.map { Self.table[Int($0)] }
    }

    public func encode(_ input: String) -> [Int32] { input.utf8.map { Self.table[Int($0)] } }

    /// Bases as upper-case letters; special tokens are rendered as their names; unknown ids are skipped.
    public func decode(_ ids: [Int32]) -> String {
        let names = ["<pad>", "<cls>", "<eos>", "<mask>", "<unk>", "A", "C", "G", "T", "N"]
        return ids.filter { $0 >= 0 && $0 < 10 }.map { names[Int($0)] }.joined()
    }

    /// The reverse complement of a sequence of ids.
    public static func reverseComplement(_ ids: [Int32]) -> [Int32] {
        ids.reversed().map { $0 >= 0 && $0 < 10 ? complementID[Int($0)] : $0 }
    }
}
