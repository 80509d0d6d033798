// DNACommands.swift — `train dna-classify`, `train dna-lm`, `eval dna-classify`, `eval dna-lm`,
// `data dna-species`.
import ArgumentParser
import Foundation
import MambaDNA
import MambaKit

// MARK: - Shared helpers

/// The model, its directory and its DNA settings (dna.json, optional for models trained elsewhere).
func loadDNAModel(_ model: ModelDirectoryOption) throws -> (MambaModel, URL, DNASettings?) {
    let settings = try DNASettings.load(from: model.directory)   // a different tokenizer is an error
    let (m, dir) = try model.load()
    try checkNucleotideVocabulary(m.config.vocabSize, dir)
    return (m, dir, settings)
}

/// A model for DNA needs the nucleotide tokenizer's 10 ids.
func checkNucleotideVocabulary(_ vocabSize: Int, _ dir: URL) throws {
    guard vocabSize >= NucleotideTokenizer().vocabularySize else {
        throw CLIError.usage("\(dir.path): the model's vocabulary has \(vocabSize) ids; the nucleotide tokenizer needs 10")
    }
}

/// Held-out examples of a data set: `preferred` split names tried in order.
func heldOutDNA(_ ds: DNADataset, preferred: [String]) throws -> [LabeledDNA]? {
    for s in preferred where ds.hasSplit(s) { return try ds.examples(split: s, allIfUnsplit: false) }
    return nil
}

// MARK: - train dna-classify

struct TrainDNAClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dna-classify",
        abstract: "Train a DNA sequence classifier: bases → Mamba backbone → pooling → linear → softmax.",
        discussion: """
            Data (plain or .gz): a CSV/TSV of sequence,label rows; a directory with train/dev/test CSVs (the GUE
            layout); DIR/<label>/*.fa (every record labelled by its folder), optionally under DIR/train, DIR/test.
            Each step draws --batch-size sequences; longer ones than --seq-len are randomly cropped. Reverse-
            complement augmentation (probability 1/2) is on unless --no-rc-augment. --bidirectional adds Caduceus-
            style reverse-direction mixers. --init DIR fine-tunes from a pretrained checkpoint (e.g. train dna-lm).
            Validation (accuracy, MCC) uses --val, else the data's dev/valid split, else its test split.
            Example: mambakit train dna-classify --data ../shared/datasets/gue/prom_core_notata --seq-len 70 \\
                     --d-model 128 --n-layer 4 --steps 1000 --batch-size 32 --lr 2e-3 --out runs/prom
            """)

    @Option(help: "Labelled data: CSV/TSV file, GUE-style directory, or class directories.") var data: String
    @Option(help: "Held-out data (default: the data's dev/valid split, else test).") var val: String?
    @Option(help: "Split of --data to train on.") var split: String = "train"
    @Option(help: "Pooling over positions: mean or last.") var pooling: Pooling = .mean
    @Flag(help: "Bidirectional backbone (BiMamba: reverse-direction mixers sharing in/out projections).") var bidirectional = false
    @Flag(help: "RC-equivariant backbone (Caduceus-PS: each sequence and its reverse complement through one set of parameters; the head averages both, so predictions are strand-invariant by construction).")
    var rcEquivariant = false
    @Flag(inversion: .prefixedNo, help: "Reverse-complement augmentation with probability 1/2.") var rcAugment = true
    @Flag(help: "Validate with reverse-complement test-time averaging.") var rcAverage = false
    @OptionGroup var evalEvery: EvalEveryOption
    @Option(help: "Held-out examples scored per validation (evenly strided; 0 = all).") var evalExamples: Int = 2000
    @OptionGroup var train: TrainingArguments

    func validate() throws {
        try Check.int(evalExamples, "--eval-examples", 0...Int.max)
    }

    func run() throws {
        let ds = try DNADataset.open(data)
        let trainData = try ds.examples(split: split)
        let augment = rcAugment ? DNAClassifier.reverseComplementAugment : nil
        let labels = try train.labels {
            let labels = DNADataset.labels(of: trainData)
            guard labels.count >= 2 else { throw DataError.tooFewClasses(path: ds.source, labels: labels, kind: .dna) }
            return labels
        }
        let ex = try DNAClassifier.examples(trainData, labels: labels)
        let (trainer, classifier) = try train.trainer(examples: ex, augment: augment, source: data) {
            if let i = train.model.initFrom { _ = try DNASettings.load(from: resolveModelDirectory(i)) }   // another tokenizer is an error
            let c = try train.makeClassifier(labels: labels, pooling: pooling, bidirectional: bidirectional,
                                             defaultVocab: NucleotideTokenizer().vocabularySize, minVocab: 10, what: "the nucleotide tokenizer")
            return rcEquivariant && !c.backboneConfig.rcps ? try c.withRCEquivariance(complementMap: DNALM.complementMap(vocabSize: c.vocabSize)) : c
        }
        var heldOut: [LabeledDNA]? = nil
        if let v = val { heldOut = try DNADataset.open(v).examples(split: "test") }
        else if split != "test" { heldOut = try heldOutDNA(ds, preferred: ["dev", "test"]) }
        let validation = try heldOut.map { try DNAClassifier.examples(DNAClassifier.subsample($0, limit: evalExamples), labels: labels) }
        let settings = DNASettings(task: "classify", rcAugment: rcAugment)
        let run = TrainingRun.dnaClassifier(trainer: trainer, settings: settings, validation: validation,
                                            evalEvery: evalEvery.interval(default: 200, steps: trainer.options.steps), rcAverage: rcAverage,
                                            outDirectory: train.out)
        let lengths = trainData.map(\.sequence.count)
        try train.execute(run, summary: "training a \(labels.count)-class DNA classifier (\(classifier.parameterCount) parameters, \(classifier.head.pooling.rawValue) pooling" +
                   (classifier.head.bidirectional ? ", bidirectional" : "") + (classifier.backboneConfig.rcps ? ", RC-equivariant" : "") +
                   (rcAugment ? ", RC augmentation" : "") +
                   ") on \(trainData.count) sequences of \(lengths.min() ?? 0)–\(lengths.max() ?? 0) bp" +
                   (validation.map { ", validating on \($0.count)" } ?? ""))
    }
}

