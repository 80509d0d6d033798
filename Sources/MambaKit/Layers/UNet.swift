// UNet.swift — a SaShiMi-style multi-scale backbone (Goel et al. 2022; the Mamba paper's audio model,
// §4.4): Mamba blocks at the input rate, pooled by p_0 to a level of width expand·D, pooled again …,
// centre blocks at the coarsest rate, then up-pooled back with skip connections. Forward and backward
// side by side; one forward for every length from an explicit state (whole windows, chunks that start
// anywhere inside a frame, or one sample of generation).
//
//   level s (T_s = B·L_s rows, width D_s; level s+1 has L_{s+1} = frames of level s):
//     a_s     = down_s(x_s)                       BlockStack                 (T_s, D_s)
//     x_{s+1} = DownPool_s(a_s)                   p_s steps → 1 frame        (T_{s+1}, D_{s+1})
//     u_{s+1} = level s+1 (x_{s+1})               … centre blocks at level S
//     v_s     = UpPool_s(u_{s+1}) + a_s           shifted by one frame; the skip connection
//     out_s   = up_s(v_s)                         BlockStack                 (T_s, D_s)
//   backward: up_s ← (dV → skip dA, and → UpPool_s → level s+1 → DownPool_s → dA) ← down_s.
//
// Causality: DownPool_s emits a frame after its last step, UpPool_s feeds frame k's result to frame
// k+1's steps, so out_0 at step t depends on inputs at steps ≤ t only. In recurrent mode level s+1
// steps once every p_s steps of level s: the cost per sample falls with depth.
//
// What differs from SaShiMi: Mamba blocks (with their own pre-norm residual stream) replace its S4 + MLP
// residual layers, so the extra residual around each up stage and the centre is left out; frames are
// step-major (SaShiMi's reshape is channel-major: a layout choice only).

/// The layers of a U-Net backbone: for each level s < S, `down.s.layers.*` and `down.s.pool`; the centre
/// `center.layers.*`; for each level, innermost first, `up.s.pool` and `up.s.layers.*` (all under `backbone.`).
public struct UNet: Sendable {
    public let config: UNetConfig
    /// The blocks' dimensions at each level 0 … S (``MambaConfig/stageConfig(level:)``).
    public let stages: [MambaConfig]
    let down: [BlockStack], up: [BlockStack], center: BlockStack
    public let downPool: [DownPool], upPool: [UpPool]
    /// Pooling levels S.
    public var levels: Int { downPool.count }
    /// Every block of every stage, in checkpoint order.
    var allBlocks: [(block: MambaBlock, config: MambaConfig)] {
        var out: [(MambaBlock, MambaConfig)] = []
        for s in 0..<levels { out += down[s].blocks.map { ($0, stages[s]) } }
        out += center.blocks.map { ($0, stages[levels]) }
        for s in stride(from: levels - 1, through: 0, by: -1) { out += up[s].blocks.map { ($0, stages[s]) } }
        return out
    }

    /// Registers the U-Net's tensors (checkpoint order: down 0, pool 0, down 1, …, centre, up S−1 pool,
    /// up S−1 blocks, …, up 0).
    init(config c: MambaConfig, layout: inout ParameterLayout, derived: inout Int) {
        let u = c.unet!
        config = u
        let S = u.pool.count
        stages = (0...S).map { c.stageConfig(level: $0) }
        var down: [BlockStack] = [], downPool: [DownPool] = []
        for s in 0..<S {
            down.append(BlockStack(prefix: "backbone.down.\(s).", config: stages[s], layout: &layout, derived: &derived))
            downPool.append(DownPool("backbone.down.\(s).pool", factor: u.pool[s], inDim: stages[s].dModel,
                                     outDim: stages[s + 1].dModel, layout: &layout))
        }
        center = BlockStack(prefix: "backbone.center.", config: stages[S], layout: &layout, derived: &derived)
        var up: [BlockStack?] = Array(repeating: nil, count: S), upPool: [UpPool?] = Array(repeating: nil, count: S)
        for s in stride(from: S - 1, through: 0, by: -1) {
            upPool[s] = UpPool("backbone.up.\(s).pool", factor: u.pool[s], inDim: stages[s + 1].dModel,
                               outDim: stages[s].dModel, layout: &layout)
            up[s] = BlockStack(prefix: "backbone.up.\(s).", config: stages[s], layout: &layout, derived: &derived)
        }
        self.down = down; self.downPool = downPool; self.up = up.map { $0! }; self.upPool = upPool.map { $0! }
    }

