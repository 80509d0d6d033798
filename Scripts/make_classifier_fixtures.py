#!/usr/bin/env python3
"""Reference fixtures for sequence classification (pooling, head, bidirectional BiMamba).

    /work/venv-torch/bin/python Scripts/make_classifier_fixtures.py

Writes ``Tests/MambaKitTests/Fixtures/classifier_<name>/``:
  config.json          HF Mamba config + MambaKit's num_labels / id2label / classifier_pooling / bidirectional
  model.safetensors    float32 parameters (HF names; reverse mixers ``backbone.layers.i.mixer_rev.*``;
                       head ``classifier.weight`` (C, D), ``classifier.bias`` (C))
  inputs.json          {"sequences": [[ids]…], "labels": […]}
  expected.safetensors float32: ``logits`` (n, C), ``loss`` (1) = mean cross-entropy,
                       ``grad.<name>`` = d loss / d <name> for every parameter

The reference runs each sequence on its own (batch 1, no padding) in float64 with autograd:
the forward direction is ``make_fixtures.independent_forward``'s mixer (checked here against
transformers' MambaForCausalLM in strict float64); the reverse direction (Caduceus BiMamba with
in_proj/out_proj shared) runs the same mixer with its own conv/x_proj/dt_proj/A_log/D on the
time-reversed sequence, and its output, reversed back, is added before out_proj.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "Tests" / "MambaKitTests" / "Fixtures"

SPECS = [
    dict(name="classifier_bidir_mean", pooling="mean", bidirectional=True, seed=11,
         lengths=[5, 9, 3, 7], labels=[0, 2, 1, 2]),
    dict(name="classifier_last", pooling="last", bidirectional=False, seed=12,
         lengths=[6, 2, 8], labels=[1, 0, 2]),
]
HF = dict(hidden_size=16, num_hidden_layers=2, vocab_size=12, state_size=4, expand=2, conv_kernel=4,
          time_step_rank=2, use_bias=False, use_conv_bias=True, tie_word_embeddings=True, layer_norm_epsilon=1e-5)
C = 3


def mixer_direction(P, p, xz, E, N, K, R):
    """conv → x_proj → dt_proj → scan, gated; xz (L, 2E) → y (L, E). `p` is the tensor-name prefix."""
    L = xz.shape[0]
    xs, z = xz[:, :E], xz[:, E:]
    w = P[p + "conv1d.weight"][:, 0, :]
    padded = torch.cat([torch.zeros(K - 1, E, dtype=torch.float64), xs], dim=0)
    conv = torch.stack([(padded[t:t + K] * w.T).sum(0) for t in range(L)]) + P[p + "conv1d.bias"]
    u = F.silu(conv)
    dbc = u @ P[p + "x_proj.weight"].T
    dtr, Bm, Cm = dbc[:, :R], dbc[:, R:R + N], dbc[:, R + N:]
    dt = F.softplus(dtr @ P[p + "dt_proj.weight"].T + P[p + "dt_proj.bias"])
    A = -torch.exp(P[p + "A_log"])
    s = torch.zeros(E, N, dtype=torch.float64)
    ys = []
    for t in range(L):
        s = torch.exp(dt[t, :, None] * A) * s + (dt[t, :, None] * Bm[t][None, :]) * u[t, :, None]
        ys.append(s @ Cm[t] + P[p + "D"] * u[t])
    return torch.stack(ys) * F.silu(z)


def hidden_states(P, ids, cfg, bidirectional):
    E, N, K, R = cfg["E"], cfg["N"], cfg["K"], cfg["R"]
    eps = HF["layer_norm_epsilon"]

    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    h = P["backbone.embeddings.weight"][ids]
    for i in range(HF["num_hidden_layers"]):
        p = f"backbone.layers.{i}."
        xz = rms(h, P[p + "norm.weight"]) @ P[p + "mixer.in_proj.weight"].T
        y = mixer_direction(P, p + "mixer.", xz, E, N, K, R)
        if bidirectional:
            y = y + mixer_direction(P, p + "mixer_rev.", xz.flip(0), E, N, K, R).flip(0)
        h = h + y @ P[p + "mixer.out_proj.weight"].T
    return rms(h, P["backbone.norm_f.weight"])


def transformers_hidden(model, seed):
    """10 seeded token ids and transformers' last hidden states for them, in strict float64."""
    ids0 = torch.tensor(mf.make_tokens(HF["vocab_size"], 10, seed), dtype=torch.long)
    model64 = mf.reference_model(model)
    with torch.no_grad(), mf.strict_float64(model64):
        _, hf_hidden = mf.hf_forward(model64, ids0)
    return ids0, hf_hidden


