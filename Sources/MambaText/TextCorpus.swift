// TextCorpus.swift — text data for language modelling: files, directories, token files, splits.
import Foundation

extension DataKind {
    /// Text for language modelling: a file, a directory of `.txt` files, or a `.bin` token file
    /// (errors: `text data error: …`).
    public static let textData = DataKind(
        name: "text data",
        accepts: "a UTF-8 .txt file, a directory of .txt files, or a .bin token file written by `mambakit tokenize --out`")
}

/// A tokenised text corpus: the ids and the number of UTF-8 bytes they came from (for bits per byte).
public struct TextCorpus {
    public var tokens: [Int32]
    /// UTF-8 bytes of the text the tokens encode (for a token file: decoded length, computed on load).
    public var byteCount: Int
    public var source: String

    public init(tokens: [Int32], byteCount: Int, source: String) {
        self.tokens = tokens; self.byteCount = byteCount; self.source = source
    }

    /// Reads text: a file, or every `.txt` file of a directory (sorted by name, joined with a newline).
    /// Invalid UTF-8 is replaced by U+FFFD (a file with NUL bytes or mostly invalid UTF-8 is rejected as
    /// binary: ``DataError/malformed(path:line:detail:hint:kind:)``). Errors are ``DataError``s of kind
    /// ``DataKind/textData``.
    public static func readText(path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw DataError.fileNotFound(path: path, kind: .textData) }
        if isDir.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path))?.filter { $0.hasSuffix(".txt") }.sorted() ?? []
            guard !names.isEmpty else { throw DataError.empty(path: path, what: ".txt files in this directory", kind: .textData) }
            return try names.map { try readText(path: (path as NSString).appendingPathComponent($0)) }.joined(separator: "\n")
        }
        try FileChecks.requireRegularFile(path: path, kind: .textData)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: "the file cannot be opened", kind: .textData)
        }
        guard !data.isEmpty else { throw DataError.empty(path: path, what: "text (the file is empty)", kind: .textData) }
        if data.prefix(1 << 16).contains(0) { throw notText(path, "it contains NUL bytes") }
        let text = String(decoding: data, as: UTF8.self)
        let replaced = text.unicodeScalars.prefix(1 << 16).filter { $0 == "\u{FFFD}" }.count
        if replaced > 64 && replaced * 20 > min(text.unicodeScalars.count, 1 << 16) {
            throw notText(path, "\(replaced) invalid UTF-8 sequences in its first 64 KiB")
        }
        return text
    }

    /// The error for a file that is not text.
    private static func notText(_ path: String, _ detail: String) -> DataError {
        .malformed(path: path, line: nil, detail: "this does not look like text (\(detail))",
                   hint: "pass UTF-8 text, or a .bin token file written by `mambakit tokenize --out`", kind: .textData)
    }

    /// Loads and tokenises `path`: a `.bin` token file (MKTOK1) is read as is; anything else as text.
    public static func load(path: String, tokenizer: any TextTokenizer) throws -> TextCorpus {
        if path.hasSuffix(".bin") {
            let file = try TokenFile(contentsOf: URL(fileURLWithPath: path))
            let ids = try file.int32IDs(below: tokenizer.vocabularySize)
            guard !ids.isEmpty else { throw DataError.empty(path: path, what: "token ids (the token file is empty)", kind: .textData) }
            let bytes = tokenizer.decode(ids).utf8.count
            return TextCorpus(tokens: ids, byteCount: bytes, source: path)
        }
        let text = try readText(path: path)
        let ids = tokenizer.encode(text)
        return TextCorpus(tokens: ids, byteCount: text.utf8.count, source: path)
    }

    /// Splits off the last `fraction` of the tokens as a held-out part (bytes apportioned by token share).
    public func split(validationFraction fraction: Double) -> (train: TextCorpus, validation: TextCorpus) {
        let nVal = max(1, Int(Double(tokens.count) * fraction))
        let cut = tokens.count - nVal
        let valBytes = Int(Double(byteCount) * Double(nVal) / Double(max(tokens.count, 1)))
        return (TextCorpus(tokens: Array(tokens[..<cut]), byteCount: byteCount - valBytes, source: source + " (train part)"),
                TextCorpus(tokens: Array(tokens[cut...]), byteCount: valBytes, source: source + " (held-out part)"))
    }
}