    // MARK: Forward

    /// out (B·L, D) from x (B·L, D), level 0; `state` advanced by L steps. With a tape, everything the
    /// backward needs is kept in it.
    func forward(_ ctx: LayerContext, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, batch B: Int,
                 length L: Int, state: UNetState, tape: UNetTape?, runtime: UNetRuntime) {
        forwardLevel(0, ctx, x: x, out: out, batch: B, length: L, state: state,
                     buffers: tape?.buffers ?? runtime.buffers, tape: tape, runtime: runtime)
    }

    private func forwardLevel(_ s: Int, _ ctx: LayerContext, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                              batch B: Int, length L: Int, state: UNetState, buffers: UNetBuffers, tape: UNetTape?,
                              runtime: UNetRuntime) {
        if s == levels {
            center.forward(ctx, x: x, out: out, batch: B, length: L, state: state.center, tape: tape?.center,
                           workspace: &runtime.workspaces[s])
            return
        }
        let pool = downPool[s], r = state.pendingCount[s]
        let F = pool.frameCount(pending: r, length: L)
        let lv = buffers.level(s, batch: B, length: L, frames: F, pending: r, pool: pool)
        // a_s = down_s(x_s): the skip and the steps to pool
        down[s].forward(ctx, x: x, out: lv.a.pointer, batch: B, length: L, state: state.down[s], tape: tape?.down[s],
                        workspace: &runtime.workspaces[s])
        pool.gather(x: lv.a.pointer, batch: B, length: L, pending: state.pending[s].pointer, count: r, frames: lv.frames.pointer)
        state.pendingCount[s] = (r + L) % pool.factor
        if F > 0 {   // the frames this chunk completes run through the next level
            pool.forward(ctx, frames: lv.frames.pointer, rows: B * F, out: lv.xNext.pointer)
            forwardLevel(s + 1, ctx, x: lv.xNext.pointer, out: lv.uNext.pointer, batch: B, length: F, state: state,
                         buffers: buffers, tape: tape, runtime: runtime)
            upPool[s].forward(ctx, lv.uNext.pointer, rows: B * F, out: lv.projected.pointer)
        }
        // v_s = shifted up-projection + a_s, then the up stage
        upPool[s].scatter(lv.projected.pointer, frames: F, last: state.lastFrame[s].pointer, pending: r, batch: B, length: L,
                          skip: lv.a.pointer, out: lv.v.pointer)
        up[s].forward(ctx, x: lv.v.pointer, out: out, batch: B, length: L, state: state.up[s], tape: tape?.up[s],
                      workspace: &runtime.workspaces[s])
    }

    // MARK: Backward

    /// dX (B·L, D) from dOut (B·L, D) for the forward taped in `tape`; parameter gradients added.
    func backward(_ ctx: LayerContext, dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, tape: UNetTape,
                  runtime: UNetRuntime) {
        backwardLevel(0, ctx, dOut: dOut, dX: dX, tape: tape, runtime: runtime)
    }

    private func backwardLevel(_ s: Int, _ ctx: LayerContext, dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
                               tape: UNetTape, runtime: UNetRuntime) {
        if s == levels {
            center.backward(ctx, dOut: dOut, dX: dX, tape: tape.center, workspace: &runtime.workspaces[s])
            return
        }
        let lv = tape.buffers.levels[s]
        let B = lv.batch, L = lv.length, F = lv.frameCount, r = lv.pending
        // dV (= dA of the skip) from the up stage
        up[s].backward(ctx, dOut: dOut, dX: lv.dA.pointer, tape: tape.up[s], workspace: &runtime.workspaces[s])
        if F > 0 {
            upPool[s].gatherGradient(lv.dA.pointer, frames: F, pending: r, batch: B, length: L, into: lv.dProjected.pointer)
            upPool[s].backward(ctx, lv.uNext.pointer, rows: B * F, dOut: lv.dProjected.pointer, dIn: lv.dUNext.pointer)
            backwardLevel(s + 1, ctx, dOut: lv.dUNext.pointer, dX: lv.dXNext.pointer, tape: tape, runtime: runtime)
            downPool[s].backward(ctx, frames: lv.frames.pointer, rows: B * F, dOut: lv.dXNext.pointer, dFrames: lv.dFrames.pointer)
            downPool[s].scatterGradient(lv.dFrames.pointer, batch: B, length: L, pending: r, into: lv.dA.pointer)
        }
        down[s].backward(ctx, dOut: lv.dA.pointer, dX: dX, tape: tape.down[s], workspace: &runtime.workspaces[s])
    }
}

