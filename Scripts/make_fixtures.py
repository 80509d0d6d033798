#!/usr/bin/env python3
"""Generate the numerical reference fixtures for MambaKit's Swift tests.

The fixtures live in ``Tests/MambaKitTests/Fixtures/<name>/`` and are committed:
CI has no torch, so this script only runs on a developer machine.

Setup (once; the venv lives outside the checkout):

    python3 -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch transformers safetensors tokenizers

Run (from the repository root; re-runnable, produces byte-identical files):

    /work/venv-torch/bin/python Scripts/make_fixtures.py            # all fixtures
    /work/venv-torch/bin/python Scripts/make_fixtures.py tiny_f32   # only some
    /work/venv-torch/bin/python Scripts/make_fixtures.py adamw_tiny # needs tiny_f32 on disk

Generated with torch 2.15 (CPU) and transformers 5.24.  See
``Tests/MambaKitTests/Fixtures/README.md`` for what every file holds.

What it does, per fixture (see ``SPECS``):

1. ``build_model(cfg, seed)``: a random-init ``MambaForCausalLM`` (float32).
2. ``perturb(model, seed)``: overwrite *every* parameter with seeded random
   values of controlled scale, so that every parameter influences the logits
   (HF's init gives near-uniform logits, D == 1, identical A rows, ...).
3. Save it the way real checkpoints are saved (HF ``save_pretrained`` in the
   fixture's dtype, or the original ``mamba_ssm`` layout with 2 shards).
4. ``load_stored(...)``: reload exactly what was written (bf16/f16 weights stay
   rounded) and check that it matches the in-memory weights.
5. ``compute_expected(...)``: full-sequence forward of ``MambaForCausalLM`` in
   *strict* float64 (see ``strict_float64``), cross-checked against an
   independent float64 re-implementation (``independent_forward``), against
   HF's own float32 forward (< 1e-4) and against HF's recurrent, one token at a
   time, cache path (< 1e-9).
6. ``write_expected(...)``: store float32 ``logits``, ``logprobs``, ``nll`` and
   ``hidden_last`` in ``expected.safetensors``.
7. ``compute_grads(...)``: the gradient of the mean next-token NLL w.r.t. every
   parameter (HF names), by strict-float64 autograd through HF's forward,
   cross-checked against autograd of ``independent_forward`` (< 1e-10
   relative), 3 finite-difference spot checks (< 1e-5 relative) and HF's
   float32 autograd (< 1e-3 relative to each tensor's max); stored as float32
   in ``grads.safetensors`` (+ ``nll``).

Then ``adamw_tiny`` (``make_adamw_fixture``): a copy of tiny_f32's checkpoint
and tokens, and ``expected_adamw.safetensors``: the parameters after 3 steps of
``torch.optim.AdamW`` with global-norm clipping and a warmup + cosine lr schedule
(``ADAMW``, ``adamw_lr``, ``no_weight_decay``), run in strict float64 and checked
against the same update written out by hand (``manual_adamw_run``).

Extending (e.g. gradient fixtures): import this module, then
``model64 = reference_model(load_stored(spec, fixture_dir(spec.name)))`` gives
the float64 model exactly as stored; run it under ``with strict_float64(model64):``
and call ``write_expected(dir, tensors, ...)`` (or add keys to the dict that
``compute_expected`` returns) to add more tensors.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import DynamicCache, MambaConfig, MambaForCausalLM  # noqa: E402
from transformers.models.mamba import modeling_mamba  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_ROOT = REPO_ROOT / "Tests" / "MambaKitTests" / "Fixtures"

# Tolerances checked here (the Swift tests use max abs error <= 1e-4 on logits).
TOL_F32_VS_F64 = 1e-4       # HF float32 forward vs the float64 reference
TOL_RECURRENT = 1e-9        # HF step-by-step (cache) vs full sequence, float64
TOL_INDEPENDENT = 1e-10     # our own float64 re-implementation vs HF float64
# Gradients (grads.safetensors); the Swift tests use max|err| / max|g| <= 1e-3 per tensor.
TOL_GRAD_F32 = 1e-3         # HF float32 autograd vs float64, max|g64-g32| / max|g64|
TOL_GRAD_FD = 1e-5          # finite differences vs float64 autograd, relative, per entry
TOL_GRAD_INDEPENDENT = 1e-10  # autograd of independent_forward vs HF, relative to max|g|

# Files this script owns inside a fixture directory (removed before re-writing,
# so re-runs never leave stale shards behind; other files are left alone).
OWNED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "tokens.txt",
    "expected.safetensors",
    "grads.safetensors",
    "expected_adamw.safetensors",
)


# --------------------------------------------------------------------------
# Fixture specifications
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FixtureSpec:
    name: str
    seed: int
    # kwargs for transformers.MambaConfig (for mamba_ssm: the *padded* vocab)
    hf_config: dict
    seq_len: int
    save_dtype: torch.dtype = torch.float32
    # "hf": save_pretrained; "mamba_ssm": original state-spaces/mamba layout
    fmt: str = "hf"
    # only for fmt == "mamba_ssm": the original config.json contents
    mamba_ssm_config: dict | None = None

    @property
    def token_vocab(self) -> int:
        """Ids a tokenizer can produce (the unpadded vocab for mamba_ssm)."""
        if self.mamba_ssm_config is not None:
            return self.mamba_ssm_config["vocab_size"]
        return self.hf_config["vocab_size"]


def _pad_vocab(vocab: int, multiple: int) -> int:
    return vocab + (-vocab) % multiple


_MAMBA_SSM_CONFIG = {
    "d_model": 32,
    "n_layer": 2,
    "vocab_size": 45,
    "ssm_cfg": {"d_state": 16, "d_conv": 4, "expand": 2},
    "rms_norm": True,
    "residual_in_fp32": True,
    "fused_add_norm": True,
    "pad_vocab_size_multiple": 8,
    "tie_embeddings": True,
}

SPECS: list[FixtureSpec] = [
    FixtureSpec(
        name="tiny_f32",
        seed=1001,
        hf_config=dict(
            hidden_size=32, num_hidden_layers=2, vocab_size=61, state_size=16,
            conv_kernel=4, expand=2, time_step_rank=3, tie_word_embeddings=True,
        ),
        seq_len=24,
    ),
    FixtureSpec(
        name="odd_untied",
        seed=1002,
        hf_config=dict(
            hidden_size=24, num_hidden_layers=3, vocab_size=100, state_size=8,
            conv_kernel=3, expand=3, time_step_rank=5, use_bias=True,
            use_conv_bias=False, tie_word_embeddings=False, layer_norm_epsilon=1e-6,
        ),
        seq_len=31,
    ),
    FixtureSpec(
        name="bf16_weights",
        seed=1003,
        hf_config=dict(
            hidden_size=32, num_hidden_layers=3, vocab_size=77, state_size=16,
            conv_kernel=4, expand=2, time_step_rank=3, tie_word_embeddings=True,
        ),
        seq_len=27,
        save_dtype=torch.bfloat16,
    ),
    FixtureSpec(
        name="f16_weights",
        seed=1004,
        hf_config=dict(
            hidden_size=16, num_hidden_layers=2, vocab_size=50, state_size=4,
            conv_kernel=4, expand=2, time_step_rank=1, tie_word_embeddings=True,
        ),
        seq_len=22,
        save_dtype=torch.float16,
    ),
    FixtureSpec(
        name="mamba_ssm_sharded",
        seed=1005,
        hf_config=dict(
            hidden_size=_MAMBA_SSM_CONFIG["d_model"],
            num_hidden_layers=_MAMBA_SSM_CONFIG["n_layer"],
            vocab_size=_pad_vocab(_MAMBA_SSM_CONFIG["vocab_size"],
                                  _MAMBA_SSM_CONFIG["pad_vocab_size_multiple"]),
            state_size=_MAMBA_SSM_CONFIG["ssm_cfg"]["d_state"],
            conv_kernel=_MAMBA_SSM_CONFIG["ssm_cfg"]["d_conv"],
            expand=_MAMBA_SSM_CONFIG["ssm_cfg"]["expand"],
            time_step_rank="auto",  # ceil(32 / 16) = 2, as mamba_ssm's dt_rank="auto"
            tie_word_embeddings=True,
            layer_norm_epsilon=1e-5,  # mamba_ssm's default norm_epsilon
        ),
        seq_len=29,
        fmt="mamba_ssm",
        mamba_ssm_config=_MAMBA_SSM_CONFIG,
    ),
    FixtureSpec(
        name="long_seq",
        seed=1006,
        hf_config=dict(
            hidden_size=32, num_hidden_layers=2, vocab_size=40, state_size=16,
            conv_kernel=4, expand=2, time_step_rank=3, tie_word_embeddings=True,
        ),
        seq_len=300,
    ),
]

SPECS_BY_NAME = {s.name: s for s in SPECS}


def fixture_dir(name: str) -> Path:
    return FIXTURES_ROOT / name


# --------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------

def make_config(spec: FixtureSpec) -> MambaConfig:
    return MambaConfig(**spec.hf_config)


def build_model(cfg: MambaConfig, seed: int) -> MambaForCausalLM:
    """A random-init float32 MambaForCausalLM (HF init, seeded), in eval mode."""
    torch.manual_seed(seed)
    model = MambaForCausalLM(cfg)
    return model.float().eval()


@torch.no_grad()
def perturb(model: MambaForCausalLM, seed: int) -> None:
    """Overwrite every parameter with seeded random values of controlled scale.

    Scales are chosen so that activations stay O(1), logits O(1-10) and every
    parameter measurably changes the output:
      embeddings / untied lm_head ~ N(0, 0.3)
      in_proj, x_proj, out_proj    ~ N(0, 1/sqrt(fan_in)); their biases ~ N(0, 0.2)
      conv1d.weight ~ N(0, 0.5), conv1d.bias ~ N(0, 0.3)
      dt_proj.weight ~ N(0, 0.3/sqrt(rank)); dt_proj.bias = softplus^-1(dt0),
          dt0 log-uniform in [1e-3, 0.5]
      A_log = log(U(1, 16)) + N(0, 0.1);  D ~ N(1, 0.5);  norm weights ~ N(1, 0.2)
    """
    gen = torch.Generator().manual_seed(seed)

    def normal(shape, mean=0.0, std=1.0):
        return torch.randn(shape, generator=gen, dtype=torch.float64) * std + mean

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo

    touched: set[str] = set()
    params = dict(model.named_parameters(remove_duplicate=False))
    # Deterministic order: named_parameters order is the module definition order.
    for name, p in params.items():
        if any(p is params[t] for t in touched):
            touched.add(name)  # a tied alias (lm_head.weight) of an already perturbed tensor
            continue
        shape = tuple(p.shape)
        leaf = name.rsplit(".", 2)
        kind = ".".join(leaf[-2:]) if len(leaf) >= 2 else name
        if name.endswith("embeddings.weight") or name == "lm_head.weight":
            new = normal(shape, std=0.3)
        elif kind in ("in_proj.weight", "x_proj.weight", "out_proj.weight"):
            new = normal(shape, std=1.0 / math.sqrt(shape[1]))
        elif kind in ("in_proj.bias", "out_proj.bias"):
            new = normal(shape, std=0.2)
        elif kind == "conv1d.weight":
            new = normal(shape, std=0.5)
        elif kind == "conv1d.bias":
            new = normal(shape, std=0.3)
        elif kind == "dt_proj.weight":
            new = normal(shape, std=0.3 / math.sqrt(shape[1]))
        elif kind == "dt_proj.bias":
            dt0 = torch.exp(uniform(shape, math.log(1e-3), math.log(0.5)))
            new = dt0 + torch.log(-torch.expm1(-dt0))  # inverse softplus
        elif kind == "mixer.A_log":
            new = torch.log(uniform(shape, 1.0, 16.0)) + normal(shape, std=0.1)
        elif kind == "mixer.D":
            new = normal(shape, mean=1.0, std=0.5)
        elif kind == "norm.weight" or name.endswith("norm_f.weight"):
            new = normal(shape, mean=1.0, std=0.2)
        else:
            raise AssertionError(f"perturb: unhandled parameter {name} {shape}")
        p.copy_(new.to(p.dtype))
        touched.add(name)
    assert touched == set(params), set(params) - touched


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------

def make_tokens(vocab: int, length: int, seed: int) -> list[int]:
    """Seeded random ids in [0, vocab), containing 0 and vocab-1."""
    gen = torch.Generator().manual_seed(seed + 7919)
    ids = torch.randint(0, vocab, (length,), generator=gen)
    pos = torch.randperm(length - 1, generator=gen)[:2] + 1  # not the first position
    ids[pos[0]] = 0
    ids[pos[1]] = vocab - 1
    return [int(i) for i in ids]


def write_tokens(path: Path, tokens: list[int]) -> None:
    path.write_text(" ".join(str(t) for t in tokens) + "\n")


def read_tokens(path: Path) -> list[int]:
    return [int(t) for t in path.read_text().split()]


# --------------------------------------------------------------------------
# Saving / loading weights
# --------------------------------------------------------------------------

def clear_owned_files(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in OWNED_FILES:
        (out_dir / f).unlink(missing_ok=True)


def save_hf(model: MambaForCausalLM, out_dir: Path, dtype: torch.dtype) -> None:
    """Save like a real HF checkpoint (config.json + model.safetensors)."""
    copy.deepcopy(model).to(dtype).save_pretrained(out_dir, safe_serialization=True)
    cfg = json.loads((out_dir / "config.json").read_text())
    expected = str(dtype).removeprefix("torch.")
    assert cfg.get("dtype") == expected, (cfg.get("dtype"), expected)


def mamba_ssm_state_dict(model: MambaForCausalLM) -> dict[str, torch.Tensor]:
    """HF parameter names -> original mamba_ssm names (tied lm_head omitted)."""
    out = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue  # tied to the embedding in mamba_ssm checkpoints
        if k == "backbone.embeddings.weight":
            k = "backbone.embedding.weight"
        out[k] = v.detach().clone().contiguous()
    return out


def save_mamba_ssm(model: MambaForCausalLM, out_dir: Path, mamba_cfg: dict,
                   dtype: torch.dtype = torch.float32) -> None:
    """Original state-spaces/mamba layout: mamba_ssm config.json + 2 shards + index."""
    assert model.config.tie_word_embeddings and mamba_cfg["tie_embeddings"]
    (out_dir / "config.json").write_text(json.dumps(mamba_cfg, indent=2) + "\n")
    sd = {k: v.to(dtype) for k, v in mamba_ssm_state_dict(model).items()}
    n_layer = mamba_cfg["n_layer"]
    first_half = {"backbone.embedding.weight"} | {
        k for k in sd if k.startswith("backbone.layers.")
        and int(k.split(".")[2]) < (n_layer + 1) // 2
    }
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    shards = [{k: sd[k] for k in sorted(sd) if k in first_half},
              {k: sd[k] for k in sorted(sd) if k not in first_half}]
    weight_map = {}
    for fname, shard in zip(shard_names, shards):
        assert shard
        save_file(shard, out_dir / fname, metadata={"format": "pt"})
        weight_map.update({k: fname for k in shard})
    total = sum(v.numel() * v.element_size() for v in sd.values())
    index = {"metadata": {"total_size": total},
             "weight_map": dict(sorted(weight_map.items()))}
    (out_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def hf_config_from_mamba_ssm(mamba_cfg: dict) -> MambaConfig:
    """What an importer must derive from a mamba_ssm config.json."""
    ssm = mamba_cfg.get("ssm_cfg", {})
    d_model = mamba_cfg["d_model"]
    return MambaConfig(
        hidden_size=d_model,
        num_hidden_layers=mamba_cfg["n_layer"],
        vocab_size=_pad_vocab(mamba_cfg["vocab_size"], mamba_cfg.get("pad_vocab_size_multiple", 1)),
        state_size=ssm.get("d_state", 16),
        conv_kernel=ssm.get("d_conv", 4),
        expand=ssm.get("expand", 2),
        time_step_rank=ssm.get("dt_rank", "auto"),
        use_bias=ssm.get("bias", False),
        use_conv_bias=ssm.get("conv_bias", True),
        residual_in_fp32=mamba_cfg.get("residual_in_fp32", True),
        layer_norm_epsilon=mamba_cfg.get("norm_epsilon", 1e-5),
        tie_word_embeddings=mamba_cfg.get("tie_embeddings", True),
    )


def load_stored(spec: FixtureSpec, out_dir: Path) -> MambaForCausalLM:
    """Reload the checkpoint exactly as written (in its stored dtype)."""
    if spec.fmt == "hf":
        cfg = MambaConfig.from_pretrained(out_dir)
        model = MambaForCausalLM.from_pretrained(out_dir)
        assert model.dtype == spec.save_dtype, (model.dtype, spec.save_dtype)
        return model.eval()
    assert spec.fmt == "mamba_ssm"
    mamba_cfg = json.loads((out_dir / "config.json").read_text())
    cfg = hf_config_from_mamba_ssm(mamba_cfg)
    index = json.loads((out_dir / "model.safetensors.index.json").read_text())
    sd: dict[str, torch.Tensor] = {}
    for shard in sorted(set(index["weight_map"].values())):
        part = load_file(out_dir / shard)
        assert all(index["weight_map"][k] == shard for k in part)
        sd.update(part)
    assert set(sd) == set(index["weight_map"])
    total = sum(v.numel() * v.element_size() for v in sd.values())
    assert total == index["metadata"]["total_size"]
    model = MambaForCausalLM(cfg).to(spec.save_dtype).eval()
    # MambaModel's load hook renames "embedding." -> "embeddings." (HF's own
    # compatibility path for mamba_ssm checkpoints).
    res = model.load_state_dict(sd, strict=False)
    assert list(res.missing_keys) == ["lm_head.weight"], res
    assert not res.unexpected_keys, res
    assert model.lm_head.weight is model.backbone.embeddings.weight
    return model


# --------------------------------------------------------------------------
# float64 reference
# --------------------------------------------------------------------------

@contextlib.contextmanager
def strict_float64(model: MambaForCausalLM):
    """Run HF's slow path in *true* float64.

    In transformers 5.24, ``model.double()`` alone is not a float64
    computation: the slow path hard-codes float32 in several places
    (``A_log.float()``, ``dt_proj.bias.float()``, ``D.float()``, ``B.float()``,
    ``hidden_states.float()`` in the scan, ``dt.float()`` in the recurrent
    step, the RMSNorm's ``to(torch.float32)``, ``residual_in_fp32`` and the
    final ``logits.float()``). All of these are no-ops for a float32 model, so
    removing them for float64 tensors does not change the semantics, only the
    precision. Inside this context: ``Tensor.float()`` leaves float64 tensors
    alone, MambaRMSNorm keeps float64, and residuals are not downcast.
    """
    assert all(p.dtype == torch.float64 for p in model.parameters())
    orig_float = torch.Tensor.float
    orig_rms = modeling_mamba.MambaRMSNorm.forward

    def float_keep64(self, *args, **kwargs):
        if self.dtype == torch.float64 and not args and not kwargs:
            return self
        return orig_float(self, *args, **kwargs)

    def rms_forward(self, hidden_states):
        if hidden_states.dtype != torch.float64:
            return orig_rms(self, hidden_states)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))

    blocks = list(model.backbone.layers)
    saved_res = [b.residual_in_fp32 for b in blocks]
    torch.Tensor.float = float_keep64
    modeling_mamba.MambaRMSNorm.forward = rms_forward
    for b in blocks:
        b.residual_in_fp32 = False
    try:
        yield model
    finally:
        torch.Tensor.float = orig_float
        modeling_mamba.MambaRMSNorm.forward = orig_rms
        for b, r in zip(blocks, saved_res):
            b.residual_in_fp32 = r


def reference_model(stored: MambaForCausalLM) -> MambaForCausalLM:
    """float64 copy of the stored model (bf16/f16 weights upcast exactly)."""
    m = copy.deepcopy(stored).double().eval()
    if m.config.tie_word_embeddings:
        assert m.lm_head.weight is m.backbone.embeddings.weight
    return m


def hf_forward(model: MambaForCausalLM, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-sequence forward (no cache): logits (L, V) and hidden_last (L, D)."""
    out = model(input_ids=ids[None], use_cache=False, output_hidden_states=True)
    hidden_last = out.hidden_states[-1][0]  # after norm_f
    return out.logits[0], hidden_last


