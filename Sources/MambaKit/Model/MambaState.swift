// MambaState.swift — the O(1)-per-token recurrent state of a Mamba LM.

/// The state a Mamba LM carries from one token to the next: per layer, the last K-1 inputs of
/// the causal convolution and the E×N SSM state. Its size does not depend on the length of
/// what has been processed, so generation and streaming run in constant memory.
///
/// Layouts (differs from transformers' `MambaCache`, which keeps the conv window as (B, E, K)):
/// - `conv`: (nLayer, B, K-1, E), time-major: row j holds the input at time (now - (K-1) + j); Mamba-2
///   (nLayer, B, K-1, E+2GN), its conv runs over x | B | C.
/// - `ssm`:  (nLayer, B, E, N); the complex mixer (nLayer, B, E, N, 2), (re, im) per state
///   (``MambaConfig/ssmStateWidth`` floats per channel); Mamba-2 (nLayer, B, H, P, N), the same E·N floats.
public final class MambaState {
    public let batch: Int
    public let config: MambaConfig
    /// (nLayer, B, K-1, E)
    public let conv: FloatBuffer
    /// (nLayer, B, E, N)
    public let ssm: FloatBuffer
    /// Tokens consumed so far (per batch row; all rows advance together).
    public var position: Int = 0
    /// A U-Net backbone's state (every stage and pooling level), nil for the flat stack (whose layers'
    /// states are `conv` and `ssm`; empty for a U-Net).
    public let unet: UNetState?

    public init(config: MambaConfig, batch: Int) {
        self.batch = batch
        self.config = config
        let layers = config.flatLayerCount
        conv = FloatBuffer(count: layers * batch * (config.dConv - 1) * config.convChannels)
        ssm = FloatBuffer(count: layers * batch * config.dInner * config.ssmStateWidth)
        unet = config.unet == nil ? nil : UNetState(config: config, batch: batch)
    }

    private init(copying o: MambaState) {
        batch = o.batch; config = o.config
        conv = FloatBuffer(Array(o.conv.buffer)); ssm = FloatBuffer(Array(o.ssm.buffer))
        unet = o.unet?.copy()
        position = o.position
    }

    /// Conv state of layer l: (B, K-1, E).
    public func convState(layer l: Int) -> UnsafeMutablePointer<Float> {
        conv.pointer + l * batch * (config.dConv - 1) * config.convChannels
    }
    /// SSM state of layer l: (B, E, N), or (B, E, N, 2) for the complex mixer.
    public func ssmState(layer l: Int) -> UnsafeMutablePointer<Float> {
        ssm.pointer + l * batch * config.dInner * config.ssmStateWidth
    }

    /// Back to the empty state (as before the first token).
    public func reset() {
        conv.zero()
        ssm.zero()
        unet?.reset()
        position = 0
    }

    /// A deep copy (for branching generation or checkpoints of a stream).
    public func copy() -> MambaState { MambaState(copying: self) }

    /// Bytes held, for reports.
    public var byteCount: Int { (conv.count + ssm.count) * 4 + (unet?.byteCount ?? 0) }
}
