// DNATokenizerTests.swift — the nucleotide tokenizer and reverse complement on strings and ids.
import Foundation
import MambaDNA
import MambaKit
import XCTest

final class DNATokenizerTests: XCTestCase {
    let tok = NucleotideTokenizer()

    func testIdsCaseIUPACAndSpecials() {
        XCTAssertEqual(tok.vocabularySize, 10)
        XCTAssertEqual(tok.encode("ACGTN"), [5, 6, 7, 8, 9])
        XCTAssertEqual(tok.encode("acgtn"), [5, 6, 7, 8, 9])                   // soft-masked = same bases
        XCTAssertEqual(tok.encode("RYSWKMBDHVryswkmbdhv"), [Int32](repeating: 9, count: 20))   // ambiguity → N
        XCTAssertEqual(tok.encode("Uu"), [8, 8])                               // RNA U reads as T
        XCTAssertEqual(tok.encode("X-*"), [4, 4, 4])                           // anything else → <unk>
        XCTAssertEqual(Set(tok.specialTokens.values), [0, 1, 2, 3, 4])
        XCTAssertEqual(tok.specialTokens["<pad>"], NucleotideTokenizer.pad)
        XCTAssertEqual(tok.decode([1, 5, 6, 7, 8, 9, 2, 99, -1]), "<cls>ACGTN<eos>")
        XCTAssertEqual(tok.encode(bytes: Array("gattaca".utf8)), [7, 5, 8, 8, 5, 6, 5])
        let t: any Tokenizer<String> = tok    // conforms to MambaKit's protocol
        XCTAssertEqual(t.encode(t.decode([5, 6, 7, 8])), [5, 6, 7, 8])
    }

    func testReverseComplementOnStrings() {
        XCTAssertEqual(Nucleotides.reverseComplement("AACGTn"), "nACGTT")
        XCTAssertEqual(Nucleotides.reverseComplement("GATTACA"), "TGTAATC")
        XCTAssertEqual(Nucleotides.reverseComplement("RYKMBVDHSWN"), "NWSDHBVKMRY")
        XCTAssertEqual(Nucleotides.reverseComplement("acgU"), "Acgt")
        let alphabet = Array("ACGTNRYSWKMBDHVacgtnryswkmbdhv")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let s = String((0..<Int(rng.next() % 50)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            XCTAssertEqual(Nucleotides.reverseComplement(Nucleotides.reverseComplement(s)), s)   // involution
            // the tokenizer commutes with reverse complement
            XCTAssertEqual(NucleotideTokenizer.reverseComplement(tok.encode(s)), tok.encode(Nucleotides.reverseComplement(s)))
        }
    }

    func testReverseComplementOnIds() {
        XCTAssertEqual(NucleotideTokenizer.reverseComplement([5, 6, 7, 8, 9] as [Int32]), [9, 5, 6, 7, 8])
        XCTAssertEqual(NucleotideTokenizer.reverseComplement([1, 5, 5, 7, 2] as [Int32]), [2, 6, 8, 8, 1])   // specials kept
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let ids = (0..<Int(rng.next() % 64)).map { _ in Int32(rng.next() % 10) }
            XCTAssertEqual(NucleotideTokenizer.reverseComplement(NucleotideTokenizer.reverseComplement(ids)), ids)
        }
        // the augmentation closure flips about half of the draws, always to the exact reverse complement
        var r = SeededRandom(seed: 7)
        let x: [Int32] = [5, 5, 6, 7, 9, 8]
        var flipped = 0
        for _ in 0..<1000 {
            var y = x
            DNAClassifier.reverseComplementAugment(&y, &r)
            if y != x { XCTAssertEqual(y, NucleotideTokenizer.reverseComplement(x)); flipped += 1 }
        }
        print("  RC augmentation flipped \(flipped)/1000")
        XCTAssertTrue((430...570).contains(flipped), "\(flipped)")
    }
}
