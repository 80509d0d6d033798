// EvalEveryOption.swift — `--eval-every N`: how often a `train` command validates.
import ArgumentParser

struct EvalEveryOption: ParsableArguments {
    @Option(help: "Validate every N steps (0 = only at the end; default: 100, DNA commands 200).") var evalEvery: Int?

    func validate() throws { try Check.int(evalEvery, "--eval-every", 0...ScheduleOptions.maxSteps) }

    /// The validation interval for a run of `steps` steps: --eval-every (else `fallback`), 0 meaning the last step only.
    func interval(default fallback: Int, steps: Int) -> Int {
        let e = evalEvery ?? fallback
        return e > 0 ? e : max(1, steps)
    }
}
