// SSMMixer.swift — which state-space layer a Mamba block mixes time with.

/// The SSM inside each Mamba block (config.json `ssm_mixer`, a MambaKit extension; absent = selective).
public enum SSMMixer: String, Codable, CaseIterable, Sendable {
    /// Mamba's selective SSM (S6): Δ, B and C are projections of the input (`x_proj`, `dt_proj`).
    /// Every Mamba checkpoint uses it.
    case selective
    /// A linear time-invariant SSM (S4D-Real): Δ, B and C are learned parameters (`log_dt`, `B`, `C`),
    /// the same for every input; the ablation of the Mamba paper's §4.1. See ``LTISSM``.
    case lti
    /// The complex-valued selective SSM (the Mamba paper's §3.6 parameterisation for audio): diagonal complex
    /// A = −exp(A_log) + i·A_imag (S4D-Lin init), complex B and C from `x_proj` (R + 4N outputs), a complex
    /// state and y = 2·Re(C·h) + D·u, as mamba_ssm's `selective_scan_ref` with complex A. See ``ComplexSSM``.
    case complex
    /// Mamba-2's SSD layer (Dao & Gu 2024): one in_proj to (z, x, B, C, Δ), a conv over (x, B, C), one scalar A
    /// per head, B and C shared by a group of heads, a gated RMSNorm before out_proj; keys `in_proj, conv1d,
    /// dt_bias, A_log, D, norm, out_proj`. Chosen by `model_type: "mamba2"` (or mamba_ssm's `"layer": "Mamba2"`),
    /// with the dimensions in ``MambaConfig/ssd``. See ``SSDMixer``.
    case ssd
}
