// AudioLM.swift — waveform language models: next-sample prediction over 256 classes, evaluation in
// bits per sample with the state carried through whole clips, and generation through the recurrent path.
import Foundation
import MambaKit

/// Result of scoring clips: every sample of every clip is predicted once.
public struct AudioEvaluation: Sendable {
    public var clips: Int
    /// Samples predicted (the sum of the clips' lengths).
    public var samples: Int
    /// Mean negative log-likelihood per sample, nats.
    public var nll: Double
    /// NLL / ln 2: the unit of the SaShiMi and Mamba papers' waveform results.
    public var bitsPerSample: Double { nll / Foundation.log(2.0) }
}

public enum AudioLM {
    // MARK: Data

    /// The training stream: clips concatenated, each preceded by one silence token (the same context
    /// a clip starts from in ``evaluate(model:clips:silence:chunkLength:maxSamples:)``). Windows are
    /// drawn from this stream, so long windows cross clip boundaries the way they do in a long recording.
    public static func trainingStream(_ clips: [[Int32]], silence: Int32) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(clips.reduce(0) { $0 + $1.count + 1 })
        for c in clips {
            out.append(silence)
            out.append(contentsOf: c)
        }
        return out
    }

    // MARK: Evaluation

    /// Scores each clip as `[silence] + clip` in one exact pass of any length (``StreamingScorer``): windows of `chunkLength`
    /// samples with the scan and conv states carried from window to window, so every sample is
    /// predicted from the whole clip before it. NLL = −Σ log p(x_t | x_<t) / Σ samples.
    /// `maxSamples` stops after that many samples in all (the last clip cut short).
    public static func evaluate(model: MambaModel, clips: [[Int32]], silence: Int32, chunkLength: Int = 4096,
                                maxSamples: Int? = nil) throws -> AudioEvaluation {
        let scorer = try StreamingScorer(model: model, chunkLength: chunkLength)
        for c in clips {
            var ids = c
            if let m = maxSamples { ids = Array(ids.prefix(m - scorer.score.count)) }
            if ids.isEmpty { break }
            try scorer.begin(context: silence)
            try scorer.feed(ids)
            if let m = maxSamples, scorer.score.count >= m { break }
        }
        let s = scorer.finish()
        guard s.count > 0 else { throw ModelError.emptyInput(what: "the evaluation clips", hint: "give at least one clip with samples") }
        return AudioEvaluation(clips: s.sequences, samples: s.count, nll: s.meanNats)
    }

    // MARK: Generation

    /// Generates `count` samples (token ids) after `prompt` (ids of a prompt clip, possibly empty):
    /// `[silence] + prompt` is prefilled in parallel mode, then each sample is drawn from
    /// softmax(logits / temperature) and fed back through one recurrent step. Temperature 0 is greedy.
    public static func generate(model: MambaModel, prompt: [Int32], count: Int, silence: Int32, temperature: Float = 1,
                                seed: UInt64, onSample: (Int32) -> Void = { _ in }) throws -> [Int32] {
        let state = model.makeState(batch: 1)
        var logits = try model.prefill([silence] + prompt, state: state)
        var options = SamplingOptions()
        options.temperature = temperature
        var sampler = Sampler(options: options, seed: seed)
        var out: [Int32] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let next = sampler.next(logits: logits, history: [])
            out.append(next)
            onSample(next)
            logits = try model.step([next], state: state)
        }
        return out
    }
}

// MARK: - Training runs

extension TrainingRun {
    /// A waveform-LM run: validation in nats/sample and bits/sample on the first `evalSamples` samples
    /// of the held-out clips (state carried through each clip), and audio.json saved into every checkpoint.
    public static func audioLM(trainer: Trainer, settings: AudioSettings, validation: [[Int32]]?, evalEvery: Int,
                               evalSamples: Int, outDirectory: URL?) -> TrainingRun {
        let run = TrainingRun(trainer: trainer, evalEvery: evalEvery, outDirectory: outDirectory)
        if let v = validation, !v.isEmpty {
            run.validate = {
                let e = try AudioLM.evaluate(model: trainer.model, clips: v, silence: settings.silence, maxSamples: evalSamples)
                return [("val_loss", e.nll), ("val_bits_per_sample", e.bitsPerSample)]
            }
        }
        run.extraFiles = { dir in try settings.save(to: dir) }
        return run
    }
}
