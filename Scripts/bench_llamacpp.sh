#!/usr/bin/env bash
# Scripts/bench_llamacpp.sh — MambaKit and llama.cpp side by side on the same random mamba-130m-shape
# checkpoint, at each weight precision (issue #14), or with ARCH=mamba2 on a random checkpoint of
# state-spaces/mamba2-130m's shape (issue #16). Prints one Markdown table.
#
#   Scripts/bench_llamacpp.sh                 # everything (first run: venv with torch, llama.cpp build)
#   THREADS=1 Scripts/bench_llamacpp.sh       # another thread count (cached steps are skipped)
#   ARCH=mamba2 PRECISIONS="f32 f16" Scripts/bench_llamacpp.sh   # Mamba-2 blocks
#
# Steps, each skipped when its result is already there (everything outside the checkout):
#   1. a virtualenv ($VENV) with cmake, ninja, scikit-build-core and what llama.cpp's
#      convert_hf_to_gguf.py imports (torch, numpy, safetensors, sentencepiece, transformers, protobuf);
#   2. the llama-cpp-python sdist from PyPI ($LLAMA_CPP_PYTHON_VERSION), whose vendor/llama.cpp holds
#      the llama.cpp sources;
#   3. llama-bench and llama-batched-bench built with CMake (Release, GGML_NATIVE=ON, no curl/openssl);
#   4. the random checkpoint (Scripts/make_random_mamba_checkpoint.py [--arch mamba2], Hugging Face
#      layout, float32);
#   5. its conversions with llama.cpp's own converter: f32, f16, bf16, q8_0 (GGUF);
#   6. memory read bandwidth: a small C program (written and compiled under $WORK/bandwidth) that sums
#      a 1 GiB float array with $THREADS threads, best of 5 passes, median of 3 processes;
#   7. the measurements, one precision after another:
#        llama.cpp  prefill pp512 and decode batch 1 (tg128): llama-bench -p 512 -n 128 -t T -r REPEATS
#                   decode batch 8: llama-batched-bench -npp 16 -ntg 128 -npl 8 (8 sequences, one token
#                   each per llama_decode call; llama-bench has no parallel-sequence mode), best of REPEATS
#        MambaKit   mambakit bench prefill --prompt-length 512 --model DIR --weights W --threads T --json
#                   mambakit bench generate --model DIR --weights W --threads T --json (batch 1 and 8)
#      with W: f32 → f32, f16 → f16, bf16 → bf16, q8_0 → int8. A mambakit without --weights/--model
#      gives "n/a" in its rows instead of failing.
# Builds, conversions and measurements run under flock $CPU_LOCK (the machine's cores are shared).
#
# Environment: ARCH (mamba or mamba2), EXT (default: the checkout's parent's ext/), WORK (default $EXT/llama-side-by-side),
# VENV (default $EXT/venv-llama), THREADS (2), REPEATS (5), MAMBAKIT (default .build/release/mambakit),
# CPU_LOCK (default /work/cpu.lock when /work exists; empty = no lock), PRECISIONS ("f32 f16 bf16 q8_0").
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; fi
if [[ $# -gt 0 ]]; then echo "bench_llamacpp.sh: takes no arguments (settings are environment variables; see --help)" >&2; exit 2; fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXT=${EXT:-$(dirname "$ROOT")/ext}
WORK=${WORK:-$EXT/llama-side-by-side}
VENV=${VENV:-$EXT/venv-llama}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-5}
MAMBAKIT=${MAMBAKIT:-$ROOT/.build/release/mambakit}
PRECISIONS=${PRECISIONS:-"f32 f16 bf16 q8_0"}
ARCH=${ARCH:-mamba}
case $ARCH in mamba|mamba2) ;; *) echo "bench_llamacpp.sh: ARCH=$ARCH; use mamba or mamba2" >&2; exit 2 ;; esac
LLAMA_CPP_PYTHON_VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
if [[ -z ${CPU_LOCK+x} ]]; then
    if [[ -d /work ]]; then CPU_LOCK=/work/cpu.lock; else CPU_LOCK=; fi
fi
TOKENIZER_DIR=$ROOT/Tests/MambaKitTests/Fixtures/tokenizers/neox
if [[ $ARCH == mamba ]]; then CKPT=$WORK/checkpoint; NAME=mamba-130m; else CKPT=$WORK/checkpoint-mamba2; NAME=mamba2-130m; fi
SRC=$WORK/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp
BUILD=$WORK/build
RES=$WORK/results/$NAME/t$THREADS
mkdir -p "$WORK" "$RES"

