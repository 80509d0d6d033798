"""Peak memory and time of one PyTorch training step (forward, backward, AdamW) of transformers'
MambaForCausalLM at the mamba-130m shape, for comparison with `mambakit bench train`.

Usage: /work/venv-torch/bin/python Scripts/pytorch_train_peak.py [--seq-len 2048] [--batch 1] [--threads 2]
Prints one JSON line with peak_rss_bytes (ru_maxrss) and step seconds.
"""
import argparse, json, resource, time

import torch
from transformers import MambaConfig, MambaForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--seq-len", type=int, default=2048)
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--shape", default="130m")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
if a.shape == "130m":
    cfg = MambaConfig(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16)
else:
    cfg = MambaConfig(vocab_size=256, hidden_size=256, num_hidden_layers=4, state_size=16)
model = MambaForCausalLM(cfg)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq_len + 1))
t0 = time.time()
out = model(ids[:, :-1], labels=None)
loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, cfg.vocab_size), ids[:, 1:].reshape(-1))
loss.backward()
opt.step()
opt.zero_grad()
sec = time.time() - t0
print(json.dumps({"bench": "train", "impl": "pytorch", "shape": a.shape, "seq_len": a.seq_len, "batch": a.batch,
                  "threads": a.threads, "step_seconds": round(sec, 2),
                  "tokens_per_second": round(a.seq_len * a.batch / sec, 1),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