def add_reverse_mixers_and_head(P32, seed, bidirectional):
    """Adds reverse mixers (their own values, not copies, same scales as perturb()) when bidirectional,
    and the classification head, drawn from the seed + 100 stream into the float32 parameters P32."""
    gen = torch.Generator().manual_seed(seed + 100)
    D = HF["hidden_size"]
    if bidirectional:
        for i in range(HF["num_hidden_layers"]):
            f, r = f"backbone.layers.{i}.mixer.", f"backbone.layers.{i}.mixer_rev."
            for leaf in ["conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias", "A_log", "D"]:
                base = P32[f + leaf]
                noise = torch.randn(base.shape, generator=gen, dtype=torch.float64) * 0.3 * base.abs().mean()
                P32[r + leaf] = (base.double() + noise).float()
    P32["classifier.weight"] = (torch.randn(C, D, generator=gen, dtype=torch.float64) / math.sqrt(D)).float()
    P32["classifier.bias"] = (torch.randn(C, generator=gen, dtype=torch.float64) * 0.2).float()


def make(spec):
    torch.manual_seed(spec["seed"])
    cfg_hf = mf.MambaConfig(**HF)
    model = mf.build_model(cfg_hf, spec["seed"])
    mf.perturb(model, spec["seed"])
    E, N, K, R = cfg_hf.intermediate_size, cfg_hf.state_size, cfg_hf.conv_kernel, int(cfg_hf.time_step_rank)
    dims = dict(E=E, N=N, K=K, R=R)
    P32 = {k: v.detach().clone() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    add_reverse_mixers_and_head(P32, spec["seed"], spec["bidirectional"])
    D = HF["hidden_size"]

    # Check the forward-direction spec against transformers in strict float64 (last hidden states).
    ids0, hf_hidden = transformers_hidden(model, spec["seed"])
    P64 = {k: v.double().requires_grad_(True) for k, v in P32.items()}
    with torch.no_grad():
        mine = hidden_states(P64, ids0, dims, False)
    diff = (mine - hf_hidden).abs().max().item()
    assert diff < 1e-10, f"forward direction vs transformers: {diff:.3e}"

    tgen = torch.Generator().manual_seed(spec["seed"] + 200)
    sequences = [[int(t) for t in torch.randint(1, HF["vocab_size"], (n,), generator=tgen)] for n in spec["lengths"]]
    logits = []
    for seq in sequences:
        h = hidden_states(P64, torch.tensor(seq, dtype=torch.long), dims, spec["bidirectional"])
        pooled = h.mean(0) if spec["pooling"] == "mean" else h[-1]
        logits.append(pooled @ P64["classifier.weight"].T + P64["classifier.bias"])
    logits = torch.stack(logits)
    loss = F.cross_entropy(logits, torch.tensor(spec["labels"]))
    grads = torch.autograd.grad(loss, list(P64.values()))

    out = ROOT / spec["name"]
    out.mkdir(parents=True, exist_ok=True)
    config = cfg_hf.to_dict()
    config = {k: config[k] for k in ["hidden_size", "num_hidden_layers", "vocab_size", "state_size", "expand",
                                     "conv_kernel", "time_step_rank", "intermediate_size", "use_bias",
                                     "use_conv_bias", "tie_word_embeddings", "layer_norm_epsilon"]}
    config.update(model_type="mamba", architectures=["MambaForSequenceClassification"], num_labels=C,
                  id2label={str(i): f"class_{i}" for i in range(C)}, classifier_pooling=spec["pooling"],
                  bidirectional=spec["bidirectional"])
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in P32.items()}, str(out / "model.safetensors"))
    (out / "inputs.json").write_text(json.dumps({"sequences": sequences, "labels": spec["labels"]}) + "\n")
    expected = {"logits": logits.detach().float(), "loss": loss.detach().reshape(1).float()}
    for (k, _), g in zip(P64.items(), grads):
        expected["grad." + k] = g.float().contiguous()
    save_file(expected, str(out / "expected.safetensors"))
    print(f"{spec['name']}: loss {loss.item():.6f}, forward check {diff:.1e}, {len(P32)} tensors, "
          f"max |grad| {max(g.abs().max().item() for g in grads):.3e}")


if __name__ == "__main__":
    for s in SPECS:
        make(s)