case "$WORK/" in "$ROOT"/*) echo "bench_llamacpp.sh: WORK=$WORK is inside the checkout; point it outside" >&2; exit 1 ;; esac

log() { echo "[bench_llamacpp] $*" >&2; }
locked() { if [[ -n $CPU_LOCK ]]; then flock "$CPU_LOCK" "$@"; else "$@"; fi; }

# 1. virtualenv -------------------------------------------------------------------------------------
PY=$VENV/bin/python
if ! { [[ -x $PY ]] && "$PY" -c 'import torch, numpy, safetensors, sentencepiece, transformers, google.protobuf, cmake, ninja' 2>/dev/null; }; then
    log "virtualenv $VENV (torch from PyPI is large: a few GB with its CUDA wheels)"
    [[ -x $PY ]] || python3 -m venv "$VENV"
    nice -n 19 "$PY" -m pip install -q --upgrade pip
    nice -n 19 "$PY" -m pip install -q scikit-build-core cmake ninja torch "numpy~=2.2.6" safetensors \
        sentencepiece "transformers==4.57.6" "protobuf>=4.21.0,<5.0.0"
fi
export PATH=$VENV/bin:$PATH

# 2. llama.cpp sources from the llama-cpp-python sdist ----------------------------------------------
if [[ ! -f $SRC/CMakeLists.txt ]]; then
    log "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist"
    mkdir -p "$WORK/sdist"
    (cd "$WORK/sdist" && "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" && tar xzf "llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz")
fi
LLAMA_COMMIT=$(git -C "$SRC" rev-parse --short=10 HEAD 2>/dev/null || echo unknown)

# 3. build ------------------------------------------------------------------------------------------
if [[ ! -x $BUILD/bin/llama-bench || ! -x $BUILD/bin/llama-batched-bench ]]; then
    log "building llama-bench and llama-batched-bench in $BUILD (-j2, nice 19, under the CPU lock)"
    locked nice -n 19 bash -c "cmake -S '$SRC' -B '$BUILD' -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
            -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
            -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_HTML=OFF > '$WORK/cmake.log' 2>&1 \
        && cmake --build '$BUILD' -j2 --target llama-bench llama-batched-bench >> '$WORK/cmake.log' 2>&1" \
        || { echo "bench_llamacpp.sh: the llama.cpp build failed; see $WORK/cmake.log" >&2; exit 1; }
fi

# 4. the random checkpoint --------------------------------------------------------------------------
if [[ ! -f $CKPT/config.json || ! -f $CKPT/model.safetensors ]]; then
    log "random $NAME-shape checkpoint in $CKPT"
    locked nice -n 19 "$PY" "$ROOT/Scripts/make_random_mamba_checkpoint.py" --arch "$ARCH" --out "$CKPT" \
        --tokenizer-dir "$TOKENIZER_DIR" >&2
fi

# 5. conversions with llama.cpp's converter ---------------------------------------------------------
mkdir -p "$WORK/gguf"
for p in $PRECISIONS; do
    out=$WORK/gguf/$NAME-random-$p.gguf
    if [[ ! -f $out ]]; then
        log "convert_hf_to_gguf.py --outtype $p"
        PYTHONPATH=$SRC/gguf-py locked nice -n 19 "$PY" "$SRC/convert_hf_to_gguf.py" "$CKPT" --outtype "$p" \
            --outfile "$out.tmp" > "$WORK/gguf/convert-$NAME-$p.log" 2>&1 \
            || { echo "bench_llamacpp.sh: conversion to $p failed; see $WORK/gguf/convert-$NAME-$p.log" >&2; exit 1; }
        mv "$out.tmp" "$out"
    fi
done

# 6. memory read bandwidth --------------------------------------------------------------------------
BW_DIR=$WORK/bandwidth
mkdir -p "$BW_DIR"
if [[ ! -x $BW_DIR/read_bw ]]; then
    cat > "$BW_DIR/read_bw.c" <<'EOF'
/* read_bw.c — memory read bandwidth: sums a 1 GiB float array with T OpenMP threads (static split,
 * each thread first-touches its own part), 16 independent accumulators so the adds never bind.
 * Prints the best of 5 passes in GB/s (10^9 bytes per second). Usage: read_bw THREADS */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int t = argc > 1 ? atoi(argv[1]) : 2;
    size_t n = (size_t)1 << 28;                      /* 2^28 floats = 1 GiB */
    float *a = aligned_alloc(64, n * sizeof(float));
    if (!a) return 1;
    #pragma omp parallel for num_threads(t) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
    double best = 1e30, total = 0;
    for (int r = 0; r < 6; r++) {
        double t0 = omp_get_wtime(), s = 0;
        #pragma omp parallel num_threads(t) reduction(+:s)
        {
            float acc[16] = {0};
            #pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += 16)
                for (int k = 0; k < 16; k++) acc[k] += a[i + k];
            for (int k = 0; k < 16; k++) s += acc[k];
        }
        double dt = omp_get_wtime() - t0;
        total += s;
        if (r > 0 && dt < best) best = dt;           /* pass 0 is the warm-up */
    }
    printf("%.2f\n", (double)(n * sizeof(float)) / best / 1e9);
    fprintf(stderr, "checksum %.0f\n", total);
    return 0;
}
EOF
    locked nice -n 19 gcc -O3 -march=native -fopenmp -o "$BW_DIR/read_bw" "$BW_DIR/read_bw.c"
