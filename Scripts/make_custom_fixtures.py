#!/usr/bin/env python3
"""Reference fixtures for a sequence classifier over continuous input features.

    /work/venv-torch/bin/python Scripts/make_custom_fixtures.py

The model (MambaKit: ``InputProjection → MambaBlocks → norm_f → PooledHead``) has no token ids
and no embedding table: each example is a float32 matrix x (L_i, F), and
``h = x · input_proj.weightᵀ + input_proj.bias`` is the residual stream entering layer 0.
The backbone from layer 0 on, the pooling (mean or last position of the example), the head and
the loss (mean cross-entropy over the examples) are those of ``make_classifier_fixtures.py``.

Writes ``Tests/MambaKitTests/Fixtures/custom_<name>/`` (see ``SPECS``):
  spec.json            d_model, n_layer, d_state, expand, d_conv, dt_rank, d_inner, features,
                       num_labels, pooling ("mean" | "last"), bidirectional, layer_norm_epsilon,
                       use_conv_bias, use_bias, labels, lengths
  model.safetensors    float32 parameters: ``input_proj.weight`` (D, F), ``input_proj.bias`` (D),
                       ``backbone.layers.{i}.norm.weight``, ``backbone.layers.{i}.mixer.*`` (HF names),
                       reverse mixers ``backbone.layers.{i}.mixer_rev.*`` when bidirectional,
                       ``backbone.norm_f.weight``, ``classifier.weight`` (C, D), ``classifier.bias`` (C)
  inputs.safetensors   float32 ``features.<i>`` (L_i, F), one per example
  expected.safetensors float32 ``logits`` (n, C), ``loss`` (1) = mean cross-entropy,
                       ``grad.<name>`` = d loss / d <name> for every tensor of model.safetensors,
                       ``grad.features.<i>`` (L_i, F) = d loss / d features.<i>

The reference runs each example on its own (batch 1, no padding) in float64 with autograd.
``backbone_from_hidden`` is ``make_classifier_fixtures.hidden_states`` without the embedding
lookup (the same loop over ``mc.mixer_direction``; the reverse direction runs on the example's
own sequence reversed). Backbone parameters come from ``make_fixtures.build_model`` +
``perturb`` (embedding and lm_head dropped), reverse mixers and head are drawn the way
make_classifier_fixtures draws them; ``input_proj.weight`` ~ N(0, 1)/sqrt(F),
``input_proj.bias`` ~ N(0, 0.1); features ~ N(0, 1), drawn in float32 (the float64 reference
uses exactly those values). Checks (asserted): the forward direction against transformers'
MambaForCausalLM in strict float64 (as make_classifier_fixtures does, both through
``mc.hidden_states`` and through ``backbone_from_hidden`` fed the embedding rows), the
embedding-free path against ``mc.hidden_states`` (bidirectional too, bit-identical), for the
unidirectional spec the whole model end to end through transformers (``inputs_embeds`` = the input
projection; logits and every gradient, features included), and 4th-order finite-difference spot
checks of the gradients, including ``grad.features``.

With last pooling and bidirectional, the last layer's reverse scan is read only at its first step
(zero state), so ``grad.backbone.layers.{n_layer-1}.mixer_rev.A_log`` is exactly zero (asserted):
a relative per-tensor metric must not divide by its max.
Deterministic: two runs give byte-identical files.
"""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_classifier_fixtures as mc  # noqa: E402
import make_fixtures as mf  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = mc.ROOT
HF = mc.HF          # D=16, 2 layers, N=4, expand 2, K=4, R=2, eps 1e-5 (vocab only for build_model)
C = mc.C            # 3 labels
TOL_HF = 1e-10      # vs transformers, float64: max abs (hidden states, logits), max|Δg|/max|g| per tensor
TOL_FD = 1e-6       # finite differences vs autograd, relative

SPECS = [
    dict(name="custom_features_mean", features=10, pooling="mean", bidirectional=False, seed=21,
         lengths=[7, 3, 11, 5], labels=[0, 2, 1, 1]),
    dict(name="custom_features_bidir_last", features=6, pooling="last", bidirectional=True, seed=22,
         lengths=[4, 9, 2], labels=[2, 0, 1]),
]


def backbone_from_hidden(P, h, dims, bidirectional):
    """``mc.hidden_states`` starting from the residual stream h (L, D) instead of embedding ids."""
    E, N, K, R = dims["E"], dims["N"], dims["K"], dims["R"]
    eps = HF["layer_norm_epsilon"]

    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    for i in range(HF["num_hidden_layers"]):
        p = f"backbone.layers.{i}."
        xz = rms(h, P[p + "norm.weight"]) @ P[p + "mixer.in_proj.weight"].T
        y = mc.mixer_direction(P, p + "mixer.", xz, E, N, K, R)
        if bidirectional:
            y = y + mc.mixer_direction(P, p + "mixer_rev.", xz.flip(0), E, N, K, R).flip(0)
        h = h + y @ P[p + "mixer.out_proj.weight"].T
    return rms(h, P["backbone.norm_f.weight"])


