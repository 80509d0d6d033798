#!/usr/bin/env bash
# selective_copying.sh — the Mamba paper's Selective Copying (§4.1, Table 1) with the selective (S6) mixer and
# the time-invariant (S4D-Real) mixer in the same 2-layer Mamba architecture, the same budget, the same data;
# prints both exact-match accuracies. Budget and results: Docs/results.md.
#   Examples/tasks/selective_copying.sh [spread (128)] [steps (8000)] [extra `task train` options]
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/setup.sh
swift build -c release --product mambakit
SPREAD=${1:-128}; STEPS=${2:-8000}; shift 2 || shift $#
OUT=${OUT:-Data/cache/runs/tasks/selective-copying-$SPREAD}
THREADS=${THREADS:-2}
for mixer in selective lti; do
    .build/release/mambakit task train selective-copying --length "$SPREAD" --items 16 --vocabulary 16 \
        --warmup-length 16 --stage-steps 300 --mixer "$mixer" --d-model 64 --n-layer 2 \
        --steps "$STEPS" --batch-size 16 --lr 3e-3 --warmup-steps 50 --threads "$THREADS" \
        --eval-every 500 --eval-count 64 --out "$OUT/$mixer" "$@"
done
echo "Selective Copying, spread $SPREAD, 16 tokens, vocabulary 16 (accuracy over the 16 copied positions; chance 1/16):"
for mixer in selective lti; do
    printf '%-10s ' "$mixer"
    .build/release/mambakit task eval --model "$OUT/$mixer" --count 256 --threads "$THREADS" | tail -1
done