fi
# Three processes (the figure varies between processes on this shared VM): the median is used.
BW_RUNS=$(for _ in 1 2 3; do locked "$BW_DIR/read_bw" "$THREADS" 2>/dev/null; done | sort -n | tr '\n' ' ')
BW=$(awk '{print $2}' <<<"$BW_RUNS")
log "read bandwidth, $THREADS threads: $BW GB/s (median of $BW_RUNS)"

# 7. measurements -----------------------------------------------------------------------------------
HAVE_MK=0
MK_NOTE="n/a (no $MAMBAKIT: swift build -c release)"
if [[ -x $MAMBAKIT ]]; then
    help=$("$MAMBAKIT" bench --help 2>&1 || true)
    if grep -q -- '--weights' <<<"$help" && grep -q -- '--model' <<<"$help"; then HAVE_MK=1
    else MK_NOTE="n/a (mambakit lacks --weights)"; fi
fi

# MambaKit precisions measured beside each llama.cpp one (bf16 goes with f16 when no bf16 GGUF is made).
mk_weights() {
    case $1 in
        q8_0) echo int8 ;;
        f16) if [[ " $PRECISIONS " == *" bf16 "* ]]; then echo f16; else echo "f16 bf16"; fi ;;
        *) echo "$1" ;;
    esac
}

for p in $PRECISIONS; do
    gguf=$WORK/gguf/$NAME-random-$p.gguf
    log "llama-bench $p, $THREADS threads"
    locked "$BUILD/bin/llama-bench" -m "$gguf" -p 512 -n 128 -t "$THREADS" -r "$REPEATS" -o json \
        > "$RES/llama-bench-$p.json" 2> "$RES/llama-bench-$p.log"
    log "llama-batched-bench $p, 8 sequences, $THREADS threads"
    : > "$RES/llama-batched-$p.jsonl"
    for _ in $(seq "$REPEATS"); do
        locked "$BUILD/bin/llama-batched-bench" -m "$gguf" -c 2048 -b 2048 -ub 512 -npp 16 -ntg 128 -npl 8 \
            -t "$THREADS" --output-format jsonl 2> "$RES/llama-batched-$p.log" \
            | grep '^{"n_kv_max"' >> "$RES/llama-batched-$p.jsonl" || true
    done
    if [[ $HAVE_MK == 1 ]]; then
        for w in $(mk_weights "$p"); do
            log "mambakit --weights $w, $THREADS threads"
            locked "$MAMBAKIT" bench prefill --prompt-length 512 --model "$CKPT" --weights "$w" --threads "$THREADS" --json \
                > "$RES/mambakit-prefill-$w.json" 2> "$RES/mambakit-prefill-$w.log" || true
            locked "$MAMBAKIT" bench generate --model "$CKPT" --weights "$w" --threads "$THREADS" --json \
                > "$RES/mambakit-generate-$w.json" 2> "$RES/mambakit-generate-$w.log" || true
        done
    fi
done

# 8. the table --------------------------------------------------------------------------------------
CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
"$PY" - "$RES" "$BW" "$BW_RUNS" "$THREADS" "$HAVE_MK" "$MK_NOTE" "$CPU" "$LLAMA_CPP_PYTHON_VERSION" "$LLAMA_COMMIT" "$ARCH" $PRECISIONS <<'EOF'
import json, os, sys
res, bw, bw_runs, threads, have_mk, mk_note, cpu, lcp_version, commit, arch = sys.argv[1:11]
precisions = sys.argv[11:]
bw = float(bw)

