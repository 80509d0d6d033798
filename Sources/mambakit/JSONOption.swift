// JSONOption.swift — `--json`: machine-readable output.
import ArgumentParser

struct JSONOption: ParsableArguments {
    @Flag(help: "Print JSON (one object per line).") var json = false

    func validate() throws {}   // a flag: nothing to check
}