def hf_recurrent_logits(model: MambaForCausalLM, ids: torch.Tensor, prefill: int) -> torch.Tensor:
    """Logits from HF's cache path: a prefill of `prefill` tokens (>= 1), then one
    token per call.  transformers 5.24 API: pass a ``DynamicCache(config=...)``
    as ``cache=`` with ``use_cache=True`` (``cache_params=`` is a deprecated alias;
    there is no ``cache_position``).  The cache keeps, per layer, the last
    ``conv_kernel`` pre-conv inputs (B, E, K) and the SSM state (B, E, N)."""
    cache = DynamicCache(config=model.config)
    out = model(input_ids=ids[None, :prefill], cache=cache, use_cache=True)
    assert out.cache is cache
    logits = [out.logits[0]]
    for t in range(prefill, ids.numel()):
        out = model(input_ids=ids[None, t:t + 1], cache=cache, use_cache=True)
        logits.append(out.logits[0])
    return torch.cat(logits, dim=0)


def independent_forward(model: MambaForCausalLM, ids: torch.Tensor,
                        params: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A from-scratch float64 Mamba forward (no HF code), as a spec and a check.

        h = E[ids]
        per layer:  x = RMSNorm(h) * w_norm
                    [xs, z] = in_proj(x)                       (each E wide)
                    u  = silu(causal_depthwise_conv(xs) + b_conv)   (left zero pad K-1)
                    [dtr, B, C] = x_proj(u)                    (R, N, N wide)
                    dt = softplus(dt_proj.W @ dtr + dt_proj.b)
                    A  = -exp(A_log)
                    s_t = exp(dt_t * A) * s_{t-1} + dt_t * B_t * u_t   (s: E x N, s_{-1} = 0)
                    y_t = s_t @ C_t + D * u_t;  y = y * silu(z)
                    h  = h + out_proj(y)
        hidden_last = RMSNorm(h) * w_norm_f;  logits = lm_head(hidden_last)

    With ``params`` (float64 tensors, keyed like ``state_dict()``), it computes
    from those instead of a detached copy, so that autograd can differentiate it.
    """
    cfg = model.config
    if params is None:
        P = {k: v.detach().to(torch.float64) for k, v in model.state_dict().items()}
    else:  # differentiable: float64 tensors by state_dict name (lm_head.weight included)
        P = params
    E, N, K, R = cfg.intermediate_size, cfg.state_size, cfg.conv_kernel, int(cfg.time_step_rank)
    eps = cfg.layer_norm_epsilon
    L = ids.numel()

    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    h = P["backbone.embeddings.weight"][ids]
    for i in range(cfg.num_hidden_layers):
        p = f"backbone.layers.{i}."
        x = rms(h, P[p + "norm.weight"])
        xz = x @ P[p + "mixer.in_proj.weight"].T
        if cfg.use_bias:
            xz = xz + P[p + "mixer.in_proj.bias"]
        xs, z = xz[:, :E], xz[:, E:]
        w = P[p + "mixer.conv1d.weight"][:, 0, :]  # (E, K)
        padded = torch.cat([torch.zeros(K - 1, E, dtype=torch.float64), xs], dim=0)
        conv = torch.stack([(padded[t:t + K] * w.T).sum(0) for t in range(L)])
        if cfg.use_conv_bias:
            conv = conv + P[p + "mixer.conv1d.bias"]
        u = F.silu(conv)
        dbc = u @ P[p + "mixer.x_proj.weight"].T
        dtr, Bm, Cm = dbc[:, :R], dbc[:, R:R + N], dbc[:, R + N:]
        dt = F.softplus(dtr @ P[p + "mixer.dt_proj.weight"].T + P[p + "mixer.dt_proj.bias"])
        A = -torch.exp(P[p + "mixer.A_log"])
        Dv = P[p + "mixer.D"]
        s = torch.zeros(E, N, dtype=torch.float64)
        ys = []
        for t in range(L):
            s = torch.exp(dt[t, :, None] * A) * s + (dt[t, :, None] * Bm[t][None, :]) * u[t, :, None]
            ys.append(s @ Cm[t] + Dv * u[t])
        y = torch.stack(ys) * F.silu(z)
        o = y @ P[p + "mixer.out_proj.weight"].T
        if cfg.use_bias:
            o = o + P[p + "mixer.out_proj.bias"]
        h = h + o
    hidden_last = rms(h, P["backbone.norm_f.weight"])
    logits = hidden_last @ P["lm_head.weight"].T
    return logits, hidden_last


def logprobs_and_nll(logits: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lp = torch.log_softmax(logits, dim=-1)[:-1].gather(1, ids[1:, None])[:, 0]
    return lp, -lp.mean().reshape(1)


@torch.no_grad()
def compute_expected(stored: MambaForCausalLM, tokens: list[int]) -> tuple[dict, dict]:
    """Returns (float64 tensors to store, diagnostics)."""
    ids = torch.tensor(tokens, dtype=torch.long)
    model64 = reference_model(stored)
    with strict_float64(model64):
        logits, hidden_last = hf_forward(model64, ids)
        assert logits.dtype == torch.float64 and hidden_last.dtype == torch.float64
        # Recurrent mode: one token at a time, and a prefill followed by steps.
        rec1 = hf_recurrent_logits(model64, ids, prefill=1)
        recp = hf_recurrent_logits(model64, ids, prefill=max(2, len(tokens) // 3))
    rec_diff = max((rec1 - logits).abs().max().item(), (recp - logits).abs().max().item())
    assert rec_diff < TOL_RECURRENT, f"recurrent vs full: {rec_diff:.3e}"

    ind_logits, ind_hidden = independent_forward(model64, ids)
    ind_diff = max((ind_logits - logits).abs().max().item(),
                   (ind_hidden - hidden_last).abs().max().item())
    assert ind_diff < TOL_INDEPENDENT, f"independent vs HF float64: {ind_diff:.3e}"

    # Stock HF model.double() (with its hard-coded float32 casts): informative only.
    stock64 = hf_forward(model64, ids)[0].to(torch.float64)
    stock64_diff = (stock64 - logits).abs().max().item()

    # HF float32 forward of the stored weights (upcast): what a float32 port computes.
    model32 = reference_model(stored).float()
    logits32, hidden32 = hf_forward(model32, ids)
    f32_diff = (logits32.double() - logits).abs().max().item()
    f32_hidden_diff = (hidden32.double() - hidden_last).abs().max().item()
    assert f32_diff < TOL_F32_VS_F64, f"float32 vs float64 logits: {f32_diff:.3e}"

    logprobs, nll = logprobs_and_nll(logits, ids)
    tensors = {"logits": logits, "logprobs": logprobs, "nll": nll, "hidden_last": hidden_last}
    diag = {
        "f32_vs_f64": f32_diff,
        "f32_vs_f64_hidden": f32_hidden_diff,
        "stock_double_vs_f64": stock64_diff,
        "recurrent_vs_full": rec_diff,
        "independent_vs_hf": ind_diff,
        "max_abs_logit": logits.abs().max().item(),
        "nll": nll.item(),
        "uniform_nll": math.log(logits.shape[-1]),
    }
    return tensors, diag


def write_expected(out_dir: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str],
                   filename: str = "expected.safetensors") -> Path:
    """Store tensors as contiguous float32 (computed in float64 upstream).

    `metadata` goes into the header as ONE key, "info" (a JSON string with
    sorted keys): safetensors serializes its metadata map in a random order, so
    several keys would make the file bytes differ from run to run.
    """
    out = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    path = out_dir / filename
    info = json.dumps({k: str(v) for k, v in metadata.items()}, sort_keys=True)
    save_file(out, path, metadata={"info": info})
    return path


# --------------------------------------------------------------------------
# Gradient references (grads.safetensors)
# --------------------------------------------------------------------------

def parameter_names(model: MambaForCausalLM) -> list[str]:
    """Trainable tensors by their HF checkpoint names, each once.

    ``named_parameters()`` drops the tied alias ``lm_head.weight`` (so with tied
    embeddings the embedding gradient includes the head's contribution) and
    keeps it when untied.  mamba_ssm checkpoints are loaded under HF names, so
    their embedding is ``backbone.embeddings.weight`` here too.
    """
    names = [n for n, _ in model.named_parameters()]
    assert ("lm_head.weight" in names) == (not model.config.tie_word_embeddings), names
    return names


def mean_nll(model: MambaForCausalLM, ids: torch.Tensor) -> torch.Tensor:
    """Scalar training loss: mean next-token NLL of the whole sequence
    (logits at positions 0..L-2 predict tokens 1..L-1; natural log)."""
    logits = model(input_ids=ids[None], use_cache=False).logits[0]
    return logprobs_and_nll(logits, ids)[1][0]


def loss_and_grads(model: MambaForCausalLM, ids: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Autograd through HF's forward, in the model's own dtype.  A float64 model
    must be run under ``strict_float64`` by the caller."""
    model.zero_grad(set_to_none=True)
    loss = mean_nll(model, ids)
    loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == p.dtype, n
        grads[n] = p.grad.detach().clone()
    model.zero_grad(set_to_none=True)
    return loss.detach(), grads


def rel_max_diff(ref: torch.Tensor, got: torch.Tensor) -> float:
    """max |ref - got| / max |ref| (the Swift gradient metric)."""
    scale = ref.abs().max().item()
    assert scale > 0, "all-zero reference tensor"
    return (got.to(torch.float64) - ref).abs().max().item() / scale


@torch.no_grad()
def finite_difference_checks(model64: MambaForCausalLM, ids: torch.Tensor,
                             grads: dict[str, torch.Tensor], seed: int,
                             count: int = 3) -> list[dict]:
    """Spot-check `count` seeded random entries of the autograd gradient against
    a 4th-order central finite difference of the float64 loss,
        g ~ [f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)] / (12 h),  h = 1e-3,
    (truncation O(h^4) ~ 1e-12, rounding ~ 1e-13 / h).  Entries are drawn from
    `count` distinct random tensors, uniformly among the entries whose gradient
    is at least 10% of that tensor's max |g| (a near-zero gradient has no
    meaningful relative error)."""
    gen = torch.Generator().manual_seed(seed + 31337)
    names = list(grads)
    params = dict(model64.named_parameters())
    picks = torch.randperm(len(names), generator=gen)[:count].tolist()
    h = 1e-3
    out = []
    for ti in picks:
        name = names[ti]
        g = grads[name].reshape(-1)
        cand = torch.nonzero(g.abs() >= 0.1 * g.abs().max()).reshape(-1)
        flat = int(cand[torch.randint(0, cand.numel(), (1,), generator=gen)].item())
        p = params[name].view(-1)
        x0 = p[flat].item()
        vals = {}
        with strict_float64(model64):
            for k in (-2, -1, 1, 2):
                p[flat] = x0 + k * h
                vals[k] = mean_nll(model64, ids).item()
        p[flat] = x0  # restore exactly
        assert p[flat].item() == x0
        fd = (vals[-2] - 8 * vals[-1] + 8 * vals[1] - vals[2]) / (12 * h)
        ag = g[flat].item()
        rel = abs(fd - ag) / abs(ag)
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), grads[name].shape))
        out.append({"name": name, "index": index, "autograd": ag, "fd": fd, "rel": rel})
        assert rel < TOL_GRAD_FD, f"finite difference {name}{list(index)}: {ag!r} vs {fd!r} ({rel:.2e})"
    return out


