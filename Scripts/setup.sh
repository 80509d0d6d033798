#!/usr/bin/env bash
# setup.sh — install what MambaKit needs on Debian/Ubuntu (system libraries), if missing.
# Safe to run again: does nothing when everything is present. Used by run.sh and test.sh.
set -euo pipefail

PACKAGES=(libopenblas-dev libfftw3-dev libsndfile1-dev zlib1g-dev pkg-config espeak-ng libopenmpi-dev openmpi-bin)

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; else
        echo "setup: no Swift toolchain on PATH — install Swift 5.10 or newer (https://swift.org/install) and retry" >&2
        exit 1
    fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: missing ${missing[*]} and no apt-get here — install OpenBLAS, FFTW3 (single precision) and libsndfile development packages by hand" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "setup: need root to apt-get install ${missing[*]}" >&2; exit 1
        fi
    fi
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
