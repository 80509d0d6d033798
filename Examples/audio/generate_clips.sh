#!/usr/bin/env bash
# N unconditional clips from a waveform LM (for `eval audio-generation`): clip i is
# `mambakit generate audio --seed i`, SECONDS long at TEMPERATURE, written to OUT/gen_<i>.wav.
#
#   Examples/audio/generate_clips.sh MODEL OUT [N] [SECONDS] [TEMPERATURE]   (defaults 50 clips, 1 s, temperature 1)
#
# MODEL is an audio LM directory (or a training --out directory: its latest checkpoint). MAMBAKIT=path uses an
# already built mambakit; THREADS (default 1) sets --threads; FIRST_SEED (default 1) is the seed of clip 1.
# Existing OUT/gen_<i>.wav files are kept (an interrupted run continues where it stopped).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { sed -n 2,9p "$0" >&2; exit 64; }
MODEL=$1; OUT=$2; N=${3:-50}; SECONDS_PER_CLIP=${4:-1}; TEMPERATURE=${5:-1}
THREADS=${THREADS:-1}; FIRST_SEED=${FIRST_SEED:-1}
if [ -z "${MAMBAKIT:-}" ]; then swift build -c release --product mambakit >&2; MK=.build/release/mambakit; else MK=$MAMBAKIT; fi
mkdir -p "$OUT"
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
    f="$OUT/gen_$(printf %04d "$i").wav"
    [ -f "$f" ] && continue
    $MK generate audio --model "$MODEL" --seconds "$SECONDS_PER_CLIP" --temperature "$TEMPERATURE" \
        --seed $(( FIRST_SEED + i - 1 )) --threads "$THREADS" --out "$f" 2>/dev/null
done
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" -v n="$N" 'BEGIN { printf "generate_seconds: %.1f (%d clips)\n", b - a, n }'
