#!/usr/bin/env bash
# fsdd_logmel.sh — a classifier composed from MambaKit layers on log-mel frames of FSDD spoken digits
# (InputProjection → MambaBlocks → PooledHead), trained on the official split; prints test accuracy.
#   Examples/custom/fsdd_logmel.sh [extra options, e.g. --steps 800 --d-model 96]
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/setup.sh
swift build -c release --product custom-classifier
.build/release/custom-classifier --data ../shared/datasets/fsdd "$@"
