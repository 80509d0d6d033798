// PooledHead.swift — a sequence classification head: pooled hidden states → linear → softmax.
//
//   p_b     = pool(h_b[0 ..< len_b])                (B, D)     mean or last (see Pooling)
//             with two streams per sequence (RC-equivariant backbone, hidden (2·B·L, D)):
//             p_b = ½ (pool(h_b) + pool(h_{B+b}))                   invariant to swapping the streams
//   logit_b = W p_b + bias                          (B, C)     W (C, D), bias (C)
//   loss    = Σ_b −log softmax(logit_b)[label_b]
//   backward: dlogit = scale · (softmax − onehot); dW += dlogitᵀ·p; dbias += Σ dlogit; dp = dlogit·W;
//             dh spreads dp over the pooled positions (zero at padding).
import Foundation
import _MambaKernels

/// Mean or last pooling over each sequence's valid positions, then a linear layer to C classes
/// (keys `classifier.weight` (C, D), `classifier.bias` (C)).
public struct PooledHead: Sendable {
    public let weight: Int, bias: Int
    public let classes: Int, dim: Int
    public let pooling: Pooling

    public init(classes C: Int, dim D: Int, pooling: Pooling, prefix: String = "classifier", layout: inout ParameterLayout) {
        weight = layout.add(prefix + ".weight", [C, D]); bias = layout.add(prefix + ".bias", [C])
        classes = C; dim = D; self.pooling = pooling
    }

    /// pooled (B, D) from hidden (streams·B·L, D) over each sequence's valid positions, averaged over the
    /// streams. Each stream is pooled on its own and the two are then added (a + b = b + a exactly), so
    /// swapping the streams (x → rc(x) in an RC-equivariant backbone) gives bit-identical rows.
    func pool(_ hidden: UnsafePointer<Float>, batch B: Int, length L: Int, lengths: [Int],
              into pooled: UnsafeMutablePointer<Float>, streams S: Int = 1) {
        precondition(S == 1 || S == 2, "one stream, or the two of an RC-equivariant backbone")
        let D = dim
        var second = [Float](repeating: 0, count: S > 1 ? D : 0)
        for b in 0..<B {
            let n = lengths[b]
            func poolStream(_ s: Int, into out: UnsafeMutablePointer<Float>) {
                let seq = hidden + (s * B + b) * L * D
                switch pooling {
                case .last:
                    out.update(from: seq + (n - 1) * D, count: D)
                case .mean:
                    out.update(repeating: 0, count: D)
                    for t in 0..<n { mk_add_inplace(out, seq + t * D, D) }
                    let scale = 1 / Float(n)
                    for i in 0..<D { out[i] *= scale }
                }
            }
            let out = pooled + b * D
            poolStream(0, into: out)
            if S == 2 {
                second.withUnsafeMutableBufferPointer { poolStream(1, into: $0.baseAddress!) }
                for i in 0..<D { out[i] = (out[i] + second[i]) * 0.5 }
            }
        }
    }

    /// logits (B, C) = pool(hidden) · Wᵀ + bias.
    public func forward(_ hidden: UnsafePointer<Float>, batch B: Int, length L: Int, lengths: [Int],
                        logits: UnsafeMutablePointer<Float>, _ ctx: LayerContext, streams: Int = 1) {
        let pooled = FloatBuffer(count: B * dim)
        pool(hidden, batch: B, length: L, lengths: lengths, into: pooled.pointer, streams: streams)
        forwardPooled(pooled.pointer, batch: B, logits: logits, ctx)
    }

    /// Logits (n, C) of n examples of `lengths`: grouped by length into batches of at most `batchSize`,
    /// `forward(indices)` runs the backbone on one batch (returning its padded length and valid lengths),
    /// then the head reads the backbone's hidden states. Padding never changes a result. With `pooledOnly`
    /// the rows are the pooled hidden states (n, D) instead, the linear layer's input.
    func logits(count n: Int, lengths: [Int], batchSize: Int, backbone: Backbone, pooledOnly: Bool = false,
                forward: ([Int]) throws -> (Int, [Int])) throws -> [[Float]] {
        let C = pooledOnly ? dim : classes
        let order = (0..<n).sorted { lengths[$0] < lengths[$1] }
        var out = [[Float]](repeating: [], count: n)
        var i = 0
        while i < order.count {
            let idx = Array(order[i..<min(i + max(1, batchSize), order.count)])
            let (L, lens) = try forward(idx)
            let logits = FloatBuffer(count: idx.count * C)
            if pooledOnly {
                pool(backbone.workspace.normed.pointer, batch: idx.count, length: L, lengths: lens, into: logits.pointer,
                     streams: backbone.streams)
            } else {
                self.forward(backbone.workspace.normed.pointer, batch: idx.count, length: L, lengths: lens,
                             logits: logits.pointer, backbone.context(), streams: backbone.streams)
            }
            for (b, j) in idx.enumerated() { out[j] = Array(UnsafeBufferPointer(start: logits.pointer + b * C, count: C)) }
            i += idx.count
        }
        return out
    }

