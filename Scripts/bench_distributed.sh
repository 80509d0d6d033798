#!/usr/bin/env bash
# bench_distributed.sh — data-parallel scaling on this machine (Docs/Distributed.md, Docs/benchmarks.md):
# `train text` at the bench train tiny shape (D=256, 4 layers, byte vocabulary, L=512, global batch 8) on
# 1 and 2 ranks, 1 thread each, then the all-reduce bandwidth (`bench allreduce`) at 2 ranks.
# Also 1 process with batch 4 (one rank's share, alone on the machine). Prints per run: tokens/s over the
# whole run (first step included) and over steps 3… (steady: from the cumulative rates of metrics.jsonl),
# and at 2 ranks the mean share of a step spent in the all-reduce (waiting for the slower rank included).
# Usage: Scripts/bench_distributed.sh [TEXT] [STEPS]   (default: Tiny Shakespeare from ../shared/datasets, 12 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
TEXT=${1:-../shared/datasets/tinyshakespeare/input.txt}
STEPS=${2:-12}
BIN=.build/release/mambakit
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
ARGS=(train text --data "$TEXT" --val-fraction 0 --d-model 256 --n-layer 4 --seq-len 512 --batch-size 8
      --steps "$STEPS" --threads 1 --log-every 1000 --seed 1)
for run in 1x8 1x4 2x8; do
    n=${run%x*}; b=${run#*x}
    if [ "$n" = 1 ]; then "$BIN" "${ARGS[@]}" --batch-size "$b" --out "$OUT/r$run" >/dev/null 2>"$OUT/log$run"
    else mpirun --oversubscribe --allow-run-as-root -np "$n" "$BIN" "${ARGS[@]}" --batch-size "$b" --out "$OUT/r$run" >/dev/null 2>"$OUT/log$run"; fi
    python3 - "$OUT/r$run/metrics.jsonl" "$n" "$b" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, b = int(sys.argv[2]), int(sys.argv[3])
tokens = b * 512                                       # per step, all ranks
elapsed = [(i + 1) * tokens / r["tokens_per_second"] for i, r in enumerate(rows)]
steady = (len(rows) - 2) * tokens / (elapsed[-1] - elapsed[1])
line = {"ranks": n, "threads_per_rank": 1, "global_batch": b, "steps": len(rows),
        "tokens_per_second": rows[-1]["tokens_per_second"], "steady_tokens_per_second": round(steady)}
late = rows[2:]
if n > 1 and late:
    step = sum(r["step_seconds"] for r in late) / len(late)
    ar = sum(r["allreduce_seconds"] for r in late) / len(late)
    line.update(step_seconds=round(step, 4), allreduce_seconds=round(ar, 5), allreduce_share=round(ar / step, 4))
print(json.dumps(line))
PY
done
mpirun --oversubscribe --allow-run-as-root -np 2 "$BIN" bench allreduce --json
