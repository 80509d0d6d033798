#!/usr/bin/env python3
"""Writes a random-init Mamba checkpoint of the mamba-130m shape (or, with --arch mamba2, of
state-spaces/mamba2-130m's shape) in the Hugging Face layout.

Used by Scripts/bench_llamacpp.sh so that llama.cpp (through its own convert_hf_to_gguf.py) and
MambaKit (`mambakit bench ... --model DIR`) run the very same weights.

Shape (Docs/Glossary.md letters): D = 768, 24 layers, V = 50280, N = 16, E = 2·D = 1536, R = 48, K = 4,
tied embeddings (no lm_head.weight, as transformers saves a tied MambaForCausalLM). 129,135,360
parameters. Initialisation (plausible, not trained):

    embeddings, in_proj, x_proj, out_proj  ~ normal(0, 0.02)
    dt_proj.weight ~ uniform(±R^-1/2);  dt_proj.bias = softplus⁻¹(0.01) = log(expm1(0.01)) ≈ −4.60
    conv1d.weight ~ uniform(±K^-1/2);   conv1d.bias = 0
    A_log[e, n] = log(n + 1)  (A = −1 … −16);  D = 1;  norms = 1

--arch mamba2 (transformers' Mamba2ForCausalLM layout): D = 768, 24 layers, V = 50288 (mamba2-130m's
50277 padded to a multiple of 16), N = 128, E = 1536, H = 24 heads of P = 64, G = 1, K = 4, tied;
128,989,632 parameters:

    embeddings, in_proj (2E+2GN+H, D), out_proj  ~ normal(0, 0.02)
    conv1d.weight (E+2GN, 1, K) ~ uniform(±K^-1/2); conv1d.bias = 0
    dt_bias (H) = softplus⁻¹(Δ), Δ log-uniform in [0.001, 0.1];  A_log (H) = log(1 … H);  D = 1;  norms = 1

Writes into --out: config.json (accepted by transformers' MambaConfig and by MambaKit's
MambaConfig.load), model.safetensors (float32), and the tokenizer files copied from --tokenizer-dir
plus a tokenizer_config.json naming GPTNeoXTokenizerFast (what llama.cpp's converter loads through
AutoTokenizer). Needs numpy and safetensors.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file

D, N_LAYER, V, N, EXPAND, R, K = 768, 24, 50280, 16, 2, 48, 4
E = EXPAND * D
# Mamba-2 (--arch mamba2)
V2, N2, P2, G2, CHUNK2 = 50288, 128, 64, 1, 256
H2 = E // P2


def config_json() -> dict:
    """The Hugging Face MambaConfig fields (as in state-spaces/mamba-130m-hf)."""
    return {
        "architectures": ["MambaForCausalLM"],
        "model_type": "mamba",
        "hidden_size": D,
        "num_hidden_layers": N_LAYER,
        "vocab_size": V,
        "pad_vocab_size_multiple": 8,
        "state_size": N,
        "expand": EXPAND,
        "intermediate_size": E,
        "time_step_rank": R,
        "conv_kernel": K,
        "use_bias": False,
        "use_conv_bias": True,
        "hidden_act": "silu",
        "layer_norm_epsilon": 1e-5,
        "residual_in_fp32": True,
        "tie_word_embeddings": True,
        "time_step_scale": 1.0,
        "time_step_min": 0.001,
        "time_step_max": 0.1,
        "time_step_floor": 1e-4,
        "time_step_init_scheme": "random",
        "rescale_prenorm_residual": False,
        "initializer_range": 0.1,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "pad_token_id": 0,
        "use_cache": True,
        "torch_dtype": "float32",
    }


def config_json_mamba2() -> dict:
    """transformers' Mamba2Config fields (time_step_limit left at its default (0, ∞))."""
    return {
        "architectures": ["Mamba2ForCausalLM"],
        "model_type": "mamba2",
        "hidden_size": D,
        "num_hidden_layers": N_LAYER,
        "vocab_size": V2,
        "state_size": N2,
        "head_dim": P2,
        "num_heads": H2,
        "n_groups": G2,
        "expand": EXPAND,
        "conv_kernel": K,
        "chunk_size": CHUNK2,
        "use_bias": False,
        "use_conv_bias": True,
        "hidden_act": "silu",
        "layer_norm_epsilon": 1e-5,
        "rms_norm": True,
        "norm_before_gate": False,
        "residual_in_fp32": True,
        "tie_word_embeddings": True,
        "time_step_min": 0.001,
        "time_step_max": 0.1,
        "time_step_floor": 1e-4,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "pad_token_id": 0,
        "use_cache": True,
        "torch_dtype": "float32",
    }


