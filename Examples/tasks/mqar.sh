#!/usr/bin/env bash
# mqar.sh — multi-query associative recall (Zoology, Arora et al. 2023): accuracy of 2-layer Mamba models
# against model width D and the number of key-value pairs, a small grid (keys and values from 64 tokens each).
# Prints one line per grid point; models under the output directory. Budget and results: Docs/results.md.
#   Examples/tasks/mqar.sh [length (128)] [steps (1500)] [extra `task train` options]
#   WIDTHS="32 64" PAIRS="4 8 16" MIXER=selective Examples/tasks/mqar.sh
#   The default lr 3e-3 stays on the loss plateau; `Examples/tasks/mqar.sh 128 5000 --lr 5e-3` reaches 98–99 % at D 64, 4 pairs.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/setup.sh
swift build -c release --product mambakit
LENGTH=${1:-128}; STEPS=${2:-1500}; shift 2 || shift $#
OUT=${OUT:-Data/cache/runs/tasks/mqar-$LENGTH}
THREADS=${THREADS:-2}
WIDTHS=${WIDTHS:-"32 64"}; PAIRS=${PAIRS:-"4 8 16"}; MIXER=${MIXER:-selective}
for d in $WIDTHS; do
    for p in $PAIRS; do
        WL=$(( 4 * p > 32 ? 4 * p : 32 ))   # the warm-up starts where 3·pairs fit
        .build/release/mambakit task train mqar --length "$LENGTH" --items "$p" --vocabulary 64 \
            --warmup-length "$WL" --stage-steps 200 --mixer "$MIXER" --d-model "$d" --n-layer 2 \
            --steps "$STEPS" --batch-size 16 --lr 3e-3 --warmup-steps 50 --threads "$THREADS" \
            --eval-every 0 --eval-count 64 --out "$OUT/d$d-p$p" "$@" >/dev/null
        printf 'D=%-4s pairs=%-3s ' "$d" "$p"
        .build/release/mambakit task eval --model "$OUT/d$d-p$p" --count 256 --threads "$THREADS" | tail -1
    done
done