def compute_grads(stored: MambaForCausalLM, tokens: list[int], seed: int,
                  stored_names: list[str]) -> tuple[dict, dict]:
    """float64 gradients of the mean NLL w.r.t. every parameter, plus checks.

    Returns (tensors to store: one per parameter + ``nll``, diagnostics)."""
    ids = torch.tensor(tokens, dtype=torch.long)
    model64 = reference_model(stored)
    names = parameter_names(model64)
    # The gradient keys are exactly the checkpoint's tensor names (HF naming).
    assert sorted(names) == sorted(stored_names), set(names) ^ set(stored_names)
    assert all(p.requires_grad for p in model64.parameters())
    with strict_float64(model64):
        loss, grads = loss_and_grads(model64, ids)
    assert loss.dtype == torch.float64 and list(grads) == names
    for n, g in grads.items():
        assert g.shape == model64.get_parameter(n).shape and torch.isfinite(g).all(), n
        assert g.abs().max() > 0, f"zero gradient for {n}"

    # 1. Same loss as the forward reference (expected.safetensors' nll).
    with torch.no_grad(), strict_float64(model64):
        logits, _ = hf_forward(model64, ids)
    nll_ref = logprobs_and_nll(logits, ids)[1][0]
    assert abs(loss.item() - nll_ref.item()) < 1e-12, (loss.item(), nll_ref.item())

    # 2. Autograd through the independent float64 re-implementation.
    params = dict(model64.named_parameters(remove_duplicate=False))
    ind_logits, _ = independent_forward(model64, ids, params=params)
    ind_loss = logprobs_and_nll(ind_logits, ids)[1][0]
    ind_grads = torch.autograd.grad(ind_loss, [model64.get_parameter(n) for n in names])
    ind_diff = max(rel_max_diff(grads[n], g) for n, g in zip(names, ind_grads))
    assert ind_diff < TOL_GRAD_INDEPENDENT, f"independent vs HF float64 gradients: {ind_diff:.3e}"

    # 3. Finite differences on a few entries.
    fd = finite_difference_checks(model64, ids, grads, seed)

    # 4. HF's own float32 autograd (what a float32 port can expect).
    model32 = reference_model(stored).float()
    loss32, grads32 = loss_and_grads(model32, ids)
    f32_rel = {n: rel_max_diff(grads[n], grads32[n]) for n in names}
    f32_max = max(f32_rel.values())
    assert f32_max < TOL_GRAD_F32, f"float32 vs float64 gradients: {f32_max:.3e}"

    tensors = {**grads, "nll": loss.reshape(1)}
    diag = {
        "grad_nll": loss.item(),
        "grad_f32_rel": f32_rel,
        "grad_f32_max": f32_max,
        "grad_f32_argmax": max(f32_rel, key=f32_rel.get),
        "grad_f32_loss_diff": abs(loss32.item() - loss.item()),
        "grad_independent": ind_diff,
        "grad_fd": fd,
        "grad_fd_max": max(c["rel"] for c in fd),
        "grad_max_abs": max(g.abs().max().item() for g in grads.values()),
    }
    return tensors, diag


