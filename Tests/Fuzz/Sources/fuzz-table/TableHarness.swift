// fuzz-table — CSV/TSV tables: LabeledData.fields on every line, DNADataset.readTable on the bytes
// as .csv and as .tsv, and AudioDataset.open on the bytes as a manifest.csv.
import Foundation
import FuzzSupport
import MambaAudio
import MambaDNA
import MambaKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTable(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = fuzzData(bytes, size)
    let raw = [UInt8](data)
    for line in raw.split(separator: 0x0A, omittingEmptySubsequences: false) {
        _ = LabeledData.fields(line, delimiter: UInt8(ascii: ","))
        _ = LabeledData.fields(line, delimiter: UInt8(ascii: "\t"))
        _ = LabeledData.delimiter(path: "x.csv", firstLine: line)
    }
    let csv = writeInput(data, named: "table.csv").path
    let tsv = writeInput(data, named: "table.tsv").path
    expectingErrors { _ = try DNADataset.readTable(csv) }
    expectingErrors { _ = try DNADataset.readTable(tsv) }
    expectingErrors {
        let set = try AudioDataset.open(csv)
        let clips = try set.clips(split: "train")
        let labels = AudioDataset.labels(of: clips)
        _ = try AudioDataset.labelIndices(clips, labels: labels)
        _ = set.splits
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzTable) }
}
