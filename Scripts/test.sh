#!/usr/bin/env bash
# test.sh — set up (system packages) and run the test suite (XCTest) in release mode.
# Ends with one summary line "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build -c release --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test -c release --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# XCTest's last "Executed N tests, with K test(s) skipped and F failures" line is the whole run.
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1 || true)
if [ -n "$summary" ]; then
    total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
    failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
    skipped=$(echo "$summary" | grep -oE '[0-9]+ tests? skipped' | grep -oE '^[0-9]+' || echo 0)
    echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
else
    echo "tests: 0 passed, 1 failed"
    [ "$status" -eq 0 ] && status=1
fi
exit "$status"