    /// Summed cross-entropy against `labels` (B) and its backward: writes dHidden (streams·B·L, D) (zero at
    /// padding and at unpooled positions) and adds dW, dbias, all scaled by `scale`.
    /// - Returns: the summed loss (nats) and how many examples the logits classify correctly.
    func lossAndBackward(_ hidden: UnsafePointer<Float>, batch B: Int, length L: Int, lengths: [Int], labels: [Int],
                         scale: Float, dHidden: UnsafeMutablePointer<Float>, _ ctx: LayerContext,
                         streams S: Int = 1) -> (lossSum: Double, correct: Int) {
        let C = classes, D = dim
        let pooled = FloatBuffer(count: B * D), logits = FloatBuffer(count: B * C)
        pool(hidden, batch: B, length: L, lengths: lengths, into: pooled.pointer, streams: S)
        forwardPooled(pooled.pointer, batch: B, logits: logits.pointer, ctx)
        var lossSum = 0.0, correct = 0
        let w = ctx.parameters + weight, dW = ctx.grads + weight, dBias = ctx.grads + bias
        let dPooled = FloatBuffer(count: B * D)
        for b in 0..<B {
            let z = Array(UnsafeBufferPointer(start: logits.pointer + b * C, count: C))
            let m = z.max()!
            let lse = Double(m) + Foundation.log(z.reduce(0.0) { $0 + Foundation.exp(Double($1 - m)) })
            let y = labels[b]
            lossSum += lse - Double(z[y])
            if z.firstIndex(of: m) == y { correct += 1 }
            let x = pooled.pointer + b * D, dx = dPooled.pointer + b * D
            for k in 0..<C {
                let g = Float(Foundation.exp(Double(z[k]) - lse) - (k == y ? 1 : 0)) * scale
                dBias[k] += g
                let row = w + k * D, dRow = dW + k * D
                for i in 0..<D { dRow[i] += g * x[i]; dx[i] += g * row[i] }
            }
        }
        // dHidden: dPooled spread over the pooled positions of every stream (zero at padding)
        dHidden.update(repeating: 0, count: S * B * L * D)
        for b in 0..<B {
            let n = lengths[b], dp = dPooled.pointer + b * D
            let scale = (pooling == .mean ? 1 / Float(n) : 1) * (S == 2 ? 0.5 : 1)
            for s in 0..<S {
                let seq = dHidden + (s * B + b) * L * D
                for t in (pooling == .mean ? 0 : n - 1)..<n {
                    let row = seq + t * D
                    for i in 0..<D { row[i] = dp[i] * scale }
                }
            }
        }
        return (lossSum, correct)
    }

    func forwardPooled(_ pooled: UnsafePointer<Float>, batch B: Int, logits: UnsafeMutablePointer<Float>, _ ctx: LayerContext) {
        let C = classes, D = dim
        let w = ctx.parameters + weight, bs = ctx.parameters + bias
        for b in 0..<B {
            for k in 0..<C {
                var acc: Float = 0
                let row = w + k * D, x = pooled + b * D
                for i in 0..<D { acc += row[i] * x[i] }
                logits[b * C + k] = acc + bs[k]
            }
        }
    }

    /// U(±1/sqrt(D)) weights (PyTorch's `nn.Linear` default), zero bias.
    func initialise(_ p: UnsafeMutablePointer<Float>, seed: UInt64) {
        var rng = SeededRandom(seed: seed ^ 0x636C_6173_7369_6679)   // "classify"
        let bound = 1 / Float(dim).squareRoot()
        for i in 0..<(classes * dim) { p[weight + i] = rng.uniform(-bound, bound) }
        for i in 0..<classes { p[bias + i] = 0 }
    }
}
