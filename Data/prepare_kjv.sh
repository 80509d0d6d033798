#!/usr/bin/env bash
# prepare_kjv.sh — the embedded default corpus: the King James Bible (public domain) from Debian's
# bible-kjv-text package, read with its `bible` program, one verse per line ("Ge1:1 In the beginning ...").
# Writes Data/cache/kjv/train.txt (Genesis 1:1 – Acts 28:31, 27,931 verses) and test.txt
# (Romans 1:1 – Revelation 22:21, 3,171 verses). Data/cache/ is git-ignored. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
OUT=cache/kjv
if [ -s "$OUT/train.txt" ] && [ -s "$OUT/test.txt" ]; then exit 0; fi
if ! command -v bible >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "prepare_kjv: installing bible-kjv (Debian) for the default corpus" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends bible-kjv >&2
fi
mkdir -p "$OUT"
tmp="$OUT/all.txt.tmp"
bible -f -l100000 "Genesis 1:1 - Revelation 22:21" > "$tmp"
lines=$(wc -l < "$tmp")
if [ "$lines" -ne 31102 ]; then
    echo "prepare_kjv: expected 31102 verses from 'bible', got $lines" >&2; rm -f "$tmp"; exit 1
fi
head -n 27931 "$tmp" > "$OUT/train.txt.tmp" && mv "$OUT/train.txt.tmp" "$OUT/train.txt"
tail -n +27932 "$tmp" > "$OUT/test.txt.tmp" && mv "$OUT/test.txt.tmp" "$OUT/test.txt"
rm -f "$tmp"
echo "prepare_kjv: $(wc -c < "$OUT/train.txt") bytes train, $(wc -c < "$OUT/test.txt") bytes test in Data/$OUT" >&2
