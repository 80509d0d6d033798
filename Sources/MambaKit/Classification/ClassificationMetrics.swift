// ClassificationMetrics.swift — accuracy, per-class accuracy, confusion matrix, MCC and F1.
import Foundation

/// Figures of a classifier on a labelled set.
///
/// With the confusion matrix M (rows = true class, columns = predicted), n = Σ M, c = Σ_k M_kk,
/// t_k = Σ_j M_kj (true count of k) and p_k = Σ_i M_ik (predicted count of k):
///
///     MCC = (c·n − Σ_k p_k t_k) / sqrt((n² − Σ_k p_k²)(n² − Σ_k t_k²))
///
/// (Gorodkin's R_K; for two classes it is the usual (TP·TN − FP·FN)/sqrt(…), and it is what
/// `sklearn.metrics.matthews_corrcoef` — used by GUE and the Nucleotide Transformer benchmarks —
/// computes). A zero denominator gives MCC 0. `f1` is the F1 of class 1 for two classes, and the
/// macro average of per-class F1 otherwise.
public struct ClassificationMetrics: Codable, Sendable, Equatable {
    public var count: Int
    public var accuracy: Double
    /// Accuracy within each true class, by class name.
    public var perClass: [String: Double]
    /// [true][predicted] counts.
    public var confusion: [[Int]]
    public var mcc: Double
    public var f1: Double
    public var labels: [String]

    enum CodingKeys: String, CodingKey {
        case count, accuracy, perClass = "per_class", confusion, mcc, f1, labels
    }

    /// - Precondition: `predicted` and `truth` have the same length and hold ids in 0..<labels.count.
    public init(predicted: [Int], truth: [Int], labels: [String]) {
        precondition(predicted.count == truth.count, "predictions and labels differ in number")
        let C = labels.count
        var M = [[Int]](repeating: [Int](repeating: 0, count: C), count: C)
        for (p, t) in zip(predicted, truth) { M[t][p] += 1 }
        let n = predicted.count
        let correct = (0..<C).reduce(0) { $0 + M[$1][$1] }
        let t = (0..<C).map { k in M[k].reduce(0, +) }
        let p = (0..<C).map { k in (0..<C).reduce(0) { $0 + M[$1][k] } }
        var perClass: [String: Double] = [:]
        for k in 0..<C where t[k] > 0 { perClass[labels[k]] = Double(M[k][k]) / Double(t[k]) }
        let nn = Double(n) * Double(n)
        let cov = Double(correct) * Double(n) - (0..<C).reduce(0.0) { $0 + Double(p[$1]) * Double(t[$1]) }
        let vp = nn - p.reduce(0.0) { $0 + Double($1) * Double($1) }
        let vt = nn - t.reduce(0.0) { $0 + Double($1) * Double($1) }
        let den = (vp * vt).squareRoot()
        func f1(_ k: Int) -> Double {
            let tp = Double(M[k][k]), fp = Double(p[k] - M[k][k]), fn = Double(t[k] - M[k][k])
            return tp == 0 ? 0 : 2 * tp / (2 * tp + fp + fn)
        }
        self.count = n
        self.accuracy = n == 0 ? 0 : Double(correct) / Double(n)
        self.perClass = perClass
        self.confusion = M
        self.mcc = den == 0 ? 0 : cov / den
        self.f1 = C == 2 ? f1(1) : (C == 0 ? 0 : (0..<C).reduce(0.0) { $0 + f1($1) } / Double(C))
        self.labels = labels
    }

    /// One JSON object: `{"accuracy": …, "mcc": …, "f1": …, "count": …, "per_class": {…}, "confusion": [[…]], "labels": […]}`
    /// plus `extra` members (already JSON-encoded values).
    public func json(extra: [String: String] = [:]) -> String {
        func num(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
        func str(_ s: String) -> String {
            let data = (try? JSONEncoder().encode(s)) ?? Data("\"?\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        var parts = ["\"accuracy\": \(num(accuracy))", "\"mcc\": \(num(mcc))", "\"f1\": \(num(f1))", "\"count\": \(count)"]
        parts.append("\"per_class\": {" + labels.filter { perClass[$0] != nil }.map { "\(str($0)): \(num(perClass[$0]!))" }
            .joined(separator: ", ") + "}")
        parts.append("\"confusion\": [" + confusion.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }
            .joined(separator: ", ") + "]")
        parts.append("\"labels\": [" + labels.map(str).joined(separator: ", ") + "]")
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { parts.append("\(str(k)): \(v)") }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}
