#!/usr/bin/env bash
# Tiny Shakespeare, byte level (char-rnn / nanoGPT data; split: first 90% of the bytes train, last 10% validation).
# Trains a small Mamba (D=256, 4 layers, 1.8 M parameters) with the same settings as
# Scripts/pytorch_text_baseline.py, evaluates validation bits per byte, and generates a sample.
#
#   Examples/text/tinyshakespeare.sh [STEPS]        (default 100; Docs/results.md also reports 1000)
#
# Reads ../shared/datasets/tinyshakespeare/input.txt (override with TINYSHAKESPEARE=path).
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-100}
SRC=${TINYSHAKESPEARE:-../shared/datasets/tinyshakespeare/input.txt}
[ -f "$SRC" ] || { echo "tinyshakespeare.sh: $SRC not found — set TINYSHAKESPEARE=/path/to/input.txt" >&2; exit 1; }
OUT=Data/cache/tinyshakespeare
mkdir -p "$OUT"
total=$(wc -c < "$SRC"); ntrain=$(( total * 9 / 10 ))
head -c "$ntrain" "$SRC" > "$OUT/train.txt"
tail -c +"$(( ntrain + 1 ))" "$SRC" > "$OUT/val.txt"
swift build -c release --product mambakit >&2
MK=.build/release/mambakit
RUN="$OUT/run-$STEPS"
rm -rf "$RUN"
start=$(date +%s.%N)
$MK train text --data "$OUT/train.txt" --val "$OUT/val.txt" --tokenizer byte \
    --d-model 256 --n-layer 4 --seq-len 256 --batch-size 16 --steps "$STEPS" \
    --lr 2e-3 --warmup-steps 10 --schedule cosine --weight-decay 0.1 --grad-clip 1 --seed 1 \
    --eval-every "$(( STEPS / 4 > 0 ? STEPS / 4 : 1 ))" --eval-tokens 16384 --log-every 25 --out "$RUN"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "train_seconds: %.1f\n", b - a }'
$MK eval text --model "$RUN" --data "$OUT/val.txt" --json
$MK generate --model "$RUN" --prompt "ROMEO:" --max-tokens 300 --temperature 0.8 --seed 1
