#!/usr/bin/env bash
# piano_unet.sh — the Mamba paper's audio backbone on the Bach piano data (16 kHz 8-bit mu-law, as
# piano.sh): SaShiMi-style U-Nets (pool 4 × 4, width doubling per stage, 2 Mamba blocks per stage; D = 64 →
# 128 → 256 and a narrower D = 32 → 64 → 128) against the flat model of piano.sh (D = 64, 2 blocks) at the
# same wall-clock training budget; then one model (TREND_MODEL: flat or unet) at three training window
# lengths with the samples per step and the steps held fixed (the paper's Figure 7 trend); and — when the
# build has the complex SSM (--mixer complex) — complex against real at one length. Every model is scored on
# the whole test piece (bits per sample, state carried). Steps per model are calibrated from a 12-step run
# so that each trains for BUDGET seconds. Results: Docs/results.md ("U-Net").
#
#   Examples/audio/piano_unet.sh [BUDGET seconds per model (900)]
#
# THREADS (default 2) sets --threads; MAMBAKIT=path uses an already built mambakit; OUT (Data/cache/piano_unet).
# SKIP_BUDGET=1 / SKIP_TREND=1 / SKIP_COMPLEX=1 skip a part; TREND_STEPS (300) and TREND_MODEL (flat) set the
# window-length runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${1:-900}
SRC=${PIANO:-../shared/datasets/piano_bach_ishizaka/manifest.csv}
THREADS=${THREADS:-2}
[ -f "$SRC" ] || { echo "piano_unet.sh: $SRC not found — set PIANO=/path/to/piano_bach_ishizaka/manifest.csv" >&2; exit 1; }
if [ -z "${MAMBAKIT:-}" ]; then source Scripts/setup.sh; swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
OUT=${OUT:-Data/cache/piano_unet}
mkdir -p "$OUT"
COMMON=(--data "$SRC" --sample-rate 16000 --encoding mu-law --vocab-size 256 --lr 3e-3 --warmup-steps 10
        --schedule cosine --seed 1 --threads "$THREADS" --log-every 50)
FLAT=(--d-model 64 --n-layer 2)
UNET=(--d-model 64 --n-layer 2 --unet-pool 4,4)
UNET32=(--d-model 32 --n-layer 2 --unet-pool 4,4)

# run NAME SEQ BATCH CHUNK MODEL-OPTIONS…: calibrate, train for BUDGET s, score the test piece; one JSON line.
run() {
    local name=$1 seq=$2 batch=$3 chunk=$4; shift 4
    rm -rf "$OUT/cal-$name" "$OUT/$name"
    $MK train audio-lm "${COMMON[@]}" "$@" --seq-len "$seq" --batch-size "$batch" --chunk-len "$chunk" --steps 12 \
        --eval-every 0 --out "$OUT/cal-$name" > /dev/null
    local tps steps
    tps=$(tail -1 "$OUT/cal-$name/metrics.jsonl" | sed -E 's/.*"tokens_per_second": ([0-9]+).*/\1/')
    steps=$(awk -v t="$tps" -v b="$BUDGET" -v n="$((seq * batch))" 'BEGIN { s = int(t * b / n); print (s < 20 ? 20 : s) }')
    local t0 t1
    t0=$(date +%s.%N)
    $MK train audio-lm "${COMMON[@]}" "$@" --seq-len "$seq" --batch-size "$batch" --chunk-len "$chunk" --steps "$steps" \
        --eval-every 0 --out "$OUT/$name" > "$OUT/$name.log" 2>&1
    t1=$(date +%s.%N)
    local bits
    bits=$($MK eval audio-lm --model "$OUT/$name" --data "$SRC" --split test --threads "$THREADS" --json \
        | sed -E 's/.*"bits_per_sample": ([0-9.]+).*/\1/')
    awk -v n="$name" -v s="$steps" -v a="$t0" -v b="$t1" -v bits="$bits" -v seq="$seq" -v batch="$batch" -v tps="$tps" \
        'BEGIN { printf "{\"run\": \"%s\", \"seq_len\": %d, \"batch\": %d, \"steps\": %d, \"train_seconds\": %.1f, \"calibrated_samples_per_second\": %d, \"test_bits_per_sample\": %s}\n", n, seq, batch, s, b - a, tps, bits }' \
        | tee -a "$OUT/results.jsonl"
}

: > "$OUT/results.jsonl"
# 1. flat vs U-Net, 1 s windows (truncated backprop every 0.25 s), same wall clock
if [ -z "${SKIP_BUDGET:-}" ]; then
    run flat-16000 16000 2 4000 "${FLAT[@]}"
    run unet-16000 16000 2 4000 "${UNET[@]}"
    run unet32-16000 16000 2 4000 "${UNET32[@]}"
fi
# 2. window length 2^11 / 2^13 / 2^15 at 2^15 samples per step and the same number of steps
#    (TREND_STEPS: the same samples seen), whole-window backprop, TREND_MODEL flat (default) or unet
TREND_STEPS=${TREND_STEPS:-300}
TREND_MODEL=${TREND_MODEL:-flat}
case "$TREND_MODEL" in
    flat) TREND=("${FLAT[@]}") ;;
    unet) TREND=("${UNET[@]}") ;;
    *) echo "piano_unet.sh: TREND_MODEL=$TREND_MODEL — use flat or unet" >&2; exit 64 ;;
esac
fixed() {   # NAME SEQ BATCH MODEL-OPTIONS…: TREND_STEPS steps, then the test piece; one JSON line
    local name=$1 seq=$2 batch=$3; shift 3
    rm -rf "$OUT/$name"
    local t0 t1 bits
    t0=$(date +%s.%N)
    $MK train audio-lm "${COMMON[@]}" "$@" --seq-len "$seq" --batch-size "$batch" --chunk-len 0 --steps "$TREND_STEPS" \
        --eval-every 0 --out "$OUT/$name" > "$OUT/$name.log" 2>&1
    t1=$(date +%s.%N)
    bits=$($MK eval audio-lm --model "$OUT/$name" --data "$SRC" --split test --threads "$THREADS" --json \
        | sed -E 's/.*"bits_per_sample": ([0-9.]+).*/\1/')
    awk -v n="$name" -v s="$TREND_STEPS" -v a="$t0" -v b="$t1" -v bits="$bits" -v seq="$seq" -v batch="$batch" \
        'BEGIN { printf "{\"run\": \"%s\", \"seq_len\": %d, \"batch\": %d, \"steps\": %d, \"train_seconds\": %.1f, \"test_bits_per_sample\": %s}\n", n, seq, batch, s, b - a, bits }' \
        | tee -a "$OUT/results.jsonl"
}
if [ -z "${SKIP_TREND:-}" ]; then
    fixed "$TREND_MODEL-2048" 2048 16 "${TREND[@]}"
    fixed "$TREND_MODEL-8192" 8192 4 "${TREND[@]}"
    fixed "$TREND_MODEL-32768" 32768 1 "${TREND[@]}"
fi
# 3. complex vs real SSM at 2^13 (when this build has it), same steps and model as the trend
if [ -z "${SKIP_COMPLEX:-}" ] && $MK train audio-lm --help 2>&1 | grep -q "complex"; then
    [ -n "${SKIP_TREND:-}" ] && fixed "$TREND_MODEL-8192" 8192 4 "${TREND[@]}"
    fixed "$TREND_MODEL-8192-complex" 8192 4 "${TREND[@]}" --mixer complex
fi
echo "results: $OUT/results.jsonl"
