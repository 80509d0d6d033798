// BenchCommand.swift — `mambakit bench gemm|scan|complex-scan|prefill|generate|… [--threads N] --json`.
import ArgumentParser
import Foundation
import MambaKit
import MambaText
import _MambaKernels

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput; one JSON object per line and measurement with --json.",
        discussion: """
            gemm:     sgemm (M=N=K=--size, default 2048) in GFLOP/s, with the OpenBLAS core name.
            scan:     fused selective-scan forward at (B=1, E=1536, L=2048, N=16) in elements/s (B·E·L·N).
            complex-scan: the complex selective scan (ssm_mixer complex), forward and backward, same shape and units
                      (N complex states).
            prefill:  tokens/s of a random-init mamba-130m-shape model (D=768, 24 layers, V=50280) on a 2048-token prompt;
                      --shape mamba2-130m measures state-spaces/mamba2-130m's shape (Mamba-2 blocks, chunked SSD).
            generate: tokens/s of the recurrent path, batch 1 and batch 8, same model.
                      prefill and generate take --weights f32|f16|bf16|int8 (the matrices' precision) and --model DIR.
            train:    tokens/s and peak RSS of full training steps (forward, backward, AdamW): tiny (D=256, 4 layers,
                      V=256, L=512, B=8) and 130m (L=512, B=1); --shape mamba2-tiny / mamba2-130m for Mamba-2 blocks.
            classify: sequence-classification training steps and inference (D=128, 4 layers, V=16 as for DNA; --length,
                      --batch; unidirectional, or --bidirectional) in tokens/s.
            convert:  reading F16 and BF16 safetensors (8 Mi values) into float32, values/s and GB/s of input, one thread.
            tokenize: BPE encoding speed (MB/s, one core, cold merge cache) of --tokenizer on --text.
            generate-audio: samples/s of waveform generation (256 classes, batch 1, temperature 1, ≥ 4,096 samples)
                      for flat models (D=64 with 2 and 10 blocks, D=128 with 10) and a U-Net D=64, pool 4×4, 2 blocks per stage.
            tasks:    training steps/s of each synthetic task (selective copying at spread 256, induction heads and MQAR
                      at length 256, or --length; D=64, 2 layers, --batch default 16) with each mixer.
            allreduce: under mpirun -np N: the gradient sum of data-parallel training (MPI_Allreduce, floats, in place)
                      from 4 KiB to 64 MiB: seconds, algorithm and bus bandwidth (Docs/Distributed.md); not part of all.
            all:      every one of the above in turn (tokenize is skipped with a note when --text is missing).
            Without --threads, gemm, scan, complex-scan, prefill and generate run on 1 thread and on all cores; train, classify and tasks on all cores.
            """)

    enum Which: String, ExpressibleByArgument, CaseIterable {
        case gemm, scan, complexScan = "complex-scan", prefill, generate, generateAudio = "generate-audio", train, classify, convert, tokenize, tasks, allreduce, all
    }

    @Argument(help: "gemm, scan, complex-scan, prefill, generate, generate-audio, train, classify, convert, tokenize, tasks, allreduce or all.") var which: Which
    @OptionGroup var threadsOption: ThreadsOption
    var threads: Int? { threadsOption.threads }
    @Option(name: .customLong("shape"), help: "Shape: 130m (D=768, 24 layers, V=50280), tiny (D=256, 4 layers, V=256), or their Mamba-2 forms mamba2-130m (D=768, 24 layers, V=50288, N=128, head_dim 64, 1 group, chunk 256, tied) and mamba2-tiny (D=256, 4 layers, N=64, head_dim 64); train also takes all (tiny and 130m, the default for train).")
    var shapeOption: String?
    var shape: String { shapeOption ?? "130m" }
    var trainShapeGiven: Bool { shapeOption != nil }
    @Option(help: "train: tokens per window (default 512).") var length: Int?
    @Option(help: "train: windows per step (default: 8 for tiny, 1 for 130m).") var batch: Int?
    @Option(help: "train: truncated-backprop chunk length (0 = whole window).") var chunkLen: Int = 0
    @Option(help: "Prompt length for prefill.") var promptLength: Int = 2048
    @Option(help: "Tokens generated per measurement.") var steps: Int = 64
    @Option(help: "Matrix size for gemm.") var size: Int = 2048
    @Option(help: "Repetitions; the best is reported.") var repeats: Int = 3
    @Option(help: "tokenize: a tokenizer.json (default: the GPT-NeoX-20B test fixture).")
    var tokenizer: String = "Tests/MambaKitTests/Fixtures/tokenizers/neox/tokenizer.json"
    @Option(help: "tokenize: the text to encode (default: Tiny Shakespeare from ../shared/datasets).")
    var text: String = "../shared/datasets/tinyshakespeare/input.txt"
    @Flag(help: "classify: the BiMamba (bidirectional) classifier.") var bidirectional = false
    @OptionGroup var weightsOption: WeightsOption
    @Option(name: .customLong("model"), help: "prefill, generate: a language-model directory to measure instead of the random-init --shape model.")
    var modelPath: String?
    @OptionGroup var output: JSONOption
    var json: Bool { output.json }

    func validate() throws {
        if let s = shapeOption, !(BenchCommand.shapeNames + ["all"]).contains(s) {
            throw optionError(option: "--shape", value: s, allowed: "must be one of \((BenchCommand.shapeNames + ["all"]).joined(separator: ", "))")
        }
        try Check.int(length, "--length", 1...ScheduleOptions.maxSeqLen)
        try Check.int(batch, "--batch", 1...Check.maxBatchTokens)
        if let l = length, let b = batch, l * b > Check.maxBatchTokens {
            throw optionError(option: "--batch", value: "\(b)", allowed: "with --length \(l) that is \(l * b) tokens per step; at most 2^26 (\(Check.maxBatchTokens)) fit")
        }
        try Check.int(chunkLen, "--chunk-len", 0...ScheduleOptions.maxSeqLen)
        try Check.int(promptLength, "--prompt-length", 1...ScheduleOptions.maxSeqLen)
        try Check.int(steps, "--steps", 1...1 << 20)
        try Check.int(size, "--size", 1...16384)
        try Check.int(repeats, "--repeats", 1...1000)
    }

    var threadList: [Int] {
        if let t = threads { return [t] }
        let all = Parallel.defaultThreads
        return all > 1 ? [1, all] : [1]
    }

    func emit(_ fields: [(String, String)]) {
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            print(fields.map { "\($0.0)=\($0.1.replacingOccurrences(of: "\"", with: ""))" }.joined(separator: " "))
        }
        fflush(stdout)
    }

    func run() throws {
        switch which {
        case .gemm: benchGemm()
        case .scan: benchScan()
        case .complexScan: benchComplexScan()
        case .prefill: try benchPrefill()
        case .generate: try benchGenerate()
        case .generateAudio: try benchGenerateAudio()
        case .train: try benchTrain()
        case .classify: try benchClassify()
        case .convert: try benchConvert()
        case .tokenize: try benchTokenize()
        case .tasks: try benchTasks()
        case .allreduce: try benchAllreduce()
        case .all:
            benchGemm(); benchScan(); benchComplexScan(); try benchPrefill(); try benchGenerate(); try benchGenerateAudio(); try benchTrain(); try benchClassify()
            try benchTasks(); try benchConvert()
            if FileManager.default.fileExists(atPath: text) { try benchTokenize() } else {
                stderrLine("bench tokenize: skipped — \(text) is missing (pass --text FILE)")
            }
        }
    }

    /// Best wall time of `repeats` runs of `body`, after one warm-up run.
    func bestTime(_ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return best
    }

    // MARK: - tokenize

    /// BPE encoding speed on one core, MB of UTF-8 per second (a fresh tokenizer: cold merge cache).
    func benchTokenize() throws {
        let corpus = try TextCorpus.readText(path: text)
        var best = Double.infinity, count = 0
        for _ in 0..<max(1, repeats) {
            let tok = try BPETokenizer(contentsOfFile: tokenizer)
            let t0 = DispatchTime.now().uptimeNanoseconds
            count = tok.encode(corpus).count
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        emit([("bench", "\"tokenize\""), ("threads", "1"), ("mb_per_second", String(format: "%.1f", Double(corpus.utf8.count) / best / 1e6)),
              ("bytes", "\(corpus.utf8.count)"), ("tokens", "\(count)"), ("tokenizer", jsonString(tokenizer))])
    }

    // MARK: - gemm

    func benchGemm() {
        let n = size
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        var rng = SeededRandom(seed: 1)
        for i in 0..<(n * n) { a[i] = rng.uniform(-1, 1); b[i] = rng.uniform(-1, 1) }
        for t in threadList {
            MambaRuntime.blasThreads = t
            let s = bestTime { mk_sgemm(0, 0, Int32(n), Int32(n), Int32(n), 1, a.pointer, Int32(n), b.pointer, Int32(n), 0, c.pointer, Int32(n)) }
            emit([("bench", "\"gemm\""), ("threads", "\(t)"), ("gflops", String(format: "%.1f", 2.0 * Double(n * n * n) / s / 1e9)),
                  ("m", "\(n)"), ("n", "\(n)"), ("k", "\(n)"), ("corename", jsonString(MambaRuntime.blasCoreName)),
                  ("note", jsonString(MambaRuntime.blasNote))])
        }
        MambaRuntime.blasThreads = Parallel.defaultThreads
    }

    // MARK: - scan

    func benchScan() {
        let B = 1, E = 1536, L = 2048, N = 16
        var rng = SeededRandom(seed: 2)
        let u = FloatBuffer(count: B * L * E), dt = FloatBuffer(count: B * L * E), z = FloatBuffer(count: B * L * E)
        let y = FloatBuffer(count: B * L * E), bc = FloatBuffer(count: B * L * 2 * N)
        let A = FloatBuffer(count: E * N), Dp = FloatBuffer(count: E), bias = FloatBuffer(count: E)
        let h = FloatBuffer(count: B * E * N)
        for i in 0..<u.count { u[i] = rng.normal(); dt[i] = rng.normal() - 2; z[i] = rng.normal() }
        for i in 0..<bc.count { bc[i] = rng.normal() }
        for e in 0..<E { Dp[e] = 1; bias[e] = rng.uniform(-4, -1); for n in 0..<N { A[e * N + n] = -Float(n + 1) } }
        for t in threadList {
            let s = bestTime {
                Parallel.forRanges(E, threads: t, align: 16, costPerItem: 1 << 20) { r in
                    var scan = mk_scan_params(u: u.pointer, ld_u: Int32(E), delta: dt.pointer, ld_delta: Int32(E), A: A.pointer,
                                              Bm: bc.pointer, Cm: bc.pointer + N, ld_bc: Int32(2 * N),
                                              D: Dp.pointer, delta_bias: bias.pointer, delta_softplus: 1, z: z.pointer, ld_z: Int32(E),
                                              y: y.pointer, ld_y: Int32(E), h0: nil, h_last: h.pointer,
                                              Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N))
                    mk_scan_fwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
                }
            }
            let elems = Double(B * E * L * N)
            emit([("bench", "\"scan\""), ("threads", "\(t)"), ("elements_per_second", String(format: "%.4g", elems / s)),
                  ("batch", "\(B)"), ("d_inner", "\(E)"), ("length", "\(L)"), ("d_state", "\(N)"), ("isa", jsonString(MambaRuntime.isa))])
        }
        // Backward (states recomputed inside): du, dΔ, dz, dA, dD, dΔ-bias, dB, dC; per-thread dB/dC buffers.
        let dy = FloatBuffer(count: B * L * E), du = FloatBuffer(count: B * L * E), ddt = FloatBuffer(count: B * L * E)
        let dz = FloatBuffer(count: B * L * E), dA = FloatBuffer(count: E * N), dD = FloatBuffer(count: E), dBias = FloatBuffer(count: E)
        for i in 0..<dy.count { dy[i] = rng.normal() }
        for t in threadList {
            let dbc = FloatBuffer(count: t * B * L * 2 * N)
            let s = bestTime {
                Parallel.forParts(E, threads: t, align: 16) { part, r in
                    let mine = dbc.pointer + part * B * L * 2 * N
                    var scan = mk_scan_bwd_params(
                        fwd: mk_scan_params(u: u.pointer, ld_u: Int32(E), delta: dt.pointer, ld_delta: Int32(E), A: A.pointer,
                                            Bm: bc.pointer, Cm: bc.pointer + N, ld_bc: Int32(2 * N),
                                            D: Dp.pointer, delta_bias: bias.pointer, delta_softplus: 1, z: z.pointer, ld_z: Int32(E),
                                            y: nil, ld_y: 0, h0: nil, h_last: nil,
                                            Bsz: Int32(B), L: Int32(L), E: Int32(E), N: Int32(N)),
                        dy: dy.pointer, ld_dy: Int32(E), du: du.pointer, ld_du: Int32(E), ddelta: ddt.pointer, ld_ddelta: Int32(E),
                        dz: dz.pointer, ld_dz: Int32(E), dA: dA.pointer, dD: dD.pointer, ddelta_bias: dBias.pointer,
                        dBm: mine, dCm: mine + N, ld_dbc: Int32(2 * N), dh0: nil)
                    mk_scan_bwd(&scan, Int32(r.lowerBound), Int32(r.upperBound))
                }
            }
            emit([("bench", "\"scan_backward\""), ("threads", "\(t)"),
                  ("elements_per_second", String(format: "%.4g", Double(B * E * L * N) / s)),
                  ("batch", "\(B)"), ("d_inner", "\(E)"), ("length", "\(L)"), ("d_state", "\(N)"), ("isa", jsonString(MambaRuntime.isa))])
        }
    }

    // MARK: - models

    static let shapeNames = ["130m", "tiny", "mamba2-130m", "mamba2-tiny"]

    /// The model of a --shape name: mamba-130m's and state-spaces/mamba2-130m's dimensions, and a tiny form of each.
    static func shapeConfig(_ name: String) throws -> MambaConfig {
        switch name {
        case "130m": return MambaConfig(dModel: 768, nLayer: 24, vocabSize: 50280)
        case "tiny": return MambaConfig(dModel: 256, nLayer: 4, vocabSize: 256)
        case "mamba2-130m": return .mamba2(dModel: 768, nLayer: 24, vocabSize: 50288, dState: 128, headDim: 64, nGroups: 1, chunkSize: 256)
        case "mamba2-tiny": return .mamba2(dModel: 256, nLayer: 4, vocabSize: 256, dState: 64, headDim: 64, nGroups: 1, chunkSize: 256)
        default: throw CLIError.usage("unknown --shape \(name): use one of \(shapeNames.joined(separator: ", "))")
        }
    }

    func benchConfig() throws -> MambaConfig { try BenchCommand.shapeConfig(shape) }

    func makeModel() throws -> MambaModel {
        let c = try benchConfig()
        return try MambaModel.randomlyInitialised(config: c, seed: 42)
    }

    /// The model prefill and generate measure: --model (with --weights), or the random --shape model converted to --weights.
    func makeInferenceModel() throws -> MambaModel {
        if let p = modelPath { return try MambaModel.load(directory: resolveModelDirectory(p), weights: weightsOption.weights) }
        let m = try makeModel()
        m.convertWeights(to: weightsOption.weights ?? .f32)
        return m
    }

    /// The fields every prefill/generate line carries about the weights.
    func weightFields(_ m: MambaModel) -> [(String, String)] {
        [("weights", jsonString(m.weightFormat.rawValue)), ("kernel", jsonString(m.weightFormat.kernel)),
         ("weight_bytes", "\(m.weightBytes)"), ("model", jsonString(modelPath ?? "random-\(shape)"))]
    }

    func benchPrefill() throws {
        let model = try makeInferenceModel()
        var rng = SeededRandom(seed: 3)
        let prompt = (0..<promptLength).map { _ in Int32(rng.next() % UInt64(model.config.vocabSize)) }
        for t in threadList {
            model.threads = t
            MambaRuntime.blasThreads = t
            let s = try bestTime { _ = try model.prefill(prompt, state: model.makeState(batch: 1)) }
            emit([("bench", "\"prefill\""), ("threads", "\(t)"), ("tokens_per_second", String(format: "%.1f", Double(prompt.count) / s)),
                  ("batch", "1"), ("prompt_length", "\(prompt.count)"), ("shape", jsonString(modelPath == nil ? shape : "model")),
                  ("parameters", "\(model.parameterCount)"), ("corename", jsonString(MambaRuntime.blasCoreName))] + weightFields(model))
        }
        MambaRuntime.blasThreads = Parallel.defaultThreads
    }

    func benchGenerate() throws {
        let model = try makeInferenceModel()
        for t in threadList {
            model.threads = t
            MambaRuntime.blasThreads = t
            for batch in [1, 8] {
                let state = model.makeState(batch: batch)
                var tokens = (0..<batch).map { Int32($0 % model.config.vocabSize) }
                let V = model.config.vocabSize
                let s = try bestTime {
                    state.reset()
                    for _ in 0..<steps {
                        let logits = try model.step(tokens, state: state)
                        for b in 0..<batch {   // greedy next token
                            var best = 0
                            for v in 1..<V where logits[b * V + v] > logits[b * V + best] { best = v }
                            tokens[b] = Int32(best)
                        }
                    }
                }
                emit([("bench", "\"generate\""), ("threads", "\(t)"),
                      ("tokens_per_second", String(format: "%.1f", Double(batch * steps) / s)),
                      ("batch", "\(batch)"), ("steps", "\(steps)"), ("shape", jsonString(modelPath == nil ? shape : "model")),
                      ("parameters", "\(model.parameterCount)")] + weightFields(model))
            }
        }
        MambaRuntime.blasThreads = Parallel.defaultThreads
    }
}
