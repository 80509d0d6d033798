// TestSupport.swift — fixtures, temporary directories, comparisons.
import Foundation
import MambaKit
import XCTest
import _MambaKernels

enum Fixtures {
    /// Tests/MambaKitTests/Fixtures (copied into the test bundle).
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }
    static func dir(_ name: String) -> URL { root.appendingPathComponent(name) }
    static let modelNames = ["tiny_f32", "odd_untied", "bf16_weights", "f16_weights", "mamba_ssm_sharded", "long_seq"]

    static func tokens(_ name: String) throws -> [Int32] {
        let text = try String(contentsOf: dir(name).appendingPathComponent("tokens.txt"), encoding: .utf8)
        return text.split(whereSeparator: { $0.isWhitespace }).map { Int32($0)! }
    }
    static func expected(_ name: String, _ tensor: String) throws -> [Float] {
        try SafetensorsFile(url: dir(name).appendingPathComponent("expected.safetensors")).floats(tensor)
    }
}

/// A fresh temporary directory, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mambakit-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// d(mean NLL)/d(every parameter) of `model` on `tokens` against a fixture's `grads.safetensors` (PyTorch
/// autograd, with its `nll`): asserts the NLL within 1e-5 and each tensor within `tolerance` relative to its
/// largest magnitude; returns the NLL and the worst tensor with its relative error.
@discardableResult
func assertGradientsMatchFixture(_ model: MambaModel, tokens: [Int32], fixture: String, tolerance: Float = 1e-3,
                                 file: StaticString = #filePath, line: UInt = #line) throws -> (nll: Double, worst: String, error: Float) {
    let (nll, g) = try model.meanNLLGradient(tokens: tokens)
    let ref = try SafetensorsFile(url: Fixtures.dir(fixture).appendingPathComponent("grads.safetensors"))
    XCTAssertEqual(nll, Double(try ref.floats("nll")[0]), accuracy: 1e-5, file: file, line: line)
    var worst: (String, Float) = ("", 0)
    for s in model.layout.slices {
        let want = try ref.floats(s.name)
        let scale = max(want.map(abs).max() ?? 0, 1e-12)
        let rel = maxAbsDiff(Array(g.slice(s.range)), want) / scale
        if rel > worst.1 { worst = (s.name, rel) }
        XCTAssertLessThan(rel, tolerance, "\(fixture) \(s.name)", file: file, line: line)
    }
    return (nll, worst.0, worst.1)
}

/// The built `mambakit` executable, next to the test bundle.
var mambakitExecutable: URL {
    var dir = Bundle.module.bundleURL.deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("mambakit")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("mambakit")
}

struct ProcessResult { var status: Int32; var stdout: String; var stderr: String }

/// Runs the CLI with arguments (and extra environment, without the variables of `unsetting`), capturing output.
func runCLI(_ args: [String], environment: [String: String] = [:], unsetting: [String] = []) throws -> ProcessResult {
    let p = Process()
    p.executableURL = mambakitExecutable
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    for k in unsetting { env[k] = nil }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

// MARK: - Kernel tests

/// The ISA levels this machine can run (portable, AVX2, AVX-512), each forced in turn; forcing is undone at the end.
func forEachISA(_ body: (Int32) throws -> Void) rethrows {
    defer { mk_force_isa(-1) }
    for isa in 0...mk_cpu_isa_detected() {
        mk_force_isa(isa)
        try body(isa)
    }
}

func isaName(_ isa: Int32) -> String { String(cString: mk_isa_name(isa)) }

/// Sentinel for outputs a kernel must not touch (outside its channel range, row padding).
let untouched: Float = -12345.0
