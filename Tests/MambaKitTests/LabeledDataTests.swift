// LabeledDataTests.swift — the labelled-data core shared by the audio and DNA data sets: RFC 4180
// fields, delimiters, split names, label lists.
import MambaKit
import XCTest

final class LabeledDataTests: XCTestCase {
    func f(_ s: String, _ d: Character = ",") -> [String]? {
        LabeledData.fields(Array(s.utf8), delimiter: d.asciiValue!)?.map { String(decoding: $0, as: UTF8.self) }
    }

    func testRFC4180Fields() {
        XCTAssertEqual(f("a,b,c"), ["a", "b", "c"])
        XCTAssertEqual(f(" a , b ,c "), ["a", "b", "c"])                    // unquoted fields trimmed
        XCTAssertEqual(f("\"a, b\",c"), ["a, b", "c"])                      // delimiter inside quotes
        XCTAssertEqual(f("\"say \"\"hi\"\"\",x"), ["say \"hi\"", "x"])       // "" is a quote
        XCTAssertEqual(f("\" padded \",y"), [" padded ", "y"])              // quoted spaces kept
        XCTAssertEqual(f("a,,b,"), ["a", "", "b", ""])                      // empty fields
        XCTAssertEqual(f(""), [""])
        XCTAssertEqual(f("ACGT\tpromoter", "\t"), ["ACGT", "promoter"])
        XCTAssertNil(f("\"open,b"))                                         // unterminated quote
    }

    func testDelimiterSplitsAndLabels() {
        XCTAssertEqual(LabeledData.delimiter(path: "x.tsv.gz", firstLine: Array("a,b".utf8)), 0x09)
        XCTAssertEqual(LabeledData.delimiter(path: "x.txt", firstLine: Array("a\tb".utf8)), 0x09)
        XCTAssertEqual(LabeledData.delimiter(path: "x.csv", firstLine: Array("a,b\tc".utf8)), UInt8(ascii: ","))
        XCTAssertEqual(["dev", "Val", "validation", "valid", "TRAIN", "test"].map(LabeledData.canonicalSplit),
                       ["valid", "valid", "valid", "valid", "train", "test"])
        XCTAssertFalse(LabeledData.isSplitName("recordings"))
        XCTAssertEqual(LabeledData.labelList(["10", "2", "1", "2"]), ["1", "2", "10"])
        XCTAssertEqual(LabeledData.labelList(["b", "a", "10"]), ["10", "a", "b"])
        XCTAssertEqual(LabeledData.labelIndex(["x", "y"]), ["x": 0, "y": 1])
    }
}