def forward_loss(P, X, dims, spec):
    """logits (n, C) and the mean cross-entropy for the examples X[i] (L_i, F)."""
    logits = []
    for x in X:
        h = x @ P["input_proj.weight"].T + P["input_proj.bias"]
        h = backbone_from_hidden(P, h, dims, spec["bidirectional"])
        pooled = h.mean(0) if spec["pooling"] == "mean" else h[-1]
        logits.append(pooled @ P["classifier.weight"].T + P["classifier.bias"])
    logits = torch.stack(logits)
    return logits, F.cross_entropy(logits, torch.tensor(spec["labels"]))


@torch.no_grad()
def finite_difference_checks(P, X, dims, spec, grads, names, seed):
    """4th-order central differences (h = 1e-3) at the largest-|g| entry of a few tensors."""
    gen = torch.Generator().manual_seed(seed + 31337)
    worst = 0.0
    for name in names:
        g = grads[name]
        flat = g.reshape(-1)
        big = (flat.abs() >= 0.1 * flat.abs().max()).nonzero()[:, 0]
        j = int(big[torch.randint(len(big), (1,), generator=gen)])
        t = P[name] if name in P else X[int(name.rsplit(".", 1)[1])]
        v, step, f = t.view(-1), 1e-3, []
        orig = v[j].item()
        for d in (-2, -1, 1, 2):
            v[j] = orig + d * step
            f.append(forward_loss(P, X, dims, spec)[1].item())
        v[j] = orig
        fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * step)
        rel = abs(fd - flat[j].item()) / abs(flat[j].item())
        assert rel < TOL_FD, f"finite difference {name}[{j}]: {fd} vs {flat[j].item()} ({rel:.2e})"
        worst = max(worst, rel)
    return worst


def hf_end_to_end_check(model64, P64, X64, spec, logits, G):
    """Unidirectional specs: the whole model through transformers (``inputs_embeds`` = the input
    projection, MambaModel's last_hidden_state pooled, the same head), strict float64 autograd;
    returns max |Δlogits| and the worst per-tensor max|Δg| / max|g| against the reference."""
    hf = dict(model64.named_parameters())
    assert all(torch.equal(hf[k], P64[k]) for k in P64 if k.startswith("backbone."))
    xs = [x.detach().clone().requires_grad_(True) for x in X64]
    ext = {k: P64[k].detach().clone().requires_grad_(True) for k in P64 if not k.startswith("backbone.")}
    out = []
    with mf.strict_float64(model64):
        for x in xs:
            h = model64.backbone(inputs_embeds=(x @ ext["input_proj.weight"].T + ext["input_proj.bias"])[None],
                                 use_cache=False).last_hidden_state[0]
            pooled = h.mean(0) if spec["pooling"] == "mean" else h[-1]
            out.append(pooled @ ext["classifier.weight"].T + ext["classifier.bias"])
        out = torch.stack(out)
        loss = F.cross_entropy(out, torch.tensor(spec["labels"]))
        names = list(P64)
        tensors = [hf[k] if k.startswith("backbone.") else ext[k] for k in names] + xs
        grads = torch.autograd.grad(loss, tensors)
    dl = (out - logits).abs().max().item()
    keys = names + [f"features.{i}" for i in range(len(xs))]
    dg = max(mf.rel_max_diff(G[k].detach(), g) for k, g in zip(keys, grads))
    assert dl < TOL_HF and dg < TOL_HF, f"end to end vs transformers: logits {dl:.3e}, grads {dg:.3e}"
    return dl, dg


