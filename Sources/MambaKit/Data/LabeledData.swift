// LabeledData.swift — what every front end's labelled data set shares: delimited tables (CSV/TSV with
// RFC 4180 quoting), split names, and class lists. Front ends add what is theirs (audio files, DNA
// sequences) on top.
import Foundation

/// Tables, splits and labels shared by the front ends' labelled data sets.
public enum LabeledData {
    /// Directory or file stems that name a split, and the canonical name each maps to.
    public static let splitNames: [String: String] = ["train": "train", "test": "test", "valid": "valid",
                                                      "validation": "valid", "dev": "valid", "val": "valid"]

    /// The canonical split name (`dev`, `val`, `validation` → `valid`), lower-cased.
    public static func canonicalSplit(_ name: String) -> String {
        let s = name.lowercased()
        return splitNames[s] ?? s
    }

    /// Whether `name` names a split (any synonym).
    public static func isSplitName(_ name: String) -> Bool { splitNames[name.lowercased()] != nil }

    /// The class names of a data set, sorted — numerically when all are integers (GUE's `0`/`1`,
    /// FSDD's digits), so that class ids follow the numbers.
    public static func labelList<S: Sequence>(_ labels: S) -> [String] where S.Element == String {
        let set = Set(labels)
        if set.allSatisfy({ Int($0) != nil }) { return set.sorted { Int($0)! < Int($1)! } }
        return set.sorted()
    }

    /// Class name → class id for a label list.
    public static func labelIndex(_ labels: [String]) -> [String: Int] {
        Dictionary(labels.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    /// The delimiter of a table: a tab for `.tsv` files, or when the first line has tabs and no
    /// commas; else a comma.
    public static func delimiter(path: String, firstLine: some Collection<UInt8>) -> UInt8 {
        let hasTab = firstLine.contains(0x09), hasComma = firstLine.contains(UInt8(ascii: ","))
        return path.lowercased().contains(".tsv") || (hasTab && !hasComma) ? 0x09 : UInt8(ascii: ",")
    }

    /// The fields of one line of a delimited table, RFC 4180 style: a field in double quotes may hold
    /// the delimiter and `""` for a quote; spaces around an unquoted field are trimmed.
    /// - Returns: the fields, or nil when a quote is not closed on this line.
    public static func fields(_ line: some Collection<UInt8>, delimiter d: UInt8) -> [[UInt8]]? {
        var out: [[UInt8]] = [], cur: [UInt8] = [], quoted = false, wasQuoted = false
        var it = line.makeIterator(), pending: UInt8? = nil
        func finish() {
            if !wasQuoted {   // trim spaces around an unquoted field
                while cur.first == 0x20 { cur.removeFirst() }
                while cur.last == 0x20 { cur.removeLast() }
            }
            out.append(cur); cur = []; wasQuoted = false
        }
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                if c == 0x22 {
                    if let n = it.next() { if n == 0x22 { cur.append(0x22) } else { quoted = false; pending = n } } else { quoted = false }
                } else { cur.append(c) }
            } else if c == 0x22 && cur.allSatisfy({ $0 == 0x20 }) {
                quoted = true; wasQuoted = true; cur = []
            } else if c == d {
                finish()
            } else if !(wasQuoted && c == 0x20) {
                cur.append(c)
            }
        }
        if quoted { return nil }
        finish()
        return out
    }
}
