// OutputDirectoryOption.swift — `--out DIR`: where a command writes its models, metrics and pictures.
import ArgumentParser
import Foundation

struct OutputDirectoryOption: ParsableArguments {
    @Option(help: "Output directory (created when missing).") var out: String?

    func validate() throws {
        guard let o = out else { return }
        try Check.nonEmpty(o, "--out")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: o, isDirectory: &isDir), !isDir.boolValue {
            throw optionError(option: "--out", value: o, allowed: "is a file; give a directory")
        }
    }

    /// --out as a URL, or nil.
    var url: URL? { out.map { URL(fileURLWithPath: $0) } }

    /// --out, else `fallback`.
    func path(default fallback: String) -> String { out ?? fallback }

    /// --out, which the command needs.
    func required() throws -> String {
        guard let o = out else { throw optionError(option: "--out", value: "(missing)", allowed: "give the output directory") }
        return o
    }
}
