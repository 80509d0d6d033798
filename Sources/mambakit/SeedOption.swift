// SeedOption.swift — `--seed`: the seed of initialisation, data order and sampling.
import ArgumentParser

struct SeedOption: ParsableArguments {
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func validate() throws {}   // every UInt64 is a seed; the parser refuses the rest
}
