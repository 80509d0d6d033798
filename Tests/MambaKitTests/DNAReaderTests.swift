// DNAReaderTests.swift — FASTA/FASTQ/CSV readers: wrapping, CRLF, gzip, soft-masking, malformed input
// (errors name file and line), class directories, splits and species windows.
import _CZlib
import Foundation
import MambaDNA
import MambaKit
import XCTest

final class DNAReaderTests: XCTestCase {
    func write(_ text: String, _ name: String, in dir: URL) -> String {
        let url = dir.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if name.hasSuffix(".gz") {
            let f = gzopen(url.path, "wb")!
            let bytes = Array(text.utf8)
            XCTAssertEqual(Int(gzwrite(f, bytes, UInt32(bytes.count))), bytes.count)
            gzclose(f)
        } else {
            try! Data(text.utf8).write(to: url)
        }
        return url.path
    }

    /// `seq` wrapped at `width` with `eol` line endings.
    func wrap(_ seq: String, _ width: Int, _ eol: String) -> String {
        var out = "", s = Substring(seq)
        while !s.isEmpty { out += s.prefix(width) + eol; s = s.dropFirst(width) }
        return out
    }

    // MARK: FASTA

    func testFASTAAnyWrappingLineEndingsGzipAndSoftMasking() throws {
        let dir = temporaryDirectory(self)
        let seq1 = "ACGTacgtNNrykmACGTTTGCAaaaccc", seq2 = "ggggCCCCttttAAAAn"
        let expected = [seq1.uppercased(), seq2.uppercased()]
        var variants: [String] = []
        for (i, (width, eol)) in [(1000, "\n"), (7, "\n"), (3, "\r\n"), (1, "\r\n")].enumerated() {
            let text = ";comment line\n>rec1 first record\(eol)" + wrap(seq1, width, eol) + "\(eol)>rec2\(eol)" + wrap(seq2, width, eol)
            variants.append(write(text, "v\(i).fa", in: dir))
            variants.append(write(text, "v\(i).fa.gz", in: dir))
        }
        // no final newline
        variants.append(write(">rec1 first record\n\(seq1)\n>rec2\n\(seq2)", "nofinal.fa", in: dir))
        for path in variants {
            let recs = try SequenceReader.readAll(path: path)
            XCTAssertEqual(recs.map(\.name), ["rec1", "rec2"], path)
            XCTAssertEqual(recs.map(\.sequenceString), expected, path)
            XCTAssertEqual(recs[0].description, "first record", path)
            XCTAssertNil(recs[0].quality)
            // streamed chunks concatenate to the same records
            let r = try SequenceReader(path: path)
            var streamed: [String] = []
            while let c = try r.nextChunk() {
                switch c {
                case .header: streamed.append("")
                case .bases(let b): streamed[streamed.count - 1] += String(decoding: b, as: UTF8.self)
                }
            }
            XCTAssertEqual(streamed, expected, path)
            XCTAssertEqual(try SequenceReader.recordLengths(path: path).map(\.length), expected.map(\.count))
        }
    }

    func testLongLinesLargerThanTheReadBuffer() throws {
        let dir = temporaryDirectory(self)
        var rng = SystemRandomNumberGenerator()
        let bases = Array("ACGT")
        let seq = String((0..<300_000).map { _ in bases[Int(rng.next() % 4)] })
        let path = write(">long\n\(seq)\n>short\nAC\n", "long.fa.gz", in: dir)
        let recs = try SequenceReader.readAll(path: path)
        XCTAssertEqual(recs.map(\.sequence.count), [300_000, 2])
        XCTAssertEqual(recs[0].sequenceString, seq)
    }

    // MARK: FASTQ

