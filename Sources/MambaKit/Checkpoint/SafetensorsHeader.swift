// SafetensorsHeader.swift
// Parsing and validating the JSON header of a safetensors file against the file's size.

import Foundation

/// The validated content of a safetensors header.
struct SafetensorsHeader {
    var headerByteCount: Int
    var metadata: [String: String]
    var tensors: [String: SafetensorsTensorInfo]

    /// Parses and validates the header of the complete file `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> SafetensorsHeader {
        func bad(_ detail: String) -> CheckpointError { .invalidHeader(path: path, detail: detail) }

        let fileSize = bytes.count
        guard fileSize >= 8, let base = bytes.baseAddress else {
            throw bad("the file is \(fileSize) bytes long, too short for the 8-byte header length")
        }
        let declared = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(fileSize - 8) else {
            throw bad("the header length is \(declared) bytes but only \(fileSize - 8) bytes follow the length prefix")
        }
        let headerLength = Int(declared)
        let dataSize = fileSize - 8 - headerLength

        let json: JSONValue
        do {
            json = try JSONValue.parse(Data(bytes: base + 8, count: headerLength))
        } catch let failure as JSONValue.ParseFailure {
            throw bad("the header is not valid JSON (\(failure.message))")
        }
        guard case .object(let entries) = json else {
            throw bad("the header is a JSON \(json.kindName), expected an object")
        }

        var metadata: [String: String] = [:]
        var tensors: [String: SafetensorsTensorInfo] = [:]
        tensors.reserveCapacity(entries.count)

        for (name, entry) in entries {
            if name == "__metadata__" {
                guard case .object(let fields) = entry else {
                    throw bad("\"__metadata__\" is a JSON \(entry.kindName), expected an object of strings")
                }
                for (key, value) in fields {
                    guard case .string(let text) = value else {
                        throw bad("\"__metadata__\".\"\(key)\" is a JSON \(value.kindName), expected a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            guard case .object(let fields) = entry else {
                throw bad("entry \"\(name)\" is a JSON \(entry.kindName), expected an object")
            }
            // dtype
            guard let dtypeValue = fields["dtype"] else { throw bad("tensor \"\(name)\" has no \"dtype\"") }
            guard case .string(let dtypeName) = dtypeValue else {
                throw bad("tensor \"\(name)\": \"dtype\" is a JSON \(dtypeValue.kindName), expected a string")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw CheckpointError.unsupportedDType(path: path, name: name, dtype: dtypeName)
            }
            // shape
            guard let shapeValue = fields["shape"] else { throw bad("tensor \"\(name)\" has no \"shape\"") }
            guard case .array(let dims) = shapeValue else {
                throw bad("tensor \"\(name)\": \"shape\" is a JSON \(shapeValue.kindName), expected an array")
            }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            var count = 1
            var countOverflowed = false
            for dim in dims {
                guard case .int(let d) = dim, d >= 0 else {
                    throw bad("tensor \"\(name)\": shape \(JSONValue.array(dims).compactText) has an entry that is not a non-negative integer")
                }
                shape.append(d)
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                count = product
                countOverflowed = countOverflowed || overflow
            }
            // data_offsets
            guard let offsetsValue = fields["data_offsets"] else { throw bad("tensor \"\(name)\" has no \"data_offsets\"") }
            guard case .array(let offsets) = offsetsValue, offsets.count == 2,
                  case .int(let begin) = offsets[0], case .int(let end) = offsets[1] else {
                throw bad("tensor \"\(name)\": \"data_offsets\" is \(offsetsValue.compactText), expected [begin, end] integers")
            }
            guard begin >= 0, begin <= end else {
                throw bad("tensor \"\(name)\": data_offsets [\(begin), \(end)] are not 0 ≤ begin ≤ end")
            }
            let (expectedBytes, bytesOverflowed) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !countOverflowed, !bytesOverflowed, end - begin == expectedBytes else {
                throw bad("tensor \"\(name)\": data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(countOverflowed || bytesOverflowed ? "more than Int.max" : String(expectedBytes))")
            }
            guard end <= dataSize else {
                throw bad("tensor \"\(name)\": data_offsets [\(begin), \(end)] end beyond the \(dataSize)-byte data section")
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
        }

        // No two tensors may share bytes.
        let ordered = tensors.values.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        // Sorted by start, each tensor must begin at or after the furthest end seen so far.
        var furthest: SafetensorsTensorInfo?
        for info in ordered {
            guard let p = furthest else { furthest = info; continue }
            if info.dataOffsets.lowerBound < p.dataOffsets.upperBound {
                throw bad("tensors \"\(p.name)\" [\(p.dataOffsets.lowerBound), \(p.dataOffsets.upperBound)] and \"\(info.name)\" [\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)] overlap")
            }
            if info.dataOffsets.upperBound >= p.dataOffsets.upperBound { furthest = info }
        }
        return SafetensorsHeader(headerByteCount: headerLength, metadata: metadata, tensors: tensors)
    }
}
