#!/usr/bin/env python3
"""Reference fixtures for the RC-equivariant BiMamba (Caduceus-PS): masked-LM head and pooled classifier.

    /work/venv-torch/bin/python Scripts/make_caduceus_fixtures.py

The reference follows Caduceus' own definition (kuleshov-group/caduceus, caduceus/modeling_rcps.py and
modeling_caduceus.py) literally, in float64 with autograd, one sequence at a time (no padding): hidden
states have 2D channels; RC(h) flips length and channels;
  RCPSEmbedding   h = [E[x] | RC(E[rc(x)])]                       rc(x) = comp(x reversed)
  RCPSAddNorm     [norm(h[:, :D] + r[:, :D]) | RC(norm(RC(h[:, D:]) + RC(r[:, D:])))]
  RCPSWrapper     [f(h[:, :D]) | RC(f(RC(h[:, D:])))],  f = BiMambaWrapper (weight tie: in_proj, out_proj
                  shared; mamba_rev has its own conv1d, x_proj, dt_proj, A_log, D; strategy "add")
  RCPSLMHead      logits = h[:, :D] W^T + flip_C(h[:, D:]) W[comp]^T     (W tied to E)
  classifier      mean over L of [h[:, :D], RC(h[:, D:])], the score layer on each, averaged (+ bias)
MambaKit computes the same as two streams of a doubled batch (Sources/MambaKit/Layers/RCPairing.swift),
so this is an independent check of that construction.

Writes Tests/MambaKitTests/Fixtures/caduceus_mlm/ (config.json with bidirectional, rcps, complement_map;
model.safetensors; inputs.json {"inputs", "targets"}; expected.safetensors: logits (ΣL, V), loss (mean
cross-entropy over the masked positions), grad.<name>) and caduceus_cls/ (config.json, classifier.json,
model.safetensors with classifier.*; inputs.json {"sequences", "labels"}; expected: logits (n, C), loss, grad.*).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_classifier_fixtures import mixer_direction  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "Tests" / "MambaKitTests" / "Fixtures"
D, NL, V, N, E, K, R, C = 8, 2, 10, 4, 16, 4, 2, 3
EPS = 1e-5
# NucleotideTokenizer ids: <pad> <cls> <eos> <mask> <unk> A C G T N; A↔T, C↔G, the rest fixed
COMP = [0, 1, 2, 3, 4, 8, 7, 6, 5, 9]
MASK = 3


def params(seed: int, classifier: bool) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def u(shape, bound):
        return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * bound

    P = {"backbone.embeddings.weight": torch.randn(V, D, generator=g, dtype=torch.float64) * 0.5}
    for i in range(NL):
        p = f"backbone.layers.{i}."
        P[p + "norm.weight"] = 1 + 0.1 * torch.randn(D, generator=g, dtype=torch.float64)
        P[p + "mixer.in_proj.weight"] = u((2 * E, D), 1 / math.sqrt(D))
        for m in ["mixer.", "mixer_rev."]:
            P[p + m + "conv1d.weight"] = u((E, 1, K), 1 / math.sqrt(K))
            P[p + m + "conv1d.bias"] = u((E,), 0.2)
            P[p + m + "x_proj.weight"] = u((R + 2 * N, E), 1 / math.sqrt(E))
            P[p + m + "dt_proj.weight"] = u((E, R), 1 / math.sqrt(R))
            dt = torch.exp(torch.rand(E, generator=g, dtype=torch.float64) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
            P[p + m + "dt_proj.bias"] = dt + torch.log(-torch.expm1(-dt))
            P[p + m + "A_log"] = torch.log(torch.arange(1, N + 1, dtype=torch.float64)).repeat(E, 1) \
                + 0.1 * torch.randn(E, N, generator=g, dtype=torch.float64)
            P[p + m + "D"] = 1 + 0.1 * torch.randn(E, generator=g, dtype=torch.float64)
        P[p + "mixer.out_proj.weight"] = u((D, E), 1 / math.sqrt(E))
    P["backbone.norm_f.weight"] = 1 + 0.1 * torch.randn(D, generator=g, dtype=torch.float64)
    if classifier:
        P["classifier.weight"] = torch.randn(C, D, generator=g, dtype=torch.float64) / math.sqrt(D)
        P["classifier.bias"] = torch.randn(C, generator=g, dtype=torch.float64) * 0.2
    # round to float32 values (what the checkpoint stores), then leaves in float64
    return {k: v.float().double().requires_grad_(True) for k, v in P.items()}


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def RC(h):
    """Caduceus' RCPSWrapper.rc for one sequence (L, C): flip length and channels."""
    return h.flip(0).flip(-1)


def rc_ids(x):
    return torch.tensor([COMP[int(t)] for t in x.flip(0)], dtype=torch.long)


def bimamba(P, p, h):
    """BiMambaWrapper (strategy add, in_proj/out_proj tied) on (L, D)."""
    dims = (E, N, K, R)
    W_in, W_out = P[p + "mixer.in_proj.weight"], P[p + "mixer.out_proj.weight"]
    fwd = mixer_direction(P, p + "mixer.", h @ W_in.T, *dims) @ W_out.T
    rev = (mixer_direction(P, p + "mixer_rev.", h.flip(0) @ W_in.T, *dims) @ W_out.T).flip(0)
    return fwd + rev


def add_norm(w, h, r):
    """RCPSAddNormWrapper(RMSNorm) with prenorm: (normed, residual)."""
    if r is None:
        res_f, res_rc = h[:, :D], RC(h[:, D:])
    else:
        res_f, res_rc = h[:, :D] + r[:, :D], RC(h[:, D:]) + RC(r[:, D:])
    return torch.cat([rms(res_f, w), RC(rms(res_rc, w))], -1), torch.cat([res_f, RC(res_rc)], -1)


