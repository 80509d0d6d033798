#!/usr/bin/env python3
"""Reference fixture for the complex-valued selective SSM mixer (config ``ssm_mixer: "complex"``).

    /work/venv-torch/bin/python Scripts/make_complex_fixtures.py

The Mamba paper's §3.6 complex parameterisation, with the semantics of mamba_ssm's ``selective_scan_ref``
for a complex A (its Mamba module never builds one; we follow the reference scan). The model, written here
from the formulas in strict float64 (no transformers / mamba_ssm code):

    h = Emb[ids]
    per layer:  x = RMSNorm(h) * w_norm
                [xs, z] = in_proj(x)                                  (E wide each)
                u  = silu(causal_depthwise_conv(xs) + b_conv)          (left zero pad K-1)
                [dtr, B, C] = x_proj(u)                               (R, 2N, 2N wide)
                B_n = B[2n] + i B[2n+1],  C_n likewise               (view_as_complex of "(n two)")
                dt = softplus(dt_proj.W @ dtr + dt_proj.b)
                A  = -exp(A_log) + i A_imag                           (E, N) complex
                s_t = exp(dt_t A) s_{t-1} + dt_t B_t u_t              (s: E x N complex, s_{-1} = 0)
                y_t = 2 Re(s_t @ C_t) + D u_t;  y = y * silu(z)
                h  = h + out_proj(y)
    logits = RMSNorm(h) * w_norm_f @ Embᵀ                             (tied head)

Writes ``Tests/MambaKitTests/Fixtures/complex_tiny/``:
  config.json           Hugging Face format + ``"ssm_mixer": "complex"`` (D 16, 2 layers, N 4, E 32, K 4, R 2, V 20)
  model.safetensors     float32 parameters under MambaKit's names, incl. ``mixer.A_imag`` (E, N) and
                        ``mixer.x_proj.weight`` (R + 4N, E), rows [dt (R); B re_0, im_0, …; C re_0, im_0, …]
  tokens.txt            L = 80 token ids (longer than one 64-step backward chunk)
  expected.safetensors  float32 ``logits`` (L, V), ``nll`` (1,) = mean next-token NLL
  grads.safetensors     float32 d nll / d p for every parameter (same names), and ``nll``

Checks before writing (asserted): the complex scan against a second implementation in real arithmetic
(rotation by cos/sin, 1e-12), the token-by-token recurrence from a carried state against the whole sequence,
and autograd against central finite differences on a few entries of every tensor (relative 1e-6).
Deterministic: two runs give byte-identical files.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "MambaKitTests" / "Fixtures" / "complex_tiny"
D, NL, N, EXPAND, K, R, V, L = 16, 2, 4, 2, 4, 2, 20, 80
E = EXPAND * D
EPS = 1e-5
SEED = 1201
torch.set_default_dtype(torch.float64)


def make_params(g: torch.Generator) -> dict[str, torch.Tensor]:
    def normal(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    P = {"backbone.embeddings.weight": normal(V, D, std=0.3)}
    for i in range(NL):
        p = f"backbone.layers.{i}."
        P[p + "norm.weight"] = normal(D, std=0.2, mean=1.0)
        P[p + "mixer.in_proj.weight"] = normal(2 * E, D, std=1 / math.sqrt(D))
        P[p + "mixer.conv1d.weight"] = normal(E, 1, K, std=0.5)
        P[p + "mixer.conv1d.bias"] = normal(E, std=0.3)
        P[p + "mixer.x_proj.weight"] = normal(R + 4 * N, E, std=1 / math.sqrt(E))
        P[p + "mixer.dt_proj.weight"] = normal(E, R, std=0.3 / math.sqrt(R))
        dt0 = torch.exp(torch.rand(E, generator=g) * (math.log(0.5) - math.log(1e-3)) + math.log(1e-3))
        P[p + "mixer.dt_proj.bias"] = dt0 + torch.log(-torch.expm1(-dt0))  # softplus⁻¹
        P[p + "mixer.A_log"] = math.log(0.5) + normal(E, N, std=0.2)        # S4D-Lin −1/2 + iπn, perturbed
        P[p + "mixer.A_imag"] = math.pi * torch.arange(N).repeat(E, 1) + normal(E, N, std=0.3)
        P[p + "mixer.D"] = normal(E, std=0.5, mean=1.0)
        P[p + "mixer.out_proj.weight"] = normal(D, E, std=1 / math.sqrt(E))
    P["backbone.norm_f.weight"] = normal(D, std=0.2, mean=1.0)
    return P


def complex_scan(u, dt, A, Bc, Cc, Dv, s0=None):
    """selective_scan_ref-style, literally: complex state s (E, N); returns y (L, E) pre-gate and the last state."""
    s = torch.zeros(E, N, dtype=torch.complex128) if s0 is None else s0
    ys = []
    for t in range(u.shape[0]):
        s = torch.exp(dt[t, :, None] * A) * s + (dt[t, :, None] * u[t, :, None]) * Bc[t][None, :]
        ys.append(2 * (s @ Cc[t]).real + Dv * u[t])
    return torch.stack(ys), s


def rotation_scan(u, dt, A_re, A_im, Bm, Cm, Dv):
    """The same scan in real arithmetic: decay exp(dt A_re) times a rotation by dt A_im; B, C de-interleaved."""
    hr = torch.zeros(E, N)
    hi = torch.zeros(E, N)
    br, bi, cr, ci = Bm[:, 0::2], Bm[:, 1::2], Cm[:, 0::2], Cm[:, 1::2]
    ys = []
    for t in range(u.shape[0]):
        m = torch.exp(dt[t, :, None] * A_re)
        c, s = torch.cos(dt[t, :, None] * A_im), torch.sin(dt[t, :, None] * A_im)
        du = (dt[t] * u[t])[:, None]
        hr, hi = m * (c * hr - s * hi) + du * br[t], m * (c * hi + s * hr) + du * bi[t]
        ys.append(2 * (hr @ cr[t] - hi @ ci[t]) + Dv * u[t])
    return torch.stack(ys)


def mixer_inputs(P, p, x):
    xz = x @ P[p + "mixer.in_proj.weight"].T
    xs, z = xz[:, :E], xz[:, E:]
    return xs, z


def forward(P, ids, states=None, check=False):
    """Logits (len(ids), V). ``states``: per layer (conv window (K-1, E), complex state (E, N)), read and replaced."""
    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))

    T = ids.numel()
    h = P["backbone.embeddings.weight"][ids]
    for i in range(NL):
        p = f"backbone.layers.{i}."
        xs, z = mixer_inputs(P, p, rms(h, P[p + "norm.weight"]))
        w = P[p + "mixer.conv1d.weight"][:, 0, :]  # (E, K)
        prev = torch.zeros(K - 1, E) if states is None else states[i][0]
        padded = torch.cat([prev, xs], dim=0)
        u = F.silu(torch.stack([(padded[t:t + K] * w.T).sum(0) for t in range(T)]) + P[p + "mixer.conv1d.bias"])
        dbc = u @ P[p + "mixer.x_proj.weight"].T
        dtr, Bm, Cm = dbc[:, :R], dbc[:, R:R + 2 * N], dbc[:, R + 2 * N:]
        Bc = torch.view_as_complex(Bm.reshape(T, N, 2).contiguous())   # "(n two)": re, im interleaved
        Cc = torch.view_as_complex(Cm.reshape(T, N, 2).contiguous())
        dt = F.softplus(dtr @ P[p + "mixer.dt_proj.weight"].T + P[p + "mixer.dt_proj.bias"])
        A_re, A_im = -torch.exp(P[p + "mixer.A_log"]), P[p + "mixer.A_imag"]
        A = torch.complex(A_re, A_im)
        Dv = P[p + "mixer.D"]
        y, s_last = complex_scan(u, dt, A, Bc, Cc, Dv, None if states is None else states[i][1])
        if check:
            y2 = rotation_scan(u, dt, A_re, A_im, Bm, Cm, Dv)
            err = (y - y2).abs().max().item()
            assert err < 1e-12, f"complex scan vs rotation scan: {err}"
            check_err.append(err)
        if states is not None:
            states[i] = (padded[-(K - 1):].clone(), s_last)
        h = h + (y * F.silu(z)) @ P[p + "mixer.out_proj.weight"].T
    return rms(h, P["backbone.norm_f.weight"]) @ P["backbone.embeddings.weight"].T


check_err: list[float] = []


def nll(P, ids):
    logits = forward(P, ids)
    return F.cross_entropy(logits[:-1], ids[1:])


def main() -> None:
    g = torch.Generator().manual_seed(SEED)
    P = make_params(g)
    P = {k: v.to(torch.float32).to(torch.float64) for k, v in P.items()}   # what the float32 file holds
    ids = torch.randint(0, V, (L,), generator=g)
    ids[3], ids[17] = 0, V - 1

    logits = forward(P, ids, check=True)
    # recurrence: token by token from carried states = the whole sequence
    states = [(torch.zeros(K - 1, E), torch.zeros(E, N, dtype=torch.complex128)) for _ in range(NL)]
    step = torch.cat([forward(P, ids[t:t + 1], states) for t in range(L)])
    rec_err = (step - logits).abs().max().item()
    assert rec_err < 1e-10, rec_err

    leaves = {k: v.clone().requires_grad_(True) for k, v in P.items()}
    loss = nll(leaves, ids)
    loss.backward()
    grads = {k: v.grad.detach() for k, v in leaves.items()}

    # central finite differences on a few entries of every tensor
    worst = 0.0
    gen = torch.Generator().manual_seed(SEED + 1)
    for k, v in P.items():
        flat = v.reshape(-1)
        for idx in torch.randint(0, flat.numel(), (3,), generator=gen).tolist():
            hstep = 1e-5
            Pp = dict(P); Pm = dict(P)
            a = flat.clone(); a[idx] += hstep; Pp[k] = a.reshape(v.shape)
            b = flat.clone(); b[idx] -= hstep; Pm[k] = b.reshape(v.shape)
            fd = (nll(Pp, ids) - nll(Pm, ids)).item() / (2 * hstep)
            an = grads[k].reshape(-1)[idx].item()
            scale = max(grads[k].abs().max().item(), 1e-8)
            rel = abs(fd - an) / scale
            worst = max(worst, rel)
            assert rel < 1e-6, f"{k}[{idx}]: autograd {an}, finite difference {fd}"

    info = json.dumps({"fixture": "complex_tiny", "seed": SEED, "torch": torch.__version__,
                       "reference": "strict float64, complex selective scan (selective_scan_ref semantics)"},
                      sort_keys=True)
    OUT.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": D, "num_hidden_layers": NL,
        "vocab_size": V, "state_size": N, "conv_kernel": K, "expand": EXPAND, "intermediate_size": E,
        "time_step_rank": R, "use_bias": False, "use_conv_bias": True, "hidden_act": "silu",
        "layer_norm_epsilon": EPS, "residual_in_fp32": True, "tie_word_embeddings": True,
        "pad_vocab_size_multiple": 1, "ssm_mixer": "complex", "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
    }
    (OUT / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    f32 = lambda d: {k: v.detach().to(torch.float32).contiguous() for k, v in d.items()}  # noqa: E731
    save_file(f32(P), OUT / "model.safetensors", metadata={"format": "pt"})
    (OUT / "tokens.txt").write_text(" ".join(str(i) for i in ids.tolist()) + "\n")
    save_file(f32({"logits": logits, "nll": loss.detach().reshape(1)}), OUT / "expected.safetensors", metadata={"info": info})
    save_file(f32({**grads, "nll": loss.detach().reshape(1)}), OUT / "grads.safetensors", metadata={"info": info})
    print(f"complex_tiny: nll {loss.item():.6f}, max |logit| {logits.abs().max().item():.3f}; "
          f"complex vs rotation scan {max(check_err):.2e}; recurrence vs whole {rec_err:.2e}; "
          f"autograd vs finite differences (relative) {worst:.2e}")


if __name__ == "__main__":
    main()