def print_grad_report(name: str, diag: dict) -> None:
    print(f"[{name}] gradients: nll {diag['grad_nll']:.6f}, max |g| {diag['grad_max_abs']:.3e}, "
          f"independent-vs-HF {diag['grad_independent']:.2e}, "
          f"f32 loss diff {diag['grad_f32_loss_diff']:.2e}")
    print(f"  float32 vs float64 autograd, max|g64-g32|/max|g64| per tensor:")
    for n, r in diag["grad_f32_rel"].items():
        print(f"    {n:<42} {r:.2e}")
    for c in diag["grad_fd"]:
        print(f"  finite difference {c['name']}{list(c['index'])}: autograd {c['autograd']:+.12e} "
              f"fd {c['fd']:+.12e} rel {c['rel']:.1e}")


# --------------------------------------------------------------------------
# AdamW reference (adamw_tiny/expected_adamw.safetensors)
# --------------------------------------------------------------------------

ADAMW_FIXTURE = "adamw_tiny"
ADAMW_SOURCE = "tiny_f32"      # the model and tokens it starts from (copied)
ADAMW_COPIED_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokens.txt")
ADAMW = dict(
    peak_lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
    max_norm=0.5, warmup=2, total=3, min_lr_ratio=0.1,
)


def adamw_lr(step: int, peak: float = ADAMW["peak_lr"], warmup: int = ADAMW["warmup"],
             total: int = ADAMW["total"], min_ratio: float = ADAMW["min_lr_ratio"]) -> float:
    """Learning rate of optimisation step `step` (1-based): linear warmup, then
    cosine decay to min_ratio * peak, reached at step == total."""
    if step <= warmup:
        return peak * step / warmup
    min_lr = min_ratio * peak
    progress = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (peak - min_lr) * (1.0 + math.cos(math.pi * progress))


