#!/usr/bin/env python3
"""Reference fixtures for Mamba-2 (SSD) blocks from PyTorch + transformers' ``Mamba2ForCausalLM``.

    python -m venv /work/ext/venv && /work/ext/venv/bin/pip install torch transformers safetensors
    /work/ext/venv/bin/python Scripts/make_mamba2_fixtures.py

transformers' own model (its torch path: the chunked SSD of ``torch_forward`` / ``mamba2_chunk_scan`` and the
recurrent ``mamba2_selective_state_update`` with a cache), seeded random initialisation with every parameter
perturbed away from its initial constant (norm weights, D, conv biases, dt_bias, A_log), in float32 (transformers'
SSD casts to float32 whatever the model's dtype, so float64 is not available from it; MambaKit's kernels are
checked against float64 finite differences in Mamba2Tests instead).

Writes ``Tests/MambaKitTests/Fixtures/<name>/`` for each case below:
  config.json, model.safetensors  ``save_pretrained`` output (transformers' Mamba2Config keys, its tensor names)
  tokens.txt                      L token ids
  expected.safetensors            ``logits`` (L, V) of one parallel pass; ``step_logits`` (L, V) token by token
                                  through transformers' cache (the recurrent form, which ignores time_step_limit:
                                  for mamba2_heads it differs from ``logits``); ``nll`` (1,)
  grads.safetensors               d nll / d p for every parameter (nll = transformers' loss with labels = ids:
                                  mean next-token cross-entropy), and ``nll``

Cases: several head counts and head dims, n_groups 1, 2 and = heads, chunk sizes that do not divide L, an odd
vocabulary, tied and untied heads, biases, a time_step_limit that clamps, and a bf16 checkpoint (the expected
values are then computed in float32 from the bf16-rounded weights, which is what MambaKit computes).
Deterministic: two runs give identical values.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import Mamba2Config, Mamba2ForCausalLM

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "MambaKitTests" / "Fixtures"

CASES = [
    # name, config, L, dtype
    ("mamba2_groups", dict(hidden_size=32, num_hidden_layers=2, vocab_size=53, state_size=16, num_heads=8, head_dim=8,
                           n_groups=2, chunk_size=16, expand=2, tie_word_embeddings=False), 45, torch.float32),
    ("mamba2_heads", dict(hidden_size=24, num_hidden_layers=3, vocab_size=37, state_size=8, num_heads=3, head_dim=16,
                          n_groups=1, chunk_size=8, expand=2, tie_word_embeddings=True, use_bias=True,
                          time_step_limit=(0.0, 0.05)), 30, torch.float32),
    ("mamba2_bf16", dict(hidden_size=32, num_hidden_layers=2, vocab_size=41, state_size=16, num_heads=4, head_dim=16,
                         n_groups=4, chunk_size=32, expand=2, tie_word_embeddings=False), 50, torch.bfloat16),
]


def perturb(model: Mamba2ForCausalLM, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if name.endswith("norm.weight") or name.endswith("mixer.D"):
                p.add_(0.2 * noise)
            elif name.endswith("conv1d.bias") or name.endswith("dt_bias") or name.endswith(".bias"):
                p.add_(0.3 * noise)
            elif name.endswith("A_log"):
                p.add_(0.3 * noise)
            elif name.endswith("in_proj.weight"):
                p.mul_(1.5)   # larger pre-activations: gates and Δ away from their linear regimes


def make(name: str, cfg: dict, L: int, dtype: torch.dtype, seed: int) -> None:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    config = Mamba2Config(layer_norm_epsilon=1e-5, residual_in_fp32=True, pad_token_id=0, bos_token_id=0, eos_token_id=0, **cfg)
    model = Mamba2ForCausalLM(config).float().eval()
    perturb(model, g)
    if dtype != torch.float32:   # round the weights to the checkpoint's precision, compute in float32
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(dtype).float())
    ids = torch.randint(0, cfg["vocab_size"], (1, L), generator=g)

    out = model(input_ids=ids, labels=ids)
    logits = out.logits[0].detach().clone()
    nll = out.loss
    model.zero_grad()
    nll.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}
    if config.tie_word_embeddings:
        grads.pop("lm_head.weight", None)

    # the recurrent form: one token at a time through transformers' cache
    with torch.no_grad():
        o = model(input_ids=ids[:, :1], use_cache=True)
        steps, cache = [o.logits[0, -1]], o.cache
        for t in range(1, L):
            o = model(input_ids=ids[:, t:t + 1], cache=cache, use_cache=True)
            steps.append(o.logits[0, -1]); cache = o.cache
        step_logits = torch.stack(steps)
    d_par = (step_logits - logits).abs().max().item()
    # transformers' recurrent step (mamba2_selective_state_update) does not apply time_step_limit, its chunked form
    # does: with a limit that clamps the two differ (MambaKit clamps in both; Docs/Mamba2.md)
    clamps = tuple(cfg.get("time_step_limit", (0.0, float("inf")))) != (0.0, float("inf"))
    assert clamps or d_par < 1e-4, f"{name}: transformers' recurrent and chunked forms differ by {d_par}"

    out_dir = FIXTURES / name
    out_dir.mkdir(parents=True, exist_ok=True)
    if dtype != torch.float32:
        model.to(dtype)
    model.save_pretrained(out_dir, safe_serialization=True)
    for extra in ("generation_config.json",):
        (out_dir / extra).unlink(missing_ok=True)
    (out_dir / "tokens.txt").write_text(" ".join(str(int(t)) for t in ids[0]) + "\n")
    save_file({"logits": logits.contiguous(), "step_logits": step_logits.contiguous(), "nll": nll.detach().reshape(1)},
              str(out_dir / "expected.safetensors"))
    grads["nll"] = nll.detach().reshape(1)
    save_file(grads, str(out_dir / "grads.safetensors"))
    print(f"{name}: L={L} V={cfg['vocab_size']} heads={cfg['num_heads']}x{cfg['head_dim']} groups={cfg['n_groups']} "
          f"chunk={cfg['chunk_size']} {str(dtype)}: nll {nll.item():.6f}, transformers recurrent vs chunked {d_par:.2e}")


if __name__ == "__main__":
    torch.use_deterministic_algorithms(True)
    for i, (name, cfg, L, dtype) in enumerate(CASES):
        make(name, cfg, L, dtype, seed=2024 + 17 * i)
