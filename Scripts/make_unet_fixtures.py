#!/usr/bin/env python3
"""Reference fixture for the multi-scale (SaShiMi-style U-Net) language model.

    /work/venv-torch/bin/python Scripts/make_unet_fixtures.py

Writes ``Tests/MambaKitTests/Fixtures/unet_tiny/``:
  config.json          MambaKit's config.json (Hugging Face keys) with ``"unet": {"pool": [2, 2], "expand": 2}``;
                       n_layer = blocks per stage
  model.safetensors    float32 parameters under MambaKit's keys: ``backbone.embeddings.weight``,
                       ``backbone.down.{s}.layers.{i}.{norm.weight, mixer.*}``, ``backbone.down.{s}.pool.{weight,bias}``,
                       ``backbone.center.layers.{i}.*``, ``backbone.up.{s}.pool.{weight,bias}``,
                       ``backbone.up.{s}.layers.{i}.*``, ``backbone.norm_f.weight`` (LM head tied)
  expected.safetensors float32 ``inputs`` / ``targets`` (B, L) as float, ``logits`` (B, L, V),
                       ``nll`` (1) = mean next-token NLL, ``grad.<name>`` = d nll / d <name> for every tensor

The reference is written from the definition, independently of MambaKit's chunked implementation:
each sequence runs whole, from the empty state, in float64 with autograd. A level s of the U-Net
(``level``) runs its down stage (Mamba blocks, ``make_classifier_fixtures.mixer_direction`` for the
mixer), reshapes the first ⌊L/p⌋·p steps into frames (step-major: frame k = steps kp … kp+p−1
concatenated), projects them (down pool), runs level s+1 on the frames, projects its output back to
p steps per frame (up pool), shifts by one frame (frame 0's steps get zeros, frame k+1's steps get
frame k's projection: SaShiMi's ``F.pad(x[..., :-1], (1, 0))``), adds the skip (the down stage's
output) and runs the up stage. L = 22 is not a multiple of 4, so incomplete frames at the end of
both levels are exercised. Checks (asserted): 4th-order finite differences at the largest-|g| entry
of several tensors (< 1e-6 relative), and causality (changing token t leaves logits before t unchanged).
Deterministic: two runs give byte-identical files.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_classifier_fixtures as mc  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/MambaKitTests/Fixtures/unet_tiny"
D0, N_LAYER, N, K, V, EXPAND_INNER = 8, 1, 4, 4, 11, 2
POOL, EXPAND = [2, 2], 2
B, L = 2, 22
EPS = 1e-5
SEED = 31


def stage_dims(s):
    d = D0 * EXPAND ** s
    return dict(D=d, E=EXPAND_INNER * d, N=N, K=K, R=math.ceil(d / 16))


def parameter_specs():
    """(name, shape, kind) in MambaKit's checkpoint order."""
    specs = [("backbone.embeddings.weight", (V, D0), "emb")]

    def blocks(prefix, s):
        d = stage_dims(s)
        D, E, R = d["D"], d["E"], d["R"]
        for i in range(N_LAYER):
            p = f"{prefix}layers.{i}."
            specs.extend([
                (p + "norm.weight", (D,), "norm"),
                (p + "mixer.in_proj.weight", (2 * E, D), "lin"),
                (p + "mixer.conv1d.weight", (E, 1, K), "conv"),
                (p + "mixer.conv1d.bias", (E,), "bias"),
                (p + "mixer.x_proj.weight", (R + 2 * N, E), "lin"),
                (p + "mixer.dt_proj.weight", (E, R), "lin"),
                (p + "mixer.dt_proj.bias", (E,), "dtbias"),
                (p + "mixer.A_log", (E, N), "alog"),
                (p + "mixer.D", (E,), "dskip"),
                (p + "mixer.out_proj.weight", (D, E), "lin"),
            ])

    S = len(POOL)
    for s in range(S):
        blocks(f"backbone.down.{s}.", s)
        d, dn, p = stage_dims(s)["D"], stage_dims(s + 1)["D"], POOL[s]
        specs += [(f"backbone.down.{s}.pool.weight", (dn, p * d), "lin"), (f"backbone.down.{s}.pool.bias", (dn,), "bias")]
    blocks("backbone.center.", S)
    for s in reversed(range(S)):
        d, dn, p = stage_dims(s)["D"], stage_dims(s + 1)["D"], POOL[s]
        specs += [(f"backbone.up.{s}.pool.weight", (p * d, dn), "lin"), (f"backbone.up.{s}.pool.bias", (p * d,), "bias")]
        blocks(f"backbone.up.{s}.", s)
    specs.append(("backbone.norm_f.weight", (D0,), "norm"))
    return specs