    func testFASTQRecordsAndQualities() throws {
        let dir = temporaryDirectory(self)
        // the second record's quality starts with '@', and its sequence is wrapped over two lines
        let text = "@r1 desc\r\nACGTn\r\n+\r\nIIII#\r\n@r2\nAC\nGT\n+r2\n@III\n"
        for name in ["x.fq", "x.fq.gz"] {
            let path = write(text, name, in: dir)
            let r = try SequenceReader(path: path)
            XCTAssertEqual(r.format, .fastq)
            var recs: [SequenceRecord] = []
            while let x = try r.next() { recs.append(x) }
            XCTAssertEqual(recs.map(\.name), ["r1", "r2"])
            XCTAssertEqual(recs.map(\.sequenceString), ["ACGTN", "ACGT"])
            XCTAssertEqual(recs.map { String(decoding: $0.quality!, as: UTF8.self) }, ["IIII#", "@III"])
            XCTAssertEqual(recs.map(\.line), [1, 5])
        }
    }

    // MARK: Malformed input

    func assertDNAError(_ path: String, line: Int, contains: String, file: StaticString = #filePath, lineNo: UInt = #line,
                        _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("no error for \(path)", file: file, line: lineNo)
        } catch {
            // Problems only DNA has are DNAErrors; the shared ones (malformed rows, …) DataErrors of kind .dna.
            let located: (path: String, line: Int?)? = (error as? DNAError).map { ($0.path, $0.line) }
                ?? (error as? DataError).flatMap { $0.kind == .dna ? ($0.path, $0.line) : nil }
            guard let (p, l) = located else { return XCTFail("unexpected \(error)", file: file, line: lineNo) }
            let e = "\(error)"
            XCTAssertEqual(p, path, file: file, line: lineNo)
            XCTAssertEqual(l, line, e, file: file, line: lineNo)
            XCTAssertTrue(e.hasPrefix("dna error: \(path):\(line): "), e, file: file, line: lineNo)
            XCTAssertTrue(e.contains(contains), e, file: file, line: lineNo)
            print("  \(e)")
        }
    }

    func testMalformedInputNamesFileAndLine() throws {
        let dir = temporaryDirectory(self)
        let noHeader = write("\nACGT\n>r\nAC\n", "noheader.fa", in: dir)
        assertDNAError(noHeader, line: 2, contains: "before any '>' header") { _ = try SequenceReader.readAll(path: noHeader) }
        let badChar = write(">r\nACGT\r\nACGXT\n", "bad.fa.gz", in: dir)
        assertDNAError(badChar, line: 3, contains: "'X' is not an IUPAC") { _ = try SequenceReader.readAll(path: badChar) }
        let shortQual = write("@a\nACGT\n+\nIIII\n@b\nACGT\n+\nII\n", "short.fq", in: dir)
        assertDNAError(shortQual, line: 8, contains: "quality has 2 characters but the sequence has 4") { _ = try SequenceReader.readAll(path: shortQual) }
        let truncated = write("@a\nACGT\n", "trunc.fq", in: dir)
        XCTAssertThrowsError(try SequenceReader.readAll(path: truncated)) { XCTAssertTrue("\($0)".contains("trunc.fq:")) }
        let csv = write("sequence,label\nACGT,1\nAC GT,0\nACZT,1\n", "t.csv", in: dir)
        assertDNAError(csv, line: 4, contains: "'Z'") { _ = try DNADataset.readTable(csv) }
        let oneField = write("ACGT,1\nACGT\n", "one.csv", in: dir)
        assertDNAError(oneField, line: 2, contains: "need a sequence and a label") { _ = try DNADataset.readTable(oneField) }
        // a gzip file cut short is an error, not a silently shorter genome
        let full = write(">r\n" + String(repeating: "ACGTTGCA", count: 20000) + "\n", "full.fa.gz", in: dir)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
        let cut = dir.appendingPathComponent("cut.fa.gz")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        XCTAssertThrowsError(try SequenceReader.readAll(path: cut.path)) {
            XCTAssertTrue("\($0)".contains("cut.fa.gz") && "\($0)".contains("truncated"), "\($0)")
        }
        XCTAssertEqual(try SequenceReader.readAll(path: full).first?.sequence.count, 160_000)
        XCTAssertThrowsError(try SequenceReader(path: dir.appendingPathComponent("missing.fa").path)) {
            XCTAssertEqual($0 as? DataError, .fileNotFound(path: dir.appendingPathComponent("missing.fa").path, kind: .dna))
        }
    }

    // MARK: Tables and directories

    func testTablesWithAndWithoutHeaders() throws {
        let dir = temporaryDirectory(self)
        let a = write("sequence,label\nACGT,1\nggtt,0\n", "a.csv.gz", in: dir)
        let b = write("ACGT\t1\r\nggtt\t0\r\n", "b.tsv", in: dir)
        let c = write("label,seq\n1,ACGT\n0,\"ggtt\"\n", "c.csv", in: dir)
        let d = write("seq,label\nACGT,promoter\nGGTT,other\n", "d.csv", in: dir)
        for p in [a, b, c] {
            let rows = try DNADataset.readTable(p)
            XCTAssertEqual(rows.map { String(decoding: $0.sequence, as: UTF8.self) }, ["ACGT", "GGTT"], p)
            XCTAssertEqual(rows.map(\.label), ["1", "0"], p)
        }
        XCTAssertEqual(DNADataset.labels(of: try DNADataset.readTable(d)), ["other", "promoter"])
        // numeric labels sort numerically
        XCTAssertEqual(DNADataset.labels(of: ["10", "2", "1"].map { LabeledDNA(sequence: [65], label: $0) }), ["1", "2", "10"])
        XCTAssertThrowsError(try DNADataset.labelIndices(try DNADataset.readTable(d), labels: ["promoter"])) {
            XCTAssertTrue("\($0)".contains("d.csv:3"), "\($0)")
        }
    }

    func testSplitLayoutsAndClassDirectories() throws {
        let dir = temporaryDirectory(self)
        // GUE layout
        let gue = dir.appendingPathComponent("gue")
        _ = write("sequence,label\nAAAA,0\nCCCC,1\n", "gue/train.csv.gz", in: dir)
        _ = write("sequence,label\nGGGG,1\n", "gue/dev.csv.gz", in: dir)
        _ = write("sequence,label\nTTTT,0\n", "gue/test.csv", in: dir)
        let g = try DNADataset.open(gue.path)
        XCTAssertEqual(g.splits.keys.sorted(), ["test", "train", "valid"])   // canonical names: dev → valid
        XCTAssertEqual(try g.examples(split: "dev").map(\.label), ["1"])
        XCTAssertEqual(try g.examples(split: "valid").map(\.label), ["1"])
        XCTAssertEqual(try g.examples(split: "test").count, 1)
        // class directories with splits
        _ = write(">a\nACGT\n>b\nAAAA\n", "cls/train/human/x.fa", in: dir)
        _ = write(">c\nGGGG\n", "cls/train/mouse/y.fa.gz", in: dir)
        _ = write("@q\nTTTT\n+\nIIII\n", "cls/test/mouse/z.fq", in: dir)
        let c = try DNADataset.open(dir.appendingPathComponent("cls").path)
        XCTAssertEqual(c.splits.keys.sorted(), ["test", "train"])
        let tr = try c.examples(split: "train")
        XCTAssertEqual(tr.map(\.label), ["human", "human", "mouse"])
        XCTAssertEqual(tr.map { String(decoding: $0.sequence, as: UTF8.self) }, ["ACGT", "AAAA", "GGGG"])
        XCTAssertEqual(try c.examples(split: "test").map(\.label), ["mouse"])
        // unsplit class directory
        let u = try DNADataset.open(dir.appendingPathComponent("cls/train").path)
        XCTAssertEqual(u.splits.keys.sorted(), ["all"])
        XCTAssertEqual(try u.examples(split: "train").count, 3)
    }

    // MARK: Species windows

    func testSpeciesWindowsComeFromTheirRegionsAcrossRecords() throws {
        let dir = temporaryDirectory(self)
        var rng = SystemRandomNumberGenerator()
        let bases = Array("ACGT")
        let recs = [1000, 37, 2500, 463].map { n in String((0..<n).map { _ in bases[Int(rng.next() % 4)] }) }
        let genome = recs.joined()                         // T = 4000
        let text = recs.enumerated().map { ">r\($0.offset)\n" + wrap($0.element, 61, "\n") }.joined()
        let path = write(text, "g.fa.gz", in: dir)
        let train = try GenomeRegion(parsing: "0:0.8"), test = try GenomeRegion(parsing: "0.8:1")
        XCTAssertEqual(train.bases(of: 4000), 0..<3200)
        XCTAssertFalse(train.overlaps(test))
        let (w, total) = try SpeciesWindows.windows(path: path, region: train, window: 300, count: 5)
        XCTAssertEqual(total, 4000)
        let starts = SpeciesWindows.starts(in: 0..<3200, window: 300, count: 5)
        XCTAssertEqual(starts, [0, 725, 1450, 2175, 2900])
        let g = Array(genome.utf8)
        XCTAssertEqual(w, starts.map { Array(g[$0..<($0 + 300)]) })
        // all non-overlapping windows of the test region
        let (wt, _) = try SpeciesWindows.windows(path: path, region: test, window: 300, count: 0)
        XCTAssertEqual(wt, [Array(g[3200..<3500]), Array(g[3500..<3800])])
        XCTAssertThrowsError(try SpeciesWindows.windows(path: path, region: test, window: 900, count: 0)) {
            XCTAssertTrue("\($0)".contains("fewer than one window"))
        }
        for bad in ["0.8", "0.5:0.2", "a:b", "-1:0.5", "0:1.5"] { XCTAssertThrowsError(try GenomeRegion(parsing: bad)) }
        XCTAssertEqual(GenomeSource(argument: "ape=/x/y/h.fa.gz"), GenomeSource(label: "ape", path: "/x/y/h.fa.gz"))
        XCTAssertEqual(GenomeSource(argument: "/x/y/human.fa.gz").label, "human")
        // CSV written by the builder reads back
        let ds = try SpeciesWindows.dataset(genomes: [GenomeSource(label: "g", path: path)], region: test, window: 300, count: 0)
        let csv = dir.appendingPathComponent("out.csv")
        try SpeciesWindows.writeCSV(ds, to: csv)
        XCTAssertEqual(try DNADataset.readTable(csv.path).map(\.sequence), wt)
    }

    // MARK: Real data (skipped when ../shared/datasets is absent)

    func testSharedDatasetsReadWithTheirPublishedCounts() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/datasets").standardized.path
        guard FileManager.default.fileExists(atPath: root) else { throw XCTSkip("no ../shared/datasets") }
        // GUE tf_0 dev: 1,000 rows of 101 bp, 483 negative / 517 positive (datasets README)
        let gue = try DNADataset.open(root + "/gue/tf_0")
        let dev = try gue.examples(split: "dev")
        XCTAssertEqual(dev.count, 1000)
        XCTAssertEqual(Set(dev.map(\.sequence.count)), [101])
        XCTAssertEqual(dev.filter { $0.label == "1" }.count, 517)
        // bacteria5: H. pylori G27 is one record of 1,652,982 bp (80-column FASTA, gzip)
        let hp = try SequenceReader.recordLengths(path: root + "/bacteria5/train/Helicobacter_pylori__G27.fa.gz")
        XCTAssertEqual(hp.map(\.length), [1_652_982])
        // Genomic Benchmarks test split: header "seq,label", 9,034 rows of 251 bp, 4,915 positive
        let gb = try DNADataset.readTable(root + "/genomic_benchmarks/human_nontata_promoters/test.csv.gz")
        XCTAssertEqual(gb.count, 9034)
        XCTAssertEqual(gb.filter { $0.label == "1" }.count, 4915)
    }
}
