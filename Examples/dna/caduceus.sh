#!/usr/bin/env bash
# caduceus.sh — the Caduceus recipe: an RC-equivariant BiMamba (Caduceus-PS) pretrained by masked LM on human
# DNA (chr22 train blocks of great_apes_chr22) with HyenaDNA's sequence-length warm-up, masked bits per base on
# held-out chr22 blocks, then fine-tuned on a GUE task and scored on its test split with and without RC
# averaging (which cannot change an RC-equivariant model's predictions), beside the same RC-equivariant
# classifier trained from scratch with the same fine-tuning budget.
#   usage: Examples/dna/caduceus.sh [gue_task]       (default prom_core_notata)
#   LM_STEPS=0 skips pretraining (from-scratch row only). Budgets: LM_STEPS, FT_STEPS, D_MODEL, N_LAYER.
#   REUSE_LM=1 fine-tunes from an existing $RUNS/human-mlm (pretrain once, then one call per task);
#   SCRATCH=0 skips the from-scratch row.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/datasets}
BIN=${BIN:-.build/release/mambakit}
RUNS=${RUNS:-Data/cache/runs/dna/caduceus}
TASK=${1:-prom_core_notata}
THREADS=${THREADS:-2} D_MODEL=${D_MODEL:-96} N_LAYER=${N_LAYER:-3}
LM_STEPS=${LM_STEPS:-400} FT_STEPS=${FT_STEPS:-1500} SEQ=${SEQ:-1024}
REUSE_LM=${REUSE_LM:-0} SCRATCH=${SCRATCH:-1}
mkdir -p "$RUNS"
len=$(zcat "$DATA/gue/$TASK/train.csv.gz" | sed -n 2p | cut -d, -f1 | tr -d '\r' | wc -c); len=$((len - 1))
finetune() {   # $1 = out dir, $2… = model source
    local out=$1; shift
    rm -rf "$out"; local start=$(date +%s)
    "$BIN" train dna-classify --data "$DATA/gue/$TASK" "$@" --rc-equivariant --bidirectional --seq-len "$len" \
        --steps "$FT_STEPS" --batch-size 32 --lr 2e-3 --warmup-steps 50 --weight-decay 0.1 --eval-every 500 \
        --eval-examples 1000 --log-every 250 --threads "$THREADS" --seed 1 --out "$out" 2> "$out.log" >/dev/null
    echo "$(basename "$out"): fine-tuned $FT_STEPS steps x 32 in $(( $(date +%s) - start ))s"
    "$BIN" eval dna-classify --model "$out" --data "$DATA/gue/$TASK" --json --threads "$THREADS" | tee "$out-test.json"
    "$BIN" eval dna-classify --model "$out" --data "$DATA/gue/$TASK" --json --rc-average --threads "$THREADS" | tee "$out-test_rc.json"
}
if [ "$REUSE_LM" = 1 ]; then
    compgen -G "$RUNS/human-mlm/checkpoint-*/config.json" > /dev/null || { echo "caduceus.sh: REUSE_LM=1 but $RUNS/human-mlm has no checkpoint; run once without REUSE_LM to pretrain" >&2; exit 2; }
    finetune "$RUNS/$TASK-ft" --init "$RUNS/human-mlm"
elif [ "$LM_STEPS" -gt 0 ]; then
    rm -rf "$RUNS/human-mlm"; start=$(date +%s)
    "$BIN" train dna-lm --data "$DATA/great_apes_chr22/train/human.fa.gz" --val "$DATA/great_apes_chr22/test/human.fa.gz" \
        --rc-equivariant --bidirectional --seq-len "$SEQ" --batch-size 8 --warmup-length 128 --stage-steps $((LM_STEPS / 8 + 1)) \
        --steps "$LM_STEPS" --d-model "$D_MODEL" --n-layer "$N_LAYER" --lr 3e-3 --warmup-steps 25 --eval-every 200 \
        --eval-bases 65536 --log-every 50 --threads "$THREADS" --seed 1 --out "$RUNS/human-mlm" 2> "$RUNS/human-mlm.log" >/dev/null
    echo "masked pretraining: $LM_STEPS steps x $((8 * SEQ)) bases in $(( $(date +%s) - start ))s"
    "$BIN" eval dna-lm --model "$RUNS/human-mlm" --data "$DATA/great_apes_chr22/test/human.fa.gz" --chunk-length "$SEQ" \
        --max-bases 500000 --json --threads "$THREADS" | tee "$RUNS/human-mlm-test.json"
    finetune "$RUNS/$TASK-ft" --init "$RUNS/human-mlm"
fi
if [ "$SCRATCH" = 1 ]; then finetune "$RUNS/$TASK-scratch" --d-model "$D_MODEL" --n-layer "$N_LAYER"; fi