// MARK: - train dna-lm

struct TrainDNALMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dna-lm",
        abstract: "Pretrain a DNA language model on FASTA/FASTQ files (plain or .gz): next-base (causal) or masked (bidirectional, RC-equivariant).",
        discussion: """
            Records are tokenized (A C G T N; ambiguity codes → N; soft-masked bases as bases) and concatenated, each
            after one <eos> separator; windows of --seq-len bases are drawn from the stream. A causal model learns
            next-base prediction; a --bidirectional or --rc-equivariant one (Caduceus) masked-LM: --mask-probability
            of the positions predicted, of them 80 % <mask>, 10 % a random base, 10 % kept. --warmup-length starts
            with short windows and doubles them every --stage-steps steps up to --seq-len, the batch growing to keep
            the bases per step (HyenaDNA's sequence-length warm-up). Validation uses --val: bits per base (causal:
            records scored from a fresh state, state carried across chunks; masked: bits per masked base over
            --seq-len windows, the same masks every time).
            A checkpoint can then be fine-tuned: mambakit train dna-classify --init DIR ….
            Example: mambakit train dna-lm --data genome.fa.gz --val other.fa.gz --seq-len 1024 --d-model 128 \\
                     --n-layer 4 --steps 500 --out runs/dna-lm
            """)

    @Option(parsing: .upToNextOption, help: "FASTA/FASTQ files to train on.") var data: [String]
    @Option(parsing: .upToNextOption, help: "Held-out FASTA/FASTQ files.") var val: [String] = []
    @Option(help: "Use at most this many training bases.") var maxBases: Int?
    @OptionGroup var evalEvery: EvalEveryOption
    @Option(help: "Held-out bases scored per validation.") var evalBases: Int = 65536
    @Flag(help: "Bidirectional backbone (BiMamba), pretrained by masked LM (new models).") var bidirectional = false
    @Flag(help: "RC-equivariant backbone (Caduceus-PS), pretrained by masked LM (new models).") var rcEquivariant = false
    @Option(help: "Masked LM: the fraction of positions predicted (default 0.15; a resumed or --init masked LM keeps the one in its dna.json).") var maskProbability: Double?
    @OptionGroup var warmup: LengthWarmupOptions
    @OptionGroup var train: TrainingArguments

    func validate() throws {
        try Check.int(maxBases, "--max-bases", 1...Int.max)
        try Check.int(evalBases, "--eval-bases", 1...Int(Int32.max))
        if let q = maskProbability, let p = DNALM.masking(probability: q).problem {
            throw optionError(option: "--mask-probability", value: "\(q)", allowed: p)
        }
        try Check.int(warmup.warmupLength, "--warmup-length", 1...train.seqLen)
    }

    func run() throws {
        let stream = try DNALM.tokenStream(paths: data, maxBases: maxBases)
        guard stream.count >= train.seqLen + 1 else {
            throw DataError.tooShort(path: data.joined(separator: ", "), count: stream.count, need: train.seqLen + 1, unit: "bases", hint: "use a shorter --seq-len or more data", kind: .dna)
        }
        var validation: [[UInt8]]? = nil
        if !val.isEmpty {
            var recs: [[UInt8]] = [], n = 0
            for p in val {
                let r = try SequenceReader(path: p)
                while n < evalBases, let rec = try r.next() { recs.append(Array(rec.sequence.prefix(evalBases - n))); n += recs.last!.count }
            }
            validation = recs
        }
        let source = data.joined(separator: ",")
        let masking = try DNALM.masking(probability: maskProbabilityOfRun())
        func objective(_ m: MambaModel, seqLen: Int) throws -> any TrainingObjective {
            m.config.readsBothDirections
                ? try MaskedLMObjective(model: m, tokens: stream, seqLen: seqLen, masking: masking, source: source)
                : try LanguageModelObjective(model: m, tokens: stream, seqLen: seqLen, source: source)
        }
        let trainer: Trainer
        if let r = train.model.resume {
            trainer = try Trainer.resume(from: URL(fileURLWithPath: r), steps: train.schedule.steps) { ck, o in
                try objective(MambaModel.load(directory: ck), seqLen: o.seqLen)
            }
        } else {
            let m = try train.makeModel(defaultVocab: NucleotideTokenizer().vocabularySize, minVocab: 10, what: "the nucleotide tokenizer") { c in
                if bidirectional { c.bidirectional = true }
                if rcEquivariant { c.rcps = true; c.complementMap = DNALM.complementMap(vocabSize: c.vocabSize) }
            }
            if (bidirectional && !m.config.bidirectional) || (rcEquivariant && !m.config.rcps) {
                throw CLIError.usage("--init \(train.model.initFrom ?? ""): the model is \(m.config.bidirectional ? "bidirectional" : "causal")\(m.config.rcps ? ", RC-equivariant" : ""); --bidirectional and --rc-equivariant apply to new models (--config or the size options)")
            }
            var o = train.options()
            o.lengthWarmup = warmup.schedule
            trainer = try Trainer(objective: objective(m, seqLen: o.seqLen), options: o)
        }
        let masked = trainer.model.config.readsBothDirections
        let run = TrainingRun.dnaLM(trainer: trainer, validation: validation, evalEvery: evalEvery.interval(default: 200, steps: trainer.options.steps),
                                    evalBases: evalBases, outDirectory: train.out, masking: masked ? masking : nil)
        let w = trainer.options.lengthWarmup.map { w in
            ", length warm-up " + w.stages(steps: trainer.options.steps, seqLen: trainer.options.seqLen, batchSize: trainer.options.batchSize)
                .map { "\($0.length)×\($0.batch) from step \($0.step)" }.joined(separator: ", ")
        } ?? ""
        let kind = masked ? "masked DNA LM (\(trainer.model.config.rcps ? "RC-equivariant BiMamba" : "bidirectional"))" : "causal DNA LM"
        try train.execute(run, summary: "training a \(kind) (\(trainer.model.parameterCount) parameters) on \(stream.count) tokens of \(data.joined(separator: ", "))" +
                   w + (validation.map { ", validating on \($0.reduce(0) { $0 + $1.count }) bases" } ?? ""))
    }
}