def hidden(P, x):
    """Caduceus-PS backbone on one sequence of ids x (L) → (L, 2D)."""
    Emb = P["backbone.embeddings.weight"]
    h = torch.cat([Emb[x], RC(Emb[rc_ids(x)])], -1)
    r = None
    for i in range(NL):
        p = f"backbone.layers.{i}."
        normed, r = add_norm(P[p + "norm.weight"], h, r)
        h = torch.cat([bimamba(P, p, normed[:, :D]), RC(bimamba(P, p, RC(normed[:, D:])))], -1)
    out, _ = add_norm(P["backbone.norm_f.weight"], h, r)
    return out


def lm_logits(P, h):
    W = P["backbone.embeddings.weight"]
    return h[:, :D] @ W.T + h[:, D:].flip(-1) @ W[COMP].T


def base_config(bidirectional_in_config: bool) -> dict:
    c = dict(model_type="mamba", architectures=["MambaForCausalLM"], hidden_size=D, num_hidden_layers=NL,
             vocab_size=V, state_size=N, expand=E // D, intermediate_size=E, conv_kernel=K, time_step_rank=R,
             use_bias=False, use_conv_bias=True, tie_word_embeddings=True, layer_norm_epsilon=EPS,
             rcps=True, complement_map={str(i): c for i, c in enumerate(COMP)})
    if bidirectional_in_config:
        c["bidirectional"] = True
    return c


def save(out: Path, P, expected, inputs, config, classifier_json=None):
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if classifier_json:
        (out / "classifier.json").write_text(json.dumps(classifier_json, indent=2, sort_keys=True) + "\n")
    save_file({k: v.detach().float().contiguous() for k, v in P.items()}, str(out / "model.safetensors"))
    (out / "inputs.json").write_text(json.dumps(inputs) + "\n")
    save_file({k: v.detach().float().contiguous() for k, v in expected.items()}, str(out / "expected.safetensors"))


def check_equivariance(P, x):
    """The reference itself: hidden(rc(x)) = RC(hidden(x)) (a check of this script, not of MambaKit)."""
    with torch.no_grad():
        d = (hidden(P, rc_ids(x)) - RC(hidden(P, x))).abs().max().item()
    assert d < 1e-12, f"reference is not RC-equivariant: {d:.3e}"
    return d


def make_mlm():
    P = params(31, classifier=False)
    g = torch.Generator().manual_seed(32)
    lengths = [7, 12, 5, 9]
    inputs, targets = [], []
    for n in lengths:
        seq = torch.randint(5, 10, (n,), generator=g)
        tgt = torch.full((n,), -1, dtype=torch.long)
        pos = torch.randperm(n, generator=g)[: max(1, round(0.3 * n))]
        inp = seq.clone()
        for j, i in enumerate(pos.tolist()):
            tgt[i] = seq[i]
            inp[i] = MASK if j % 3 != 2 else int(torch.randint(5, 9, (1,), generator=g))
        inputs.append(inp.tolist()); targets.append(tgt.tolist())
    d = check_equivariance(P, torch.tensor(inputs[1]))
    logits = [lm_logits(P, hidden(P, torch.tensor(x))) for x in inputs]
    allz, allt = torch.cat(logits), torch.tensor(sum(targets, []))
    loss = F.cross_entropy(allz, allt, ignore_index=-1)
    grads = torch.autograd.grad(loss, list(P.values()))
    expected = {"logits": allz, "loss": loss.reshape(1)}
    expected.update({"grad." + k: gr for k, gr in zip(P.keys(), grads)})
    save(ROOT / "caduceus_mlm", P, expected, {"inputs": inputs, "targets": targets}, base_config(True))
    print(f"caduceus_mlm: loss {loss.item():.6f}, {int((allt >= 0).sum())} masked positions, reference RC check {d:.1e}, "
          f"max |grad| {max(gr.abs().max().item() for gr in grads):.3e}")


def make_cls():
    P = params(41, classifier=True)
    g = torch.Generator().manual_seed(42)
    lengths, labels = [6, 11, 4, 8, 9], [0, 2, 1, 2, 0]
    sequences = [torch.randint(5, 10, (n,), generator=g).tolist() for n in lengths]
    rows = []
    for x in sequences:
        h = hidden(P, torch.tensor(x))
        stacked = torch.stack([h[:, :D], RC(h[:, D:])], -1)     # (L, D, 2) as CaduceusForSequenceClassification
        pooled = stacked.mean(0)                                  # (D, 2)
        rows.append((pooled[:, 0] @ P["classifier.weight"].T + pooled[:, 1] @ P["classifier.weight"].T) / 2
                    + P["classifier.bias"])
    logits = torch.stack(rows)
    loss = F.cross_entropy(logits, torch.tensor(labels))
    grads = torch.autograd.grad(loss, list(P.values()))
    expected = {"logits": logits, "loss": loss.reshape(1)}
    expected.update({"grad." + k: gr for k, gr in zip(P.keys(), grads)})
    head = {"labels": [f"class_{i}" for i in range(C)], "pooling": "mean", "bidirectional": True, "input": "tokens",
            "vocab_size": V}
    save(ROOT / "caduceus_cls", P, expected, {"sequences": sequences, "labels": labels}, base_config(False), head)
    print(f"caduceus_cls: loss {loss.item():.6f}, max |grad| {max(gr.abs().max().item() for gr in grads):.3e}")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    make_mlm()
    make_cls()
