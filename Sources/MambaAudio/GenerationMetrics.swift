// GenerationMetrics.swift — scores of generated clips from a trained classifier, as in the SC09 tables
// of the SaShiMi and Mamba papers. Pure functions of probability rows p_i = p(y | x_i) (n, C) and of
// feature rows f_i (n, D), all in Double:
//
//   IS   = exp( (1/n) Σ_i KL(p_i ‖ p̄) ),          p̄ = (1/n) Σ_i p_i                (Salimans et al. 2016)
//   mIS  = exp( 1/(n(n−1)) Σ_{i≠j} KL(p_i ‖ p_j) )  over ordered pairs of distinct clips (Gurumurthy et al. 2017)
//   AM   = KL(p_train ‖ p̄) + (1/n) Σ_i H(p_i)                                        (Zhou et al. 2018)
//   FD   = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2})                (Heusel et al. 2017)
//
// KL(p ‖ q) = Σ_c p_c ln(p_c / q_c) in nats with 0 · ln(0 / q) = 0 (and +∞ when p_c > 0 = q_c); H(p) =
// −Σ_c p_c ln p_c. μ, Σ are the mean (D) and the unbiased covariance (D, D) (divisor n − 1, as numpy's
// `np.cov`) of the feature rows. The square roots are those of symmetric positive semi-definite
// matrices, from a cyclic Jacobi eigendecomposition A = V Λ Vᵀ: A^{1/2} = V max(Λ, 0)^{1/2} Vᵀ.
// Σ₁^{1/2} Σ₂ Σ₁^{1/2} is similar to Σ₁Σ₂, so its trace root equals scipy's Tr sqrtm(Σ₁Σ₂).
import Foundation

public enum GenerationMetrics {
    // MARK: Distributions