def no_weight_decay(name: str) -> bool:
    return (name.endswith(".A_log") or name.endswith(".D") or name.endswith(".bias")
            or name.endswith("norm.weight") or name.endswith("norm_f.weight"))


def adamw_run(model: MambaForCausalLM, ids: torch.Tensor) -> tuple[dict, list[float], list[float], list[float]]:
    """`ADAMW["total"]` steps of torch.optim.AdamW with global-norm clipping on
    the mean NLL of `ids`.  A float64 model runs under strict_float64.

    Returns (parameters after the last step, losses before each step,
    pre-clipping grad norms, lrs)."""
    names = parameter_names(model)
    named = dict(model.named_parameters())
    decay = [named[n] for n in names if not no_weight_decay(n)]
    plain = [named[n] for n in names if no_weight_decay(n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": ADAMW["weight_decay"]},
         {"params": plain, "weight_decay": 0.0}],
        lr=ADAMW["peak_lr"], betas=ADAMW["betas"], eps=ADAMW["eps"],
        weight_decay=ADAMW["weight_decay"], amsgrad=False, maximize=False,
        foreach=False, fused=False, capturable=False, differentiable=False,
    )
    params = [named[n] for n in names]
    is64 = params[0].dtype == torch.float64
    losses, norms, lrs = [], [], []
    for step in range(1, ADAMW["total"] + 1):
        lr = adamw_lr(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        with strict_float64(model) if is64 else contextlib.nullcontext():
            loss = mean_nll(model, ids)
            loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=ADAMW["max_norm"],
                                              error_if_nonfinite=True, foreach=False)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
        lrs.append(lr)
    opt.zero_grad(set_to_none=True)
    final = {n: named[n].detach().clone() for n in names}
    return final, losses, norms, lrs


