#!/usr/bin/env bash
# gue.sh — GUE (DNABERT-2) tasks: train a small Mamba classifier on each task's published train split,
# validate on dev, and score the test split (accuracy, MCC, F1; with and without reverse-complement
# averaging). Results: $RUNS/<task>/test.json and test_rc.json. Budgets are small on purpose (shared CPU);
# raise STEPS / D_MODEL / N_LAYER for better figures.
#   usage: Examples/dna/gue.sh [task …]      (default: prom_core_notata prom_core_all tf_0 tf_1 tf_2 tf_3)
#   EXTRA="--bidirectional" RUNS=Data/cache/runs/dna/bi Examples/dna/gue.sh prom_core_notata   (BiMamba variant)
set -euo pipefail
cd "$(dirname "$0")/../.."
GUE=${GUE:-../shared/datasets/gue}
RUNS=${RUNS:-Data/cache/runs/dna/gue}
BIN=${BIN:-.build/release/mambakit}
STEPS=${STEPS:-1500} BATCH=${BATCH:-32} D_MODEL=${D_MODEL:-96} N_LAYER=${N_LAYER:-3} LR=${LR:-2e-3} THREADS=${THREADS:-2}
TASKS=("$@"); [ ${#TASKS[@]} -eq 0 ] && TASKS=(prom_core_notata prom_core_all tf_0 tf_1 tf_2 tf_3)
for task in "${TASKS[@]}"; do
    out="$RUNS/$task"
    rm -rf "$out"; mkdir -p "$out"
    len=$(zcat "$GUE/$task/train.csv.gz" | sed -n 2p | cut -d, -f1 | tr -d '\r' | wc -c)
    start=$(date +%s)
    "$BIN" train dna-classify --data "$GUE/$task" --seq-len $((len - 1)) --d-model "$D_MODEL" --n-layer "$N_LAYER" \
        --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --warmup-steps 50 --weight-decay 0.1 --threads "$THREADS" \
        --eval-every 500 --eval-examples 1000 --log-every 250 --seed 1 ${EXTRA:-} --out "$out" 2> "$out/train.log" >/dev/null
    secs=$(( $(date +%s) - start ))
    "$BIN" eval dna-classify --model "$out" --data "$GUE/$task" --split test --json --threads "$THREADS" > "$out/test.json"
    "$BIN" eval dna-classify --model "$out" --data "$GUE/$task" --split test --json --rc-average --threads "$THREADS" > "$out/test_rc.json"
    echo "$task: trained in ${secs}s; test $(cut -c1-90 "$out/test.json"); RC-averaged $(cut -c1-90 "$out/test_rc.json")"
done
