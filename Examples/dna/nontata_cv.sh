#!/usr/bin/env bash
# nontata_cv.sh — 5-fold cross-validation INSIDE the Genomic Benchmarks human_nontata_promoters TEST split
# (9,034 sequences of 251 bp), because the benchmark's train split is not available here. Fold k holds the
# sequences on data lines with (line number − 1) mod 5 = k; each fold trains an RC-equivariant BiMamba
# (Caduceus-PS) on the other four folds and is scored on fold k. Published figures (HyenaDNA, Caduceus) train
# on the benchmark's own 27,097-sequence train split and test on this whole split: this is NOT that protocol.
#   usage: Examples/dna/nontata_cv.sh            (STEPS, D_MODEL, N_LAYER, THREADS as in gue.sh; FOLDS="0 1 2 3 4")
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/datasets}
BIN=${BIN:-.build/release/mambakit}
RUNS=${RUNS:-Data/cache/runs/dna/nontata_cv}
STEPS=${STEPS:-500} D_MODEL=${D_MODEL:-96} N_LAYER=${N_LAYER:-3} THREADS=${THREADS:-2} FOLDS=${FOLDS:-"0 1 2 3 4"}
SRC="$DATA/genomic_benchmarks/human_nontata_promoters/test.csv.gz"
mkdir -p "$RUNS"
for k in $FOLDS; do
    d="$RUNS/fold$k"; rm -rf "$d"; mkdir -p "$d"
    zcat "$SRC" | awk -F, -v k="$k" -v out="$d" 'NR == 1 { print > (out "/train.csv"); print > (out "/test.csv"); next }
        { print > (out "/" (((NR - 2) % 5 == k) ? "test" : "train") ".csv") }'
    start=$(date +%s)
    "$BIN" train dna-classify --data "$d/train.csv" --val "$d/test.csv" --rc-equivariant --bidirectional --seq-len 251 \
        --d-model "$D_MODEL" --n-layer "$N_LAYER" --steps "$STEPS" --batch-size 32 --lr 2e-3 --warmup-steps 50 \
        --weight-decay 0.1 --eval-every "$STEPS" --eval-examples 0 --log-every 100 --threads "$THREADS" --seed 1 \
        --out "$d/model" 2> "$d/train.log" >/dev/null
    secs=$(( $(date +%s) - start ))
    "$BIN" eval dna-classify --model "$d/model" --data "$d/test.csv" --json --threads "$THREADS" > "$d/test.json"
    echo "fold $k: $(( $(wc -l < "$d/train.csv") - 1 )) train, $(( $(wc -l < "$d/test.csv") - 1 )) test, ${secs}s; $(cut -c1-80 "$d/test.json")"
done