def manual_adamw_run(model: MambaForCausalLM, ids: torch.Tensor) -> tuple[dict, list[float], list[float]]:
    """The same run, written out from the formulas in Fixtures/README.md (what the
    Swift side implements), in float64, to check that the documentation matches
    torch.optim exactly."""
    names = parameter_names(model)
    named = dict(model.named_parameters())
    b1, b2 = ADAMW["betas"]
    m = {n: torch.zeros_like(named[n]) for n in names}
    v = {n: torch.zeros_like(named[n]) for n in names}
    losses, norms = [], []
    for t in range(1, ADAMW["total"] + 1):
        lr = adamw_lr(t)
        with strict_float64(model):
            loss, grads = loss_and_grads(model, ids)
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        scale = min(1.0, ADAMW["max_norm"] / (norm + 1e-6))
        with torch.no_grad():
            for n in names:
                g = grads[n] * scale
                p = named[n]
                wd = 0.0 if no_weight_decay(n) else ADAMW["weight_decay"]
                p.mul_(1.0 - lr * wd)
                m[n] = b1 * m[n] + (1 - b1) * g
                v[n] = b2 * v[n] + (1 - b2) * g * g
                m_hat = m[n] / (1 - b1 ** t)
                denom = torch.sqrt(v[n]) / math.sqrt(1 - b2 ** t) + ADAMW["eps"]
                p.sub_(lr * m_hat / denom)
        losses.append(loss.item())
        norms.append(norm)
    return {n: named[n].detach().clone() for n in names}, losses, norms


