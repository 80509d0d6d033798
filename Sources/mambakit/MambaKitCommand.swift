// MambaKitCommand.swift — the `mambakit` command-line tool.
import ArgumentParser
import Foundation
import MambaKit
import MambaText

@main
struct MambaKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mambakit",
        abstract: "Selective state-space models (Mamba) on CPU.",
        subcommands: [QuickstartCommand.self, DemoCommand.self, InfoCommand.self, ScoreCommand.self, GradCommand.self, TrainCommand.self,
                      EvalCommand.self, GenerateCommand.self, AudioCommand.self, DataCommand.self, TaskCommand.self, TokenizeCommand.self, ConvertCommand.self, BenchCommand.self],
        defaultSubcommand: QuickstartCommand.self)

    /// Parses, validates and runs the command. Any error — a bad option (exit 64) or a failure while
    /// running (exit 1) — is ONE line on stderr, `error: …`, without the usage text; --help and
    /// --version print as usual.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let text = message(for: error).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: " ")
            if !text.isEmpty { stderrLine("error: " + text) }
            Foundation.exit(code.rawValue)
        }
    }
}

/// Errors of the command-line layer.
enum CLIError: Error, CustomStringConvertible {
    case usage(String)

    var description: String {
        switch self {
        case let .usage(s): return s
        }
    }
}

extension DataKind {
    /// A text file of whitespace-separated token ids (`--tokens FILE`; errors: `token id file error: …`).
    static let tokenIDs = DataKind(name: "token id file", accepts: "a text file of whitespace-separated token ids")
}

/// Reads whitespace-separated token ids (each must fit an `Int32`; the model checks its vocabulary).
func readTokenFile(_ path: String) throws -> [Int32] {
    guard FileManager.default.fileExists(atPath: path) else { throw DataError.fileNotFound(path: path, kind: .tokenIDs) }
    try FileChecks.requireRegularFile(path: path, kind: .tokenIDs)
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw DataError.unreadable(path: path, reason: "it cannot be read as UTF-8 text", kind: .tokenIDs)
    }
    var ids: [Int32] = []
    for (i, word) in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "," }).enumerated() {
        guard let v = Int32(word) else {
            let detail = Int(word) == nil ? "is not an integer token id" : "is outside the token id range (32-bit)"
            throw DataError.malformed(path: path, line: nil, detail: "item \(i + 1) '\(word.prefix(20))' \(detail)",
                                      hint: "write the ids as decimal integers separated by spaces, commas or newlines", kind: .tokenIDs)
        }
        ids.append(v)
    }
    return ids
}

/// Runs `body`, turning MambaKit's token errors into ones that name the token file.
func namingTokenFile<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let ModelError.tokenOutOfRange(token, position, vocab, _) {
        throw ModelError.tokenOutOfRange(token: token, position: position, vocabSize: vocab, source: path)
    }
}

/// Shortest round-trip text of a Float for JSON (NaN/inf become null).
func jsonNumber(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
func jsonString(_ s: String) -> String { JSONText.quoted(s) }
