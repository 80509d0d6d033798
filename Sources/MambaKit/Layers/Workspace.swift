// Workspace.swift — the activation buffers of a forward pass: the shared workspace (inference, all
// blocks reuse it) and, per block, pointers into it or into a training tape.
//
// Shapes use T = B·L rows, batch-major (Docs/Glossary.md for the letters).

/// Scratch buffers of one forward pass, grown on demand and reused.
struct ForwardWorkspace {
    var rows = 0
    /// Rows of the last forward pass.
    var rowsUsed = 0
    var resid = FloatBuffer(count: 0)   // (T, D)   residual stream
    var normed = FloatBuffer(count: 0)  // (T, D)   RMSNorm output
    var xz = FloatBuffer(count: 0)      // (T, 2E)  in_proj output: x | z  (Mamba-2: (T, 2E+2GN+H) z | x B C | Δ)
    var xc = FloatBuffer(count: 0)      // (T, E)   conv + SiLU output  (Mamba-2: (T, E+2GN))
    var dbc = FloatBuffer(count: 0)     // (T, R+2N) x_proj output: dt | B | C (R+4N: complex mixer; Mamba-2: (T, E) SSD output)
    var dt = FloatBuffer(count: 0)      // (T, E)   dt_proj output (before bias and softplus; Mamba-2: (T, H) Δ)
    var y = FloatBuffer(count: 0)       // (T, E)   gated scan output
    var out = FloatBuffer(count: 0)     // (T, D)   out_proj output
    // Reverse direction (bidirectional models), each sequence reversed within its valid length:
    var xzRev = FloatBuffer(count: 0)   // (T, 2E)  xz, reversed in time
    var xcRev = FloatBuffer(count: 0)   // (T, E)
    var dbcRev = FloatBuffer(count: 0)  // (T, R+2N)
    var dtRev = FloatBuffer(count: 0)   // (T, E)
    var yRev = FloatBuffer(count: 0)    // (T, E)   reverse scan output, reversed time
    var convRev = FloatBuffer(count: 0) // (B, K-1, E) reverse conv state (starts at zero every pass)
    var ssmRev = FloatBuffer(count: 0)  // (B, E, N)   reverse SSM state (starts at zero every pass)
    var revBatch = 0
    /// Scratch of the chunked SSD (Mamba-2), grown on demand.
    var scratchBuffer = FloatBuffer(count: 0)

    /// At least `count` floats of scratch (contents undefined), valid until the next call.
    mutating func scratch(count: Int) -> UnsafeMutablePointer<Float> {
        if scratchBuffer.count < count { scratchBuffer = FloatBuffer(count: count) }
        return scratchBuffer.pointer
    }

    mutating func ensure(rows T: Int, config c: MambaConfig) {
        guard T > rows else { return }
        let D = c.dModel, E = c.dInner
        resid = FloatBuffer(count: T * D); normed = FloatBuffer(count: T * D)
        xz = FloatBuffer(count: T * c.inProjWidth); xc = FloatBuffer(count: T * c.convChannels)
        dbc = FloatBuffer(count: T * c.xProjWidth); dt = FloatBuffer(count: T * E)
        y = FloatBuffer(count: T * E); out = FloatBuffer(count: T * D)
        if c.bidirectional {
            xzRev = FloatBuffer(count: T * 2 * E); xcRev = FloatBuffer(count: T * E)
            dbcRev = FloatBuffer(count: T * c.xProjWidth); dtRev = FloatBuffer(count: T * E)
            yRev = FloatBuffer(count: T * E)
        }
        rows = T
    }

    /// Zeroed reverse-direction states for B sequences.
    mutating func zeroReverseStates(batch B: Int, E: Int, N: Int, K: Int) {
        if revBatch != B {
            convRev = FloatBuffer(count: B * (K - 1) * E); ssmRev = FloatBuffer(count: B * E * N)
            revBatch = B
        } else { convRev.zero(); ssmRev.zero() }
    }
}

/// Pointers to one layer's activations: the shared workspace (inference) or a tape slice (training).
struct LayerBuffers {
    var residIn: UnsafeMutablePointer<Float>  // (T, D)    residual entering the layer (training only)
    var normed: UnsafeMutablePointer<Float>   // (T, D)
    var xz: UnsafeMutablePointer<Float>       // (T, 2E)
    var xc: UnsafeMutablePointer<Float>       // (T, E)
    var dbc: UnsafeMutablePointer<Float>      // (T, R+2N)
    var dt: UnsafeMutablePointer<Float>       // (T, E)
    var y: UnsafeMutablePointer<Float>        // (T, E)   gated scan output (both directions summed)
    /// Reverse direction (bidirectional): conv output, x_proj output, dt_proj output, in reversed time.
    var xcRev: UnsafeMutablePointer<Float>? = nil   // (T, E)
    var dbcRev: UnsafeMutablePointer<Float>? = nil  // (T, R+2N)
    var dtRev: UnsafeMutablePointer<Float>? = nil   // (T, E)

    init(residIn: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>, xz: UnsafeMutablePointer<Float>,
         xc: UnsafeMutablePointer<Float>, dbc: UnsafeMutablePointer<Float>, dt: UnsafeMutablePointer<Float>,
         y: UnsafeMutablePointer<Float>) {
        self.residIn = residIn; self.normed = normed; self.xz = xz; self.xc = xc; self.dbc = dbc; self.dt = dt; self.y = y
    }

    init(workspace ws: ForwardWorkspace) {
        self.init(residIn: ws.resid.pointer, normed: ws.normed.pointer, xz: ws.xz.pointer, xc: ws.xc.pointer,
                  dbc: ws.dbc.pointer, dt: ws.dt.pointer, y: ws.y.pointer)
        if ws.xcRev.count > 0 { xcRev = ws.xcRev.pointer; dbcRev = ws.dbcRev.pointer; dtRev = ws.dtRev.pointer }
    }
}

