#!/usr/bin/env bash
# Piano waveform LM (Bach, Kimiko Ishizaka, CC0; 16 kHz mono FLAC; split by whole piece: 8 train, 1 valid, 1 test),
# 16 kHz 8-bit mu-law as in SaShiMi's YouTubeMix setup: next-sample prediction over 256 classes on 1 s windows
# (truncated backprop every 0.25 s), bits per sample on the whole test piece (108.8 s, state carried), then a
# continuation of the test piece's first second and its spectrogram next to the real audio.
#
#   Examples/audio/piano.sh [STEPS]          (default 300; a few minutes on 2 cores)
#
# Reads ../shared/datasets/piano_bach_ishizaka/manifest.csv (override with PIANO=path/to/manifest.csv).
# MAMBAKIT=path uses an already built mambakit; THREADS (default 2) sets --threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-300}
SRC=${PIANO:-../shared/datasets/piano_bach_ishizaka/manifest.csv}
THREADS=${THREADS:-2}
[ -f "$SRC" ] || { echo "piano.sh: $SRC not found — set PIANO=/path/to/piano_bach_ishizaka/manifest.csv" >&2; exit 1; }
if [ -z "${MAMBAKIT:-}" ]; then swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
OUT=Data/cache/piano
mkdir -p "$OUT"
RUN="$OUT/lm-$STEPS"
rm -rf "$RUN"
start=$(date +%s.%N)
$MK train audio-lm --data "$SRC" --sample-rate 16000 --encoding mu-law \
    --d-model 64 --n-layer 2 --vocab-size 256 --seq-len 16000 --chunk-len 4000 --batch-size 2 --steps "$STEPS" \
    --lr 3e-3 --warmup-steps 10 --schedule cosine --seed 1 --threads "$THREADS" \
    --eval-every "$(( STEPS / 3 > 0 ? STEPS / 3 : 1 ))" --eval-samples 160000 --log-every 25 --out "$RUN"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "train_seconds: %.1f\n", b - a }'
$MK eval audio-lm --model "$RUN" --data "$SRC" --split test --threads "$THREADS" --json
TEST_PIECE="$(dirname "$SRC")/$(awk -F, '$2 == "test" { print $1; exit }' "$SRC")"
$MK generate audio --model "$RUN" --prompt "$TEST_PIECE" --prompt-seconds 1 --seconds 2 --seed 1 --out "$OUT/generated.wav"
$MK audio spectrogram "$TEST_PIECE" "$OUT/generated.wav" --max-seconds 3 --out "$OUT/spectrogram.png"
