#!/usr/bin/env bash
# prepare_dna.sh — genomes for the DNA main job (runDNAQuickstart): complete bacterial chromosomes of
# four species from Debian's ragout-examples package (NCBI GenBank/RefSeq records; package BSD-3):
#   species        train strain            test strain
#   E. coli        K-12 MG1655             DH1
#   H. pylori      G27                     ELS37
#   S. aureus      N315                    COL
#   V. cholerae    O1 biovar El Tor N16961 O395   (2 chromosomes each)
# The .deb is fetched with `apt-get download` (no root needed) and unpacked with dpkg-deb; if the package
# is installed, its files are used directly. Writes Data/cache/dna/{train,test}/<species>.fa.gz.
# Data/cache/ is git-ignored; nothing is committed. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
OUT=cache/dna
declare -A TRAIN=([ecoli]=E.Coli/references/MG1655-K12.fasta.gz [hpylori]=H.Pylori/references/G27.fasta.gz
                  [saureus]=S.Aureus/references/N315.fasta.gz [vcholerae]=V.Cholerae/references/O1_biovar.fasta.gz)
declare -A TEST=([ecoli]=E.Coli/references/DH1.fasta.gz [hpylori]=H.Pylori/references/ELS37.fasta.gz
                 [saureus]=S.Aureus/references/COL.fasta.gz [vcholerae]=V.Cholerae/references/O395.fasta.gz)
done_already=1
for s in "${!TRAIN[@]}"; do [ -s "$OUT/train/$s.fa.gz" ] && [ -s "$OUT/test/$s.fa.gz" ] || done_already=0; done
[ "$done_already" = 1 ] && exit 0

SRC=/usr/share/doc/ragout/examples
tmp=""
if [ ! -s "$SRC/${TRAIN[ecoli]}" ]; then
    command -v apt-get >/dev/null 2>&1 || { echo "prepare_dna: needs apt-get (Debian/Ubuntu) to fetch ragout-examples" >&2; exit 1; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "prepare_dna: fetching Debian package ragout-examples (18 MB) for the DNA genomes" >&2
    if ! (cd "$tmp" && apt-get download ragout-examples >/dev/null 2>&1); then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -qq >&2
        (cd "$tmp" && apt-get download ragout-examples >&2)
    fi
    dpkg-deb -x "$tmp"/ragout-examples_*.deb "$tmp/root"
    SRC="$tmp/root/usr/share/doc/ragout/examples"
fi
mkdir -p "$OUT/train" "$OUT/test"
for s in "${!TRAIN[@]}"; do
    cp "$SRC/${TRAIN[$s]}" "$OUT/train/$s.fa.gz.tmp" && mv "$OUT/train/$s.fa.gz.tmp" "$OUT/train/$s.fa.gz"
    cp "$SRC/${TEST[$s]}" "$OUT/test/$s.fa.gz.tmp" && mv "$OUT/test/$s.fa.gz.tmp" "$OUT/test/$s.fa.gz"
done
echo "prepare_dna: 4 species x 2 strains in Data/$OUT/{train,test}/ ($(du -sh "$OUT" | cut -f1))" >&2
