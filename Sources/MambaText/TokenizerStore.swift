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

    /// The byte-tokenizer marker file (a ``ModelSidecar``).
    struct ByteMarker: ModelSidecar {
        static let fileName = TokenizerStore.byteMarker
        var type = "byte"
        var vocabSize: Int
        var endOfText: Int
        enum CodingKeys: String, CodingKey { case type, vocabSize = "vocab_size", endOfText = "end_of_text" }
    }

    /// Saves `tokenizer` into a model directory (tokenizer.json copied, or the byte marker written),
    /// atomically like every sidecar.
    public static func save(_ tokenizer: any TextTokenizer, to dir: URL) throws {
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw CheckpointError.writeFailed(path: dir.path, reason: error.localizedDescription)
        }
        if let bpe = tokenizer as? BPETokenizer {
            guard let data = FileManager.default.contents(atPath: bpe.path) else {
                throw CheckpointError.unreadable(path: bpe.path, reason: "the tokenizer file can no longer be read")
            }
            try AtomicFile.write(data, to: dir.appendingPathComponent("tokenizer.json"))
        } else {
            try ByteMarker(vocabSize: tokenizer.vocabularySize, endOfText: Int(ByteTokenizer.endOfText)).write(to: dir)
        }
    }
}
