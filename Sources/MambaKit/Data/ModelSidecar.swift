// ModelSidecar.swift — the small JSON files a front end keeps beside a model's config.json
// (`audio.json`, `dna.json`, `classifier.json`, the byte-tokenizer marker), written and read one way.
import Foundation

/// What a model directory was trained for; saved in front-end sidecars. An open set of names
/// (a front end may add its own), with the built-in ones as constants.
public struct ModelTask: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public var description: String { rawValue }

    /// Next-token prediction (`lm`).
    public static let languageModel: ModelTask = "lm"
    /// Sequence classification (`classify`).
    public static let classification: ModelTask = "classify"
}

/// A JSON file kept beside a model's `config.json`. Conforming types give the file name; writing is
/// atomic (temporary file, fsync, rename) with sorted keys, reading refuses non-regular files and
/// names the file in every error.
public protocol ModelSidecar: Codable {
    static var fileName: String { get }
}

extension ModelSidecar {
    /// Writes `<dir>/<fileName>` atomically.
    /// - Throws: ``CheckpointError/writeFailed(path:reason:)`` naming the file.
    public func write(to dir: URL) throws {
        let url = dir.appendingPathComponent(Self.fileName)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try enc.encode(self) + Data("\n".utf8) } catch {
            throw CheckpointError.writeFailed(path: url.path, reason: "cannot encode: \(error)")
        }
        try AtomicFile.write(data, to: url)
    }

    /// Reads `<dir>/<fileName>`; nil when the directory has no such file.
    /// - Throws: ``CheckpointError/unreadable(path:reason:)`` for a non-regular file,
    ///   ``CheckpointError/invalidJSON(path:detail:)`` for one that does not decode.
    public static func read(from dir: URL) throws -> Self? {
        let url = dir.appendingPathComponent(fileName)
        try FileChecks.requireRegularFile(path: url.path) { CheckpointError.unreadable(path: url.path, reason: $0) }
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(Self.self, from: data) } catch {
            throw CheckpointError.invalidJSON(path: url.path, detail: "not a valid \(fileName) (\(error))")
        }
    }
}
