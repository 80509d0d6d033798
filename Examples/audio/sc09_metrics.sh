#!/usr/bin/env bash
# sc09_metrics.sh — the SC09 table of SaShiMi and Mamba on FSDD (8 kHz spoken digits): unconditional 1 s clips
# from three waveform LMs trained for the same wall-clock budget — the flat model of fsdd.sh (D = 64, 2 blocks)
# and two SaShiMi-style U-Nets (pool 4 × 4, 2 blocks per stage, width doubling per stage: D = 64 → 128 → 256
# and D = 32 → 64 → 128, the two of piano_unet.sh) — scored by a trained digit
# classifier with `eval audio-generation` (IS, mIS, AM, FD against the 2,250 training clips), beside the real
# test clips (the ceiling).
#
#   Examples/audio/sc09_metrics.sh [BUDGET seconds per LM (600)] [CLIPS per LM (100)]
#
# The classifier is the log-mel recipe of fsdd_logmel.sh (official split, CLASSIFY_STEPS = 400, training-set
# normalisation: generated clips have no speaker); WAVEFORM=1 also scores every row with the waveform
# classifier of fsdd.sh (WAVEFORM_STEPS = 450). Each LM's steps are calibrated from a 12-step run so that it
# trains for BUDGET seconds (1 s windows, truncated backprop every 0.25 s, batch 4, lr 3e-3 cosine, seed 1).
# Clip i of an LM is `generate audio --seed i` at temperature 1 (Examples/audio/generate_clips.sh).
# FSDD=path (manifest), MAMBAKIT=path (a built mambakit), THREADS (default 1), OUT (Data/cache/sc09).
# One JSON line per scored row goes to $OUT/results.jsonl. Results: Docs/results.md ("Generated clips").
set -euo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${1:-600}
N=${2:-100}
SRC=${FSDD:-../shared/datasets/fsdd/manifest.csv}
THREADS=${THREADS:-1}
OUT=${OUT:-Data/cache/sc09}
[ -f "$SRC" ] || { echo "sc09_metrics.sh: $SRC not found — set FSDD=/path/to/fsdd/manifest.csv" >&2; exit 1; }
if [ -z "${MAMBAKIT:-}" ]; then source Scripts/setup.sh; swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
MK=$(cd "$(dirname "$MK")" && pwd)/$(basename "$MK")
mkdir -p "$OUT"
: > "$OUT/results.jsonl"

# 1. classifiers
CLASSIFIERS=(logmel)
if [ ! -d "$OUT/classify-logmel" ]; then
    $MK train audio-classify --data "$SRC" --label-column digit --features log-mel --mels 40 --window 256 --hop 80 \
        --d-model 64 --n-layer 4 --pooling mean --batch-size 16 --steps "${CLASSIFY_STEPS:-400}" --lr 3e-3 --warmup-steps 40 \
        --weight-decay 0.01 --seed 1 --threads "$THREADS" --eval-every 0 --out "$OUT/classify-logmel" > "$OUT/classify-logmel.log" 2>&1
fi
if [ -n "${WAVEFORM:-}" ]; then
    CLASSIFIERS+=(waveform)
    [ -d "$OUT/classify-waveform" ] || $MK train audio-classify --data "$SRC" --label-column digit --sample-rate 8000 --encoding mu-law \
        --pooling mean --d-model 64 --n-layer 2 --vocab-size 256 --seq-len 4000 --batch-size 8 --steps "${WAVEFORM_STEPS:-450}" \
        --lr 3e-3 --warmup-steps 10 --schedule cosine --seed 1 --threads "$THREADS" --eval-every 0 \
        --out "$OUT/classify-waveform" > "$OUT/classify-waveform.log" 2>&1
fi
for c in "${CLASSIFIERS[@]}"; do
    $MK eval audio-classify --model "$OUT/classify-$c" --data "$SRC" --label-column digit --split test --threads "$THREADS" --json \
        | sed -E "s/^\{/{\"classifier\": \"$c\", \"row\": \"test accuracy\", /" | tee -a "$OUT/results.jsonl"
done

# 2. LMs at the same wall clock: calibrate, train, generate N clips
COMMON=(--data "$SRC" --sample-rate 8000 --encoding mu-law --vocab-size 256 --seq-len 8000 --chunk-len 2000 --batch-size 4
        --lr 3e-3 --warmup-steps 10 --schedule cosine --seed 1 --threads "$THREADS" --log-every 50)
lm() {   # NAME MODEL-OPTIONS…
    local name=$1; shift
    if [ ! -d "$OUT/lm-$name" ]; then
        rm -rf "$OUT/cal-$name"
        $MK train audio-lm "${COMMON[@]}" "$@" --steps 12 --eval-every 0 --out "$OUT/cal-$name" > /dev/null 2>&1
        local tps steps t0 t1
        tps=$(tail -1 "$OUT/cal-$name/metrics.jsonl" | sed -E 's/.*"tokens_per_second": ([0-9]+).*/\1/')
        steps=$(awk -v t="$tps" -v b="$BUDGET" 'BEGIN { s = int(t * b / 32000); print (s < 20 ? 20 : s) }')
        t0=$(date +%s.%N)
        $MK train audio-lm "${COMMON[@]}" "$@" --steps "$steps" --eval-every 0 --out "$OUT/lm-$name" > "$OUT/lm-$name.log" 2>&1
        t1=$(date +%s.%N)
        local bits
        bits=$($MK eval audio-lm --model "$OUT/lm-$name" --data "$SRC" --split test --threads "$THREADS" --json \
            | sed -E 's/.*"bits_per_sample": ([0-9.]+).*/\1/')
        awk -v n="$name" -v s="$steps" -v a="$t0" -v b="$t1" -v tps="$tps" -v bits="$bits" \
            'BEGIN { printf "{\"lm\": \"%s\", \"steps\": %d, \"train_seconds\": %.1f, \"calibrated_samples_per_second\": %d, \"test_bits_per_sample\": %s}\n", n, s, b - a, tps, bits }' \
            | tee "$OUT/lm-$name.json"
    fi
    cat "$OUT/lm-$name.json" >> "$OUT/results.jsonl"
    MAMBAKIT=$MK THREADS=$THREADS Examples/audio/generate_clips.sh "$OUT/lm-$name" "$OUT/gen-$name" "$N" 1 1 | tail -1 | tee "$OUT/gen-$name.time"
}
lm flat --d-model 64 --n-layer 2
lm unet --d-model 64 --n-layer 2 --unet-pool 4,4
lm unet32 --d-model 32 --n-layer 2 --unet-pool 4,4

# 3. scores: real test clips, then each LM's clips, under each classifier
score() {   # CLASSIFIER ROW CLIPS-OPTIONS…
    local c=$1 row=$2; shift 2
    $MK eval audio-generation --classifier "$OUT/classify-$c" "$@" --data "$SRC" --split train --threads "$THREADS" --json \
        | sed -E "s/^\{/{\"classifier\": \"$c\", \"row\": \"$row\", /" | tee -a "$OUT/results.jsonl"
}
for c in "${CLASSIFIERS[@]}"; do
    score "$c" real --clips "$SRC" --clips-split test
    score "$c" flat --clips "$OUT/gen-flat"
    score "$c" unet --clips "$OUT/gen-unet"
    score "$c" unet32 --clips "$OUT/gen-unet32"
done
echo "results: $OUT/results.jsonl"
