// GenerationMetricsTests.swift — IS, mIS, AM and the Fréchet distance against closed forms, the Jacobi
// square root against the 2×2 closed form and a Denman–Beavers iteration, the classifier's pooled
// features against its logits, and `eval audio-generation` against the same metrics computed in process.
import Foundation
import MambaAudio
import MambaKit
import XCTest

final class GenerationMetricsTests: XCTestCase {
    typealias G = GenerationMetrics

    // MARK: Scores of probability rows

    /// One-hot rows spread evenly over K classes: IS = K (KL(e_c ‖ 1/K) = ln K), mIS = ∞ (a pair of
    /// different classes has KL = ∞); uniform rows: IS = mIS = 1; smoothed one-hot rows (1 − ε on the class,
    /// ε/(K−1) elsewhere), m per class: IS = K·exp(−H), mIS = exp((n − m)/(n − 1) · KL_≠) with
    /// KL_≠ = (1 − ε − ε/(K−1)) · ln((1 − ε)(K − 1)/ε).
    func testInceptionScoresClosedForms() {
        var worst = 0.0
        for K in [2, 3, 10] {
            for m in [1, 3] {
                let oneHot = (0..<(K * m)).map { i in (0..<K).map { $0 == i % K ? 1.0 : 0.0 } }
                let isOneHot = G.inceptionScore(oneHot)
                worst = max(worst, abs(isOneHot - Double(K)))
                XCTAssertEqual(isOneHot, Double(K), accuracy: 1e-12)
                XCTAssertEqual(G.modifiedInceptionScore(oneHot), .infinity)

                let uniform = [[Double]](repeating: [Double](repeating: 1 / Double(K), count: K), count: K * m + 1)
                worst = max(worst, abs(G.inceptionScore(uniform) - 1), abs(G.modifiedInceptionScore(uniform) - 1))
                XCTAssertEqual(G.inceptionScore(uniform), 1, accuracy: 1e-12)
                XCTAssertEqual(G.modifiedInceptionScore(uniform), 1, accuracy: 1e-12)

                let eps = 0.1, n = K * m
                let smooth = (0..<n).map { i in (0..<K).map { $0 == i % K ? 1 - eps : eps / Double(K - 1) } }
                let H = -(1 - eps) * log(1 - eps) - eps * log(eps / Double(K - 1))
                let isWant = Double(K) * exp(-H)
                let klDiff = (1 - eps - eps / Double(K - 1)) * log((1 - eps) * Double(K - 1) / eps)
                let misWant = n >= 2 ? exp(Double(n - m) / Double(n - 1) * klDiff) : .nan
                worst = max(worst, abs(G.inceptionScore(smooth) - isWant) / isWant)
                XCTAssertEqual(G.inceptionScore(smooth), isWant, accuracy: 1e-12 * isWant)
                if n >= 2 {
                    worst = max(worst, abs(G.modifiedInceptionScore(smooth) - misWant) / misWant)
                    XCTAssertEqual(G.modifiedInceptionScore(smooth), misWant, accuracy: 1e-12 * misWant)
                }
            }
        }
        print("IS/mIS closed forms (one-hot, uniform, smoothed one-hot; K = 2, 3, 10): max relative difference \(worst)")
    }