def make(spec):
    torch.manual_seed(spec["seed"])
    Fdim, D = spec["features"], HF["hidden_size"]
    assert len(spec["lengths"]) == len(spec["labels"]) and all(0 <= y < C for y in spec["labels"])
    cfg_hf = mf.MambaConfig(**HF)
    model = mf.build_model(cfg_hf, spec["seed"])
    mf.perturb(model, spec["seed"])
    E, N, K, R = cfg_hf.intermediate_size, cfg_hf.state_size, cfg_hf.conv_kernel, int(cfg_hf.time_step_rank)
    dims = dict(E=E, N=N, K=K, R=R)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    emb32 = sd.pop("backbone.embeddings.weight")   # only for the check against transformers
    sd.pop("lm_head.weight")

    gen = torch.Generator().manual_seed(spec["seed"] + 300)
    P32 = {"input_proj.weight": (torch.randn(D, Fdim, generator=gen, dtype=torch.float64) / math.sqrt(Fdim)).float(),
           "input_proj.bias": (torch.randn(D, generator=gen, dtype=torch.float64) * 0.1).float()}
    P32.update(sd)
    # Reverse mixers and head: as make_classifier_fixtures.make draws them.
    mc.add_reverse_mixers_and_head(P32, spec["seed"], spec["bidirectional"])
    assert all(v.dtype == torch.float32 for v in P32.values())

    # Backbone check against transformers in strict float64 (make_classifier_fixtures' assertion),
    # and the embedding-free path against mc.hidden_states.
    ids0, hf_hidden = mc.transformers_hidden(model, spec["seed"])
    P64 = {k: v.double().requires_grad_(True) for k, v in P32.items()}
    with torch.no_grad():
        Pe = {**P64, "backbone.embeddings.weight": emb32.double()}
        via_mc = mc.hidden_states(Pe, ids0, dims, False)
        mine = backbone_from_hidden(P64, Pe["backbone.embeddings.weight"][ids0], dims, False)
        diff = max((via_mc - hf_hidden).abs().max().item(), (mine - hf_hidden).abs().max().item())
        assert diff < TOL_HF, f"forward direction vs transformers: {diff:.3e}"
        same = (mine - via_mc).abs().max().item()
        if spec["bidirectional"]:
            same = max(same, (backbone_from_hidden(P64, Pe["backbone.embeddings.weight"][ids0], dims, True)
                              - mc.hidden_states(Pe, ids0, dims, True)).abs().max().item())
        assert same == 0.0, f"embedding-free path vs mc.hidden_states: {same:.3e}"

    fgen = torch.Generator().manual_seed(spec["seed"] + 200)
    X32 = [torch.randn(n, Fdim, generator=fgen, dtype=torch.float32) for n in spec["lengths"]]
    X64 = [x.double().requires_grad_(True) for x in X32]
    logits, loss = forward_loss(P64, X64, dims, spec)
    names = list(P64)
    grads = torch.autograd.grad(loss, [P64[k] for k in names] + X64)
    G = {k: g for k, g in zip(names, grads)}
    G.update({f"features.{i}": g for i, g in enumerate(grads[len(names):])})
    # With last pooling, the last layer's reverse scan is read only at its first step (state 0),
    # where A has no effect: that A_log gradient is exactly zero. Every other gradient is not.
    zero = sorted(k for k, g in G.items() if g.abs().max().item() == 0)
    last_rev_A = f"backbone.layers.{HF['num_hidden_layers'] - 1}.mixer_rev.A_log"
    assert zero == ([last_rev_A] if spec["bidirectional"] and spec["pooling"] == "last" else []), zero

    hf_e2e = hf_end_to_end_check(mf.reference_model(model), P64, X64, spec, logits, G) if not spec["bidirectional"] else None

    fd_names = ["input_proj.weight", "input_proj.bias", "features.0", f"features.{len(X64) - 1}",
                "backbone.layers.0.mixer.conv1d.weight", "classifier.weight"]
    if spec["bidirectional"]:
        fd_names.append("backbone.layers.0.mixer_rev.A_log")
    P_fd = {k: v.detach().clone() for k, v in P64.items()}
    fd = finite_difference_checks(P_fd, [x.detach().clone() for x in X64], dims, spec, G, fd_names, spec["seed"])

    out = ROOT / spec["name"]
    out.mkdir(parents=True, exist_ok=True)
    spec_json = dict(d_model=D, n_layer=HF["num_hidden_layers"], d_state=N, expand=HF["expand"], d_conv=K,
                     dt_rank=R, d_inner=E, features=Fdim, num_labels=C, pooling=spec["pooling"],
                     bidirectional=spec["bidirectional"], layer_norm_epsilon=HF["layer_norm_epsilon"],
                     use_conv_bias=HF["use_conv_bias"], use_bias=HF["use_bias"],
                     labels=spec["labels"], lengths=spec["lengths"])
    (out / "spec.json").write_text(json.dumps(spec_json, indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in P32.items()}, str(out / "model.safetensors"))
    save_file({f"features.{i}": x.contiguous() for i, x in enumerate(X32)}, str(out / "inputs.safetensors"))
    expected = {"logits": logits.detach().float(), "loss": loss.detach().reshape(1).float()}
    for k, g in G.items():
        expected["grad." + k] = g.float().contiguous()
    save_file(expected, str(out / "expected.safetensors"))
    for f in ("spec.json", "model.safetensors", "inputs.safetensors", "expected.safetensors"):
        (out / f).chmod(0o644)
    gp = max(G[k].abs().max().item() for k in names)
    gx = max(G[f"features.{i}"].abs().max().item() for i in range(len(X64)))
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"{spec['name']}: loss {loss.item():.6f}, forward check {diff:.1e}, {len(P32)} tensors, "
          f"max |grad| {gp:.3e} (features {gx:.3e}), finite differences {fd:.1e}, "
          + (f"end to end vs transformers: logits {hf_e2e[0]:.1e}, grads {hf_e2e[1]:.1e}, " if hf_e2e else "")
          + f"{size} bytes"
          + (f"; all-zero gradient (structural): {', '.join(zero)}" if zero else ""))


if __name__ == "__main__":
    for pkg in ("mamba_ssm", "causal_conv1d", "kernels", "mambapy"):
        assert importlib.util.find_spec(pkg) is None, f"{pkg} installed: not the slow path"
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for s in SPECS:
        make(s)
