// TrainingTape.swift — the activations a training forward keeps for the backward pass.

/// Activations of one training forward, per layer, plus the backward pass's scratch buffers.
/// Grows on demand and is reused from step to step. Memory: about T·(2D + 5E + R + 2N) floats
/// per layer, T = B·L rows — the (B, L, E, N) scan states are *not* kept: the scan backward
/// recomputes them.
public final class TrainingTape {
    public let config: MambaConfig
    private(set) var batch = 0, length = 0, rows = 0
    private var capacity = 0
    // Per layer, (nLayer, T, width):
    var residIn = FloatBuffer(count: 0)   // (nLayer, T, D)
    var normed = FloatBuffer(count: 0)    // (nLayer, T, D)
    var xz = FloatBuffer(count: 0)        // (nLayer, T, 2E)
    var xc = FloatBuffer(count: 0)        // (nLayer, T, E)
    var dbc = FloatBuffer(count: 0)       // (nLayer, T, R+2N)  (R+4N: complex mixer)
    var dt = FloatBuffer(count: 0)        // (nLayer, T, E)
    var y = FloatBuffer(count: 0)         // (nLayer, T, E)
    var convIn = FloatBuffer(count: 0)    // (nLayer, B, K-1, E) conv state the chunk started from
    var ssmIn = FloatBuffer(count: 0)     // (nLayer, B, E, N)   (N, 2 complex) SSM state the chunk started from
    // Reverse direction (bidirectional models only), reversed time:
    var xcRev = FloatBuffer(count: 0)     // (nLayer, T, E)
    var dbcRev = FloatBuffer(count: 0)    // (nLayer, T, R+2N)
    var dtRev = FloatBuffer(count: 0)     // (nLayer, T, E)
    var finalResid = FloatBuffer(count: 0) // (T, D)
    var hidden = FloatBuffer(count: 0)     // (T, D) after norm_f
    // Backward scratch:
    var dHidden = FloatBuffer(count: 0)   // (T, D)
    var dResid = FloatBuffer(count: 0)    // (T, D)
    var dNormed = FloatBuffer(count: 0)   // (T, D)
    var dY = FloatBuffer(count: 0)        // (T, E)
    var dXc = FloatBuffer(count: 0)       // (T, E)
    var dDt = FloatBuffer(count: 0)       // (T, E)
    var dXz = FloatBuffer(count: 0)       // (T, 2E)
    var dDbc = FloatBuffer(count: 0)      // (T, R+2N)
    var dBCParts = FloatBuffer(count: 0)  // (threads, T, R+2N) per-thread dB, dC
    var dA = FloatBuffer(count: 0)        // (E, N)
    var dSSDParts = FloatBuffer(count: 0) // Mamba-2: (T, H, N) dB and dC parts per head, (B·H) dA and dD
    var dYRev = FloatBuffer(count: 0)     // (T, E)  reverse direction: dY reversed in time
    var dXzRev = FloatBuffer(count: 0)    // (T, 2E) reverse direction's gradient w.r.t. reversed xz
    /// Valid length of each sequence of the last forward (classification batches are right-padded).
    var lengths: [Int] = []
    /// Both streams' ids (2B·L) of an RC-equivariant backbone's taped forward, for the embedding's backward.
    var pairedTokens: [Int32] = []
    var logits = FloatBuffer(count: 0)    // (headRows, V)
    /// Rows of logits computed at once: as many as fit in 64 MiB (at least 64), so the (T, V) logits
    /// are never held whole for a large vocabulary, while GEMMs stay large enough to run at full speed.
    var headRows: Int { max(64, (64 << 20) / (4 * max(1, config.vocabSize))) }
    var threadsCapacity = 0

    /// A U-Net backbone's tapes (every stage) and level buffers; nil for the flat stack.
    let unet: UNetTape?
    /// Whether the (headRows, V) logits scratch is needed (not for the stages of a U-Net).
    let head: Bool

    public convenience init(config: MambaConfig) { self.init(config: config, head: true) }

    init(config: MambaConfig, head: Bool) {
        self.config = config; self.head = head
        unet = config.unet == nil ? nil : UNetTape(config: config)
    }

