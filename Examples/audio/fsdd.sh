#!/usr/bin/env bash
# Free Spoken Digit Dataset (8 kHz speech, 5 speakers, official split: recording indices 0-4 test, 5-49 train).
#  1. Clip classification (10 digits) on raw 8-bit mu-law waveforms: a small Mamba, mean pooling → linear → softmax;
#     test accuracy, per-class accuracy and confusion matrix.
#  2. An SC09-style waveform LM at 8 kHz mu-law: bits per sample on the test clips (whole clips, state carried).
#
#   Examples/audio/fsdd.sh [CLASSIFY_STEPS] [LM_STEPS]     (defaults 300 and 300; a few minutes each on 2 cores;
#                                                           0 skips that part)
#
# Reads ../shared/datasets/fsdd/manifest.csv (override with FSDD=path/to/manifest.csv).
# MAMBAKIT=path uses an already built mambakit; THREADS (default 2) sets --threads; EXTRA="--bidirectional"
# (or other train options) is passed to the classifier's training.
set -euo pipefail
cd "$(dirname "$0")/../.."
CSTEPS=${1:-300}
LSTEPS=${2:-300}
SRC=${FSDD:-../shared/datasets/fsdd/manifest.csv}
THREADS=${THREADS:-2}
[ -f "$SRC" ] || { echo "fsdd.sh: $SRC not found — set FSDD=/path/to/fsdd/manifest.csv" >&2; exit 1; }
if [ -z "${MAMBAKIT:-}" ]; then swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
OUT=Data/cache/fsdd
mkdir -p "$OUT"

# 1. classification
if [ "$CSTEPS" -gt 0 ]; then
CLS="$OUT/classify-$CSTEPS${EXTRA:+-$(echo "$EXTRA" | tr -d ' -')}"
rm -rf "$CLS"
start=$(date +%s.%N)
$MK train audio-classify --data "$SRC" --label-column digit --sample-rate 8000 --encoding mu-law --pooling mean \
    --d-model 64 --n-layer 2 --vocab-size 256 --seq-len 4000 --batch-size 8 --steps "$CSTEPS" \
    --lr 3e-3 --warmup-steps 10 --schedule cosine --seed 1 --threads "$THREADS" \
    --eval-every "$(( CSTEPS / 3 > 0 ? CSTEPS / 3 : 1 ))" --log-every 25 --out "$CLS" ${EXTRA:-}
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "classify_train_seconds: %.1f\n", b - a }'
$MK eval audio-classify --model "$CLS" --data "$SRC" --label-column digit --split test --threads "$THREADS"
$MK eval audio-classify --model "$CLS" --data "$SRC" --label-column digit --split test --threads "$THREADS" --json
fi

# 2. waveform LM (SC09-style, 8 kHz 8-bit mu-law)
[ "$LSTEPS" -gt 0 ] || exit 0
LM="$OUT/lm-$LSTEPS"
rm -rf "$LM"
start=$(date +%s.%N)
$MK train audio-lm --data "$SRC" --sample-rate 8000 --encoding mu-law \
    --d-model 64 --n-layer 2 --vocab-size 256 --seq-len 8000 --chunk-len 2000 --batch-size 4 --steps "$LSTEPS" \
    --lr 3e-3 --warmup-steps 10 --schedule cosine --seed 1 --threads "$THREADS" \
    --eval-every "$(( LSTEPS / 3 > 0 ? LSTEPS / 3 : 1 ))" --eval-samples 100000 --log-every 25 --out "$LM"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "lm_train_seconds: %.1f\n", b - a }'
$MK eval audio-lm --model "$LM" --data "$SRC" --split test --threads "$THREADS" --json
TEST_CLIP="$(dirname "$SRC")/recordings/test/7_jackson_0.wav"
$MK generate audio --model "$LM" --prompt "$TEST_CLIP" --prompt-seconds 0.1 --seconds 0.5 --seed 1 --out "$OUT/generated.wav"
$MK audio spectrogram "$TEST_CLIP" "$OUT/generated.wav" --out "$OUT/spectrogram.png"
