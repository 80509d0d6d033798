// Evaluation.swift — evaluation over many clips or windows in slices, so that a live progress line
// can follow it; the figures are those of one call over everything (each clip or example is scored
// on its own, so slicing changes nothing).
import Foundation
import MambaAudio
import MambaKit

/// Accuracy, MCC and confusion of a classifier on `examples`, predicted `slice` examples at a time.
func evaluateClassifier(examples: [LabeledSequence], labels: [String], progress: Progress, slice: Int = 256,
                        predict: ([[Int32]]) throws -> [Int]) throws -> ClassificationMetrics {
    try evaluateClassifier(inputs: examples.map(\.tokens), truth: examples.map(\.label), labels: labels, progress: progress,
                           slice: slice, predict: predict)
}

/// The same for inputs of any kind (token ids, feature frames) with their true classes.
func evaluateClassifier<Input>(inputs: [Input], truth: [Int], labels: [String], progress: Progress, slice: Int = 256,
                               predict: ([Input]) throws -> [Int]) throws -> ClassificationMetrics {
    var predicted: [Int] = []
    predicted.reserveCapacity(inputs.count)
    let tick = progress.counter("evaluating", total: inputs.count, unit: "sequences")
    defer { progress.finish() }
    var i = 0
    while i < inputs.count {
        let part = Array(inputs[i..<min(inputs.count, i + slice)])
        predicted += try predict(part)
        i += part.count
        tick(i)
    }
    return ClassificationMetrics(predicted: predicted, truth: truth, labels: labels)
}

/// What `AudioLM.evaluate` returns, summed over slices of clips.
struct AudioLMFigures {
    var clips: Int
    var samples: Int
    /// Mean negative log-likelihood per sample, nats.
    var nll: Double
    var bitsPerSample: Double { nll / Foundation.log(2.0) }
}

/// Bits per sample of a waveform LM over `clips`, as `AudioLM.evaluate` (each clip from a fresh
/// state; at most `maxSamples` in all), scored a few clips at a time.
func evaluateAudioLM(model: MambaModel, clips: [[Int32]], silence: Int32, chunkLength: Int = 4096, maxSamples: Int? = nil,
                     progress: Progress) throws -> AudioLMFigures {
    let total = min(clips.reduce(0) { $0 + $1.count }, maxSamples ?? Int.max)
    let tick = progress.counter("evaluating", total: total, unit: "samples")
    defer { progress.finish() }
    var nll = 0.0, samples = 0, used = 0, i = 0
    while i < clips.count, samples < (maxSamples ?? Int.max) {
        let part = Array(clips[i..<min(clips.count, i + 8)])
        let left = maxSamples.map { $0 - samples }
        let e = try AudioLM.evaluate(model: model, clips: part, silence: silence, chunkLength: chunkLength, maxSamples: left)
        nll += e.nll * Double(e.samples); samples += e.samples; used += e.clips
        i += part.count
        tick(min(samples, total))
    }
    guard samples > 0 else { throw ModelError.emptyInput(what: "the evaluation clips", hint: "give at least one clip with samples") }
    return AudioLMFigures(clips: used, samples: samples, nll: nll / Double(samples))
}