    /// Makes room for B sequences of L tokens.
    func prepare(batch B: Int, length L: Int) {
        let c = config, T = B * L
        let D = c.dModel, E = c.dInner, N = c.dState, S = c.ssmStateWidth, X = c.xProjWidth, K = c.dConv, nl = c.flatLayerCount
        batch = B; length = L; rows = T
        let W = c.inProjWidth, Cc = c.convChannels
        if T > capacity || convIn.count != nl * B * (K - 1) * Cc {
            residIn = FloatBuffer(count: nl * T * D); normed = FloatBuffer(count: nl * T * D)
            xz = FloatBuffer(count: nl * T * W); xc = FloatBuffer(count: nl * T * Cc)
            dbc = FloatBuffer(count: nl * T * X); dt = FloatBuffer(count: nl * T * E)
            y = FloatBuffer(count: nl * T * E)
            convIn = FloatBuffer(count: nl * B * (K - 1) * Cc); ssmIn = FloatBuffer(count: nl * B * E * S)
            finalResid = FloatBuffer(count: T * D); hidden = FloatBuffer(count: T * D)
            dHidden = FloatBuffer(count: T * D); dResid = FloatBuffer(count: T * D)
            let tb = nl > 0 ? T : 0    // the blocks' backward scratch (a U-Net's stages have their own)
            dNormed = FloatBuffer(count: tb * D)
            dY = FloatBuffer(count: tb * E); dXc = FloatBuffer(count: tb * Cc); dDt = FloatBuffer(count: tb * E)
            dXz = FloatBuffer(count: tb * W); dDbc = FloatBuffer(count: tb * X)
            dA = FloatBuffer(count: E * N)
            if c.bidirectional {
                xcRev = FloatBuffer(count: nl * T * E); dbcRev = FloatBuffer(count: nl * T * X)
                dtRev = FloatBuffer(count: nl * T * E)
                dYRev = FloatBuffer(count: T * E); dXzRev = FloatBuffer(count: T * 2 * E)
            }
            logits = FloatBuffer(count: head ? headRows * c.vocabSize : 0)
            capacity = T
            threadsCapacity = 0
        }
    }

    /// Mamba-2's per-head dB, dC and per-(b, h) dA, dD parts: at least `count` floats.
    func ssdParts(count: Int) -> FloatBuffer {
        if dSSDParts.count < count { dSSDParts = FloatBuffer(count: count) }
        return dSSDParts
    }

    /// Per-thread dB/dC buffers for `threads` threads.
    func bcParts(threads: Int) -> FloatBuffer {
        let need = threads * capacity * config.xProjWidth
        if dBCParts.count < need { dBCParts = FloatBuffer(count: need) }
        return dBCParts
    }

    func layer(_ l: Int) -> LayerBuffers {
        let c = config, T = rows, D = c.dModel, E = c.dInner, ldBC = c.xProjWidth
        var b = LayerBuffers(
            residIn: residIn.pointer + l * T * D, normed: normed.pointer + l * T * D,
            xz: xz.pointer + l * T * c.inProjWidth, xc: xc.pointer + l * T * c.convChannels, dbc: dbc.pointer + l * T * ldBC,
            dt: dt.pointer + l * T * E, y: y.pointer + l * T * E)
        if c.bidirectional {
            b.xcRev = xcRev.pointer + l * T * E; b.dbcRev = dbcRev.pointer + l * T * ldBC; b.dtRev = dtRev.pointer + l * T * E
        }
        return b
    }
    func convStateIn(_ l: Int) -> UnsafeMutablePointer<Float> { convIn.pointer + l * batch * (config.dConv - 1) * config.convChannels }
    func ssmStateIn(_ l: Int) -> UnsafeMutablePointer<Float> { ssmIn.pointer + l * batch * config.dInner * config.ssmStateWidth }

    /// Bytes held (activations and scratch), for reports.
    public var byteCount: Int {
        [residIn, normed, xz, xc, dbc, dt, y, xcRev, dbcRev, dtRev, dYRev, dXzRev, convIn, ssmIn, finalResid, hidden, dHidden, dResid, dNormed, dY, dXc, dDt,
         dXz, dDbc, dBCParts, dA, dSSDParts, logits].reduce(0) { $0 + $1.count * 4 } + (unet?.byteCount ?? 0)
    }
}
