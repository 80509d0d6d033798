#!/usr/bin/env bash
# run.sh — set up (system packages, release build) and run MambaKit's main job on its embedded default.
# Extra arguments are passed to `mambakit` (none: the default job).
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
bash Data/prepare_kjv.sh          # the embedded default corpus (Debian's bible-kjv), into Data/cache/
bash Data/prepare_dna.sh || echo "run.sh: could not fetch the DNA genomes (Debian ragout-examples); the DNA part of the main job needs them" >&2
swift build -c release --product mambakit >&2
exec .build/release/mambakit "$@"