def make_adamw_fixture() -> dict:
    src_dir, out_dir = fixture_dir(ADAMW_SOURCE), fixture_dir(ADAMW_FIXTURE)
    for f in ADAMW_COPIED_FILES:
        assert (src_dir / f).is_file(), f"{src_dir / f} missing: generate {ADAMW_SOURCE} first"
    clear_owned_files(out_dir)
    for f in ADAMW_COPIED_FILES:
        (out_dir / f).write_bytes((src_dir / f).read_bytes())
    spec = SPECS_BY_NAME[ADAMW_SOURCE]
    stored = load_stored(spec, out_dir)
    tokens = read_tokens(out_dir / "tokens.txt")
    ids = torch.tensor(tokens, dtype=torch.long)
    names = parameter_names(stored)
    with safe_open(out_dir / "model.safetensors", "pt") as f:
        assert sorted(f.keys()) == sorted(names)

    final, losses, norms, lrs = adamw_run(reference_model(stored), ids)
    assert lrs == [adamw_lr(s) for s in (1, 2, 3)]
    assert abs(lrs[0] - 5e-3) < 1e-18 and abs(lrs[1] - 1e-2) < 1e-18 and abs(lrs[2] - 1e-3) < 1e-18, lrs
    # Determinism / initial loss: the first loss is tiny_f32's forward reference nll.
    with safe_open(src_dir / "expected.safetensors", "pt") as f:
        nll0 = f.get_tensor("nll")[0].item()
    assert abs(losses[0] - nll0) < 1e-6, (losses[0], nll0)

    # The README formulas, written out by hand, must reproduce torch.optim.
    man_final, man_losses, man_norms = manual_adamw_run(reference_model(stored), ids)
    manual_diff = max(rel_max_diff(final[n], man_final[n]) for n in names)
    manual_diff = max(manual_diff, max(abs(a - b) / abs(a) for a, b in zip(losses + norms, man_losses + man_norms)))
    assert manual_diff < 1e-12, f"manual AdamW vs torch.optim: {manual_diff:.3e}"

    # The same run in HF float32 (informative: what a float32 port can expect).
    final32, losses32, norms32, _ = adamw_run(reference_model(stored).float(), ids)
    init = {n: p.detach().to(torch.float64) for n, p in reference_model(stored).named_parameters()}
    f32_param_abs = {n: (final32[n].double() - final[n]).abs().max().item() for n in names}
    f32_update_rel = {n: rel_max_diff(final[n] - init[n], final32[n].double() - init[n]) for n in names}

    tensors = {**final,
               "loss": torch.tensor(losses, dtype=torch.float64),
               "grad_norm": torch.tensor(norms, dtype=torch.float64),
               "lr": torch.tensor(lrs, dtype=torch.float64)}
    write_expected(out_dir, tensors, {
        "fixture": ADAMW_FIXTURE,
        "source": ADAMW_SOURCE,
        "reference": "3 steps of torch.optim.AdamW + clip_grad_norm_ on the mean NLL, "
                     "strict float64, stored as float32",
        "hyperparameters": json.dumps(ADAMW, sort_keys=True),
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
    }, filename="expected_adamw.safetensors")
    with safe_open(out_dir / "expected_adamw.safetensors", "pt") as f:
        assert sorted(f.keys()) == sorted(names + ["loss", "grad_norm", "lr"])
    for f in OWNED_FILES:
        if (out_dir / f).exists():
            (out_dir / f).chmod(0o644)
    return {
        "losses": losses, "norms": norms, "lrs": lrs,
        "losses32": losses32, "norms32": norms32,
        "manual_diff": manual_diff,
        "f32_param_abs": f32_param_abs, "f32_update_rel": f32_update_rel,
        "max_update": max((final[n] - init[n]).abs().max().item() for n in names),
        "dir_bytes": sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()),
    }


def print_adamw_report(r: dict) -> None:
    print(f"[{ADAMW_FIXTURE}] AdamW from {ADAMW_SOURCE}: {json.dumps(ADAMW, sort_keys=True)}")
    for i in range(len(r["losses"])):
        print(f"  step {i + 1}: lr {r['lrs'][i]:.6e}  loss {r['losses'][i]:.10f} (f32 {r['losses32'][i]:.7f})  "
              f"grad_norm {r['norms'][i]:.10f} (f32 {r['norms32'][i]:.7f})")
    print(f"  manual formulas vs torch.optim (float64): {r['manual_diff']:.2e}")
    print(f"  max |param change| over 3 steps: {r['max_update']:.3e}")
    print(f"  float32 run vs float64 run after 3 steps, per tensor: max|p64-p32|, "
          f"max|Δ64-Δ32|/max|Δ64| (Δ = change from the start)")
    for n in r["f32_param_abs"]:
        print(f"    {n:<42} {r['f32_param_abs'][n]:.2e}  {r['f32_update_rel'][n]:.2e}")
    print(f"  directory: {r['dir_bytes']} bytes")


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def check_roundtrip(model: MambaForCausalLM, stored: MambaForCausalLM, spec: FixtureSpec) -> None:
    """The reloaded checkpoint equals the in-memory model rounded to save_dtype."""
    ref = model.state_dict()
    got = stored.state_dict()
    assert set(ref) == set(got), set(ref) ^ set(got)
    for k in ref:
        a = ref[k].to(spec.save_dtype)
        assert torch.equal(a, got[k]), k
    if spec.fmt == "hf":
        cfg = MambaConfig.from_pretrained(fixture_dir(spec.name))
        for key, value in spec.hf_config.items():
            assert getattr(cfg, key) == getattr(model.config, key), (key, value)
    else:
        cfg = stored.config
    assert cfg.vocab_size == spec.hf_config["vocab_size"]
    assert cfg.intermediate_size == model.config.intermediate_size
    assert int(cfg.time_step_rank) == int(model.config.time_step_rank)


