"""PyTorch side of `mambakit bench prefill|generate|train --shape mamba2-130m` (issue #16): transformers'
Mamba2ForCausalLM on its torch path (no mamba_ssm / causal_conv1d kernels: what a CPU user gets), random init at
state-spaces/mamba2-130m's shape (D=768, 24 layers, d_state 128, head_dim 64, 1 group, chunk 256, V=50288, tied).

Measures, each the best of --repeats after one warm-up:
  prefill   one forward of a --prompt-length prompt (no grad), tokens/s
  generate  --steps recurrent steps at batch 1 and 8 after a 16-token prompt (cache_params), tokens/s
            (batch · steps / seconds, as `mambakit bench generate`)
  train     one step (forward, next-token cross-entropy, backward, AdamW) at --seq-len × --batch, tokens/s

Usage: python Scripts/bench_pytorch_mamba2.py [--threads 2] [--shape mamba2-130m|mamba2-tiny] [--only prefill,generate,train]
One JSON line per measurement, keys as mambakit bench's.
"""
import argparse, json, time

import torch
import transformers
from transformers import Mamba2Config, Mamba2ForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--shape", default="mamba2-130m", choices=["mamba2-130m", "mamba2-tiny"])
ap.add_argument("--prompt-length", type=int, default=2048)
ap.add_argument("--steps", type=int, default=32)
ap.add_argument("--seq-len", type=int, default=512)
ap.add_argument("--batch", type=int, default=None)
ap.add_argument("--repeats", type=int, default=2)
ap.add_argument("--only", default="prefill,generate,train")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

if a.shape == "mamba2-130m":
    D, layers, V, N = 768, 24, 50288, 128
else:
    D, layers, V, N = 256, 4, 256, 64
cfg = Mamba2Config(vocab_size=V, hidden_size=D, num_hidden_layers=layers, state_size=N, head_dim=64,
                   num_heads=2 * D // 64, n_groups=1, expand=2, chunk_size=256, tie_word_embeddings=True,
                   use_cache=True)
model = Mamba2ForCausalLM(cfg).float()
only = set(a.only.split(","))
common = {"impl": "pytorch", "torch": torch.__version__, "transformers": transformers.__version__,
          "shape": a.shape, "threads": a.threads,
          "parameters": sum(p.numel() for p in model.parameters())}


def best(fn):
    fn()
    t = float("inf")
    for _ in range(a.repeats):
        t0 = time.perf_counter(); fn(); t = min(t, time.perf_counter() - t0)
    return t


def emit(**kv):
    print(json.dumps({**kv, **common}), flush=True)


if "prefill" in only:
    model.eval()
    ids = torch.randint(0, V, (1, a.prompt_length))
    with torch.no_grad():
        s = best(lambda: model(ids, use_cache=False))
    emit(bench="prefill", tokens_per_second=round(a.prompt_length / s, 1), batch=1, prompt_length=a.prompt_length)

if "generate" in only:
    model.eval()
    for batch in (1, 8):
        prompt = torch.randint(0, V, (batch, 16))

        def run():
            with torch.no_grad():
                out = model(prompt, use_cache=True)
                cache, tok = out.cache_params, out.logits[:, -1].argmax(-1, keepdim=True)
                t0 = time.perf_counter()
                for i in range(a.steps):
                    pos = torch.tensor([16 + i])
                    out = model(tok, cache_params=cache, use_cache=True, cache_position=pos)
                    tok = out.logits[:, -1].argmax(-1, keepdim=True)
                return time.perf_counter() - t0

        run()
        s = min(run() for _ in range(a.repeats))
        emit(bench="generate", tokens_per_second=round(batch * a.steps / s, 2), batch=batch, steps=a.steps)

if "train" in only:
    model.train()
    B = a.batch or (8 if a.shape == "mamba2-tiny" else 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, V, (B, a.seq_len + 1))

    def step():
        out = model(ids[:, :-1], use_cache=False)
        loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward(); opt.step(); opt.zero_grad()

    s = best(step)
    emit(bench="train", tokens_per_second=round(a.seq_len * B / s, 1), seq_len=a.seq_len, batch=B,
         step_seconds=round(s, 3))
