// TokenizerStore.swift — choose a tokenizer by name/path, and keep it inside a checkpoint directory.
import Foundation

/// Loading and saving the tokenizer that belongs to a model.
public enum TokenizerStore {
    /// File marking a byte-level tokenizer in a model directory.
    public static let byteMarker = "mambakit_tokenizer.json"

    /// `byte`, or the path of a Hugging Face `tokenizer.json` (or a directory holding one).
    public static func load(_ spec: String) throws -> any TextTokenizer {
        if spec == "byte" || spec == "bytes" { return ByteTokenizer() }
        var path = spec
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: spec, isDirectory: &isDir), isDir.boolValue {
            if let t = try loadFromModelDirectory(URL(fileURLWithPath: spec)) { return t }
            path = (spec as NSString).appendingPathComponent("tokenizer.json")
        }
        return try BPETokenizer(contentsOfFile: path)
    }

    /// The tokenizer saved with a model (`tokenizer.json` or the byte marker), or nil when there is none.
    public static func loadFromModelDirectory(_ dir: URL) throws -> (any TextTokenizer)? {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("tokenizer.json").path) {
            return try BPETokenizer(contentsOf: dir.appendingPathComponent("tokenizer.json"))
        }
        if fm.fileExists(atPath: dir.appendingPathComponent(byteMarker).path) { return ByteTokenizer() }
        return nil
    }

    /// Saves `tokenizer` into a model directory (copies tokenizer.json, or writes the byte marker).
    public static func save(_ tokenizer: any TextTokenizer, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        if let bpe = tokenizer as? BPETokenizer {
            let dst = dir.appendingPathComponent("tokenizer.json")
            try? FileManager.default.removeItem(at: dst)
            try FileManager.default.copyItem(at: URL(fileURLWithPath: bpe.path), to: dst)
        } else {
            let json = "{\"type\": \"byte\", \"vocab_size\": \(tokenizer.vocabularySize), \"end_of_text\": \(ByteTokenizer.endOfText)}\n"
            try Data(json.utf8).write(to: dir.appendingPathComponent(byteMarker), options: .atomic)
        }
    }
}
