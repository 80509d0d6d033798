// SafetensorsTests.swift — safetensors reading, validation, atomic and sharded writing, half conversions.
import Foundation
import MambaKit
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class SafetensorsTests: XCTestCase {

    // MARK: Helpers

    /// A fresh directory removed after the test.
    private func scratchDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mambakit-safetensors-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock {
            _ = chmod(url.path, 0o755)
            try? FileManager.default.removeItem(at: url)
        }
        return url
    }

    /// Little-endian bytes of a fixed-width value.
    private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// A safetensors file assembled by hand: length prefix, header text as given, then `data`.
    private func assemble(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        return le(declaredLength ?? UInt64(headerBytes.count)) + headerBytes + data
    }

    private func writeBytes(_ bytes: [UInt8], _ url: URL) {
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    }

    /// Asserts that `body` throws a CheckpointError for which `matches` is true and whose description names `path`.
    private func assertCheckpointError(_ path: String, file: StaticString = #filePath, line: UInt = #line,
                                       _ body: () throws -> Void, matches: (CheckpointError) -> Bool) {
        do {
            try body()
            XCTFail("expected a CheckpointError", file: file, line: line)
        } catch let error as CheckpointError {
            XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(path), "description does not name \(path): \(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "description is not one line: \(error)", file: file, line: line)
        } catch {
            XCTFail("expected a CheckpointError, got \(error)", file: file, line: line)
        }
    }

    private func isInvalidHeader(_ path: String) -> (CheckpointError) -> Bool {
        { if case .invalidHeader(let p, _) = $0 { return p == path } else { return false } }
    }

    /// Files in `directory` whose names start with "." (left-over temporary files).
    private func hiddenFiles(in directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasPrefix(".") }
    }

    // MARK: Half conversions (closed form)

    func testF16ClosedFormRounding() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (0.5, 0x3800),
            (65504, 0x7BFF),                       // largest finite half
            (65519, 0x7BFF),                       // below the half-way point: rounds down
            (65520, 0x7C00),                       // half-way to 2^16: ties to even → infinity
            (1e6, 0x7C00), (-1e6, 0xFC00),
            (.infinity, 0x7C00), (-.infinity, 0xFC00),
            (0x1p-14, 0x0400),                     // smallest normal
            (0x1p-24, 0x0001),                     // smallest subnormal
            (0x1p-25, 0x0000),                     // half of it: ties to even → 0
            (0x1.8p-25, 0x0001),                   // 0.75 ulp → rounds up
            (0x3p-25, 0x0002),                     // 1.5 ulps: ties to even → 2
            (0x1p-26, 0x0000),
            (1 + 0x1p-11, 0x3C00),                 // tie between 1 and 1+2^-10 → even (1)
            (1 + 0x3p-11, 0x3C02),                 // tie between 1+2^-10 and 1+2^-9 → even
            (1 + 0x1p-11 + 0x1p-20, 0x3C01),       // just above the tie → up
            (0x1.ffcp-15, 0x0400),                 // largest subnormal region rounding up into the normals
        ]
        for (value, bits) in cases {
            XCTAssertEqual(HalfConversion.f32ToF16(value), bits, "f32ToF16(\(value))")
        }
        XCTAssertEqual(HalfConversion.f16ToF32(0x0001), 0x1p-24)
        XCTAssertEqual(HalfConversion.f16ToF32(0x03FF), 0x3FFp-24)
        XCTAssertEqual(HalfConversion.f16ToF32(0x7BFF), 65504)
        XCTAssertEqual(HalfConversion.f16ToF32(0x7C00), .infinity)
        XCTAssertEqual(HalfConversion.f16ToF32(0xFC00), -.infinity)
        XCTAssertEqual(HalfConversion.f16ToF32(0x8000).bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertTrue(HalfConversion.f16ToF32(0x7E00).isNaN)
        XCTAssertTrue(HalfConversion.f16ToF32(0x7C01).isNaN)
        let nan = HalfConversion.f32ToF16(.nan)
        XCTAssertEqual(nan & 0x7C00, 0x7C00)
        XCTAssertNotEqual(nan & 0x03FF, 0)
        // A signalling NaN whose payload lies only in the dropped bits must still be a NaN.
        XCTAssertTrue(HalfConversion.f16ToF32(HalfConversion.f32ToF16(Float(bitPattern: 0x7F80_0001))).isNaN)
        XCTAssertEqual(HalfConversion.f32ToF16(-.nan) & 0x8000, 0x8000)
    }

    func testBF16ClosedFormRounding() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3F80), (-2, 0xC000),
            (1 + 0x1p-8, 0x3F80),                  // tie between 1 and 1+2^-7 → even (1)
            (1 + 0x3p-8, 0x3F82),                  // tie between 1+2^-7 and 1+2^-6 → even
            (1 + 0x1p-8 + 0x1p-20, 0x3F81),        // just above the tie → up
            (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (.greatestFiniteMagnitude, 0x7F80),    // beyond bf16's largest finite half-way point → inf
            (0x1p-149, 0x0000),                    // smallest Float subnormal: tie → 0
        ]
        for (value, bits) in cases {
            XCTAssertEqual(HalfConversion.f32ToBF16(value), bits, "f32ToBF16(\(value))")
        }
        XCTAssertEqual(HalfConversion.bf16ToF32(0x3F81), 1 + 0x1p-7)
        XCTAssertTrue(HalfConversion.bf16ToF32(HalfConversion.f32ToBF16(.nan)).isNaN)
        XCTAssertTrue(HalfConversion.bf16ToF32(HalfConversion.f32ToBF16(Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    func testF16AllBitPatternsRoundTripAndBulkMatchesScalar() {
        let patterns = (0...0xFFFF).map { UInt16($0) }
        var bulk = [Float](repeating: 0, count: patterns.count)
        patterns.withUnsafeBytes { raw in
            bulk.withUnsafeMutableBufferPointer {
                HalfConversion.f16ToF32(raw.baseAddress!, count: patterns.count, into: $0.baseAddress!)
            }
        }
        for h in patterns {
            let f = HalfConversion.f16ToF32(h)
            let exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF
            if exponent == 0x1F && mantissa != 0 {
                XCTAssertTrue(f.isNaN && bulk[Int(h)].isNaN, "pattern \(h)")
                XCTAssertEqual(HalfConversion.f32ToF16(f), h | 0x0200, "NaN \(h) keeps its payload and is quieted")
            } else {
                XCTAssertEqual(f.bitPattern, bulk[Int(h)].bitPattern, "pattern \(h)")
                XCTAssertEqual(HalfConversion.f32ToF16(f), h, "pattern \(h)")
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    /// Compares against the standard library's Float16 conversion (round to nearest even) on many values.
    func testF16MatchesStandardLibraryFloat16() {
        var generator = SystemRandomNumberGenerator()
        for i in 0..<200_000 {
            let value: Float
            switch i % 4 {
            case 0: value = Float(bitPattern: generator.next())
            case 1: value = Float.random(in: -70_000...70_000, using: &generator)
            case 2: value = Float.random(in: -0x1p-13...0x1p-13, using: &generator)
            default: value = Float.random(in: -2...2, using: &generator)
            }
            if value.isNaN { continue }
            XCTAssertEqual(HalfConversion.f32ToF16(value), Float16(value).bitPattern, "value \(value) (\(value.bitPattern))")
        }
    }
    #endif

    // MARK: Round trips through the writer

    private let specialValues: [Float] = [0, -0.0, 1, -1, 0.1, 1 + 0x1p-8, 1 + 0x3p-8, 1 + 0x1p-11, 65504, 65520,
                                          0x1p-24, 0x1p-25, 3.14159265, -123.456, 1e-3, .infinity, -.infinity, 1e30]

    func testRoundTripF32() throws {
        let dir = scratchDirectory()
        let url = dir.appendingPathComponent("x.safetensors")
        let matrix = (0..<12).map { Float($0) * 0.25 - 1 }
        try SafetensorsWriter.write([
            .init(name: "special", values: specialValues + [.nan]),
            .init(name: "matrix", shape: [3, 4], values: matrix),
            .init(name: "empty", shape: [0, 5], values: []),
            .init(name: "scalar", shape: [], values: [42]),
        ], metadata: ["format": "pt", "note": "quote \" and \\ and \n"], to: url)

        let file = try SafetensorsFile(url: url)
        XCTAssertEqual(file.names, ["empty", "matrix", "scalar", "special"])
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "quote \" and \\ and \n"])
        XCTAssertEqual(try file.info("matrix").shape, [3, 4])
        XCTAssertEqual(try file.info("matrix").dtype, .f32)
        XCTAssertEqual(try file.floats("matrix"), matrix)
        XCTAssertEqual(try file.floats("scalar"), [42])
        XCTAssertEqual(try file.info("scalar").shape, [])
        XCTAssertEqual(try file.floats("empty"), [])
        let special = try file.floats("special")
        XCTAssertEqual(special.dropLast().map(\.bitPattern), specialValues.map(\.bitPattern))
        XCTAssertTrue(special.last!.isNaN)
        // Header padded so that the data section starts on an 8-byte boundary.
        XCTAssertEqual((8 + file.headerByteCount) % 8, 0)
        // Tensors are laid out in the given order.
        XCTAssertEqual(try file.info("special").dataOffsets.lowerBound, 0)
        XCTAssertLessThan(try file.info("matrix").dataOffsets.lowerBound, try file.info("scalar").dataOffsets.lowerBound)
    }

    func testRoundTripF16() throws {
        let url = scratchDirectory().appendingPathComponent("x.safetensors")
        try SafetensorsWriter.write([.init(name: "v", values: specialValues + [.nan])], dtype: .f16, to: url)
        let file = try SafetensorsFile(url: url)
        XCTAssertEqual(try file.info("v").dtype, .f16)
        XCTAssertEqual(try file.info("v").byteCount, (specialValues.count + 1) * 2)
        let back = try file.floats("v")
        let expected: [Float] = [0, -0.0, 1, -1, 0x1.998p-4, 1 + 0x1p-8, 1 + 0x3p-8, 1, 65504, .infinity,
                                 0x1p-24, 0, 0x1.92p1, -0x1.edcp6, 0x1.064p-10, .infinity, -.infinity, .infinity]
        XCTAssertEqual(back.dropLast().map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertTrue(back.last!.isNaN)
        // The raw bytes are the binary16 encodings.
        let raw = try file.rawBytes("v")
        XCTAssertEqual(raw.load(fromByteOffset: 2 * 2, as: UInt16.self), 0x3C00)
        XCTAssertEqual(raw.load(fromByteOffset: 10 * 2, as: UInt16.self), 0x0001)
    }

    func testRoundTripBF16() throws {
        let url = scratchDirectory().appendingPathComponent("x.safetensors")
        try SafetensorsWriter.write([.init(name: "v", values: specialValues + [.nan])], dtype: .bf16, to: url)
        let file = try SafetensorsFile(url: url)
        XCTAssertEqual(try file.info("v").dtype, .bf16)
        let back = try file.floats("v")
        let expected: [Float] = [0, -0.0, 1, -1, 0x1.9ap-4, 1, 1 + 0x1p-6, 1, 65536, 65536,
                                 0x1p-24, 0x1p-25, 0x1.92p1, -0x1.eep6, 0x1.06p-10, .infinity, -.infinity, 0x1.94p99]
        XCTAssertEqual(back.dropLast().map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertTrue(back.last!.isNaN)
    }

    func testWriterAcceptsCallerOwnedBuffers() throws {
        let url = scratchDirectory().appendingPathComponent("x.safetensors")
        let values = (0..<100_000).map { Float($0).squareRoot() }
        try values.withUnsafeBufferPointer { buffer in
            try SafetensorsWriter.write([.init(name: "w", shape: [100, 1000], data: buffer)], dtype: .f16, to: url)
        }
        let file = try SafetensorsFile(url: url)
        var out = [Float](repeating: -1, count: values.count)
        try out.withUnsafeMutableBufferPointer { try file.readFloat32("w", into: $0) }
        for i in stride(from: 0, to: values.count, by: 997) {
            XCTAssertEqual(out[i], HalfConversion.f16ToF32(HalfConversion.f32ToF16(values[i])))
        }
    }

    func testWriterRejectsInconsistentTensors() {
        let url = scratchDirectory().appendingPathComponent("x.safetensors")
        let rejected: [[SafetensorsWriter.Tensor]] = [
            [.init(name: "a", shape: [2, 2], values: [1, 2, 3])],
            [.init(name: "a", values: [1]), .init(name: "a", values: [2])],
            [.init(name: "__metadata__", values: [1])],
        ]
        for tensors in rejected {
            assertCheckpointError(url.path, {
                try SafetensorsWriter.write(tensors, to: url)
            }, matches: { if case .writeFailed = $0 { return true } else { return false } })
        }
        assertCheckpointError(url.path, {
            try SafetensorsWriter.write([.init(name: "a", values: [1])], dtype: .i32, to: url)
        }, matches: { if case .writeFailed = $0 { return true } else { return false } })
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    // MARK: Hand-built file

    func testReadsHandBuiltFile() throws {
        // A trailing space makes the header length odd, so the data section (and every read) is unaligned.
        let header = #"{"__metadata__":{"format":"pt"},"f32":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""f16":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},"bf":{"dtype":"BF16","shape":[1,1],"data_offsets":[14,16]},"#
            + #""f64":{"dtype":"F64","shape":[],"data_offsets":[16,24]},"i64":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},"#
            + #""i32":{"dtype":"I32","shape":[1],"data_offsets":[40,44]},"u8":{"dtype":"U8","shape":[2],"data_offsets":[44,46]},"#
            + #""flag":{"dtype":"BOOL","shape":[2],"data_offsets":[46,48]},"none":{"dtype":"F32","shape":[0],"data_offsets":[48,48]}} "#
        var data: [UInt8] = []
        data += le(Float(1.5).bitPattern) + le(Float(-0.25).bitPattern)   // f32
        data += le(UInt16(0xC000)) + le(UInt16(0x0001)) + le(UInt16(0x7C00)) // f16: -2, 2^-24, inf
        data += le(UInt16(0x3FC0))                                           // bf16: 1.5
        data += le(Double(0.1).bitPattern)                                   // f64
        data += le(Int64(-3)) + le(Int64(1) << 40)                           // i64
        data += le(Int32(-7))                                                // i32
        data += [200, 1]                                                     // u8
        data += [0, 1]                                                       // bool
        let url = scratchDirectory().appendingPathComponent("hand.safetensors")
        writeBytes(assemble(header: header, data: data), url)

        let file = try SafetensorsFile(url: url)
        XCTAssertEqual(file.headerByteCount, header.utf8.count)
        XCTAssertEqual(file.headerByteCount % 2, 1)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.names, ["bf", "f16", "f32", "f64", "flag", "i32", "i64", "none", "u8"])
        XCTAssertEqual(try file.floats("f32"), [1.5, -0.25])
        XCTAssertEqual(try file.floats("f16"), [-2, 0x1p-24, .infinity])
        XCTAssertEqual(try file.floats("bf"), [1.5])
        XCTAssertEqual(try file.info("bf").shape, [1, 1])
        XCTAssertEqual(try file.floats("f64"), [Float(0.1)])
        XCTAssertEqual(try file.info("f64").count, 1)
        XCTAssertEqual(try file.floats("none"), [])
        XCTAssertEqual(try file.int64s("i64"), [-3, 1 << 40])
        XCTAssertEqual(try file.int64s("i32"), [-7])
        XCTAssertEqual(try file.int64s("u8"), [200, 1])
        XCTAssertEqual(try file.int64s("flag"), [0, 1])
        XCTAssertEqual(try file.info("i64").dataOffsets, 24..<40)
        XCTAssertEqual(Array(try file.rawBytes("u8")), [200, 1])

        // Typed errors for wrong use.
        assertCheckpointError(url.path, { _ = try file.floats("i64") }, matches: {
            $0 == .unsupportedDType(path: url.path, name: "i64", dtype: "I64")
        })
        assertCheckpointError(url.path, { _ = try file.int64s("f32") }, matches: {
            $0 == .unsupportedDType(path: url.path, name: "f32", dtype: "F32")
        })
        assertCheckpointError(url.path, { _ = try file.floats("nope") }, matches: {
            $0 == .missingTensor(path: url.path, name: "nope")
        })
        var three = [Float](repeating: 0, count: 3)
        assertCheckpointError(url.path, { try three.withUnsafeMutableBufferPointer { try file.readFloat32("f32", into: $0) } },
                              matches: { $0 == .shapeMismatch(path: url.path, name: "f32", expected: [3], found: [2]) })
        var two = [Float](repeating: 0, count: 2)
        assertCheckpointError(url.path, { try two.withUnsafeMutableBufferPointer { try file.readFloat32("f32", shape: [1, 2], into: $0) } },
                              matches: { $0 == .shapeMismatch(path: url.path, name: "f32", expected: [1, 2], found: [2]) })
        try two.withUnsafeMutableBufferPointer { try file.readFloat32("f32", shape: [2], into: $0) }
        XCTAssertEqual(two, [1.5, -0.25])
    }

    // MARK: Header validation

    func testEmptyAndTruncatedFiles() {
        let dir = scratchDirectory()
        for (name, bytes) in [("empty", [UInt8]()), ("short", [1, 0, 0, 0, 0])] {
            let url = dir.appendingPathComponent("\(name).safetensors")
            writeBytes(bytes, url)
            assertCheckpointError(url.path, { _ = try SafetensorsFile(url: url) }, matches: isInvalidHeader(url.path))
        }
        // A valid file cut short in its data section.
        let url = dir.appendingPathComponent("cut.safetensors")
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        writeBytes(assemble(header: header, data: [UInt8](repeating: 0, count: 10)), url)
        assertCheckpointError(url.path, { _ = try SafetensorsFile(url: url) }, matches: isInvalidHeader(url.path))
        // Cut inside the header.
        let cut = dir.appendingPathComponent("cut-header.safetensors")
        writeBytes(Array(assemble(header: header, data: []).prefix(20)), cut)
        assertCheckpointError(cut.path, { _ = try SafetensorsFile(url: cut) }, matches: isInvalidHeader(cut.path))
    }

    func testHeaderLengthLargerThanFile() {
        let dir = scratchDirectory()
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        for declared in [UInt64(header.utf8.count + 5), UInt64.max, UInt64(1) << 63] {
            let url = dir.appendingPathComponent("len-\(declared).safetensors")
            writeBytes(assemble(header: header, data: [0, 0, 0, 0], declaredLength: declared), url)
            assertCheckpointError(url.path, { _ = try SafetensorsFile(url: url) }, matches: isInvalidHeader(url.path))
        }
    }

    func testInvalidHeaders() {
        let dir = scratchDirectory()
        let cases: [(String, String, Int)] = [
            ("beyond-data", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 8),
            ("overlap", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12),
            ("contained", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 16),
            ("size-vs-shape", #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 12),
            ("size-vs-dtype", #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#, 8),
            ("bad-json", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, 8),
            ("not-json", "\u{1}\u{2}garbage", 8),
            ("array", #"[1, 2, 3]"#, 8),
            ("negative-dim", #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8),
            ("fractional-dim", #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, 8),
            ("reversed-offsets", #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, 8),
            ("negative-offset", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, 8),
            ("no-offsets", #"{"a":{"dtype":"F32","shape":[2]}}"#, 8),
            ("one-offset", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}"#, 8),
            ("no-shape", #"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, 8),
            ("no-dtype", #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, 8),
            ("dtype-not-string", #"{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}"#, 8),
            ("entry-not-object", #"{"a":[1,2]}"#, 8),
            ("metadata-not-strings", #"{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 8),
            ("huge-shape", #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, 8),
        ]
        for (name, header, dataSize) in cases {
            let url = dir.appendingPathComponent("\(name).safetensors")
            writeBytes(assemble(header: header, data: [UInt8](repeating: 0, count: dataSize)), url)
            assertCheckpointError(url.path, { _ = try SafetensorsFile(url: url) }, matches: isInvalidHeader(url.path))
        }
    }

    func testUnknownDTypeString() {
        let url = scratchDirectory().appendingPathComponent("dtype.safetensors")
        writeBytes(assemble(header: #"{"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), url)
        assertCheckpointError(url.path, { _ = try SafetensorsFile(url: url) }, matches: {
            $0 == .unsupportedDType(path: url.path, name: "w", dtype: "F17")
        })
    }

    func testMissingAndUnreadableFiles() {
        let dir = scratchDirectory()
        let missing = dir.appendingPathComponent("nope.safetensors")
        assertCheckpointError(missing.path, { _ = try SafetensorsFile(url: missing) }, matches: {
            if case .fileNotFound(missing.path, _) = $0 { return true } else { return false }
        })
        assertCheckpointError(dir.path, { _ = try SafetensorsFile(url: dir) }, matches: {
            if case .unreadable(dir.path, _) = $0 { return true } else { return false }
        })
    }

    func testErrorDescriptionFormat() {
        let error = CheckpointError.shapeMismatch(path: "/x/model.safetensors", name: "backbone.norm_f.weight", expected: [16], found: [8])
        XCTAssertEqual(error.description,
                       "checkpoint error: /x/model.safetensors: tensor \"backbone.norm_f.weight\" has shape [8] but the config expects [16] — was the checkpoint saved with a different config.json?")
    }

    // MARK: Atomic writing

    func testWriteReplacesExistingFileWhole() throws {
        let dir = scratchDirectory()
        let url = dir.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([.init(name: "big", values: [Float](repeating: 7, count: 10_000)),
                                     .init(name: "old", values: [1, 2])], to: url)
        try SafetensorsWriter.write([.init(name: "new", shape: [2, 1], values: [3, 4])], to: url)
        let file = try SafetensorsFile(url: url)
        XCTAssertEqual(file.names, ["new"])
        XCTAssertEqual(try file.floats("new"), [3, 4])
        XCTAssertEqual(file.fileSize, 8 + file.headerByteCount + 8)
        XCTAssertEqual(hiddenFiles(in: dir), [], "temporary files left behind")
    }

    func testOpenFileKeepsOldContentWhenReplaced() throws {
        let url = scratchDirectory().appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([.init(name: "w", values: [1, 2, 3])], to: url)
        let old = try SafetensorsFile(url: url)
        try SafetensorsWriter.write([.init(name: "w", values: [9, 9, 9])], to: url)
        XCTAssertEqual(try old.floats("w"), [1, 2, 3], "a rename never changes the bytes an open mapping sees")
        XCTAssertEqual(try SafetensorsFile(url: url).floats("w"), [9, 9, 9])
    }

    func testWriteIntoMissingDirectoryFails() {
        let url = scratchDirectory().appendingPathComponent("no/such/dir/model.safetensors")
        assertCheckpointError(url.path, {
            try SafetensorsWriter.write([.init(name: "w", values: [1])], to: url)
        }, matches: { if case .writeFailed(url.path, _) = $0 { return true } else { return false } })
    }

    func testFailedWriteLeavesOldFileIntact() throws {
        let dir = scratchDirectory()
        let url = dir.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([.init(name: "w", values: [1, 2, 3])], to: url)
        let before = try Data(contentsOf: url)

        // Make write(2) fail part-way through: a 4 KiB file size limit with SIGXFSZ ignored gives EFBIG.
        let fileSizeLimit = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(fileSizeLimit, &saved), 0)
        var limited = saved
        limited.rlim_cur = 4096
        XCTAssertEqual(setrlimit(fileSizeLimit, &limited), 0)
        var thrown: Error?
        do {
            try SafetensorsWriter.write([.init(name: "w", values: [Float](repeating: 5, count: 100_000))], to: url)
        } catch {
            thrown = error
        }
        XCTAssertEqual(setrlimit(fileSizeLimit, &saved), 0)
        signal(SIGXFSZ, previousHandler)

        guard case .writeFailed(url.path, _)? = thrown as? CheckpointError else {
            return XCTFail("expected writeFailed, got \(String(describing: thrown))")
        }
        XCTAssertEqual(try Data(contentsOf: url), before, "the old file must be untouched")
        XCTAssertEqual(try SafetensorsFile(url: url).floats("w"), [1, 2, 3])
        XCTAssertEqual(hiddenFiles(in: dir), [], "the temporary file must be removed")
    }

    func testWriteIntoReadOnlyDirectoryFails() throws {
        guard getuid() != 0 else { throw XCTSkip("root ignores directory permissions") }
        let dir = scratchDirectory()
        let url = dir.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([.init(name: "w", values: [1, 2, 3])], to: url)
        XCTAssertEqual(chmod(dir.path, 0o555), 0)
        assertCheckpointError(url.path, {
            try SafetensorsWriter.write([.init(name: "w", values: [4])], to: url)
        }, matches: { if case .writeFailed(url.path, _) = $0 { return true } else { return false } })
        XCTAssertEqual(try SafetensorsFile(url: url).floats("w"), [1, 2, 3])
    }

    // MARK: Checkpoint directories

    private func shardedTensors() -> [SafetensorsWriter.Tensor] {
        [
            .init(name: "backbone.embedding.weight", shape: [10, 8], values: (0..<80).map { Float($0) }),
            .init(name: "backbone.layers.0.mixer.D", values: (0..<16).map { Float($0) / 2 }),
            .init(name: "backbone.layers.0.mixer.A_log", shape: [16, 4], values: (0..<64).map { -Float($0) }),
            .init(name: "backbone.layers.1.mixer.D", values: (0..<16).map { Float($0) * 3 }),
            .init(name: "backbone.norm_f.weight", values: [Float](repeating: 1, count: 8)),
        ]
    }

    func testShardedRoundTrip() throws {
        let dir = scratchDirectory().appendingPathComponent("model")   // created by the writer
        let tensors = shardedTensors()
        // 320, 64, 256, 64, 32 bytes with a 384-byte budget → [320 + 64], [256 + 64 + 32].
        let shards = try SafetensorsWriter.writeSharded(tensors, maxShardBytes: 384, directory: dir)
        XCTAssertEqual(shards.map(\.lastPathComponent),
                       ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])

        let indexData = try Data(contentsOf: dir.appendingPathComponent("model.safetensors.index.json"))
        let index = try XCTUnwrap(try JSONSerialization.jsonObject(with: indexData) as? [String: Any])
        XCTAssertEqual((index["metadata"] as? [String: Any])?["total_size"] as? Int, 736)
        let weightMap = try XCTUnwrap(index["weight_map"] as? [String: String])
        XCTAssertEqual(weightMap.count, 5)
        XCTAssertEqual(weightMap["backbone.layers.0.mixer.D"], "model-00001-of-00002.safetensors")
        XCTAssertEqual(weightMap["backbone.layers.0.mixer.A_log"], "model-00002-of-00002.safetensors")

        let checkpoint = try SafetensorsCheckpoint(directory: dir)
        XCTAssertEqual(checkpoint.files.count, 2)
        XCTAssertEqual(checkpoint.names, tensors.map(\.name).sorted())
        XCTAssertEqual(checkpoint.metadata["total_size"], "736")
        for tensor in tensors {
            guard case .array(let values) = tensor.values else { return XCTFail() }
            XCTAssertTrue(checkpoint.contains(tensor.name))
            XCTAssertEqual(try checkpoint.floats(tensor.name), values)
            XCTAssertEqual(try checkpoint.info(tensor.name).shape, tensor.shape)
            var buffer = [Float](repeating: 0, count: values.count)
            try buffer.withUnsafeMutableBufferPointer { try checkpoint.readFloat32(tensor.name, into: $0) }
            XCTAssertEqual(buffer, values)
        }
        XCTAssertEqual(checkpoint.path(of: "backbone.norm_f.weight"), dir.appendingPathComponent("model-00002-of-00002.safetensors").path)
        XCTAssertFalse(checkpoint.contains("lm_head.weight"))
        assertCheckpointError("model.safetensors.index.json", { _ = try checkpoint.floats("lm_head.weight") }, matches: {
            if case .missingTensor(_, "lm_head.weight") = $0 { return true } else { return false }
        })
        XCTAssertEqual(hiddenFiles(in: dir), [])
    }

    func testShardedBF16WithOversizedTensor() throws {
        let dir = scratchDirectory()
        let tensors = shardedTensors()
        // Every tensor is larger than the budget → one shard each.
        try SafetensorsWriter.writeSharded(tensors, dtype: .bf16, maxShardBytes: 1, directory: dir)
        let checkpoint = try SafetensorsCheckpoint(directory: dir)
        XCTAssertEqual(checkpoint.files.count, 5)
        XCTAssertEqual(try checkpoint.info("backbone.embedding.weight").dtype, .bf16)
        XCTAssertEqual(try checkpoint.floats("backbone.layers.1.mixer.D"), (0..<16).map { Float($0) * 3 })
    }

    func testMissingShard() throws {
        let dir = scratchDirectory()
        try SafetensorsWriter.writeSharded(shardedTensors(), maxShardBytes: 384, directory: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let indexPath = dir.appendingPathComponent("model.safetensors.index.json").path
        assertCheckpointError(indexPath, { _ = try SafetensorsCheckpoint(directory: dir) }, matches: {
            $0 == .missingShard(indexPath: indexPath, shard: "model-00002-of-00002.safetensors")
        })
    }

    func testIndexNamingWrongShard() throws {
        let dir = scratchDirectory()
        try SafetensorsWriter.writeSharded(shardedTensors(), maxShardBytes: 384, directory: dir)
        let indexURL = dir.appendingPathComponent("model.safetensors.index.json")
        var text = try String(contentsOf: indexURL, encoding: .utf8)
        text = text.replacingOccurrences(
            of: #""backbone.norm_f.weight": "model-00002-of-00002.safetensors""#,
            with: #""backbone.norm_f.weight": "model-00001-of-00002.safetensors""#)
        try text.write(to: indexURL, atomically: true, encoding: .utf8)
        assertCheckpointError(indexURL.path, { _ = try SafetensorsCheckpoint(directory: dir) }, matches: {
            if case .invalidIndex(indexURL.path, let detail) = $0 { return detail.contains("backbone.norm_f.weight") }
            return false
        })

        try "{\"weight_map\": ".write(to: indexURL, atomically: true, encoding: .utf8)
        assertCheckpointError(indexURL.path, { _ = try SafetensorsCheckpoint(directory: dir) }, matches: {
            if case .invalidJSON(indexURL.path, _) = $0 { return true } else { return false }
        })
        try "{\"metadata\": {}}".write(to: indexURL, atomically: true, encoding: .utf8)
        assertCheckpointError(indexURL.path, { _ = try SafetensorsCheckpoint(directory: dir) }, matches: {
            if case .invalidIndex(indexURL.path, _) = $0 { return true } else { return false }
        })
    }

    func testEmptyDirectoryNamesWhatWasLookedFor() {
        let dir = scratchDirectory()
        assertCheckpointError(dir.path, { _ = try SafetensorsCheckpoint(directory: dir) }, matches: {
            $0 == .fileNotFound(path: dir.path, lookedFor: ["model.safetensors", "model.safetensors.index.json"])
        })
        do {
            _ = try SafetensorsCheckpoint(directory: dir)
        } catch {
            XCTAssertTrue("\(error)".contains("model.safetensors.index.json"), "\(error)")
        }
    }

    func testSingleFileCheckpointIsPreferredAndFileURLAccepted() throws {
        let dir = scratchDirectory()
        try SafetensorsWriter.writeSharded(shardedTensors(), maxShardBytes: 384, directory: dir)
        let single = dir.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([.init(name: "only", values: [1, 2])], dtype: .f16, to: single)
        let checkpoint = try SafetensorsCheckpoint(directory: dir)
        XCTAssertEqual(checkpoint.names, ["only"])
        XCTAssertNil(checkpoint.indexURL)
        XCTAssertEqual(checkpoint.path(of: "only"), single.path)
        XCTAssertEqual(checkpoint.metadata, ["format": "pt"])
        let direct = try SafetensorsCheckpoint(directory: single)
        XCTAssertEqual(try direct.floats("only"), [1, 2])
    }

    func testFixtureCheckpointsOpen() throws {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("no fixtures in the test bundle")
        }
        let sharded = root.appendingPathComponent("mamba_ssm_sharded")
        guard FileManager.default.fileExists(atPath: sharded.path) else { throw XCTSkip("no mamba_ssm_sharded fixture") }
        let checkpoint = try SafetensorsCheckpoint(directory: sharded)
        XCTAssertNotNil(checkpoint.indexURL)
        XCTAssertTrue(checkpoint.contains("backbone.norm_f.weight"))
        XCTAssertEqual(try checkpoint.info("backbone.norm_f.weight").shape, [32])
        XCTAssertEqual(try checkpoint.floats("backbone.norm_f.weight").count, 32)
    }

    // MARK: Bulk conversion (its speed: `mambakit bench convert`)

    /// 8 Mi values through the bulk F16 and BF16 → F32 paths equal the scalar conversions value by value.
    func testBulkConversion() throws {
        let count = 8 << 20  // 8 Mi values = 16 MiB of F16 / BF16
        let values = (0..<count).map { Float($0 % 4093) * 0.001 - 2 }
        for dtype in [SafetensorsDType.f16, .bf16] {
            let url = scratchDirectory().appendingPathComponent("big-\(dtype.rawValue).safetensors")
            try SafetensorsWriter.write([.init(name: "h", values: values)], dtype: dtype, to: url)
            let file = try SafetensorsFile(url: url)
            var out = [Float](repeating: 0, count: count)
            try out.withUnsafeMutableBufferPointer { try file.readFloat32("h", into: $0) }
            var differing = 0, maxDifference: Float = 0
            for i in 0..<count {
                let expected = dtype == .f16 ? HalfConversion.f16ToF32(HalfConversion.f32ToF16(values[i]))
                                             : HalfConversion.bf16ToF32(HalfConversion.f32ToBF16(values[i]))
                if out[i] != expected { differing += 1; maxDifference = max(maxDifference, abs(out[i] - expected)) }
            }
            print("bulk \(dtype.rawValue) → F32 against the scalar conversion: max difference \(maxDifference) (\(differing) of \(count) values differ)")
            XCTAssertEqual(differing, 0, "\(dtype.rawValue): \(differing) of \(count) values differ from the scalar conversion")
        }
    }
}
