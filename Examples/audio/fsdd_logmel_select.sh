#!/usr/bin/env bash
# Choosing the log-mel settings for the leave-one-speaker-out folds of fsdd_logmel.sh without looking at the
# held-out speaker: for fold S (S left out) the validation speaker is the next one in the list (george →
# jackson → lucas → nicolas → yweweler → george), left out of training as well; each candidate setting is
# trained on the remaining three speakers' training clips and scored on the validation speaker's training
# clips (`--val-speaker`, the last val_accuracy in metrics.jsonl). Prints one line per fold and candidate.
#
#   Examples/audio/fsdd_logmel_select.sh [STEPS]        (default 400; the schedule of fsdd_logmel.sh)
#
# Candidates (CANDIDATES, ';'-separated extra options): the default training-set normalisation, per-clip
# normalisation, per-speaker normalisation (the validation speaker's band means from its own clips, unlabelled),
# and per-speaker normalisation with a ±10 % mel warp (VTLP).
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-400}
SRC=${FSDD:-../shared/datasets/fsdd}
THREADS=${THREADS:-1}
OUT=${OUT:-Data/cache/fsdd_logmel_select}
CANDIDATES=${CANDIDATES:---normalisation training-set;--normalisation per-clip;--normalisation per-speaker;--normalisation per-speaker --mel-warp 0.1}
if [ -z "${MAMBAKIT:-}" ]; then swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
speakers=(george jackson lucas nicolas yweweler)
IFS=';' read -r -a cands <<< "$CANDIDATES"
mkdir -p "$OUT"
for i in "${!speakers[@]}"; do
    s=${speakers[$i]}; v=${speakers[$(( (i + 1) % 5 ))]}
    for c in "${cands[@]}"; do
        name="$s-$(echo "$c" | tr -d ' -')"
        rm -rf "$OUT/$name"
        # shellcheck disable=SC2086
        $MK train audio-classify --data "$SRC" --label-column digit --features log-mel --mels 40 --window 256 --hop 80 \
            --d-model 64 --n-layer 4 --pooling mean --batch-size 16 --steps "$STEPS" --lr 3e-3 --warmup-steps 40 \
            --weight-decay 0.01 --seed 1 --threads "$THREADS" --hold-out-speaker "$s" --val-speaker "$v" $c \
            --out "$OUT/$name" > /dev/null 2>&1
        a=$(grep val_accuracy "$OUT/$name/metrics.jsonl" | tail -1 | sed -E 's/.*"val_accuracy": ([0-9.]+).*/\1/')
        echo "fold $s (validation speaker $v): $c → validation accuracy $a"
    done
done