extension TrainDNALMCommand {
    /// --mask-probability, else that of the resumed or --init model's dna.json, else 0.15. A resumed run
    /// must mask as it started: a different --mask-probability is refused, naming the file.
    func maskProbabilityOfRun() throws -> Double {
        guard let dir = (train.model.resume ?? train.model.initFrom).map(resolveModelDirectory) else { return maskProbability ?? 0.15 }
        let saved = try DNASettings.load(from: dir)?.maskProbability
        if train.model.resume != nil, let q = maskProbability, let was = saved, q != was {
            throw optionError(option: "--mask-probability", value: "\(q)",
                              allowed: "\(dir.appendingPathComponent(DNASettings.fileName).path) says this run masks \(was); leave --mask-probability out to resume it")
        }
        return maskProbability ?? saved ?? 0.15
    }
}

// MARK: - eval

struct EvalDNAClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dna-classify",
        abstract: "Accuracy, MCC, F1 and confusion matrix of a DNA classifier on labelled data.",
        discussion: "MCC is the multiclass Matthews correlation (Gorodkin R_K), as GUE and the Nucleotide Transformer benchmarks report.")

    @OptionGroup var model: ModelDirectoryOption
    @Option(help: "Labelled data: CSV/TSV file, GUE-style directory, or class directories.") var data: String
    @Option(help: "Split to score (default: test when the data has splits).") var split: String = "test"
    @Flag(help: "Average the softmax of each sequence and its reverse complement.") var rcAverage = false
    @Option(help: "Score at most N examples (evenly strided; 0 = all).") var maxExamples: Int = 0
    @Option(help: "Keep only the first N bases of each sequence (0 = whole sequences).") var maxLength: Int = 0
    @OptionGroup var output: JSONOption

    func validate() throws {
        try Check.int(maxExamples, "--max-examples", 0...Int.max)
        try Check.int(maxLength, "--max-length", 0...Int.max)
    }

    func run() throws {
        _ = try DNASettings.load(from: model.directory)   // a different tokenizer is an error
        let (m, dir) = try model.loadClassifier(otherwise: "eval dna-lm")
        try checkNucleotideVocabulary(m.vocabSize, dir)
        let ds = try DNADataset.open(data)
        var rows = DNAClassifier.subsample(try ds.examples(split: split), limit: maxExamples)
        if maxLength > 0 { for i in rows.indices { rows[i].sequence = Array(rows[i].sequence.prefix(maxLength)) } }
        let ex = try DNAClassifier.examples(rows, labels: m.labels)
        let t0 = Date()
        let metrics = try evaluateClassifier(examples: ex, labels: m.labels, progress: Progress(.stderr)) {
            try DNAClassifier.predict(model: m, sequences: $0, rcAverage: rcAverage)
        }
        let secs = Date().timeIntervalSince(t0)
        if output.json {
            print(metrics.json(extra: ["rc_average": rcAverage ? "true" : "false", "seconds": jsonNumber(secs)]))
        } else {
            print(String(format: "%d sequences: accuracy %.4f, MCC %.4f, F1 %.4f%@ (%.1f s)", metrics.count, metrics.accuracy, metrics.mcc, metrics.f1,
                         rcAverage ? " with RC averaging" : "", secs))
            print("confusion [true][predicted] over \(metrics.labels):")
            for (l, row) in zip(metrics.labels, metrics.confusion) { print("  \(l): \(row)") }
        }
    }
}