def tensors_mamba2(seed: int) -> dict:
    """All Mamba-2 parameters, transformers' names, float32."""
    rng = np.random.default_rng(seed)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    conv_ch, in_w = E + 2 * G2 * N2, 2 * E + 2 * G2 * N2 + H2
    out = {"backbone.embeddings.weight": normal(V2, D)}                # (V, D), also the head
    for i in range(N_LAYER):
        p = f"backbone.layers.{i}."
        dt = np.exp(rng.uniform(np.log(0.001), np.log(0.1), H2)).astype(np.float32)
        out[p + "norm.weight"] = np.ones(D, np.float32)                # (D)
        out[p + "mixer.in_proj.weight"] = normal(in_w, D)              # (2E+2GN+H, D)
        out[p + "mixer.conv1d.weight"] = rng.uniform(-K ** -0.5, K ** -0.5, (conv_ch, 1, K)).astype(np.float32)
        out[p + "mixer.conv1d.bias"] = np.zeros(conv_ch, np.float32)   # (E+2GN)
        out[p + "mixer.dt_bias"] = (dt + np.log(-np.expm1(-dt))).astype(np.float32)  # softplus⁻¹(Δ), (H)
        out[p + "mixer.A_log"] = np.log(np.arange(1, H2 + 1, dtype=np.float32))      # (H)
        out[p + "mixer.D"] = np.ones(H2, np.float32)                   # (H)
        out[p + "mixer.norm.weight"] = np.ones(E, np.float32)          # (E)
        out[p + "mixer.out_proj.weight"] = normal(D, E)                # (D, E)
    out["backbone.norm_f.weight"] = np.ones(D, np.float32)             # (D)
    return out


def tensors(seed: int) -> dict:
    """All parameters, Hugging Face names, float32 (C-contiguous, PyTorch's (out, in) layout)."""
    rng = np.random.default_rng(seed)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def uniform(bound, *shape):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    dt_bias = np.float32(np.log(np.expm1(0.01)))                      # softplus(dt_bias) = 0.01
    a_log = np.log(np.tile(np.arange(1, N + 1, dtype=np.float32), (E, 1)))  # (E, N)
    out = {"backbone.embeddings.weight": normal(V, D)}                 # (V, D), also the head
    for i in range(N_LAYER):
        p = f"backbone.layers.{i}."
        out[p + "norm.weight"] = np.ones(D, np.float32)                # (D)
        out[p + "mixer.in_proj.weight"] = normal(2 * E, D)             # (2E, D)
        out[p + "mixer.conv1d.weight"] = uniform(K ** -0.5, E, 1, K)  # (E, 1, K)
        out[p + "mixer.conv1d.bias"] = np.zeros(E, np.float32)         # (E)
        out[p + "mixer.x_proj.weight"] = normal(R + 2 * N, E)          # (R+2N, E)
        out[p + "mixer.dt_proj.weight"] = uniform(R ** -0.5, E, R)    # (E, R)
        out[p + "mixer.dt_proj.bias"] = np.full(E, dt_bias, np.float32)  # (E)
        out[p + "mixer.A_log"] = a_log.copy()                          # (E, N)
        out[p + "mixer.D"] = np.ones(E, np.float32)                    # (E)
        out[p + "mixer.out_proj.weight"] = normal(D, E)                # (D, E)
    out["backbone.norm_f.weight"] = np.ones(D, np.float32)             # (D)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory to write (created)")
    ap.add_argument("--tokenizer-dir", required=True,
                    help="directory with the GPT-NeoX tokenizer.json (Tests/MambaKitTests/Fixtures/tokenizers/neox)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--arch", choices=["mamba", "mamba2"], default="mamba")
    args = ap.parse_args()

    tok = os.path.join(args.tokenizer_dir, "tokenizer.json")
    if not os.path.isfile(tok):
        print(f"make_random_mamba_checkpoint.py: {tok} is missing; pass --tokenizer-dir with the GPT-NeoX "
              "tokenizer.json", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    params = tensors_mamba2(args.seed) if args.arch == "mamba2" else tensors(args.seed)
    count = sum(t.size for t in params.values())
    tmp = os.path.join(args.out, "model.safetensors.tmp")
    save_file(params, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    for name in sorted(os.listdir(args.tokenizer_dir)):
        if name.startswith("tokenizer") or name in ("special_tokens_map.json", "vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(args.tokenizer_dir, name), os.path.join(args.out, name))
    if not os.path.isfile(os.path.join(args.tokenizer_dir, "tokenizer_config.json")):
        with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "GPTNeoXTokenizerFast", "bos_token": "<|endoftext|>",
                       "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                       "add_bos_token": False, "add_eos_token": False,
                       "model_max_length": 1000000000000000019884624838656}, f, indent=2)
    # config.json last: its presence (with model.safetensors) marks a complete checkpoint.
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config_json_mamba2() if args.arch == "mamba2" else config_json(), f, indent=2)
    print(f"wrote {args.out}: {count:,} parameters (float32, {count * 4 / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
