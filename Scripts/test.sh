#!/usr/bin/env bash
# test.sh — set up (system packages) and run the test suite in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build "$@"
