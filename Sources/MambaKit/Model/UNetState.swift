// UNetState.swift — the recurrent state of a ``UNet`` backbone: every stage's block states plus, per
// pooling level, the steps of the frame in progress and the projection of the last complete frame.

/// What a U-Net carries from one chunk (or one generated sample) to the next. Its size does not depend
/// on how much has been processed. Per level s (pool factor p_s, width D_s):
/// - `pending[s]` (B, p_s, D_s): the first `pendingCount[s]` steps of the frame in progress (the down
///   stage's outputs, waiting for the frame to complete);
/// - `lastFrame[s]` (B, p_s·D_s): the up-projection of the last complete frame, feeding the steps of the
///   frame in progress (zeros at the start: SaShiMi's shift);
/// - `down[s]`, `up[s]` and `center`: the stages' conv and SSM states (``MambaState``).
public final class UNetState {
    public let batch: Int
    public let down: [MambaState], up: [MambaState], center: MambaState
    let pending: [FloatBuffer], lastFrame: [FloatBuffer]
    /// Steps waiting in `pending[s]`: level s's position mod p_s (all batch rows advance together).
    public internal(set) var pendingCount: [Int]

    /// For a config with `unet`.
    init(config c: MambaConfig, batch B: Int) {
        batch = B
        let pool = c.unet!.pool, S = pool.count
        let stages = (0...S).map { c.stageConfig(level: $0) }
        down = (0..<S).map { MambaState(config: stages[$0], batch: B) }
        up = (0..<S).map { MambaState(config: stages[$0], batch: B) }
        center = MambaState(config: stages[S], batch: B)
        pending = (0..<S).map { FloatBuffer(count: B * pool[$0] * stages[$0].dModel) }
        lastFrame = (0..<S).map { FloatBuffer(count: B * pool[$0] * stages[$0].dModel) }
        pendingCount = [Int](repeating: 0, count: S)
    }

    private init(copying o: UNetState) {
        batch = o.batch
        down = o.down.map { $0.copy() }; up = o.up.map { $0.copy() }; center = o.center.copy()
        pending = o.pending.map { FloatBuffer(Array($0.buffer)) }
        lastFrame = o.lastFrame.map { FloatBuffer(Array($0.buffer)) }
        pendingCount = o.pendingCount
    }

    func copy() -> UNetState { UNetState(copying: self) }

    func reset() {
        for s in down + up + [center] { s.reset() }
        for b in pending + lastFrame { b.zero() }
        pendingCount = pendingCount.map { _ in 0 }
    }

    var byteCount: Int {
        (down + up + [center]).reduce(0) { $0 + $1.byteCount } + (pending + lastFrame).reduce(0) { $0 + $1.count * 4 }
    }
}
