// swift-tools-version:5.10
// libFuzzer harnesses for MambaKit's parsers (issue #17). A separate package so the normal build
// never compiles them; it depends on the main package by path. Build and run with Scripts/fuzz.sh:
//   swift build -c release --scratch-path ../../.build-fuzz --sanitize=address -Xswiftc -sanitize=fuzzer
// Each executable is a libFuzzer binary: the harness defines `LLVMFuzzerTestOneInput` and an
// `@main` that hands it to libFuzzer's driver (FuzzSupport.runFuzzer). See Docs/Reliability.md.
import PackageDescription

let harnesses = ["safetensors", "config", "tokenizer", "sequence", "table", "audio", "tokenfile", "trainerstate"]

let package = Package(
    name: "MambaKitFuzz",
    dependencies: [.package(name: "MambaKit", path: "../..")],
    targets: [
        .target(name: "FuzzDriver", path: "Sources/FuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["FuzzDriver"], path: "Sources/FuzzSupport"),
    ] + harnesses.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [
                "FuzzSupport",
                .product(name: "MambaKit", package: "MambaKit"),
                .product(name: "MambaText", package: "MambaKit"),
                .product(name: "MambaAudio", package: "MambaKit"),
                .product(name: "MambaDNA", package: "MambaKit"),
            ],
            path: "Sources/fuzz-\(name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
