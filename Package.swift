// swift-tools-version:5.10
// MambaKit: selective state-space models (Mamba) on Linux CPUs.
import PackageDescription

let package = Package(
    name: "MambaKit",
    products: [
        .library(name: "MambaKit", targets: ["MambaKit"]),
        .library(name: "MambaText", targets: ["MambaText"]),
        .library(name: "MambaAudio", targets: ["MambaAudio"]),
        .library(name: "MambaDNA", targets: ["MambaDNA"]),
        .library(name: "MambaTasks", targets: ["MambaTasks"]),
        .executable(name: "mambakit", targets: ["mambakit"]),
        .executable(name: "custom-classifier", targets: ["custom-classifier"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation --target MambaKit` (DocC catalogs under Sources/*/*.docc)
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: System libraries (Debian: libfftw3-dev, libsndfile1-dev; OpenBLAS is loaded at run time, see Docs/BLAS.md)
        .systemLibrary(
            name: "_CFFTW", path: "Sources/_CFFTW", pkgConfig: "fftw3f",
            providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(
            name: "_CZlib", path: "Sources/_CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "_CSndFile", path: "Sources/_CSndFile", pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]),

        // MARK: Hot loops in C with runtime CPU dispatch (AVX-512 / AVX2 / portable), plus the OpenBLAS loader.
        .target(
            name: "_MambaKernels",
            path: "Sources/_MambaKernels",
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread"), .linkedLibrary("m")]),

        // MARK: The backbone (Swift)
        .target(name: "MambaKit", dependencies: ["_MambaKernels", "_CFFTW"]),

        // MARK: Front ends (know the backbone only through token ids / hidden states)
        .target(name: "MambaText", dependencies: ["MambaKit"]),
        .target(name: "MambaAudio", dependencies: ["MambaKit", "_CSndFile", "_CFFTW", "_CZlib"]),
        .target(name: "MambaDNA", dependencies: ["MambaKit", "_CZlib"]),
        // Synthetic sequence tasks (the Mamba paper's Selective Copying and Induction Heads, MQAR)
        .target(name: "MambaTasks", dependencies: ["MambaKit"]),

        // MARK: Command-line tool
        .executableTarget(
            name: "mambakit",
            dependencies: ["MambaKit", "MambaText", "MambaAudio", "MambaDNA", "MambaTasks", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: Examples built from the library's layers
        .executableTarget(
            name: "custom-classifier", dependencies: ["MambaKit", "MambaAudio", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/custom", exclude: ["fsdd_logmel.sh"]),

        .testTarget(
            name: "MambaKitTests",
            dependencies: ["MambaKit", "MambaText", "MambaAudio", "MambaDNA", "MambaTasks", "_MambaKernels", "_CFFTW", "_CSndFile", "_CZlib"],
            resources: [.copy("Fixtures")]),
    ]
)
