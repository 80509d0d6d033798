// Progress.swift — progress of long work (training loops, evaluation over many windows). On a terminal
// it is ONE line rewritten in place (`\r`: step/total, loss, tokens/s, ETA); when the stream is not a
// terminal (logs, CI, pipes) it prints the plain lines it always printed and nothing else.
import Foundation
import MambaKit

final class Progress {
    enum Stream { case stdout, stderr }

    let stream: Stream
    /// Put before every line (e.g. "   " under a numbered step of the quickstart).
    let indent: String
    /// Whether the live line is shown: the stream is a terminal (MAMBAKIT_PROGRESS=plain turns it off).
    let live: Bool
    private var showing = false
    private var lastDraw = 0.0

    init(_ stream: Stream, indent: String = "", live: Bool? = nil) {
        self.stream = stream
        self.indent = indent
        let fd = stream == .stdout ? STDOUT_FILENO : STDERR_FILENO
        self.live = live ?? (isatty(fd) == 1 && ProcessInfo.processInfo.environment["MAMBAKIT_PROGRESS"] != "plain")
    }

    private var file: UnsafeMutablePointer<FILE> { stream == .stdout ? stdout : stderr }

    /// Rewrites the live line (on a terminal; at most ~10 times a second unless `force`). Elsewhere nothing.
    func update(_ text: String, force: Bool = false) {
        guard live else { return }
        let now = Date().timeIntervalSinceReferenceDate
        guard force || now - lastDraw >= 0.1 else { return }
        lastDraw = now
        fputs("\r" + indent + text + "\u{1B}[K", file)
        fflush(file)
        showing = true
    }

    /// A line that stays (replacing the live line on a terminal).
    func line(_ text: String) {
        if showing { fputs("\r\u{1B}[K", file); showing = false }
        fputs(indent + text + "\n", file)
        fflush(file)
    }

    /// Ends the live line, if one is showing (the last state stays on screen).
    func finish() {
        guard showing else { return }
        fputs("\n", file)
        fflush(file)
        showing = false
    }

    /// `label 120/400  loss 2.3456  8,400 tokens/s  eta 3m12s`
    static func status(_ label: String, done: Int, total: Int, rate: Double, unit: String, secondsLeft: Double,
                       extra: String = "") -> String {
        var s = "\(label) \(done)/\(total)"
        if !extra.isEmpty { s += "  " + extra }
        s += String(format: "  %.0f %@/s  eta %@", rate, unit, duration(secondsLeft))
        return s
    }

    /// 75 → "1m15s", 9.2 → "9s".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }

    /// Work that reports nothing until it ends (one library call): on a terminal the live line shows
    /// `label … 12s` while it runs, updated twice a second from a timer; elsewhere nothing.
    func during<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
        guard live else { return try body() }
        let t0 = Date()
        let lock = NSLock()
        var done = false
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        timer.schedule(deadline: .now(), repeating: 0.5)
        timer.setEventHandler { [self] in
            lock.lock(); defer { lock.unlock() }
            if !done { update("\(label) … \(Progress.duration(Date().timeIntervalSince(t0)))", force: true) }
        }
        timer.resume()
        defer {
            lock.lock(); done = true; lock.unlock()
            timer.cancel()
            if showing { fputs("\r\u{1B}[K", file); fflush(file); showing = false }
        }
        return try body()
    }

    /// Counted work: call `tick(done)` as items finish; shows items/s and the ETA on the live line.
    func counter(_ label: String, total: Int, unit: String) -> (Int) -> Void {
        let t0 = Date()
        return { [self] done in
            let secs = Date().timeIntervalSince(t0)
            let rate = Double(done) / max(secs, 1e-9)
            update(Progress.status(label, done: done, total: total, rate: rate, unit: unit,
                                   secondsLeft: Double(total - done) / max(rate, 1e-9)), force: done == total)
        }
    }
}

extension TrainingRun {
    /// Runs to the last step with `progress`: on a terminal one live line (step/total, loss,
    /// tokens/s, ETA) and only the lines with validation figures, skipped steps and the last step
    /// kept; elsewhere every progress line `run(log:)` gives, as before.
    func run(showing progress: Progress) throws {
        var keep = false
        let total = trainer.options.steps
        onStep = { r, figures, rate, secondsLeft in
            keep = !figures.isEmpty || r.skipped || r.step == total
            progress.update(Progress.status("step", done: r.step, total: total, rate: rate, unit: "tokens", secondsLeft: secondsLeft,
                                            extra: String(format: "loss %.4f", r.loss)), force: keep)
        }
        defer { onStep = nil; progress.finish() }
        try run { line in if !progress.live || keep { progress.line(line) } }
    }
}