def make_fixture(spec: FixtureSpec) -> dict:
    out_dir = fixture_dir(spec.name)
    clear_owned_files(out_dir)

    cfg = make_config(spec)
    model = build_model(cfg, spec.seed)
    perturb(model, spec.seed)

    if spec.fmt == "hf":
        save_hf(model, out_dir, spec.save_dtype)
    else:
        save_mamba_ssm(model, out_dir, spec.mamba_ssm_config, spec.save_dtype)
    stored = load_stored(spec, out_dir)
    check_roundtrip(model, stored, spec)

    tokens = make_tokens(spec.token_vocab, spec.seq_len, spec.seed)
    assert 0 in tokens and spec.token_vocab - 1 in tokens
    assert all(0 <= t < spec.token_vocab for t in tokens)
    write_tokens(out_dir / "tokens.txt", tokens)
    assert read_tokens(out_dir / "tokens.txt") == tokens

    tensors, diag = compute_expected(stored, tokens)
    L, V, D = len(tokens), cfg.vocab_size, cfg.hidden_size
    assert tensors["logits"].shape == (L, V)
    assert tensors["hidden_last"].shape == (L, D)
    assert tensors["logprobs"].shape == (L - 1,)
    assert tensors["nll"].shape == (1,)
    write_expected(out_dir, tensors, {
        "fixture": spec.name,
        "seed": spec.seed,
        "reference": "MambaForCausalLM full-sequence forward, strict float64, stored as float32",
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
    })
    with safe_open(out_dir / "expected.safetensors", "pt") as f:
        assert sorted(f.keys()) == ["hidden_last", "logits", "logprobs", "nll"]

    # Gradients of the mean NLL w.r.t. every parameter, under the HF names.
    stored_names = [n for n, _ in stored.named_parameters()]
    grads, gdiag = compute_grads(stored, tokens, spec.seed, stored_names)
    assert abs(grads["nll"].item() - tensors["nll"].item()) < 1e-12
    write_expected(out_dir, grads, {
        "fixture": spec.name,
        "seed": spec.seed,
        "reference": "gradient of the mean next-token NLL of tokens.txt w.r.t. every parameter "
                     "(HF names), strict float64 autograd, stored as float32",
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
    }, filename="grads.safetensors")
    with safe_open(out_dir / "grads.safetensors", "pt") as f:
        assert sorted(f.keys()) == sorted(stored_names + ["nll"])
    print_grad_report(spec.name, gdiag)

    for f in OWNED_FILES:  # safetensors writes 0600; make everything plain 0644
        if (out_dir / f).exists():
            (out_dir / f).chmod(0o644)
    weight_files = sorted(out_dir.glob("model*.safetensors"))
    return {
        "name": spec.name,
        "params": count_params(model),
        "dtype": str(spec.save_dtype).removeprefix("torch."),
        "L": L, "V": V, "D": D,
        "weights_bytes": sum(f.stat().st_size for f in weight_files),
        "expected_bytes": (out_dir / "expected.safetensors").stat().st_size,
        "grads_bytes": (out_dir / "grads.safetensors").stat().st_size,
        "dir_bytes": sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()),
        **diag,
        **gdiag,
    }


def print_summary(rows: list[dict]) -> None:
    hdr = (f"{'name':<18} {'params':>7} {'dtype':>8} {'L':>4} {'V':>4} {'D':>3} "
           f"{'weights':>8} {'expected':>8} {'dir':>8} {'max|logit|':>10} {'nll':>6} {'ln V':>5} "
           f"{'f32-f64':>9} {'stock64':>9} {'recur':>9} {'indep':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['name']:<18} {r['params']:>7} {r['dtype']:>8} {r['L']:>4} {r['V']:>4} {r['D']:>3} "
              f"{r['weights_bytes']:>8} {r['expected_bytes']:>8} {r['dir_bytes']:>8} "
              f"{r['max_abs_logit']:>10.3f} {r['nll']:>6.3f} {r['uniform_nll']:>5.2f} "
              f"{r['f32_vs_f64']:>9.2e} {r['stock_double_vs_f64']:>9.2e} "
              f"{r['recurrent_vs_full']:>9.2e} {r['independent_vs_hf']:>9.2e}")
    print("f32-f64: max |HF float32 logits - float64 reference| (Swift tolerance is 1e-4)")
    print("stock64: max |HF model.double() logits (with its built-in float32 casts) - reference|")
    print("recur:   max |HF cache/step logits - full-sequence logits| (float64)")
    print("indep:   max |independent float64 re-implementation - HF float64| (logits, hidden)")
    print()
    hdr = (f"{'name':<18} {'grads':>8} {'g32 rel':>9} {'(tensor)':<34} {'fd rel':>9} {'indep g':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['name']:<18} {r['grads_bytes']:>8} {r['grad_f32_max']:>9.2e} "
              f"{r['grad_f32_argmax'].removeprefix('backbone.'):<34} "
              f"{r['grad_fd_max']:>9.2e} {r['grad_independent']:>9.2e}")
    print("g32 rel: max over tensors of max|HF float32 grad - float64 grad| / max|float64 grad|"
          " (Swift tolerance 1e-3)")
    print("fd rel:  worst of 3 finite-difference spot checks, relative (asserted < 1e-5)")
    print("indep g: autograd of independent_forward vs HF float64, relative to max|g|")


def owned_fixture_bytes() -> int:
    """Bytes in the fixture directories this script writes (other tests keep
    their own fixtures, e.g. tokenizers/, under the same root)."""
    dirs = [fixture_dir(s.name) for s in SPECS] + [fixture_dir(ADAMW_FIXTURE)]
    return sum(f.stat().st_size for d in dirs if d.is_dir() for f in d.iterdir() if f.is_file())


def print_sizes() -> None:
    ours = owned_fixture_bytes()
    total = sum(f.stat().st_size for f in FIXTURES_ROOT.rglob("*") if f.is_file())
    print(f"\nFixture directories written by this script: {ours} bytes "
          f"(everything under {FIXTURES_ROOT.relative_to(REPO_ROOT)}: {total} bytes)")
    assert ours < 3_000_000, ours


def main(argv: list[str]) -> int:
    for pkg in ("mamba_ssm", "causal_conv1d", "kernels", "mambapy"):
        # Their presence would switch HF to fused kernels / other scan paths.
        assert importlib.util.find_spec(pkg) is None, f"{pkg} installed: not the slow path"
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    names = argv or [s.name for s in SPECS] + [ADAMW_FIXTURE]
    unknown = [n for n in names if n not in SPECS_BY_NAME and n != ADAMW_FIXTURE]
    if unknown:
        print(f"unknown fixture(s): {unknown}; known: {list(SPECS_BY_NAME)}", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    rows = [make_fixture(SPECS_BY_NAME[n]) for n in names if n in SPECS_BY_NAME]
    # adamw_tiny copies tiny_f32's checkpoint, so it runs after it.
    adamw = make_adamw_fixture() if ADAMW_FIXTURE in names else None
    print()
    if rows:
        print_summary(rows)
    if adamw is not None:
        print()
        print_adamw_report(adamw)
    print_sizes()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