    /// AM on a hand-computed case: rows (0.7, 0.2, 0.1), (0.1, 0.6, 0.3), p̄ = (0.4, 0.4, 0.2), uniform prior:
    /// KL(u ‖ p̄) = ⅓ ln(125/108), mean entropy ½(H₁ + H₂); 0.8986096420927523 (numpy, Double). Against a prior
    /// equal to p̄ only the entropy term remains; confident rows matching the prior score 0.
    func testAMScoreHandCase() {
        let rows = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]
        let u = [1.0 / 3, 1.0 / 3, 1.0 / 3]
        func h(_ p: [Double]) -> Double { -p.reduce(0) { $0 + $1 * log($1) } }
        let want = log(125.0 / 108.0) / 3 + (h(rows[0]) + h(rows[1])) / 2
        let got = G.amScore(rows, prior: u)
        print("AM hand case: \(got), closed form \(want), numpy 0.8986096420927523; difference \(abs(got - want))")
        XCTAssertEqual(got, want, accuracy: 1e-14)
        XCTAssertEqual(got, 0.8986096420927523, accuracy: 1e-14)
        XCTAssertEqual(G.amScore(rows, prior: [0.4, 0.4, 0.2]), (h(rows[0]) + h(rows[1])) / 2, accuracy: 1e-14)
        let confident = (0..<6).map { i in (0..<3).map { $0 == i % 3 ? 1.0 : 0.0 } }
        XCTAssertEqual(G.amScore(confident, prior: u), 0, accuracy: 1e-15)
        XCTAssertEqual(G.labelDistribution([0, 1, 1, 2], classes: 3), [0.25, 0.5, 0.25])
        XCTAssertEqual(G.kl([0.5, 0.5], [1, 0]), .infinity)
        let p = G.probabilities(logits: [1, 2, 3])
        let e = [exp(-2.0), exp(-1.0), 1].map { $0 / (exp(-2.0) + exp(-1.0) + 1) }
        XCTAssertLessThan(zip(p, e).map { abs($0 - $1) }.max()!, 1e-15)
    }

    // MARK: Symmetric eigendecomposition and square root

    /// A symmetric (n, n) matrix Bᵀ B (+ shift) from seeded normals: positive definite for shift > 0.
    func spd(_ n: Int, rows: Int? = nil, seed: UInt64, shift: Double = 0) -> [Double] {
        var rng = SeededRandom(seed: seed)
        let r = rows ?? n
        let b = (0..<(r * n)).map { _ in Double(rng.normal()) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<r { a[i * n + j] += b[k * n + i] * b[k * n + j] } } }
        for i in 0..<n { a[i * n + i] += shift }
        return a
    }

    func mul(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { c[i * n + j] += a[i * n + k] * b[k * n + j] } } }
        return c
    }

    func maxAbs(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    /// A V = V Λ and Vᵀ V = I for random symmetric matrices (indefinite too) and one with a repeated eigenvalue.
    func testJacobiEigendecomposition() {
        var worst = (residual: 0.0, orthogonality: 0.0)
        var cases: [(String, [Double], Int)] = []
        for n in [1, 2, 7, 64] { cases.append(("SPD \(n)", spd(n, seed: UInt64(n)), n)) }
        var rng = SeededRandom(seed: 3)
        var indefinite = (0..<(20 * 20)).map { _ in Double(rng.normal()) }
        for i in 0..<20 { for j in 0..<i { indefinite[i * 20 + j] = indefinite[j * 20 + i] } }
        cases.append(("indefinite 20", indefinite, 20))
        var repeated = [Double](repeating: 0, count: 9 * 9)   // I + u uᵀ: eigenvalue 1 eight times
        let u = (0..<9).map { Double($0) / 9 }
        for i in 0..<9 { for j in 0..<9 { repeated[i * 9 + j] = (i == j ? 1 : 0) + u[i] * u[j] } }
        cases.append(("I + uuᵀ 9", repeated, 9))
        for (name, a, n) in cases {
            let (lambda, v) = G.symmetricEigen(a, dim: n)
            let norm = a.map { abs($0) }.max()!
            let av = mul(a, v, n)
            var vl = v, vtv = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for k in 0..<n { vl[i * n + k] *= lambda[k] } }
            for i in 0..<n { for j in 0..<n { for k in 0..<n { vtv[i * n + j] += v[k * n + i] * v[k * n + j] } } }
            let eye = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
            let r = maxAbs(av, vl) / norm, o = maxAbs(vtv, eye)
            print("Jacobi \(name): max |AV − VΛ| / max|A| = \(r), max |VᵀV − I| = \(o)")
            worst = (max(worst.residual, r), max(worst.orthogonality, o))
            XCTAssertLessThan(r, 1e-13, name); XCTAssertLessThan(o, 1e-13, name)
        }
        let (lr, _) = G.symmetricEigen(repeated, dim: 9)
        let want = 1 + u.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(lr.sorted().last!, want, accuracy: 1e-13)
        XCTAssertEqual(lr.filter { abs($0 - 1) < 1e-13 }.count, 8)
    }

    /// Denman–Beavers: Y₀ = A, Z₀ = I, Y ← (Y + Z⁻¹)/2, Z ← (Z + Y⁻¹)/2 → Y → A^{1/2} for A without eigenvalues
    /// on the closed negative axis (also a non-symmetric product such as Σ₁Σ₂). Returns the iterate with the
    /// smallest max |Y² − A| / max |A| and that residual.
    func denmanBeavers(_ a: [Double], _ n: Int, iterations: Int = 60) -> (root: [Double], residual: Double) {
        var y = a, z = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        let scale = a.map { abs($0) }.max()!
        var best = (root: y, residual: maxAbs(mul(y, y, n), a) / scale)
        for _ in 0..<iterations {
            let yi = inverse(y, n), zi = inverse(z, n)
            y = zip(y, zi).map { ($0 + $1) / 2 }; z = zip(z, yi).map { ($0 + $1) / 2 }
            let r = maxAbs(mul(y, y, n), a) / scale
            if r < best.residual { best = (y, r) }
        }
        return best
    }

    /// Gauss–Jordan with partial pivoting.
    func inverse(_ a: [Double], _ n: Int) -> [Double] {
        var m = a, inv = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        for c in 0..<n {
            let p = (c..<n).max { abs(m[$0 * n + c]) < abs(m[$1 * n + c]) }!
            for k in 0..<n { m.swapAt(c * n + k, p * n + k); inv.swapAt(c * n + k, p * n + k) }
            let d = m[c * n + c]
            for k in 0..<n { m[c * n + k] /= d; inv[c * n + k] /= d }
            for r in 0..<n where r != c {
                let f = m[r * n + c]
                if f == 0 { continue }
                for k in 0..<n { m[r * n + k] -= f * m[c * n + k]; inv[r * n + k] -= f * inv[c * n + k] }
            }
        }
        return inv
    }

    /// The square root squares back to the input (full rank and rank-deficient), equals the 2×2 closed form
    /// (A + √det A · I) / √(tr A + 2√det A) and the Denman–Beavers iterate.
    func testMatrixSquareRoot() {
        for (name, a, n) in [("SPD 64", spd(64, seed: 11, shift: 0.1), 64), ("SPD 16", spd(16, seed: 12), 16),
                             ("rank 5 of 12", spd(12, rows: 5, seed: 13), 12)] {
            let s = G.symmetricSquareRoot(a, dim: n)
            let r = maxAbs(mul(s, s, n), a) / a.map { abs($0) }.max()!
            print("sqrt \(name): max |S·S − A| / max|A| = \(r)")
            XCTAssertLessThan(r, 1e-12, name)
        }
        var worst2 = 0.0
        for seed in 0..<20 as Range<UInt64> {
            let a = spd(2, rows: 3, seed: 100 + seed)
            let det = a[0] * a[3] - a[1] * a[2], sd = det.squareRoot()
            let t = (a[0] + a[3] + 2 * sd).squareRoot()
            let want = [(a[0] + sd) / t, a[1] / t, a[2] / t, (a[3] + sd) / t]
            worst2 = max(worst2, maxAbs(G.symmetricSquareRoot(a, dim: 2), want))
        }
        print("sqrt 2×2 against the closed form (20 matrices): max difference \(worst2)")
        XCTAssertLessThan(worst2, 1e-13)
        let a = spd(8, seed: 21, shift: 0.5)
        let (db, dbResidual) = denmanBeavers(a, 8), jac = G.symmetricSquareRoot(a, dim: 8)
        print("sqrt 8×8: Jacobi against Denman–Beavers (residual \(dbResidual)) max difference \(maxAbs(db, jac))")
        XCTAssertLessThan(maxAbs(db, jac), 1e-11)
    }

    // MARK: Fréchet distance

    /// Samples x = μ + L z (seeded normals z, L a random lower-triangular factor with diagonal 1 + |normal|, so
    /// the covariances are well conditioned): different, non-commuting covariances.
    func samples(_ count: Int, dim: Int, seed: UInt64, offset: Double) -> [[Double]] {
        var rng = SeededRandom(seed: seed)
        let l = (0..<(dim * dim)).map { i -> Double in
            let (r, c) = (i / dim, i % dim), x = Double(rng.normal())
            return r > c ? x : r == c ? 1 + abs(x) : 0
        }
        return (0..<count).map { _ in
            let z = (0..<dim).map { _ in Double(rng.normal()) }
            return (0..<dim).map { i in offset * Double(i + 1) + (0...i).reduce(0) { $0 + l[i * dim + $1] * z[$1] } }
        }
    }

    /// Mean and unbiased covariance, the textbook way (one pass of sums of products).
    func moments(_ x: [[Double]]) -> ([Double], [Double]) {
        let n = Double(x.count), D = x[0].count
        let mu = (0..<D).map { k in x.reduce(0) { $0 + $1[k] } / n }
        var c = [Double](repeating: 0, count: D * D)
        for a in 0..<D { for b in 0..<D { c[a * D + b] = (x.reduce(0) { $0 + $1[a] * $1[b] } - n * mu[a] * mu[b]) / (n - 1) } }
        return (mu, c)
    }

    /// FD of two 2-D sample sets with non-commuting covariances against ‖Δμ‖² + tr Σ₁ + tr Σ₂ − 2√(tr(Σ₁Σ₂) + 2√(det Σ₁ det Σ₂))
    /// (the trace root of a 2×2 matrix with eigenvalues λ₁, λ₂ ≥ 0 is √λ₁ + √λ₂ = √(tr + 2√det)); in 6-D
    /// against Denman–Beavers on Σ₁Σ₂ (scipy's form); FD(P, P) = 0 and the diagonal closed form. (Denman–Beavers
    /// on the product loses digits when Σ₁Σ₂ is ill conditioned: with cond 2.6e10 it was 9e-9 off, while the
    /// Jacobi route agreed with a 50-digit mpmath evaluation of the same matrices to 1e-15; hence the
    /// well-conditioned samples here.)
    func testFrechetDistance() {
        let x = samples(500, dim: 2, seed: 1, offset: 0), y = samples(300, dim: 2, seed: 2, offset: 0.7)
        let (m1, c1) = moments(x), (m2, c2) = moments(y)
        let gx = G.Gaussian(rows: x), gy = G.Gaussian(rows: y)
        let momentDiff = max(maxAbs(gx.mean, m1), maxAbs(gx.covariance, c1), maxAbs(gy.mean, m2), maxAbs(gy.covariance, c2))
        print("Gaussian(rows:) against textbook moments: max difference \(momentDiff)")
        XCTAssertLessThan(momentDiff, 1e-12)
        let p = mul(c1, c2, 2)
        let commutator = maxAbs(p, mul(c2, c1, 2)) / p.map { abs($0) }.max()!
        print("2-D covariances: max |Σ₁Σ₂ − Σ₂Σ₁| / max |Σ₁Σ₂| = \(commutator)")
        XCTAssertGreaterThan(commutator, 0.01, "the covariances should not commute")
        let det1 = c1[0] * c1[3] - c1[1] * c1[2], det2 = c2[0] * c2[3] - c2[1] * c2[2]
        let cross = (p[0] + p[3] + 2 * (det1 * det2).squareRoot()).squareRoot()
        let dmu: Double = (m1[0] - m2[0]) * (m1[0] - m2[0]) + (m1[1] - m2[1]) * (m1[1] - m2[1])
        let traces: Double = c1[0] + c1[3] + c2[0] + c2[3]
        let want2 = dmu + traces - 2 * cross
        let got2 = G.frechetDistance(gx, gy)
        print("FD 2-D: \(got2), closed form \(want2), difference \(abs(got2 - want2))")
        XCTAssertEqual(got2, want2, accuracy: 1e-12 * max(1, want2))

        let D = 6
        let x6 = samples(400, dim: D, seed: 3, offset: 0), y6 = samples(250, dim: D, seed: 4, offset: -0.3)
        let (a6, b6) = (G.Gaussian(rows: x6), G.Gaussian(rows: y6))
        let (root, residual) = denmanBeavers(mul(a6.covariance, b6.covariance, D), D)
        var want6 = 0.0
        for k in 0..<D {
            let d = a6.mean[k] - b6.mean[k]
            want6 += d * d + a6.covariance[k * D + k] + b6.covariance[k * D + k] - 2 * root[k * D + k]
        }
        let got6 = G.frechetDistance(a6, b6)
        let lambda = G.symmetricEigen(a6.covariance, dim: D).values
        print("FD 6-D: \(got6), Denman–Beavers on Σ₁Σ₂ (residual \(residual)) \(want6), difference \(abs(got6 - want6)); " +
              "eigenvalues of Σ₁ \(lambda.min()!)…\(lambda.max()!)")
        XCTAssertEqual(got6, want6, accuracy: 1e-10 * max(1, want6))
        XCTAssertEqual(G.frechetDistance(a6, a6), 0, accuracy: 1e-10)
        XCTAssertEqual(G.frechetDistance(b6, a6), got6, accuracy: 1e-10)

        // diagonal covariances: Σ_k (μ₁ − μ₂)² + (√a_k − √b_k)²
        let da = [1.0, 4, 0.25], db = [9.0, 1, 0.25]
        func diag(_ v: [Double]) -> [Double] {
            var m = [Double](repeating: 0, count: 9)
            for i in 0..<3 { m[i * 3 + i] = v[i] }
            return m
        }
        let ga = G.Gaussian(dim: 3, count: 10, mean: [0, 1, 2], covariance: diag(da))
        let gb = G.Gaussian(dim: 3, count: 10, mean: [1, 1, 0], covariance: diag(db))
        var wantD = 1.0 + 4
        for (x, y) in zip(da, db) { wantD += (x.squareRoot() - y.squareRoot()) * (x.squareRoot() - y.squareRoot()) }
        XCTAssertEqual(G.frechetDistance(ga, gb), wantD, accuracy: 1e-13)
        // fewer samples than features: singular covariances still give a finite, non-negative distance
        let few = G.Gaussian(rows: samples(4, dim: 10, seed: 5, offset: 0)), few2 = G.Gaussian(rows: samples(5, dim: 10, seed: 6, offset: 0))
        XCTAssertTrue(G.frechetDistance(few, few2).isFinite)
        XCTAssertGreaterThan(G.frechetDistance(few, few2), 0)
    }

    // MARK: The classifier's pooled features

    /// logits(pooled: pooledFeatures(x)) are logits(x) exactly; a clip's pooled features do not depend on
    /// the clips batched with it; mean pooling of one-token clips is that token's hidden state.
    func testPooledFeaturesAreTheHeadInput() throws {
        let base = try MambaModel.randomlyInitialised(config: MambaConfig(dModel: 16, nLayer: 2, vocabSize: 256, dState: 8), seed: 7)
        let m = SequenceClassifier.fineTuning(base, labels: ["a", "b", "c"], pooling: .mean, seed: 7)
        var rng = SeededRandom(seed: 8)
        let seqs: [[Int32]] = (0..<7).map { i in (0..<(5 + 13 * i)).map { _ in Int32(rng.below(256)) } }
        let pooled = try m.pooledFeatures(tokens: seqs, batchSize: 3)
        XCTAssertEqual(pooled.map(\.count), [Int](repeating: 16, count: 7))
        let viaPooled = try m.logits(pooled: pooled), direct = try m.logits(tokens: seqs, batchSize: 3)
        let d = maxAbsDiff(viaPooled.flatMap { $0 }, direct.flatMap { $0 })
        let alone = try seqs.map { try m.pooledFeatures(tokens: [$0])[0] }
        let b = maxAbsDiff(alone.flatMap { $0 }, pooled.flatMap { $0 })
        print("pooled features: logits(pooled:) against logits(tokens:) max difference \(d); alone against batched \(b)")
        XCTAssertEqual(d, 0)
        XCTAssertLessThan(b, 1e-5)
        XCTAssertThrowsError(try m.logits(pooled: [[1, 2]]))
    }

    // MARK: CLI

    /// `eval audio-generation --json` on a handful of FSDD clips with a classifier trained for a few steps in
    /// the test: its IS, mIS, AM (uniform and label prior) and FD are those computed in process from the
    /// same checkpoint; bad option combinations are one-line errors.
    func testEvalAudioGenerationCLI() throws {
        let manifest = "../shared/datasets/fsdd/manifest.csv"
        guard FileManager.default.fileExists(atPath: manifest) else { throw XCTSkip("\(manifest) not present") }
        guard FileManager.default.isExecutableFile(atPath: mambakitExecutable.path) else { throw XCTSkip("mambakit not built") }
        let root = try fsddSubsets(manifest)
        let out = root.appendingPathComponent("cls")
        let t = try runCLI(["train", "audio-classify", "--data", root.appendingPathComponent("data").path, "--seq-len", "512", "--batch-size", "4",
                            "--d-model", "16", "--n-layer", "1", "--vocab-size", "256", "--d-state", "8", "--steps", "3",
                            "--threads", "2", "--seed", "3", "--out", out.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        let clipsDir = root.appendingPathComponent("clips").path, realDir = root.appendingPathComponent("real").path
        var figures: [String: [String: Any]] = [:]
        for prior in ["uniform", "labels"] {
            let e = try runCLI(["eval", "audio-generation", "--classifier", out.path, "--clips", clipsDir, "--real", realDir,
                                "--am-prior", prior, "--threads", "2", "--json"])
            XCTAssertEqual(e.status, 0, e.stderr)
            print("eval audio-generation (--am-prior \(prior)): \(e.stdout)")
            figures[prior] = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any]
        }
        let obj = try XCTUnwrap(figures["uniform"])
        XCTAssertEqual(obj["clips"] as? Int, 6); XCTAssertEqual(obj["reference_clips"] as? Int, 6)
        XCTAssertEqual(obj["classes"] as? Int, 3); XCTAssertEqual(obj["feature_dim"] as? Int, 16)
        XCTAssertEqual((obj["predicted_counts"] as? [String: Int])?.values.reduce(0, +), 6)

        // the same in process
        let dir = try Trainer.checkpointDirectory(out)
        let m = try SequenceClassifier.load(directory: dir)
        m.threads = 2   // as --threads 2 (ThreadsOption.apply)
        let blas = MambaRuntime.blasThreads
        MambaRuntime.blasThreads = 2
        defer { MambaRuntime.blasThreads = blas }
        let settings = try AudioSettings.load(from: dir)
        func rows(_ path: String) throws -> ([[Double]], [[Float]], [AudioClip]) {
            let clips = try AudioDataset.open(path).clips
            let pooled = try m.pooledFeatures(tokens: try AudioDataset.tokenize(clips, settings: settings))
            return (try m.logits(tokens: try AudioDataset.tokenize(clips, settings: settings)).map(G.probabilities(logits:)), pooled, clips)
        }
        let (p, f, _) = try rows(clipsDir), (_, fr, realClips) = try rows(realDir)
        var (worst, traces) = try assertFigures(obj, probabilities: p, features: f, reference: fr, what: "waveform")
        let labelPrior = G.labelDistribution(try AudioDataset.labelIndices(realClips, labels: m.labels), classes: 3)
        let amLabels = try XCTUnwrap(figures["labels"]?["am"] as? Double)
        worst = max(worst, abs(amLabels - G.amScore(p, prior: labelPrior)))
        XCTAssertEqual(amLabels, G.amScore(p, prior: labelPrior), accuracy: 1e-5)
        print("eval audio-generation against in-process metrics: max difference \(worst) (relative; FD relative to tr Σ₁ + tr Σ₂ = \(traces))")
        XCTAssertGreaterThanOrEqual(G.inceptionScore(p), 1 - 1e-12); XCTAssertLessThanOrEqual(G.inceptionScore(p), 3 + 1e-12)

        // one reference, and a reference for a non-uniform prior
        let both = try runCLI(["eval", "audio-generation", "--classifier", out.path, "--clips", clipsDir, "--real", realDir, "--data", manifest])
        XCTAssertEqual(both.status, 64); XCTAssertTrue(both.stderr.contains("--real and --data"), both.stderr)
        let noRef = try runCLI(["eval", "audio-generation", "--classifier", out.path, "--clips", clipsDir, "--am-prior", "predictions"])
        XCTAssertEqual(noRef.status, 64); XCTAssertTrue(noRef.stderr.contains("needs reference clips"), noRef.stderr)
        // without a reference: no FD
        let plain = try runCLI(["eval", "audio-generation", "--classifier", out.path, "--clips", clipsDir, "--json"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains("\"fid\": null"), plain.stdout)
    }

    /// Copies a few FSDD clips under a temporary root, one folder per digit: `data/train` (3 digits × 3
    /// training clips), `real` (3 × 2 other training clips) and `clips` (3 × 2 test clips).
    func fsddSubsets(_ manifest: String) throws -> URL {
        let ds = try AudioDataset.open(manifest, labelColumn: "digit")
        let root = temporaryDirectory(self)
        let train = try ds.clips(split: "train"), test = try ds.clips(split: "test")
        func copy(_ clips: [AudioClip], to dir: String) throws {
            for c in clips {
                let d = root.appendingPathComponent("\(dir)/\(c.label!)")
                try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: c.path, toPath: d.appendingPathComponent((c.path as NSString).lastPathComponent).path)
            }
        }
        for digit in ["1", "5", "8"] {
            let t = train.filter { $0.label == digit }
            try copy(Array(t.prefix(3)), to: "data/train")
            try copy(Array(t.dropFirst(3).prefix(2)), to: "real")
            try copy(Array(test.filter { $0.label == digit }.prefix(2)), to: "clips")
        }
        return root
    }

    /// `eval audio-generation` with a log-mel classifier: the clips go through its audio.json's bands and
    /// normalisation (training-set, then per-clip), and IS, mIS, AM and FD are those computed in process from
    /// the frames' pooled features; a per-speaker classifier is refused naming its audio.json.
    func testEvalAudioGenerationLogMelCLI() throws {
        let manifest = "../shared/datasets/fsdd/manifest.csv"
        guard FileManager.default.fileExists(atPath: manifest) else { throw XCTSkip("\(manifest) not present") }
        guard FileManager.default.isExecutableFile(atPath: mambakitExecutable.path) else { throw XCTSkip("mambakit not built") }
        let root = try fsddSubsets(manifest)
        let clipsDir = root.appendingPathComponent("clips").path, realDir = root.appendingPathComponent("real").path
        var worst = 0.0
        for normalisation in ["training-set", "per-clip"] {
            let out = root.appendingPathComponent("cls-\(normalisation)")
            let t = try runCLI(["train", "audio-classify", "--data", root.appendingPathComponent("data").path, "--features", "log-mel",
                                "--mels", "20", "--window", "256", "--hop", "80", "--normalisation", normalisation,
                                "--d-model", "16", "--n-layer", "1", "--d-state", "8", "--batch-size", "4", "--steps", "3",
                                "--threads", "2", "--seed", "3", "--out", out.path])
            XCTAssertEqual(t.status, 0, t.stderr)
            let e = try runCLI(["eval", "audio-generation", "--classifier", out.path, "--clips", clipsDir, "--real", realDir,
                                "--threads", "2", "--json"])
            XCTAssertEqual(e.status, 0, e.stderr)
            print("eval audio-generation, log-mel classifier (\(normalisation)): \(e.stdout)")
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(obj["clips"] as? Int, 6); XCTAssertEqual(obj["reference_clips"] as? Int, 6)
            XCTAssertEqual(obj["feature_dim"] as? Int, 16)

            // the same in process, from the frames the classifier's audio.json prescribes
            let dir = try Trainer.checkpointDirectory(out)
            let m = try SequenceClassifier.load(directory: dir)
            m.threads = 2
            let blas = MambaRuntime.blasThreads
            MambaRuntime.blasThreads = 2
            defer { MambaRuntime.blasThreads = blas }
            let settings = try AudioSettings.load(from: dir)
            let features = try XCTUnwrap(settings.features)
            XCTAssertEqual(features.normalisation.rawValue, normalisation)
            func rows(_ path: String) throws -> ([[Double]], [[Float]]) {
                let frames = try features.features(try AudioDataset.open(path).clips, sampleRate: settings.sampleRate)
                let pooled = try m.pooledFeatures(features: frames)
                return (try m.logits(pooled: pooled).map(G.probabilities(logits:)), pooled)
            }
            let (p, f) = try rows(clipsDir), (_, fr) = try rows(realDir)
            worst = max(worst, try assertFigures(obj, probabilities: p, features: f, reference: fr, what: normalisation).worst)
        }
        print("eval audio-generation (log-mel) against in-process metrics: max difference \(worst) (relative)")

        // a per-speaker classifier: refused, naming its audio.json and the fix
        let out = root.appendingPathComponent("cls-training-set")
        let dir = try Trainer.checkpointDirectory(out)
        let json = dir.appendingPathComponent(AudioSettings.fileName)
        let text = try String(contentsOf: json, encoding: .utf8)
        XCTAssertTrue(text.contains("\"training-set\""), text)
        try text.replacingOccurrences(of: "\"training-set\"", with: "\"per-speaker\"").write(to: json, atomically: true, encoding: .utf8)
        let refused = try runCLI(["eval", "audio-generation", "--classifier", out.path, "--clips", clipsDir, "--json"])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(json.path) && refused.stderr.contains("per speaker")
                      && refused.stderr.contains("--normalisation training-set"), refused.stderr)
    }

    /// Asserts that the IS, mIS, AM (uniform prior over 3 classes) and FD of `obj` (an `eval audio-generation
    /// --json` object) are those of the in-process rows (16-d features). The rows are Float forwards of the same
    /// checkpoint in another process (kernel paths and thread splits may round differently in the last bits):
    /// scores agree to 1e-5 relative; FD, a difference of terms of the size of tr Σ₁ + tr Σ₂, to 1e-5 of that.
    /// Returns the worst relative difference and that trace sum.
    func assertFigures(_ obj: [String: Any], probabilities p: [[Double]], features f: [[Float]], reference fr: [[Float]],
                       what: String) throws -> (worst: Double, traces: Double) {
        let (gr, gf) = (G.Gaussian(rows: fr), G.Gaussian(rows: f))
        let traces = (0..<16).reduce(0.0) { $0 + gr.covariance[$1 * 17] + gf.covariance[$1 * 17] }
        let want: [String: (Double, Double)] = [
            "is": (G.inceptionScore(p), G.inceptionScore(p)), "mis": (G.modifiedInceptionScore(p), G.modifiedInceptionScore(p)),
            "am": (G.amScore(p, prior: [1.0 / 3, 1.0 / 3, 1.0 / 3]), 1), "fid": (G.frechetDistance(gr, gf), traces),
        ]
        var worst = 0.0
        for (k, (v, scale)) in want {
            let got = try XCTUnwrap(obj[k] as? Double, "\(what) \(k)")
            worst = max(worst, abs(got - v) / scale)
            XCTAssertEqual(got, v, accuracy: 1e-5 * scale, "\(what) \(k)")
        }
        return (worst, traces)
    }
}