struct EvalDNALMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dna-lm",
        abstract: "Bits per base of a DNA language model on FASTA/FASTQ files (streamed; state carried within records).")

    @OptionGroup var model: ModelDirectoryOption
    @Option(parsing: .upToNextOption, help: "FASTA/FASTQ files (plain or .gz).") var data: [String]
    @Option(help: "Score only the first N bases in all.") var maxBases: Int?
    @Option(help: "Bases per parallel chunk (state carried between chunks); a masked LM's window length.") var chunkLength: Int = 4096
    @Option(help: "Masked LM: the fraction of positions predicted (default: the model's, from its dna.json, else 0.15).") var maskProbability: Double?
    @OptionGroup var output: JSONOption

    func validate() throws {
        try Check.int(maxBases, "--max-bases", 1...Int.max)
        try Check.int(chunkLength, "--chunk-length", 1...ScheduleOptions.maxSeqLen)
        if let q = maskProbability, let p = DNALM.masking(probability: q).problem {
            throw optionError(option: "--mask-probability", value: "\(q)", allowed: p)
        }
    }

    func run() throws {
        let (m, _, settings) = try loadDNAModel(model)
        guard m.config.numLabels == 0 else { throw CLIError.usage("this model is a classifier — use `eval dna-classify`") }
        let probability = maskProbability ?? settings?.maskProbability ?? 0.15
        let t0 = Date()
        let masked = m.config.readsBothDirections
        let e = try Progress(.stderr).during("scoring \(data.count) file(s)" + (masked ? " (masked LM, \(chunkLength)-base windows)" : "")) {
            if masked {
                var records: [[UInt8]] = [], bases = 0
                let limit = maxBases ?? Int.max
                for p in data where bases < limit {   // read only what is scored
                    let r = try SequenceReader(path: p)
                    while bases < limit, let rec = try r.next() { records.append(rec.sequence); bases += rec.sequence.count }
                }
                return try DNALM.maskedEvaluate(model: m, windows: DNALM.windows(records: records, length: chunkLength, maxBases: maxBases),
                                                masking: DNALM.masking(probability: probability))
            }
            return try DNALM.evaluate(model: m, paths: data, chunkLength: chunkLength, maxBases: maxBases)
        }
        let secs = Date().timeIntervalSince(t0)
        if output.json {
            print("{\"bases\": \(e.bases), \"records\": \(e.records), \"nll\": \(jsonNumber(e.nll)), \"bits_per_base\": \(jsonNumber(e.bitsPerBase)), \"seconds\": \(jsonNumber(secs))}")
        } else {
            print(String(format: "%d records, %d bases: %.4f bits/base (nll %.4f nats) in %.1f s", e.records, e.bases, e.bitsPerBase, e.nll, secs))
        }
    }
}

