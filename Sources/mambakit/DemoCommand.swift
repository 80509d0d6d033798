// DemoCommand.swift — `mambakit demo`: the backbone alone on a random-init model (no data, no training).
import ArgumentParser
import Foundation
import MambaKit

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show the backbone at work: init a model, save/load it, score in both modes, prefill and generate.")

    @Option(help: "130m (D=768, 24 layers, V=50280) or tiny (D=256, 4 layers, V=256).") var shape: String = "130m"
    @Option(help: "Tokens scored in both modes.") var scoreLength: Int = 96
    @Option(help: "Prompt length for the prefill.") var promptLength: Int = 1024
    @Option(help: "Tokens to generate.") var generate: Int = 48
    @Option(help: "Random seed.") var seed: UInt64 = 7

    func validate() throws {
        guard ["130m", "tiny"].contains(shape) else { throw optionError(option: "--shape", value: shape, allowed: "must be 130m or tiny") }
        try Check.int(scoreLength, "--score-length", 2...1 << 20)
        try Check.int(promptLength, "--prompt-length", 1...1 << 20)
        try Check.int(generate, "--generate", 0...1 << 20)
    }

    func run() throws {
        print("MambaKit demo — back end: BLAS \(MambaRuntime.blasCoreName), kernels \(MambaRuntime.isa), \(Parallel.defaultThreads) threads")
        print("  \(MambaRuntime.blasNote)")
        let config: MambaConfig
        switch shape {
        case "130m": config = MambaConfig(dModel: 768, nLayer: 24, vocabSize: 50280)
        case "tiny": config = MambaConfig(dModel: 256, nLayer: 4, vocabSize: 256)
        default: throw CLIError.usage("unknown --shape \(shape): use 130m or tiny")
        }
        var t0 = Date()
        let fresh = try MambaModel.randomlyInitialised(config: config, seed: seed)
        print(String(format: "1. initialised a %@-shape model (%d parameters, mamba_ssm init) in %.1f s",
                     shape, fresh.parameterCount, Date().timeIntervalSince(t0)))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mambakit-demo-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        t0 = Date()
        try fresh.save(to: dir)
        let model = try MambaModel.load(directory: dir)
        print(String(format: "2. saved and reloaded it as a Hugging Face checkpoint (config.json + model.safetensors) in %.1f s", Date().timeIntervalSince(t0)))

        var rng = SeededRandom(seed: seed)
        let V = config.vocabSize
        let tokens = (0..<scoreLength).map { _ in Int32(rng.next() % UInt64(V)) }
        t0 = Date()
        let par = try model.logProbs(tokens: tokens, mode: .parallel)
        let tPar = Date().timeIntervalSince(t0)
        t0 = Date()
        let rec = try model.logProbs(tokens: tokens, mode: .recurrent)
        let tRec = Date().timeIntervalSince(t0)
        let maxDiff = zip(par, rec).map { abs($0 - $1) }.max() ?? 0
        let nll = -par.reduce(0.0) { $0 + Double($1) } / Double(par.count)
        print(String(format: "3. scored %d random tokens: nll %.4f nats (uniform would be %.4f); parallel %.3f s, recurrent %.3f s, max |difference| %.2e",
                     tokens.count, nll, Foundation.log(Double(V)), tPar, tRec, maxDiff))

        let prompt = (0..<promptLength).map { _ in Int32(rng.next() % UInt64(V)) }
        let state = model.makeState(batch: 1)
        t0 = Date()
        var logits = try model.prefill(prompt, state: state)
        let tPre = Date().timeIntervalSince(t0)
        var out: [Int32] = []
        t0 = Date()
        for _ in 0..<generate {
            var best = 0
            for v in 1..<V where logits[v] > logits[best] { best = v }
            out.append(Int32(best))
            logits = try model.step([Int32(best)], state: state)
        }
        let tGen = Date().timeIntervalSince(t0)
        print(String(format: "4. prefill of %d tokens: %.0f tokens/s; greedy generation of %d tokens: %.1f tokens/s (state: %d bytes, whatever the length)",
                     prompt.count, Double(prompt.count) / tPre, generate, Double(generate) / tGen, state.byteCount))
        print("   generated ids: " + out.prefix(16).map(String.init).joined(separator: " ") + (out.count > 16 ? " …" : ""))
        print("A random-init model predicts nothing useful: train one (mambakit quickstart, or mambakit train text|audio-lm|audio-classify|dna-lm|dna-classify) or load a checkpoint: mambakit score --model DIR --tokens FILE")
    }
}
