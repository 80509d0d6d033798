// QuickstartDNA.swift — the DNA main job: species classification of bacterial genome windows, trained
// on one strain per species and tested on another strain (genomes from Debian's ragout-examples,
// fetched by Data/prepare_dna.sh), with accuracy and MCC.
import Foundation
import MambaDNA
import MambaKit

/// Where Data/prepare_dna.sh puts the genomes.
let dnaQuickstartData = "Data/cache/dna"
let dnaQuickstartSpecies = ["ecoli", "hpylori", "saureus", "vcholerae"]

/// The first record's name and description in a FASTA file ("NC_000913.3 Escherichia coli … MG1655, complete genome").
func firstRecordTitle(_ path: String) -> String {
    guard let r = try? SequenceReader(path: path), let rec = try? r.next() else { return (path as NSString).lastPathComponent }
    return rec.description.isEmpty ? rec.name : rec.description
}

/// Trains a small (unidirectional) Mamba classifier, within `budget` (data included), to tell the
/// species of Data/cache/dna (E. coli, H. pylori, S. aureus and V. cholerae) apart from 500-bp windows,
/// and prints validation (same strains, held-out 10% of each genome) and test (other strains)
/// accuracy and MCC. Model, metrics.jsonl and loss_curve.svg go to `out`.
func runDNAQuickstart(out: URL, seed: UInt64, budget: PartBudget) throws {
    let root = dnaQuickstartData
    for split in ["train", "test"] {
        for s in dnaQuickstartSpecies where !FileManager.default.fileExists(atPath: "\(root)/\(split)/\(s).fa.gz") {
            throw CLIError.usage("\(root)/\(split)/\(s).fa.gz: the DNA genomes are missing — run Data/prepare_dna.sh (Scripts/run.sh does)")
        }
    }
    let window = 500, trainWindows = 1500, valWindows = 100, testWindows = 250
    let trainG = dnaQuickstartSpecies.map { GenomeSource(label: $0, path: "\(root)/train/\($0).fa.gz") }
    let testG = dnaQuickstartSpecies.map { GenomeSource(label: $0, path: "\(root)/test/\($0).fa.gz") }
    let t0 = Date()
    let trainData = try SpeciesWindows.dataset(genomes: trainG, region: GenomeRegion(start: 0, end: 0.9), window: window, count: trainWindows)
    let valData = try SpeciesWindows.dataset(genomes: trainG, region: GenomeRegion(start: 0.9, end: 1), window: window, count: valWindows)
    let testData = try SpeciesWindows.dataset(genomes: testG, region: GenomeRegion(start: 0, end: 1), window: window, count: testWindows)
    let labels = dnaQuickstartSpecies
    let train = try DNAClassifier.examples(trainData, labels: labels)
    let val = try DNAClassifier.examples(valData, labels: labels)
    let test = try DNAClassifier.examples(testData, labels: labels)
    print(String(format: "1. data: %d-bp windows of %d bacterial species from %@, built in %.1f s:", window, labels.count, root, Date().timeIntervalSince(t0)))
    print("   train \(train.count) windows from the first 90% of each train genome, validation \(val.count) from their last 10%:")
    for g in trainG { print("     \(g.label): \(firstRecordTitle(g.path))") }
    print("   test \(test.count) windows from the test genomes (other strains):")
    for g in testG { print("     \(g.label): \(firstRecordTitle(g.path))") }

    var o = TrainingOptions()
    o.seqLen = window; o.batchSize = 16; o.seed = seed; o.logEvery = 50
    o.adamw.learningRate = 3e-3; o.adamw.warmupSteps = 15; o.adamw.schedule = .cosine
    let tok = NucleotideTokenizer()
    func makeModel() throws -> SequenceClassifier {
        SequenceClassifier.fineTuning(try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 64, nLayer: 2, vocabSize: tok.vocabularySize), seed: seed),
                                      labels: labels, pooling: .mean, seed: seed)
    }
    let augment = DNAClassifier.reverseComplementAugment
    let speed = try PartBudget.measure { try Trainer(model: try makeModel(), examples: train, options: o, augment: augment, source: root) }
    // Set aside: four validations, and validation and test twice each (plain and RC-averaged) at the end.
    let reserve = PartBudget.forwardSeconds((4 * val.count + 2 * (val.count + 2 * test.count)) * window,
                                            trainingTokensPerSecond: speed.tokensPerSecond, fixed: 2)
    o.steps = budget.steps(secondsPerStep: speed.secondsPerStep, reserve: reserve)
    let model = try makeModel()
    let trainer = try Trainer(model: model, examples: train, options: o, augment: augment, source: root)
    print(String(format: "2. training a Mamba classifier: D=64, 2 layers, mean pooling, %d parameters; " +
                 "%d steps × %d windows, reverse-complement augmentation (what fits the budget at %.3f s/step)",
                 model.parameterCount, o.steps, o.batchSize, speed.secondsPerStep))
    try? FileManager.default.removeItem(at: out.appendingPathComponent("metrics.jsonl"))
    let run = TrainingRun.dnaClassifier(trainer: trainer, settings: DNASettings(task: "classify", rcAugment: true), validation: val,
                                        evalEvery: max(1, o.steps / 4), rcAverage: false, outDirectory: out)
    let t1 = Date()
    try run.run(showing: Progress(.stdout, indent: "   "))
    let trainSeconds = Date().timeIntervalSince(t1)
    let progress = Progress(.stdout, indent: "   ")
    for (name, ex) in [("validation (same strains, held-out region)", val), ("test (other strains)", test)] {
        let plain = try evaluateClassifier(examples: ex, labels: labels, progress: progress) {
            try DNAClassifier.predict(model: model, sequences: $0, rcAverage: false)
        }
        let rc = try evaluateClassifier(examples: ex, labels: labels, progress: progress) {
            try DNAClassifier.predict(model: model, sequences: $0, rcAverage: true)
        }
        print(String(format: "3. %@: accuracy %.4f, MCC %.4f; with reverse-complement averaging: accuracy %.4f, MCC %.4f",
                     name, plain.accuracy, plain.mcc, rc.accuracy, rc.mcc))
        if name.hasPrefix("test") {
            print("   confusion [true][predicted] over \(labels):")
            for (l, row) in zip(labels, rc.confusion) { print("     \(l.padding(toLength: 10, withPad: " ", startingAt: 0)) \(row)") }
        }
    }
    print(String(format: "Trained in %.0f s. Model: %@; metrics.jsonl and loss_curve.svg: %@", trainSeconds,
                 (try? Trainer.checkpointDirectory(out).path) ?? out.path, out.path))
    print("Next: mambakit eval dna-classify --model \(out.path) --data DATA --rc-average   |   mambakit data dna-species --help")
}
