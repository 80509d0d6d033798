#!/usr/bin/env bash
# nontata.sh — score the Genomic Benchmarks human_nontata_promoters TEST split (9,034 sequences of 251 bp)
# with classifiers trained on GUE promoter data (70-bp core promoters; run gue.sh and lm.sh first).
# The training data differ from the benchmark's own train split (not available here), so this is a
# transfer figure, not a reproduction of the published protocol.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/datasets}
BIN=${BIN:-.build/release/mambakit}
RUNS=${RUNS:-Data/cache/runs/dna}
TEST="$DATA/genomic_benchmarks/human_nontata_promoters/test.csv.gz"
for model in "$RUNS/gue/prom_core_notata" "$RUNS/gue/prom_core_all" "$RUNS/lm/prom-ft"; do
    [ -d "$model" ] || continue
    for rc in "" "--rc-average"; do
        echo "$model ${rc:-plain}: $("$BIN" eval dna-classify --model "$model" --data "$TEST" --json $rc --threads "${THREADS:-2}" | cut -c1-100)"
    done
done