// MARK: - Buffers

/// One level's activations of a U-Net forward (and its backward scratch), grown on demand.
final class UNetLevelBuffers {
    private(set) var batch = 0, length = 0, frameCount = 0, pending = 0
    var a = FloatBuffer(count: 0)          // (B, L, D)       down stage output: the skip and the steps pooled
    var frames = FloatBuffer(count: 0)     // (B, F, p·D)     complete frames
    var xNext = FloatBuffer(count: 0)      // (B, F, D')      DownPool output: the next level's input
    var uNext = FloatBuffer(count: 0)      // (B, F, D')      the next level's output
    var projected = FloatBuffer(count: 0)  // (B, F, p·D)     UpPool projections
    var v = FloatBuffer(count: 0)          // (B, L, D)       up stage input
    var dA = FloatBuffer(count: 0)         // (B, L, D)       backward: d a_s (skip + pooled steps)
    var dProjected = FloatBuffer(count: 0) // (B, F, p·D)
    var dUNext = FloatBuffer(count: 0)     // (B, F, D')
    var dXNext = FloatBuffer(count: 0)     // (B, F, D')
    var dFrames = FloatBuffer(count: 0)    // (B, F, p·D)

    func prepare(batch B: Int, length L: Int, frames F: Int, pending r: Int, pool: DownPool, training: Bool) {
        batch = B; length = L; frameCount = F; pending = r
        let p = pool.factor, D = pool.inDim, Dn = pool.outDim
        func grow(_ b: inout FloatBuffer, _ n: Int) { if b.count < n { b = FloatBuffer(count: n) } }
        grow(&a, B * L * D); grow(&v, B * L * D)
        grow(&frames, B * F * p * D); grow(&projected, B * F * p * D)
        grow(&xNext, B * F * Dn); grow(&uNext, B * F * Dn)
        if training {
            grow(&dA, B * L * D); grow(&dProjected, B * F * p * D); grow(&dFrames, B * F * p * D)
            grow(&dUNext, B * F * Dn); grow(&dXNext, B * F * Dn)
        }
    }
}

/// Every level's buffers.
final class UNetBuffers {
    var levels: [UNetLevelBuffers]
    let training: Bool
    init(levels S: Int, training: Bool) { levels = (0..<S).map { _ in UNetLevelBuffers() }; self.training = training }
    func level(_ s: Int, batch B: Int, length L: Int, frames F: Int, pending r: Int, pool: DownPool) -> UNetLevelBuffers {
        levels[s].prepare(batch: B, length: L, frames: F, pending: r, pool: pool, training: training)
        return levels[s]
    }
    var byteCount: Int {
        levels.reduce(0) { t, l in
            t + [l.a, l.frames, l.xNext, l.uNext, l.projected, l.v, l.dA, l.dProjected, l.dUNext, l.dXNext, l.dFrames]
                .reduce(0) { $0 + $1.count * 4 }
        }
    }
}

/// A backbone's U-Net scratch for forwards without a tape, and each level's block workspace.
final class UNetRuntime {
    var workspaces: [ForwardWorkspace]
    let buffers: UNetBuffers
    init(levels S: Int) {
        workspaces = (0...S).map { _ in ForwardWorkspace() }
        buffers = UNetBuffers(levels: S, training: false)
    }
}

/// What a training forward through a U-Net keeps: each stage's tape and each level's buffers.
final class UNetTape {
    let down: [TrainingTape], up: [TrainingTape], center: TrainingTape
    let buffers: UNetBuffers
    /// For a config with `unet`.
    init(config c: MambaConfig) {
        let S = c.unet!.pool.count
        down = (0..<S).map { TrainingTape(config: c.stageConfig(level: $0), head: false) }
        up = (0..<S).map { TrainingTape(config: c.stageConfig(level: $0), head: false) }
        center = TrainingTape(config: c.stageConfig(level: S), head: false)
        buffers = UNetBuffers(levels: S, training: true)
    }
    var byteCount: Int { (down + up + [center]).reduce(0) { $0 + $1.byteCount } + buffers.byteCount }
}