// MARK: - data

/// `mambakit data …`: building data sets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Build training data sets.", subcommands: [DNASpeciesCommand.self])
}

struct DNASpeciesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dna-species",
        abstract: "Species-classification windows from genomes: train/test CSVs from disjoint regions.",
        discussion: """
            Each genome (FASTA, plain or .gz; all records concatenated in file order, length T) is labelled by
            LABEL=PATH or by its file name's stem. Regions are START:END fractions of T; train and test regions of
            the same genome must not overlap. With --test-genomes, test windows come from those files instead
            (e.g. another strain, or the test blocks of an alignment), with the same labels.
            Windows are evenly spaced and never overlap. Writes OUT/train.csv and OUT/test.csv (sequence,label),
            readable by `train dna-classify --data OUT`.
            Example: mambakit data dna-species --genomes ecoli=Ec.fa.gz saureus=Sa.fa.gz --window 1024 \\
                     --train-regions 0:0.8 --test-regions 0.8:1 --train-count 500 --test-count 100 --out data/species
            """)

    @Option(parsing: .upToNextOption, help: "Genomes: LABEL=PATH or PATH.") var genomes: [String]
    @Option(parsing: .upToNextOption, help: "Genomes for the test windows (default: --genomes).") var testGenomes: [String] = []
    @Option(help: "Window length L in bases.") var window: Int
    @Option(help: "Region of each genome for training windows.") var trainRegions: String = "0:0.8"
    @Option(help: "Region of each genome for test windows.") var testRegions: String = "0.8:1"
    @Option(help: "Training windows per genome (0 = all non-overlapping).") var trainCount: Int = 0
    @Option(help: "Test windows per genome (0 = all non-overlapping).") var testCount: Int = 0
    @OptionGroup var output: OutputDirectoryOption

    func validate() throws {
        try Check.int(window, "--window", 1...ScheduleOptions.maxSeqLen)
        try Check.int(trainCount, "--train-count", 0...Int(Int32.max))
        try Check.int(testCount, "--test-count", 0...Int(Int32.max))
        _ = try output.required()
    }

    func run() throws {
        let out = try output.required()
        let trainG = genomes.map(GenomeSource.init(argument:))
        let testG = testGenomes.isEmpty ? trainG : testGenomes.map(GenomeSource.init(argument:))
        let trainR = try GenomeRegion(parsing: trainRegions), testR = try GenomeRegion(parsing: testRegions)
        if testGenomes.isEmpty && trainR.overlaps(testR) {
            throw DNAError.badRegion(spec: "\(trainRegions) / \(testRegions)", detail: "train and test regions of the same genomes overlap")
        }
        let trainLabels = Set(trainG.map(\.label))
        guard trainLabels.count >= 2 else { throw CLIError.usage("give genomes of at least two labels (LABEL=PATH)") }
        if let stray = testG.first(where: { !trainLabels.contains($0.label) }) {
            throw CLIError.usage("test genome \(stray.path) has label '\(stray.label)', which no training genome has; use LABEL=PATH")
        }
        let train = try SpeciesWindows.dataset(genomes: trainG, region: trainR, window: window, count: trainCount)
        let test = try SpeciesWindows.dataset(genomes: testG, region: testR, window: window, count: testCount)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try SpeciesWindows.writeCSV(train, to: dir.appendingPathComponent("train.csv"))
        try SpeciesWindows.writeCSV(test, to: dir.appendingPathComponent("test.csv"))
        func counts(_ x: [LabeledDNA]) -> String {
            Dictionary(grouping: x, by: \.label).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count)" }.joined(separator: ", ")
        }
        print("wrote \(out)/train.csv (\(train.count) windows of \(window) bp: \(counts(train))) and \(out)/test.csv (\(test.count): \(counts(test)))")
    }
}

