#!/usr/bin/env bash
# species.sh — species classification from genome windows (the Mamba paper's Great Apes task, and an
# easier bacterial one), at several window lengths L:
#   great_apes: human / chimpanzee / gorilla / orangutan, orthologous chr22 alignment blocks; train windows
#               from the train blocks, test windows from the held-out test blocks (disjoint chr22 regions).
#   bacteria5:  5 species; train windows from one strain per species, test windows from another strain.
# For each L: `mambakit data dna-species` writes train/test CSVs, `train dna-classify` trains a small Mamba
# (≈ 32k bases per step), `eval dna-classify` scores the test windows (plain and RC-averaged).
#   usage: Examples/dna/species.sh great_apes|bacteria5 [L …]        (default L: 1024 16384)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/datasets}
BIN=${BIN:-.build/release/mambakit}
RUNS=${RUNS:-Data/cache/runs/dna/species}
THREADS=${THREADS:-2} D_MODEL=${D_MODEL:-64} N_LAYER=${N_LAYER:-2} LR=${LR:-2e-3}
SET=${1:?usage: species.sh great_apes|bacteria5 [L …]}; shift
LENGTHS=("$@"); [ ${#LENGTHS[@]} -eq 0 ] && LENGTHS=(1024 16384)
case "$SET" in
    great_apes)
        train=(); test=()
        for s in human chimpanzee gorilla orangutan; do
            train+=("$s=$DATA/great_apes_chr22/train/$s.fa.gz"); test+=("$s=$DATA/great_apes_chr22/test/$s.fa.gz")
        done ;;
    bacteria5)
        train=(); test=()
        for f in "$DATA"/bacteria5/train/*.fa.gz; do b=$(basename "$f"); train+=("${b%%__*}=$f"); done
        for f in "$DATA"/bacteria5/test/*.fa.gz; do b=$(basename "$f"); test+=("${b%%__*}=$f"); done ;;
    *) echo "unknown set $SET" >&2; exit 1 ;;
esac
for L in "${LENGTHS[@]}"; do
    out="$RUNS/$SET-$L"; rm -rf "$out"; mkdir -p "$out"
    batch=$(( 32768 / L )); [ "$batch" -lt 2 ] && batch=2
    tokens_per_step=$(( batch * L ))
    steps=${STEPS:-$(( 6000000 / tokens_per_step ))}        # ≈ 6 M training bases per run
    ntrain=${TRAIN_COUNT:-$(( 3000000 / L ))}; ntest=${TEST_COUNT:-$(( L >= 16384 ? 64 : 400 ))}
    "$BIN" data dna-species --genomes "${train[@]}" --test-genomes "${test[@]}" --window "$L" \
        --train-regions 0:1 --test-regions 0:1 --train-count "$ntrain" --test-count "$ntest" --out "$out/data" | tee "$out/data.log"
    start=$(date +%s)
    "$BIN" train dna-classify --data "$out/data" --seq-len "$L" --batch-size "$batch" --steps "$steps" \
        --d-model "$D_MODEL" --n-layer "$N_LAYER" --lr "$LR" --warmup-steps 20 --threads "$THREADS" \
        --eval-every 0 --eval-examples 200 --log-every 25 --seed 1 --out "$out/model" 2> "$out/train.log" >/dev/null
    secs=$(( $(date +%s) - start ))
    "$BIN" eval dna-classify --model "$out/model" --data "$out/data" --json --threads "$THREADS" > "$out/test.json"
    "$BIN" eval dna-classify --model "$out/model" --data "$out/data" --json --rc-average --threads "$THREADS" > "$out/test_rc.json"
    rm -rf "$out/data"/*.csv   # the windows are rebuilt on demand; keep only logs, model and figures
    echo "$SET L=$L: $steps steps x $batch x $L bp in ${secs}s; test $(cut -c1-80 "$out/test.json"); RC-avg $(cut -c1-80 "$out/test_rc.json")"
done
