#!/usr/bin/env bash
# FSDD spoken digits from log-mel frames with `mambakit train audio-classify --features log-mel`:
#  1. the official split (recording indices 5-49 train, 0-4 test): test accuracy on the 250 test clips;
#  2. leave one speaker out, for each of the 5 speakers: train on the other four speakers' training clips,
#     score all 500 clips of the held-out speaker (`eval audio-classify --speaker S --split all`);
#     prints each fold, the mean and the worst.
#
#   Examples/audio/fsdd_logmel.sh [STEPS] [FOLDS]     (defaults 400, "george jackson lucas nicolas yweweler";
#                                                      FOLDS "" skips part 2, OFFICIAL=0 skips part 1)
#
# Model and schedule (override with EXTRA="--normalisation per-speaker" etc.; later options win; the
# per-speaker normalisation scores the held-out speaker with the band means of their own clips, unlabelled):
#   40 mel bands, 256-sample (32 ms) Hann window, 80-sample (10 ms) hop, each band normalised with the mean and
#   deviation of the training clips' frames; InputProjection 40 → 64, 4 Mamba blocks (D 64, N 16), mean pooling;
#   16 clips a step, time masks of up to 10 frames and a gain of ±0.3; AdamW lr 3e-3, 40 warm-up steps, cosine,
#   weight decay 0.01, seed 1.
# FSDD=path (manifest or folder), MAMBAKIT=path (a built mambakit), THREADS (default 1), OUT (default
# Data/cache/fsdd_logmel). Each run's model, metrics.jsonl and loss_curve.svg are in $OUT/<run>.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-400}
FOLDS=${2-george jackson lucas nicolas yweweler}
SRC=${FSDD:-../shared/datasets/fsdd}
THREADS=${THREADS:-1}
OUT=${OUT:-Data/cache/fsdd_logmel}
[ -e "$SRC" ] || { echo "fsdd_logmel.sh: $SRC not found — set FSDD=/path/to/fsdd" >&2; exit 1; }
if [ -z "${MAMBAKIT:-}" ]; then swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
mkdir -p "$OUT"
COMMON=(--data "$SRC" --label-column digit --features log-mel --mels 40 --window 256 --hop 80
        --d-model 64 --n-layer 4 --pooling mean --batch-size 16 --steps "$STEPS" --lr 3e-3 --warmup-steps 40
        --weight-decay 0.01 --seed 1 --threads "$THREADS")
# shellcheck disable=SC2206
EXTRA_ARGS=(${EXTRA:-})
acc() { sed -E 's/.*"accuracy": ([0-9.]+).*/\1/'; }

if [ "${OFFICIAL:-1}" != 0 ]; then
    rm -rf "$OUT/official"
    start=$(date +%s)
    $MK train audio-classify "${COMMON[@]}" "${EXTRA_ARGS[@]}" --out "$OUT/official" >&2
    secs=$(( $(date +%s) - start ))
    a=$($MK eval audio-classify --model "$OUT/official" --data "$SRC" --label-column digit --split test --threads "$THREADS" --json | acc)
    echo "official split: test accuracy $a (250 clips), $STEPS steps, ${secs} s training+setup on $THREADS thread(s)"
fi

results=()
for s in $FOLDS; do
    rm -rf "$OUT/loso-$s"
    start=$(date +%s)
    $MK train audio-classify "${COMMON[@]}" "${EXTRA_ARGS[@]}" --hold-out-speaker "$s" --out "$OUT/loso-$s" >&2
    secs=$(( $(date +%s) - start ))
    a=$($MK eval audio-classify --model "$OUT/loso-$s" --data "$SRC" --label-column digit --split all --speaker "$s" \
        --threads "$THREADS" --json | acc)
    echo "held-out speaker $s: accuracy $a (500 clips), ${secs} s"
    results+=("$a")
done
if [ ${#results[@]} -gt 0 ]; then
    printf '%s\n' "${results[@]}" | awk '{ s += $1; if (NR == 1 || $1 < w) w = $1 } END { printf "leave-one-speaker-out: mean %.4f, worst %.4f over %d speakers\n", s / NR, w, NR }'
fi
