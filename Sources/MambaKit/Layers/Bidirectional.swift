// Bidirectional.swift — the BiMamba combinator (Caduceus): a second scan direction that reads the
// sequence backwards, within each sequence's valid length, and shares the block's in_proj and out_proj.
//
//   forward:  y += reverse( SSM_rev( reverse(xz) ) )          zero initial states every pass
//   backward: dXz += reverse( SSM_rev'( reverse(xz), reverse(dY) ) )
// `reverse` maps row b·L + i ↔ b·L + (len_b − 1 − i) for i < len_b; padding rows stay in place, so
// right padding never reaches a sequence's valid positions in either direction.
import _MambaKernels

/// Time reversal of each sequence within its valid length: row b·L + i ↔ b·L + (len_b − 1 − i) for
/// i < len_b; padding rows stay in place. An involution, so the same call undoes it.
public struct SequenceReversal: Sendable {
    public let batch: Int, length: Int, lengths: [Int]

    public init(batch: Int, length: Int, lengths: [Int]) { self.batch = batch; self.length = length; self.lengths = lengths }

    /// dst row r = src row perm(r), `width` floats per row.
    func gather(_ src: UnsafePointer<Float>, ld ldSrc: Int, width: Int, into dst: UnsafeMutablePointer<Float>, ld ldDst: Int) {
        for b in 0..<batch {
            let n = lengths[b], base = b * length
            for i in 0..<length {
                let j = i < n ? n - 1 - i : i
                (dst + (base + i) * ldDst).update(from: src + (base + j) * ldSrc, count: width)
            }
        }
    }

    /// dst row r += src row perm(r).
    func addGathered(_ src: UnsafePointer<Float>, ld ldSrc: Int, width: Int, into dst: UnsafeMutablePointer<Float>, ld ldDst: Int) {
        for b in 0..<batch {
            let n = lengths[b], base = b * length
            for i in 0..<length {
                let j = i < n ? n - 1 - i : i
                mk_add_inplace(dst + (base + i) * ldDst, src + (base + j) * ldSrc, width)
            }
        }
    }
}

/// The reverse scan direction of a bidirectional block (keys `<prefix>mixer_rev.*`).
public struct ReverseDirection: Sendable {
    public let ssm: SelectiveSSM

    /// Adds the reverse direction's gated output, turned forwards again, to y (T, E).
    /// xcRev, dbcRev, dtRev (reversed time) are kept for the backward pass.
    func forward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xcRev: UnsafeMutablePointer<Float>,
                 dbcRev: UnsafeMutablePointer<Float>, dtRev: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                 reversal: SequenceReversal, workspace ws: inout ForwardWorkspace) {
        let E = ssm.E, B = reversal.batch, L = reversal.length
        reversal.gather(xz, ld: 2 * E, width: 2 * E, into: ws.xzRev.pointer, ld: 2 * E)
        ws.zeroReverseStates(batch: B, E: E, N: ssm.N, K: ssm.K)
        ssm.forward(ctx, xz: ws.xzRev.pointer, xc: xcRev, dbc: dbcRev, dt: dtRev, y: ws.yRev.pointer,
                    convState: ws.convRev.pointer, ssm: ws.ssmRev.pointer, batch: B, length: L)
        reversal.addGathered(ws.yRev.pointer, ld: E, width: E, into: y, ld: E)
    }

    /// Adds the reverse direction's part of dXz (T, 2E) and its parameter gradients.
    func backward(_ ctx: LayerContext, xz: UnsafeMutablePointer<Float>, xcRev: UnsafeMutablePointer<Float>,
                  dbcRev: UnsafeMutablePointer<Float>, dtRev: UnsafeMutablePointer<Float>,
                  dXz: UnsafeMutablePointer<Float>, reversal: SequenceReversal, tape: TrainingTape,
                  workspace ws: inout ForwardWorkspace) {
        let E = ssm.E, B = reversal.batch, L = reversal.length
        reversal.gather(xz, ld: 2 * E, width: 2 * E, into: ws.xzRev.pointer, ld: 2 * E)
        reversal.gather(tape.dY.pointer, ld: E, width: E, into: tape.dYRev.pointer, ld: E)
        ws.zeroReverseStates(batch: B, E: E, N: ssm.N, K: ssm.K)
        ssm.backward(ctx, xz: ws.xzRev.pointer, xc: xcRev, dbc: dbcRev, dt: dtRev, convIn: ws.convRev.pointer,
                     ssmIn: ws.ssmRev.pointer, dY: tape.dYRev.pointer, dXz: tape.dXzRev.pointer,
                     batch: B, length: L, tape: tape)
        reversal.addGathered(tape.dXzRev.pointer, ld: 2 * E, width: 2 * E, into: dXz, ld: 2 * E)
    }
}
