#!/usr/bin/env bash
# Scripts/fuzz.sh [seconds] [harness...] — builds the libFuzzer harnesses of Tests/Fuzz (a separate
# package, so the normal build never sees them) with AddressSanitizer, then runs each harness for
# `seconds` (default 60). Findings (crash-*, timeout-*, oom-*, leak-*) go to .fuzz/findings/<harness>/
# (git-ignored), the growing corpus to .fuzz/corpus/<harness>/ seeded from Tests/Fuzz/corpus/<harness>/.
# Prints one line per harness: runs, findings. Exit status 1 when anything was found.
#
#   Scripts/fuzz.sh 30                 # every harness for 30 s
#   Scripts/fuzz.sh 120 safetensors    # one harness
#   FUZZ_JOBS=2 Scripts/fuzz.sh        # libFuzzer -fork=2 (default 1 process: shared machines)
# Reproduce one finding:  .build-fuzz/release/fuzz-<harness> .fuzz/findings/<harness>/crash-…
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${1:-60}
shift || true
ALL=(safetensors config tokenizer sequence table audio tokenfile trainerstate)
if [ $# -gt 0 ]; then HARNESSES=("$@"); else HARNESSES=("${ALL[@]}"); fi
SCRATCH=$ROOT/.build-fuzz
BIN=$SCRATCH/release

echo "== building the fuzz harnesses (release, -sanitize=fuzzer,address) into $SCRATCH"
build_start=$(date +%s)
( cd Tests/Fuzz && swift build -c release --scratch-path "$SCRATCH" --sanitize=address -Xswiftc -sanitize=fuzzer ) \
    2>&1 | grep -v -e 'ld.gold: warning: Cannot export local symbol' -e '^\s*[0-9]* |' -e '^\s*|' -e 'no-usage' \
    || true
for h in "${HARNESSES[@]}"; do
    [ -x "$BIN/fuzz-$h" ] || { echo "error: $BIN/fuzz-$h was not built" >&2; exit 2; }
done
echo "== built in $(( $(date +%s) - build_start )) s; ${SECONDS_EACH} s per harness"

# The Swift runtime's crash backtracer (swift-backtrace) can hang for minutes under ASan/libFuzzer
# and then trips ASan itself; libFuzzer prints the stack of a trap anyway.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/Scripts/lsan.supp:print_suppressions=0}
JOBS=${FUZZ_JOBS:-1}
status=0
printf '%-14s %10s %9s  %s\n' harness runs findings "where"
for h in "${HARNESSES[@]}"; do
    findings=$ROOT/.fuzz/findings/$h
    corpus=$ROOT/.fuzz/corpus/$h
    log=$ROOT/.fuzz/logs/$h.log
    mkdir -p "$findings" "$corpus" "$(dirname "$log")"
    before=$(ls "$findings" | wc -l)
    extra=()
    # libFuzzer dictionary: the harness's tokens plus, for the JSON inputs, shared JSON tokens and
    # extreme numbers (Tests/Fuzz/dict/).
    if [ -f "Tests/Fuzz/dict/$h.dict" ]; then
        dict=$ROOT/.fuzz/dict/$h.dict
        mkdir -p "$(dirname "$dict")"
        cat "Tests/Fuzz/dict/$h.dict" > "$dict"
        case $h in config|tokenizer|trainerstate|safetensors) cat Tests/Fuzz/dict/json-common.inc >> "$dict" ;; esac
        extra+=(-dict="$dict")
    fi
    [ "$JOBS" -gt 1 ] && extra+=(-fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    # libFuzzer stops at the first finding unless forking; rerun until the time is used up so one
    # finding does not hide the next (each finding is written once, then skipped as a known crash).
    deadline=$(( $(date +%s) + SECONDS_EACH ))
    runs=0
    : > "$log"
    while :; do
        left=$(( deadline - $(date +%s) ))
        [ "$left" -le 0 ] && break
        "$BIN/fuzz-$h" "$corpus" "$ROOT/Tests/Fuzz/corpus/$h" \
            -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
            -artifact_prefix="$findings/" -print_final_stats=1 "${extra[@]}" >>"$log" 2>&1
        rc=$?
        r=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
        # -fork mode prints no final stats: its last "#N: cov: …" progress line has the count
        [ -z "$r" ] && [ "$JOBS" -gt 1 ] && r=$(grep -aoE '^#[0-9]+: cov' "$log" | tail -1 | tr -dc '0-9')
        runs=$(( runs + ${r:-0} ))
        sed -i 's/stat::number_of_executed_units/stat::counted_number_of_executed_units/' "$log"
        [ $rc -eq 0 ] && break
        # a finding: keep fuzzing for the remaining time, starting from the corpus so far
        [ "$(ls "$findings" | wc -l)" -gt 200 ] && break
    done
    found=$(( $(ls "$findings" | wc -l) - before ))
    [ "$found" -gt 0 ] && status=1
    printf '%-14s %10s %9s  %s\n' "$h" "$runs" "$found" "${findings#$ROOT/}"
done
exit $status
