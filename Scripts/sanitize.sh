#!/usr/bin/env bash
# Scripts/sanitize.sh [asan|tsan|all] [extra swift-test args...]
#
#   asan  the whole XCTest suite under AddressSanitizer + LeakSanitizer (debug build, .build-asan/).
#         Leaks that are the Swift runtime's or Foundation's are suppressed in Scripts/lsan.supp.
#   tsan  the threaded kernels under ThreadSanitizer (debug build, .build-tsan/): the kernel, scan,
#         backward and training tests (TSAN_FILTER overrides the filter).
#   all   both (default).
#
# SANITIZE_CONFIG=release builds optimised instead (faster, less precise reports).
# Each pass prints its build and test durations and ends with "asan: ..." / "tsan: ..." lines; the
# exit status is non-zero when a pass reports an error, a leak, a race or a failing test.
# Logs: .sanitize/<pass>.log (git-ignored).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHAT=${1:-all}
shift || true
CONFIG=${SANITIZE_CONFIG:-debug}
TSAN_FILTER=${TSAN_FILTER:-'KernelTests|ScanKernelTests|ScanBackwardTests|BackwardKernelTests|TrainingTests|LTIMixerTests'}
mkdir -p .sanitize
[ -f Scripts/setup.sh ] && { source Scripts/setup.sh >/dev/null 2>&1 || true; }
set +e   # setup.sh sets -e; the passes below check every status themselves
# Timing assertions mean nothing in an instrumented debug build (SANITIZE_SKIP overrides; '' runs all).
SKIP=${SANITIZE_SKIP-'testEncodeSpeedOnTinyShakespeare'}
# The Swift crash backtracer can hang under the sanitizers; their own reports carry the stacks.
export SWIFT_BACKTRACE=enable=no
status=0
results=()

quiet() { grep -v -e 'ld.gold: warning: Cannot export local symbol' -e 'no-usage' -e '^\s*[0-9]* |' -e '^\s*|' ; }

# run_pass NAME SANITIZER SCRATCH ENVIRONMENT... -- SWIFT-TEST-ARGS...
run_pass() {
    local name=$1 sanitizer=$2 scratch=$3; shift 3
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
    local log=$ROOT/.sanitize/$name.log
    echo "== $name: building ($CONFIG, --sanitize=$sanitizer) into $scratch"
    local t0=$(date +%s)
    swift build --build-tests -c "$CONFIG" --sanitize="$sanitizer" --scratch-path "$scratch" 2>&1 | quiet | tail -5
    local brc=${PIPESTATUS[0]}
    local t1=$(date +%s)
    if [ "$brc" -ne 0 ]; then
        results+=("$name: BUILD FAILED after $((t1 - t0)) s")
        status=1; return
    fi
    echo "== $name: built in $((t1 - t0)) s; testing (log: ${log#$ROOT/})"
    env "${envs[@]}" swift test -c "$CONFIG" --sanitize="$sanitizer" --scratch-path "$scratch" --skip-build \
        --disable-swift-testing ${SKIP:+--skip "$SKIP"} "$@" >"$log" 2>&1
    local trc=$?
    local t2=$(date +%s)
    local summary reports
    summary=$(grep -aE "Executed [0-9]+ tests?, with" "$log" | tail -1 | sed 's/^ *//')
    reports=$(grep -acE "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer" "$log")
    grep -aE "SUMMARY: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)" "$log" | sort | uniq -c | head -20
    [ "$trc" -ne 0 ] && status=1
    [ "$reports" -gt 0 ] && status=1
    results+=("$name: exit $trc, ${reports} sanitizer report(s), ${summary:-no XCTest summary (the process died: see the log)}; build $((t1 - t0)) s, tests $((t2 - t1)) s")
}

if [ "$WHAT" = asan ] || [ "$WHAT" = all ]; then
    run_pass asan address "$ROOT/.build-asan" \
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:${ASAN_OPTIONS:-}" \
        LSAN_OPTIONS="suppressions=$ROOT/Scripts/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}" \
        -- "$@"
fi
if [ "$WHAT" = tsan ] || [ "$WHAT" = all ]; then
    run_pass tsan thread "$ROOT/.build-tsan" \
        TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:${TSAN_OPTIONS:-}" \
        -- --filter "$TSAN_FILTER" "$@"
fi
case "$WHAT" in asan|tsan|all) ;; *) echo "usage: Scripts/sanitize.sh [asan|tsan|all]" >&2; exit 2 ;; esac
for r in "${results[@]}"; do echo "$r"; done
exit $status