# Weights read per decode step (mamba-130m shape): the 2-D matrices (24 × (in_proj 2E·D + x_proj
# (R+2N)·E + dt_proj E·R + out_proj D·E) = 89,653,248) and the tied embedding/head V·D = 38,615,040
# are stored at the precision; conv1d, A, D, the Δ bias and the norms (867,072) stay float32 in both
# tools (llama.cpp's converter keeps 1-D tensors, ssm_a, ssm_d and ssm_conv1d in F32).
MATS, F32_REST = 89_653_248 + 38_615_040, 867_072
# mamba2-130m shape: 24 × (in_proj (2E+2GN+H)·D + out_proj D·E) = 90,095,616 and the tied V·D = 38,621,184;
# float32 in both tools: conv1d (E+2GN)·(K+1), dt_bias, A_log, D, the gated norm E and the block norms D.
if arch == "mamba2":
    MATS, F32_REST = 90_095_616 + 38_621_184, 24 * (1792 * 5 + 3 * 24 + 1536 + 768) + 768
PER_WEIGHT = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "int8": 34 / 32}
def bytes_per_token(p): return MATS * PER_WEIGHT[p] + F32_REST * 4

def read_json(path):
    try:
        with open(path) as f: text = f.read()
    except OSError: return []
    text = text.strip()
    if not text: return []
    try:
        v = json.loads(text); return v if isinstance(v, list) else [v]
    except json.JSONDecodeError:
        out = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try: out.append(json.loads(line))
                except json.JSONDecodeError: pass
        return out

def fmt(x): return "n/a" if x is None else f"{x:,.1f}"
def ratio(a, b): return "" if a is None or b is None or b == 0 else f"{a / b:.2f}×"

rows = []
print(f"\nSide by side ({'mamba2-130m' if arch == 'mamba2' else 'mamba-130m'} shape), {threads} thread(s), {cpu}; llama.cpp {commit} (llama-cpp-python {lcp_version} sdist); "
      f"read bandwidth {bw:.1f} GB/s (median of {bw_runs.strip()})\n")
print("| precision | tool | weight MB read per token | prefill pp512 tok/s | decode b1 tok/s | decode b8 tok/s "
      "| b1 bound tok/s | b1 bound / b1 | MambaKit / llama.cpp (pp / b1 / b8) |")
print("|---|---|---|---|---|---|---|---|---|")
for p in precisions:
    bench = read_json(os.path.join(res, f"llama-bench-{p}.json"))
    pp = next((r["avg_ts"] for r in bench if r.get("n_prompt") == 512 and r.get("n_gen") == 0), None)
    tg = next((r["avg_ts"] for r in bench if r.get("n_prompt") == 0 and r.get("n_gen") == 128), None)
    b8 = [r["speed_tg"] for r in read_json(os.path.join(res, f"llama-batched-{p}.jsonl")) if r.get("pl") == 8]
    b8 = max(b8) if b8 else None
    bound = bw * 1e9 / bytes_per_token(p)
    mb = bytes_per_token(p) / 1e6
    print(f"| {p} | llama.cpp | {mb:.1f} | {fmt(pp)} | {fmt(tg)} | {fmt(b8)} | {bound:,.1f} | {ratio(bound, tg)} | |")
    for w in (["f16", "bf16"] if p == "f16" and "bf16" not in precisions else
              ["int8"] if p == "q8_0" else [p]):
        if have_mk != "1":
            print(f"| {w} | MambaKit | | {mk_note} | n/a | n/a | | | |"); continue
        pre = read_json(os.path.join(res, f"mambakit-prefill-{w}.json"))
        gen = read_json(os.path.join(res, f"mambakit-generate-{w}.json"))
        mpp = next((r["tokens_per_second"] for r in pre if r.get("bench") == "prefill"), None)
        m1 = next((r["tokens_per_second"] for r in gen if r.get("bench") == "generate" and r.get("batch") == 1), None)
        m8 = next((r["tokens_per_second"] for r in gen if r.get("bench") == "generate" and r.get("batch") == 8), None)
        mb_w = bytes_per_token(w) / 1e6
        bound_w = bw * 1e9 / bytes_per_token(w)
        print(f"| {w} | MambaKit | {mb_w:.1f} | {fmt(mpp)} | {fmt(m1)} | {fmt(m8)} | {bound_w:,.1f} | {ratio(bound_w, m1)} "
              f"| {ratio(mpp, pp) or 'n/a'} / {ratio(m1, tg) or 'n/a'} / {ratio(m8, b8) or 'n/a'} |")
print("\nBound: read bandwidth ÷ weight bytes per token (decode batch 1 reads every weight once per token; "
      "int8 is counted as Q8_0's 34 bytes per 32 weights — MambaKit's own int8 layout may differ).")
if arch == "mamba2":
    print("Target (issue #16): decode b1 ≥ llama.cpp at the same precision.")
else:
    print("Targets (issue #14): decode b1 ≥ llama.cpp at each precision and within 1.2× of the bound; "
          "decode b8 and prefill ≥ 2× llama.cpp.")
EOF