def draw(gen):
    P = {}
    for name, shape, kind in parameter_specs():
        def normal(std=1.0, mean=0.0):
            return torch.randn(shape, generator=gen, dtype=torch.float64) * std + mean
        if kind == "emb":
            t = normal(0.5)
        elif kind == "norm":
            t = normal(0.1, 1.0)
        elif kind == "lin":
            t = normal(1.0 / math.sqrt(shape[-1]))
        elif kind == "conv":
            t = normal(0.5)
        elif kind == "bias":
            t = normal(0.1)
        elif kind == "dtbias":
            dt = torch.exp(torch.rand(shape, generator=gen, dtype=torch.float64) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
            t = dt + torch.log(-torch.expm1(-dt))
        elif kind == "alog":
            t = torch.log(torch.arange(1, N + 1, dtype=torch.float64)).expand(shape).clone() + normal(0.1)
        elif kind == "dskip":
            t = normal(0.1, 1.0)
        P[name] = t.float().double()      # the float32 values the Swift side reads
    return P


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def stage(P, prefix, h, s):
    d = stage_dims(s)
    for i in range(N_LAYER):
        p = f"{prefix}layers.{i}."
        xz = rms(h, P[p + "norm.weight"]) @ P[p + "mixer.in_proj.weight"].T
        y = mc.mixer_direction(P, p + "mixer.", xz, d["E"], d["N"], d["K"], d["R"])
        h = h + y @ P[p + "mixer.out_proj.weight"].T
    return h


def level(P, s, x):
    """x (L_s, D_s) → (L_s, D_s), whole sequence from the empty state."""
    S = len(POOL)
    if s == S:
        return stage(P, "backbone.center.", x, s)
    a = stage(P, f"backbone.down.{s}.", x, s)
    Ls, D, p = x.shape[0], stage_dims(s)["D"], POOL[s]
    frames = a[: (Ls // p) * p].reshape(Ls // p, p * D)               # step-major frames
    xn = frames @ P[f"backbone.down.{s}.pool.weight"].T + P[f"backbone.down.{s}.pool.bias"]
    un = level(P, s + 1, xn) if xn.shape[0] > 0 else xn
    g = un @ P[f"backbone.up.{s}.pool.weight"].T + P[f"backbone.up.{s}.pool.bias"]   # (F, p·D)
    shifted = torch.cat([torch.zeros(1, p * D, dtype=torch.float64), g], 0).reshape(-1, D)[:Ls]
    if shifted.shape[0] < Ls:   # fewer steps than (F+1)·p only if L < p·(F+1), which cannot happen
        raise AssertionError("shift shorter than the sequence")
    v = shifted + a
    return stage(P, f"backbone.up.{s}.", v, s)


def forward(P, ids):
    h = P["backbone.embeddings.weight"][ids]
    out = level(P, 0, h)
    return rms(out, P["backbone.norm_f.weight"]) @ P["backbone.embeddings.weight"].T


def loss(P, inputs, targets):
    logits = torch.stack([forward(P, inputs[b]) for b in range(B)])
    return logits, F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(SEED)
    P = draw(gen)
    tokens = torch.randint(0, V, (B, L + 1), generator=gen)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    for t in P.values():
        t.requires_grad_(True)
    logits, nll = loss(P, inputs, targets)
    grads = torch.autograd.grad(nll, list(P.values()))
    G = dict(zip(P.keys(), grads))

    # finite differences at the largest-|g| entry of some tensors
    worst = 0.0
    with torch.no_grad():
        for name in ["backbone.down.0.pool.weight", "backbone.up.1.pool.bias", "backbone.center.layers.0.mixer.A_log",
                     "backbone.down.1.layers.0.mixer.in_proj.weight", "backbone.up.0.layers.0.mixer.dt_proj.bias",
                     "backbone.embeddings.weight", "backbone.up.0.pool.weight"]:
            g = G[name]
            idx = int(g.abs().argmax())
            t = P[name].view(-1)
            h = 1e-3
            vals = []
            for k in (-2, -1, 1, 2):
                old = float(t[idx]); t[idx] = old + k * h
                vals.append(float(loss(P, inputs, targets)[1])); t[idx] = old
            fd = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
            rel = abs(fd - float(g.view(-1)[idx])) / max(abs(fd), 1e-12)
            worst = max(worst, rel)
            print(f"FD {name}[{idx}]: autograd {float(g.view(-1)[idx]):.6e} fd {fd:.6e} rel {rel:.2e}")
    assert worst < 1e-6, worst

    # causality: changing token t changes no logit before t
    with torch.no_grad():
        base = forward(P, inputs[0])
        for t in [0, 5, 13, 21]:
            ids = inputs[0].clone(); ids[t] = (ids[t] + 1) % V
            other = forward(P, ids)
            assert torch.equal(other[:t], base[:t]), t
            assert (other[t:] - base[t:]).abs().max() > 0, t
    print(f"causality ok; nll {float(nll.detach()):.6f}; finite differences worst rel {worst:.2e}")

    OUT.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": D0, "num_hidden_layers": N_LAYER,
        "vocab_size": V, "state_size": N, "conv_kernel": K, "expand": EXPAND_INNER, "intermediate_size": EXPAND_INNER * D0,
        "time_step_rank": math.ceil(D0 / 16), "use_bias": False, "use_conv_bias": True, "hidden_act": "silu",
        "layer_norm_epsilon": EPS, "residual_in_fp32": True, "tie_word_embeddings": True,
        "unet": {"pool": POOL, "expand": EXPAND},
    }
    (OUT / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    with torch.no_grad():
        save_file({k: v.detach().float().contiguous() for k, v in P.items()}, str(OUT / "model.safetensors"))
        exp = {"inputs": inputs.float(), "targets": targets.float(), "logits": logits.detach().float(),
               "nll": nll.detach().reshape(1).float()}
        exp.update({"grad." + k: v.float().contiguous() for k, v in G.items()})
        save_file(exp, str(OUT / "expected.safetensors"))
    print(f"wrote {OUT} ({len(P)} tensors, {sum(t.numel() for t in P.values())} parameters)")


if __name__ == "__main__":
    main()
