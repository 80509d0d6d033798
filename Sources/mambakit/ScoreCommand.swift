// ScoreCommand.swift — `mambakit score --model DIR --tokens FILE [--mode parallel|recurrent] --json`.
import ArgumentParser
import Foundation
import MambaKit

extension ForwardMode: ExpressibleByArgument {}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Log-probability of each next token of a sequence under a checkpoint.",
        discussion: "logprobs[i] = log p(tokens[i+1] | tokens[0...i]) (natural log); nll = -mean(logprobs).")

    @OptionGroup var model: ModelDirectoryOption
    @OptionGroup var weights: WeightsOption
    @Option(help: "Text file of whitespace-separated token ids.") var tokens: String
    @Option(help: "parallel (whole sequence, chunked) or recurrent (one token at a time).") var mode: ForwardMode = .parallel
    @OptionGroup var output: JSONOption

    func run() throws {
        let ids = try readTokenFile(tokens)
        let (m, _) = try model.load(weights: weights.weights)
        let start = Date()
        let lp = try namingTokenFile(tokens) { try m.logProbs(tokens: ids, mode: mode) }
        let seconds = Date().timeIntervalSince(start)
        let nll = -lp.reduce(0.0) { $0 + Double($1) } / Double(lp.count)
        if output.json {
            print("{\"logprobs\": [" + lp.map(jsonNumber).joined(separator: ", ") + "], \"nll\": \(jsonNumber(nll))}")
        } else {
            print(String(format: "%d tokens scored (%@ mode) in %.3f s: nll %.6f nats/token, perplexity %.3f",
                         lp.count, mode.rawValue, seconds, nll, Foundation.exp(nll)))
        }
    }
}
