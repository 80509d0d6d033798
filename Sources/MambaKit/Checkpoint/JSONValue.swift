// JSONValue.swift
// A parsed JSON value that keeps booleans, integers and other numbers apart (safetensors headers,
// shard indexes and config.json).

import Foundation

/// A parsed JSON value that keeps booleans, integers and other numbers apart.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Why a document is not valid JSON (JSONSerialization's reason).
    struct ParseFailure: Error {
        var message: String
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses a complete JSON document (any top-level kind). Python's non-standard `Infinity`, `-Infinity` and
    /// `NaN` (which `json.dumps` writes, e.g. transformers' `time_step_limit: [0.0, Infinity]`) are read as the
    /// strings "Infinity", "-Infinity" and "NaN"; readers of number keys decide whether to accept them.
    static func parse(_ data: Data) throws -> JSONValue {
        let data = withPythonConstantsQuoted(data)
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let info = (error as NSError).userInfo
            let reason = (info[NSDebugDescriptionErrorKey] as? String) ?? error.localizedDescription
            throw ParseFailure(message: reason)
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ParseFailure(message: "\(error)")
        }
    }

    /// `data` with every `Infinity`, `-Infinity` and `NaN` outside a string literal put in quotes (unchanged
    /// when there are none).
    static func withPythonConstantsQuoted(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        guard bytes.contains(UInt8(ascii: "I")) || bytes.contains(UInt8(ascii: "N")) else { return data }
        var out: [UInt8] = []; out.reserveCapacity(bytes.count + 16)
        var inString = false, escaped = false, i = 0, changed = false
        let words: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        while i < bytes.count {
            let c = bytes[i]
            if inString {
                out.append(c)
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
                i += 1; continue
            }
            if c == UInt8(ascii: "\"") { inString = true; out.append(c); i += 1; continue }
            if let w = words.first(where: { i + $0.count <= bytes.count && Array(bytes[i..<(i + $0.count)]) == $0 }) {
                out.append(UInt8(ascii: "\"")); out += w; out.append(UInt8(ascii: "\""))
                i += w.count; changed = true; continue
            }
            out.append(c); i += 1
        }
        return changed ? Data(out) : data
    }

    /// Reads and parses the JSON file `url` (config.json, a shard index), refusing a FIFO or device.
    /// - Throws: ``CheckpointError/unreadable(path:reason:)`` or ``CheckpointError/invalidJSON(path:detail:)``.
    static func read(contentsOf url: URL) throws -> JSONValue {
        let path = url.path
        try FileChecks.requireRegularFile(path: path) { CheckpointError.unreadable(path: path, reason: $0) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.unreadable(path: path, reason: error.localizedDescription)
        }
        do {
            return try parse(data)
        } catch let failure as ParseFailure {
            throw CheckpointError.invalidJSON(path: path, detail: failure.message)
        }
    }

    /// "object", "array", "string", … for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Compact JSON text (object keys sorted). With `unquotedStrings`, a top-level string is returned bare.
    func compactText(unquotedStrings: Bool) -> String {
        if unquotedStrings, case .string(let s) = self { return s }
        return compactText
    }

    /// Compact JSON text (object keys sorted).
    var compactText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Self.numberText(d)
        case .string(let s): return Self.quoted(s)
        case .array(let a): return "[" + a.map(\.compactText).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { Self.quoted($0) + ":" + o[$0]!.compactText }.joined(separator: ",") + "}"
        }
    }

    /// Pretty-printed JSON text (two-space indent, object keys sorted), as Python's `json.dumps(indent=2, sort_keys=True)`.
    func prettyText(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { inner + $0.prettyText(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let o) where !o.isEmpty:
            return "{\n" + o.keys.sorted().map { inner + Self.quoted($0) + ": " + o[$0]!.prettyText(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return compactText
        }
    }

    /// A finite number in JSON syntax (shortest round-tripping form; non-finite values become null).
    static func numberText(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    /// A JSON string literal (see ``JSONText/quoted(_:)``).
    static func quoted(_ s: String) -> String { JSONText.quoted(s) }
}

// MARK: - JSON text

/// JSON text helpers, shared with the command-line tool's JSON output.
public enum JSONText {
    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

// MARK: - Encoding JSON values

extension JSONValue: Encodable {
    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}
