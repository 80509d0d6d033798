// RCPairing.swift — Caduceus-PS reverse-complement parameter sharing, as a pairing of two streams.
//
// Caduceus (Schiff et al. 2024, "Caduceus: Bi-Directional Equivariant Long-Range DNA Sequence
// Modeling", §3.2) makes each layer f reverse-complement (RC) equivariant by running it, with one set
// of parameters, on both halves of a 2D-channel hidden state h (B, L, 2D):
//
//   f_PS(h) = [ f(h[..., :D]) | RC(f(RC(h[..., D:]))) ]        RC(h) = h flipped in length and channels
//
// Composed over the embedding, every block (add-norm → BiMamba mixer) and norm_f, this is the same as
// running the ordinary D-wide backbone on two sequences: the ids x and their reverse complement
// rc(x)_i = comp(x_{len−1−i}). We call the two results streams A and B':
//
//   A  = backbone(x)       (B, L, D)        B' = backbone(rc(x))   (B, L, D)
//   hidden = [ A | flip_C(rev(B')) ]        (B, L, 2D)   Caduceus' layout (rev within each valid length)
//
// and the heads read both streams:
//
//   LM (RCPSLMHead):  logit[b, i, v] = W_v · A[b, i] + W_comp(v) · B'[b, len_b − 1 − i]       (B, L, V)
//   pooled classifier: p_b = ½ (pool(A_b) + pool(B'_b))                                         (B, D)
//
// x → rc(x) swaps the two streams, so hidden(rc(x)) = RC(hidden(x)), logits(rc(x))[i, v] =
// logits(x)[len−1−i, comp(v)] and the pooled logits are unchanged — exactly, since both streams are
// rows of one batch computed alike. Padding rows (i ≥ len_b) stay in place and are never read by a head.
// What differs from Caduceus: the streams are a doubled batch (2B, L, D), not channel halves, so every
// kernel runs unchanged; the reversal is within each sequence's valid length (Caduceus flips the whole
// padded length).

/// The stream pairing of an RC-equivariant (`rcps`) backbone: the second stream's ids, and the maps
/// between the two streams (2B, L, ·) and the (B, L, ·) outputs of the model.
public struct RCPairing: Sendable, Equatable {
    /// Token id → id of its complement (an involution of 0 ..< V).
    public let complement: [Int32]

    public init(complementMap: [Int]) { complement = complementMap.map { Int32($0) } }

    /// Why `map` is not an RC map for a vocabulary of V ids, or nil: it must have V entries in
    /// 0 ..< V, and be an involution (comp(comp(v)) = v), so that rc(rc(x)) = x.
    public static func problem(complementMap map: [Int], vocabSize V: Int) -> String? {
        guard map.count == V else { return "has \(map.count) entries for a vocabulary of \(V)" }
        for (v, c) in map.enumerated() {
            guard c >= 0, c < V else { return "maps \(v) → \(c), outside the vocabulary 0 ..< \(V)" }
            guard map[c] == v else { return "is not an involution: \(v) → \(c) but \(c) → \(map[c]) (the complement of a complement must be the id itself)" }
        }
        return nil
    }

    /// Position of stream B' read at position i of sequence b: len_b − 1 − i inside the valid length, i itself in padding.
    @inline(__always) static func mirrored(_ i: Int, _ n: Int) -> Int { i < n ? n - 1 - i : i }

    /// The reverse complement of each sequence within its valid length (padding kept): ids (B, L).
    public func reverseComplement(_ ids: UnsafeBufferPointer<Int32>, batch B: Int, length L: Int, lengths: [Int]) -> [Int32] {
        var out = [Int32](repeating: 0, count: B * L)
        for b in 0..<B {
            let n = lengths[b]
            for i in 0..<L {
                let t = ids[b * L + Self.mirrored(i, n)]
                out[b * L + i] = i < n && t >= 0 && Int(t) < complement.count ? complement[Int(t)] : t
            }
        }
        return out
    }

    /// The two streams' ids (2B, L): the B sequences, then their reverse complements.
    public func pairedTokens(_ ids: UnsafeBufferPointer<Int32>, batch B: Int, length L: Int, lengths: [Int]) -> [Int32] {
        Array(ids) + reverseComplement(ids, batch: B, length: L, lengths: lengths)
    }

    // MARK: - LM logits

    /// logits (B·L, V): out[b, i, v] = z[b, i, v] + z[B + b, mirrored(i), comp(v)], from the head's logits
    /// z (2B·L, V) of both streams.
    func combineLogits(_ z: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, batch B: Int, length L: Int,
                       lengths: [Int], vocabSize V: Int) {
        for b in 0..<B {
            let n = lengths[b]
            for i in 0..<L {
                let a = z + (b * L + i) * V, r = z + ((B + b) * L + Self.mirrored(i, n)) * V, o = out + (b * L + i) * V
                for v in 0..<V { o[v] = a[v] + r[Int(complement[v])] }
            }
        }
    }

    /// The backward of ``combineLogits(_:into:batch:length:lengths:vocabSize:)``: dz (2B·L, V) from dOut (B·L, V).
    func splitLogitGradient(_ dOut: UnsafePointer<Float>, into dz: UnsafeMutablePointer<Float>, batch B: Int, length L: Int,
                            lengths: [Int], vocabSize V: Int) {
        for b in 0..<B {
            let n = lengths[b]
            for i in 0..<L {
                let g = dOut + (b * L + i) * V
                let a = dz + (b * L + i) * V, r = dz + ((B + b) * L + Self.mirrored(i, n)) * V
                for v in 0..<V { a[v] = g[v]; r[Int(complement[v])] = g[v] }
            }
        }
    }

    // MARK: - Hidden states in Caduceus' layout

    /// hidden (B·L, 2D) = [A | flip_C(rev(B'))] from the streams (2B·L, D).
    func caduceusLayout(_ streams: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, batch B: Int, length L: Int,
                        lengths: [Int], dim D: Int) {
        for b in 0..<B {
            let n = lengths[b]
            for i in 0..<L {
                let o = out + (b * L + i) * 2 * D
                o.update(from: streams + (b * L + i) * D, count: D)
                let r = streams + ((B + b) * L + Self.mirrored(i, n)) * D
                for c in 0..<D { o[D + c] = r[D - 1 - c] }
            }
        }
    }

    /// The inverse map: the streams' gradient (2B·L, D) from dHidden (B·L, 2D) in Caduceus' layout.
    func streamsFromCaduceusLayout(_ hidden: UnsafePointer<Float>, into streams: UnsafeMutablePointer<Float>, batch B: Int,
                                   length L: Int, lengths: [Int], dim D: Int) {
        for b in 0..<B {
            let n = lengths[b]
            for i in 0..<L {
                let h = hidden + (b * L + i) * 2 * D
                (streams + (b * L + i) * D).update(from: h, count: D)
                let r = streams + ((B + b) * L + Self.mirrored(i, n)) * D
                for c in 0..<D { r[D - 1 - c] = h[D + c] }
            }
        }
    }
}
