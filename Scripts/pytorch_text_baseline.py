#!/usr/bin/env python3
"""PyTorch baseline for MambaKit's byte-level Tiny Shakespeare training run.

Purpose: train the same small byte-level Mamba LM that the Swift side trains, but with
transformers' ``MambaForCausalLM`` on CPU, so that wall time (tokens/s) and result
(train loss, validation bits per byte) can be compared on the same machine.  The trained
weights are saved in Hugging Face format, so the Swift evaluator can also score them with
exactly its own evaluation code (see "Evaluation" below).

This script is a developer tool: CI has no torch and does not run or need it.

Setup (once; the venv lives outside the checkout):

    python3 -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch transformers safetensors mambapy

Run (from the repository root; defaults shown):

    /work/venv-torch/bin/python Scripts/pytorch_text_baseline.py \
        --steps 100 --seq-len 256 --batch-size 16 --lr 2e-3 --warmup 10 --seed 1 --threads 2 \
        --data /work/shared/datasets/tinyshakespeare/input.txt --out /tmp/pytorch_text_baseline

    # then score the PyTorch-trained weights with the Swift evaluator:
    mambakit eval text --model /tmp/pytorch_text_baseline ...

Written against torch 2.15 (CPU), transformers 5.24 and mambapy 1.2.0.

Selective scan (--scan): on CPU there are no mamba_ssm / causal_conv1d kernels, so
transformers runs a pure-PyTorch path, choosing the scan with MambaConfig.use_mambapy:
- mambapy (default): mambapy's parallel scan (pscan), transformers' recommended fallback for
  training without the CUDA kernels; needs the `mambapy` package (the script refuses to run
  without it instead of silently falling back).  About 16 s per default step on 2 cores.
- naive: transformers' sequential loop over time steps.  Its backward is quadratic in
  seq_len (every per-step slice's backward allocates and zero-fills a full B x d_inner x L x N
  gradient), about 230 s per default step on 2 cores, i.e. 6-7 hours for 100 steps.
Both compute the same function (checked: losses, gradients and logits agree to ~1e-6).
use_mambapy is a runtime option only; the weights and every other config key are the same.

The setup it reproduces:
- Tokens: the raw bytes of the file (ids 0-255); vocabulary 258 (256 bytes + 2 special ids
  that never occur in this data).  nanoGPT split: the first 90% of the BYTES
  (``int(0.9 * n)``) are train, the rest validation.
- Model: MambaConfig(vocab_size=258, hidden_size=256, num_hidden_layers=4, state_size=16,
  expand=2, conv_kernel=4, time_step_rank="auto", use_bias=False, use_conv_bias=True,
  tie_word_embeddings=True), initialised after torch.manual_seed(seed).
- Data: each step draws batch_size random windows of seq_len+1 bytes from the train part
  (numpy default_rng(seed), start offsets uniform over all valid positions); the loss is
  the mean next-token cross-entropy over all seq_len * batch_size predictions.
- Optimiser: AdamW(betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1), no weight decay for
  parameters named *.A_log, *.D, *.bias, *norm.weight, *norm_f.weight; global-norm gradient
  clipping at 1.0; learning rate at step s (1-based): peak*s/warmup for s <= warmup, then
  cosine min + 0.5*(peak-min)*(1+cos(pi*p)), p = (s-warmup)/(steps-warmup), min = 0.1*peak.

Output: a progress line every 10 steps (and at the last step) and, at the end, one JSON line
    {"impl": "pytorch", "steps": ..., "train_seconds": ..., "tokens_per_second": ...,
     "final_train_loss": ..., "val_bits_per_byte": ...}
train_seconds covers the training loop only (batch sampling, forward, backward, clipping,
optimiser step), not model construction, evaluation or saving; final_train_loss is the loss
of the last step's batch.  Model and optimiser details go to stderr.

Evaluation: val_bits_per_byte is the mean NLL / ln 2 over the validation bytes, scored in
consecutive non-overlapping windows of 2048 predicted bytes, EACH FROM A FRESH (zero) STATE.
Every validation byte except the first (which has no in-split context) is predicted exactly
once: window k feeds val[2048k : 2048k+2048] and predicts val[2048k+1 : 2048k+2049].
Fresh state per window because PyTorch's HF cache cannot carry the SSM state across
multi-token calls correctly: in transformers' pure-PyTorch path a multi-token forward always
starts its selective scan from a zero state (only the single-token decode path reads the
cached state), so the only way to carry state across windows would be byte-by-byte decoding,
which is far too slow here.  The Swift evaluator (`mambakit eval text`) instead carries the
state across windows, so its number is lower (the start of each window keeps its context).
It can also score this model, because the weights saved here are a plain Hugging Face
checkpoint (config.json + model.safetensors with HF tensor names) that MambaKit loads
directly; comparing the two trainers with the Swift evaluator on both checkpoints therefore
uses exactly the same evaluation code.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from transformers import MambaConfig, MambaForCausalLM
from transformers.utils.import_utils import is_mambapy_available

EVAL_WINDOW = 2048
EVAL_BATCH = 8  # windows per forward call during evaluation (each window still starts from zero state)
NO_DECAY_SUFFIXES = (".A_log", ".D", ".bias", "norm.weight", "norm_f.weight")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/work/shared/datasets/tinyshakespeare/input.txt")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scan", choices=("mambapy", "naive"), default="mambapy",
                    help="selective-scan implementation of transformers' PyTorch path (see the docstring)")
    ap.add_argument("--out", default="/tmp/pytorch_text_baseline", help="save_pretrained directory")
    a = ap.parse_args()
    if a.steps < 1 or a.seq_len < 1 or a.batch_size < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("steps, seq-len, batch-size and threads must be positive, warmup non-negative")
    if a.scan == "mambapy" and not is_mambapy_available():
        ap.error("--scan mambapy needs the mambapy package (pip install mambapy), or pass --scan naive "
                 "(much slower: its backward is quadratic in seq-len)")
    return a


def lr_at(step, peak, warmup, steps):
    """Learning rate for 1-based step `step`: linear warm-up, then cosine to 0.1 * peak."""
    if step <= warmup:
        return peak * step / warmup
    lo = 0.1 * peak
    p = (step - warmup) / (steps - warmup)
    return lo + 0.5 * (peak - lo) * (1.0 + math.cos(math.pi * p))


@torch.no_grad()
def val_bits_per_byte(model, val, vocab_size):
    """Mean NLL / ln 2 over val[1:], in non-overlapping 2048-byte windows, each from a fresh state."""
    model.eval()
    n_pred = len(val) - 1
    starts = list(range(0, n_pred, EVAL_WINDOW))
    full = [s for s in starts if s + EVAL_WINDOW <= n_pred]
    tail = [s for s in starts if s + EVAL_WINDOW > n_pred]
    total_nll, count = 0.0, 0
    groups = [full[i:i + EVAL_BATCH] for i in range(0, len(full), EVAL_BATCH)] + [[s] for s in tail]
    for group in groups:
        length = min(EVAL_WINDOW, n_pred - group[0])
        chunk = torch.from_numpy(np.stack([val[s:s + length + 1] for s in group]).astype(np.int64))
        logits = model(input_ids=chunk[:, :-1], use_cache=False).logits.float()
        nll = F.cross_entropy(logits.reshape(-1, vocab_size), chunk[:, 1:].reshape(-1), reduction="sum")
        total_nll += nll.item()
        count += chunk[:, 1:].numel()
    assert count == n_pred
    model.train()
    return total_nll / count / math.log(2.0)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)

    with open(a.data, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]

    torch.manual_seed(a.seed)
    cfg = MambaConfig(vocab_size=258, hidden_size=256, num_hidden_layers=4, state_size=16, expand=2,
                      conv_kernel=4, time_step_rank="auto", use_bias=False, use_conv_bias=True,
                      tie_word_embeddings=True, use_mambapy=(a.scan == "mambapy"))
    model = MambaForCausalLM(cfg)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())  # tied embedding counted once

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith(NO_DECAY_SUFFIXES) else decay).append((name, p))
    opt = torch.optim.AdamW([{"params": [p for _, p in decay], "weight_decay": 0.1},
                             {"params": [p for _, p in no_decay], "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    print(f"model: {n_params:,} parameters, {cfg.num_hidden_layers} layers, d_model={cfg.hidden_size}, "
          f"d_inner={cfg.intermediate_size}, d_state={cfg.state_size}, dt_rank={cfg.time_step_rank}, "
          f"vocab={cfg.vocab_size}, tied={cfg.tie_word_embeddings}", file=sys.stderr)
    print(f"data: {len(data):,} bytes, train {len(train):,}, val {len(val):,}; "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, scan {a.scan}", file=sys.stderr)
    print("no weight decay: " + ", ".join(n for n, _ in no_decay), file=sys.stderr)

    rng = np.random.default_rng(a.seed)
    span = a.seq_len + 1
    tokens_per_step = a.seq_len * a.batch_size
    loss_value = float("nan")
    t0 = time.perf_counter()
    for step in range(1, a.steps + 1):
        starts = rng.integers(0, len(train) - span + 1, size=a.batch_size)
        batch = torch.from_numpy(np.stack([train[s:s + span] for s in starts]).astype(np.int64))
        lr = lr_at(step, a.lr, a.warmup, a.steps)
        for group in opt.param_groups:
            group["lr"] = lr

        logits = model(input_ids=batch[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()

        if step % 10 == 0 or step == a.steps:
            elapsed = time.perf_counter() - t0
            print(f"step {step:5d}/{a.steps}  loss {loss_value:.4f}  lr {lr:.2e}  grad_norm {grad_norm.item():.3f}  "
                  f"{step * tokens_per_step / elapsed:,.0f} tokens/s  ({elapsed:.1f} s)", flush=True)
    train_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    bpb = val_bits_per_byte(model, val, cfg.vocab_size)
    print(f"validation: {bpb:.4f} bits/byte over {len(val) - 1:,} bytes "
          f"({EVAL_WINDOW}-byte windows, fresh state each; {time.perf_counter() - t1:.1f} s)", file=sys.stderr)

    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out, safe_serialization=True)
    print(f"saved: {a.out}", file=sys.stderr)

    print(json.dumps({"impl": "pytorch", "steps": a.steps, "train_seconds": round(train_seconds, 2),
                      "tokens_per_second": round(a.steps * tokens_per_step / train_seconds, 1),
                      "final_train_loss": round(loss_value, 4), "val_bits_per_byte": round(bpb, 4)}),
          flush=True)


if __name__ == "__main__":
    main()