    /// softmax(z) in Double: exp(z_c − max z) / Σ_k exp(z_k − max z) (C). A probability is 0 only when
    /// its logit is more than ~745 below the largest.
    public static func probabilities(logits z: [Float]) -> [Double] {
        guard let m = z.max() else { return [] }
        let e = z.map { Foundation.exp(Double($0) - Double(m)) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// KL(p ‖ q) = Σ_c p_c ln(p_c / q_c) in nats (0 where p_c = 0; +∞ where p_c > 0 = q_c).
    public static func kl(_ p: [Double], _ q: [Double]) -> Double {
        precondition(p.count == q.count, "kl: \(p.count) against \(q.count) classes")
        var s = 0.0
        for c in p.indices where p[c] > 0 {
            guard q[c] > 0 else { return .infinity }
            s += p[c] * Foundation.log(p[c] / q[c])
        }
        return s
    }

    /// H(p) = −Σ_c p_c ln p_c in nats (0 · ln 0 = 0).
    public static func entropy(_ p: [Double]) -> Double {
        p.reduce(0) { $1 > 0 ? $0 - $1 * Foundation.log($1) : $0 }
    }

    /// p̄ = (1/n) Σ_i p_i (C): the marginal class distribution of the rows.
    public static func marginal(_ probs: [[Double]]) -> [Double] {
        guard let C = probs.first?.count else { return [] }
        var m = [Double](repeating: 0, count: C)
        for p in probs {
            precondition(p.count == C, "marginal: rows of \(C) and \(p.count) classes")
            for c in 0..<C { m[c] += p[c] }
        }
        return m.map { $0 / Double(probs.count) }
    }

    /// The index of the largest probability (the first on ties; 0 for an empty row).
    public static func argmax(_ p: [Double]) -> Int {
        var best = 0
        for i in p.indices where p[i] > p[best] { best = i }
        return best
    }

    /// The class distribution of labels (class ids in 0 ..< classes): count / n.
    public static func labelDistribution(_ labels: [Int], classes C: Int) -> [Double] {
        var m = [Double](repeating: 0, count: C)
        for y in labels { m[y] += 1 }
        return m.map { $0 / Double(max(labels.count, 1)) }
    }

    // MARK: Scores of probability rows

    /// Inception Score exp((1/n) Σ_i KL(p_i ‖ p̄)) of n ≥ 1 rows (n, C): between 1 (every row the same)
    /// and C (confident rows spread evenly over the classes).
    public static func inceptionScore(_ probs: [[Double]]) -> Double {
        precondition(!probs.isEmpty, "inceptionScore: no rows")
        let m = marginal(probs)
        return Foundation.exp(probs.reduce(0) { $0 + kl($1, m) } / Double(probs.count))
    }

    /// Modified Inception Score exp(mean over ordered pairs i ≠ j of KL(p_i ‖ p_j)) of n ≥ 2 rows (n, C):
    /// the exact mean over all n(n − 1) pairs of distinct clips. (SaShiMi's script samples 10,000 pairs
    /// with replacement, i = j included; those pairs add KL = 0, a factor (n − 1)/n inside the exp.)
    public static func modifiedInceptionScore(_ probs: [[Double]]) -> Double {
        let n = probs.count
        precondition(n >= 2, "modifiedInceptionScore: needs two rows, got \(n)")
        var s = 0.0
        for i in 0..<n {
            for j in 0..<n where j != i { s += kl(probs[i], probs[j]) }
        }
        return Foundation.exp(s / Double(n * (n - 1)))
    }

    /// AM score KL(p_train ‖ p̄) + (1/n) Σ_i H(p_i) of n ≥ 1 rows (n, C) against the training set's class
    /// distribution `prior` (C): 0 for confident rows whose marginal matches the prior; lower is better.
    public static func amScore(_ probs: [[Double]], prior: [Double]) -> Double {
        precondition(!probs.isEmpty, "amScore: no rows")
        return kl(prior, marginal(probs)) + probs.reduce(0) { $0 + entropy($1) } / Double(probs.count)
    }

    // MARK: Fréchet distance of feature rows

    /// Mean μ (D) and unbiased covariance Σ (D, D) row-major of n ≥ 2 feature rows (n, D).
    public struct Gaussian: Sendable, Equatable {
        public var dim: Int
        public var count: Int
        public var mean: [Double]
        /// (D, D) row-major, divisor n − 1.
        public var covariance: [Double]

        public init(dim: Int, count: Int, mean: [Double], covariance: [Double]) {
            precondition(mean.count == dim && covariance.count == dim * dim, "Gaussian: shapes")
            self.dim = dim; self.count = count; self.mean = mean; self.covariance = covariance
        }

        /// The statistics of `rows` (n ≥ 2 rows of D values), accumulated in Double around the mean (two passes).
        public init(rows: [[Float]]) { self.init(rows: rows.map { $0.map(Double.init) }) }

        public init(rows: [[Double]]) {
            let n = rows.count
            precondition(n >= 2, "Gaussian: needs two rows for a covariance, got \(n)")
            let D = rows[0].count
            var mu = [Double](repeating: 0, count: D)
            for r in rows {
                precondition(r.count == D, "Gaussian: rows of \(D) and \(r.count) values")
                for k in 0..<D { mu[k] += r[k] }
            }
            for k in 0..<D { mu[k] /= Double(n) }
            var cov = [Double](repeating: 0, count: D * D)
            var d = [Double](repeating: 0, count: D)
            for r in rows {
                for k in 0..<D { d[k] = r[k] - mu[k] }
                for a in 0..<D {
                    let da = d[a]
                    for b in a..<D { cov[a * D + b] += da * d[b] }
                }
            }
            let s = 1 / Double(n - 1)
            for a in 0..<D {
                for b in a..<D { cov[a * D + b] *= s; cov[b * D + a] = cov[a * D + b] }
            }
            self.init(dim: D, count: n, mean: mu, covariance: cov)
        }
    }

    /// ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} (≥ 0 up to rounding).
    public static func frechetDistance(_ a: Gaussian, _ b: Gaussian) -> Double {
        precondition(a.dim == b.dim, "frechetDistance: \(a.dim) against \(b.dim) features")
        let D = a.dim
        var d2 = 0.0
        for k in 0..<D { d2 += (a.mean[k] - b.mean[k]) * (a.mean[k] - b.mean[k]) }
        let s = symmetricSquareRoot(a.covariance, dim: D)
        let m = multiply(multiply(s, b.covariance, D), s, D)
        let cross = symmetricEigen(symmetrised(m, D), dim: D).values.reduce(0) { $0 + max($1, 0).squareRoot() }
        var traces = 0.0
        for k in 0..<D { traces += a.covariance[k * D + k] + b.covariance[k * D + k] }
        return d2 + traces - 2 * cross
    }

    // MARK: Symmetric matrices (D, D) row-major

    /// Eigenvalues λ (D) and orthonormal eigenvectors V (D, D) row-major, column k for λ_k, of a symmetric
    /// matrix: A = V diag(λ) Vᵀ. Cyclic Jacobi: sweeps of plane rotations zeroing each off-diagonal entry
    /// in turn, until the off-diagonal mass is below `tolerance` · ‖A‖_F (quadratic convergence;
    /// at most `maxSweeps`). Only the upper triangle of `a` is read.
    public static func symmetricEigen(_ a: [Double], dim n: Int, tolerance: Double = 1e-15,
                                      maxSweeps: Int = 100) -> (values: [Double], vectors: [Double]) {
        precondition(a.count == n * n, "symmetricEigen: \(a.count) values for a \(n)×\(n) matrix")
        var m = a
        for i in 0..<n { for j in 0..<i { m[i * n + j] = m[j * n + i] } }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let norm = m.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return ([Double](repeating: 0, count: n), v) }
        for _ in 0..<maxSweeps {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += m[p * n + q] * m[p * n + q] } }
            if (2 * off).squareRoot() <= tolerance * norm { break }
            for p in 0..<n {
                for q in (p + 1)..<n {
                    let apq = m[p * n + q]
                    if apq == 0 { continue }
                    // tan of the angle zeroing (p, q): t = sign(θ) / (|θ| + sqrt(θ² + 1)), θ = (a_qq − a_pp) / (2 a_pq)
                    let theta = (m[q * n + q] - m[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    // A ← Jᵀ A J on rows/columns p, q
                    for k in 0..<n {
                        let akp = m[k * n + p], akq = m[k * n + q]
                        m[k * n + p] = c * akp - s * akq
                        m[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = m[p * n + k], aqk = m[q * n + k]
                        m[p * n + k] = c * apk - s * aqk
                        m[q * n + k] = s * apk + c * aqk
                    }
                    m[p * n + q] = 0; m[q * n + p] = 0
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { m[$0 * n + $0] }, v)
    }

    /// A^{1/2} = V diag(sqrt(max(λ, 0))) Vᵀ (D, D) of a symmetric positive semi-definite matrix (negative
    /// eigenvalues, rounding noise of a singular matrix, count as 0).
    public static func symmetricSquareRoot(_ a: [Double], dim n: Int) -> [Double] {
        let (lambda, v) = symmetricEigen(a, dim: n)
        let r = lambda.map { max($0, 0).squareRoot() }
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                var s = 0.0
                for k in 0..<n { s += v[i * n + k] * r[k] * v[j * n + k] }
                out[i * n + j] = s; out[j * n + i] = s
            }
        }
        return out
    }

    /// A · B of (D, D) row-major matrices.
    static func multiply(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for k in 0..<n {
                let aik = a[i * n + k]
                if aik == 0 { continue }
                for j in 0..<n { c[i * n + j] += aik * b[k * n + j] }
            }
        }
        return c
    }

    /// (A + Aᵀ) / 2.
    static func symmetrised(_ a: [Double], _ n: Int) -> [Double] {
        var s = a
        for i in 0..<n { for j in 0..<n { s[i * n + j] = (a[i * n + j] + a[j * n + i]) / 2 } }
        return s
    }
}
