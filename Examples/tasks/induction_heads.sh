#!/usr/bin/env bash
# induction_heads.sh — the Mamba paper's Induction Heads (§4.1, Table 2): trained at length 256 (vocabulary 16),
# then scored at every length 2^6 … 2^20 through the recurrent path (chunks with the state carried: bounded
# memory). Selective (S6) and time-invariant (S4D-Real) mixers, same architecture and budget; tables and
# SVG plots (accuracy against log2 length) under the output directory, and every scored example (its margin and
# the trigger's distance to the query) in <model>-examples.jsonl. Budget and results: Docs/results.md.
#   Examples/tasks/induction_heads.sh [steps (20000)] [max log2 length (20)] [extra `task train` options]
# The recipe (batch 8, lr 1e-3 constant after 50 warm-up steps, no weight decay) is the one that reaches 100 % at
# every length to 2^20; BATCH, LR, SCHEDULE and WD change it (the earlier recipe: BATCH=16 LR=3e-3 SCHEDULE=cosine
# WD=0.1 with 6000 steps — weight decay shrinks dt_proj as training goes on and the memory with it; Docs/results.md).
# SP_STEPS=N (default 0) adds a post-training phase to the selective model: N steps with --state-passing (each
# micro-batch starts from the previous one's final state, lr 1e-3 cosine; Buitrago Ruiz & Gu 2025), scored too.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/setup.sh
swift build -c release --product mambakit
STEPS=${1:-20000}; MAXLOG=${2:-20}; shift 2 || shift $#
OUT=${OUT:-Data/cache/runs/tasks/induction-heads}
THREADS=${THREADS:-2}
COUNT=${COUNT:-32}
SP_STEPS=${SP_STEPS:-0}
BATCH=${BATCH:-8}; LR=${LR:-1e-3}; SCHEDULE=${SCHEDULE:-constant}; WD=${WD:-0}
LENGTHS=$(seq -s, 6 "$MAXLOG" | awk -F, '{for (i = 1; i <= NF; i++) printf "%s%d", (i > 1 ? "," : ""), 2 ^ $i}')
for mixer in selective lti; do
    .build/release/mambakit task train induction-heads --length 256 --vocabulary 16 \
        --warmup-length 16 --stage-steps 200 --mixer "$mixer" --d-model 64 --n-layer 2 \
        --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --schedule "$SCHEDULE" --weight-decay "$WD" \
        --warmup-steps 50 --threads "$THREADS" --eval-every 5000 --eval-count 64 --out "$OUT/$mixer" "$@"
done
MODELS="selective lti"
if [[ $SP_STEPS -gt 0 ]]; then
    .build/release/mambakit task train induction-heads --init "$OUT/selective" --state-passing --length 256 --vocabulary 16 \
        --steps "$SP_STEPS" --batch-size 16 --lr 1e-3 --schedule cosine --warmup-steps 20 --threads "$THREADS" \
        --eval-every 500 --eval-count 64 --out "$OUT/selective-sp"
    MODELS="selective selective-sp lti"
fi
for mixer in $MODELS; do
    echo "Induction heads, $mixer model, trained at 256 ($COUNT examples per length):"
    .build/release/mambakit task eval --model "$OUT/$mixer" --lengths "$LENGTHS" --count "$COUNT" --threads "$THREADS" \
        --svg "$OUT/$mixer.svg" --examples "$OUT/$mixer-examples.jsonl" | tee "$OUT/$mixer-lengths.txt"
done
