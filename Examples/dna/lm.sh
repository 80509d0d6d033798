#!/usr/bin/env bash
# lm.sh — causal next-base pretraining on human DNA (chr22 train blocks of great_apes_chr22), bits per
# base on held-out chr22 blocks (test split), then fine-tuning the pretrained backbone on GUE
# prom_core_notata, beside the same classifier trained from scratch with the same budget (gue.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/datasets}
BIN=${BIN:-.build/release/mambakit}
RUNS=${RUNS:-Data/cache/runs/dna/lm}
THREADS=${THREADS:-2} D_MODEL=${D_MODEL:-96} N_LAYER=${N_LAYER:-3}
LM_STEPS=${LM_STEPS:-500} FT_STEPS=${FT_STEPS:-1500}
mkdir -p "$RUNS"; rm -rf "$RUNS/human-lm" "$RUNS/prom-ft"
start=$(date +%s)
"$BIN" train dna-lm --data "$DATA/great_apes_chr22/train/human.fa.gz" --val "$DATA/great_apes_chr22/test/human.fa.gz" \
    --seq-len 1024 --batch-size 8 --steps "$LM_STEPS" --d-model "$D_MODEL" --n-layer "$N_LAYER" --lr 3e-3 --warmup-steps 25 \
    --eval-every 250 --eval-bases 65536 --log-every 50 --threads "$THREADS" --seed 1 --out "$RUNS/human-lm" 2> "$RUNS/human-lm.log" >/dev/null
echo "pretraining: $LM_STEPS steps x 8 x 1024 bases in $(( $(date +%s) - start ))s"
"$BIN" eval dna-lm --model "$RUNS/human-lm" --data "$DATA/great_apes_chr22/test/human.fa.gz" --max-bases 500000 --json --threads "$THREADS" \
    | tee "$RUNS/human-lm-test.json"
start=$(date +%s)
"$BIN" train dna-classify --data "$DATA/gue/prom_core_notata" --init "$RUNS/human-lm" --seq-len 70 --steps "$FT_STEPS" --batch-size 32 \
    --lr 2e-3 --warmup-steps 50 --eval-every 500 --eval-examples 1000 --log-every 250 --threads "$THREADS" --seed 1 \
    --out "$RUNS/prom-ft" 2> "$RUNS/prom-ft.log" >/dev/null
echo "fine-tuning: $FT_STEPS steps x 32 in $(( $(date +%s) - start ))s"
"$BIN" eval dna-classify --model "$RUNS/prom-ft" --data "$DATA/gue/prom_core_notata" --json --threads "$THREADS" | tee "$RUNS/prom-ft-test.json"
"$BIN" eval dna-classify --model "$RUNS/prom-ft" --data "$DATA/gue/prom_core_notata" --json --rc-average --threads "$THREADS" | tee "$RUNS/prom-ft-test_rc.json"
