#!/usr/bin/env python3
"""How much species signal great_apes_chr22 holds for a classifier that sees one window at a time.

    python3 Scripts/great_apes_signal.py [../shared/datasets/great_apes_chr22] [--max-bases N]

Standard library only (not run by CI). Two measurements, both on the published split (train blocks
1–6,400, test blocks 6,401–7,361; every block is the same orthologous region in all four species):

1. Orthologous divergence: for each test block, the fraction of the human block's 16-mers that do not occur
   in the same block of the other species (≈ 1 − (1 − d)^16 for a substitution rate d). This is the signal
   that tells the species apart — but only next to the ortholog.
2. Region-independent signal: a species-specific Markov chain of order k (k = 0, 2, 5; add-½ counts,
   upper-cased bases) fitted on each species' train blocks, used as a Bayes classifier (equal priors) of
   test windows of W = 1,024, 16,384 and 65,536 bases cut end to end from each species' concatenated
   test blocks. Accuracy with a 95 % Wilson interval; chance is 0.25. This is what any model that reads
   one window can at best extract from base composition and short-range statistics.
"""
from __future__ import annotations

import gzip
import math
import sys
from pathlib import Path

SPECIES = ["human", "chimpanzee", "gorilla", "orangutan"]
CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def records(path: Path) -> list[str]:
    out, cur = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if cur:
                    out.append("".join(cur).upper())
                cur = []
            else:
                cur.append(line.strip())
    if cur:
        out.append("".join(cur).upper())
    return out


def kmers(s: str, k: int) -> set[str]:
    return {s[i:i + k] for i in range(len(s) - k + 1)}


def transitions(seq: str, order: int):
    """Indices ctx·4 + base of every base that follows `order` valid bases (N and other letters restart the context)."""
    mask = 4 ** order
    ctx, valid = 0, 0
    for ch in seq:
        c = CODE.get(ch)
        if c is None:
            ctx, valid = 0, 0
            continue
        if valid >= order:
            yield ctx * 4 + c
        ctx = (ctx * 4 + c) % mask if order > 0 else 0
        valid += 1


def markov_counts(seq: str, order: int) -> list[float]:
    counts = [0.5] * (4 ** (order + 1))
    for i in transitions(seq, order):
        counts[i] += 1
    return counts


def log_table(counts: list[float]) -> list[float]:
    out = []
    for i in range(0, len(counts), 4):
        tot = sum(counts[i:i + 4])
        out += [math.log(x / tot) for x in counts[i:i + 4]]
    return out


def score(seq: str, table: list[float], order: int) -> float:
    return sum(table[i] for i in transitions(seq, order))


def wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 and not argv[1].startswith("--") else Path(__file__).resolve().parents[2] / "shared/datasets/great_apes_chr22"
    max_bases = int(argv[argv.index("--max-bases") + 1]) if "--max-bases" in argv else 6_000_000
    test = {s: records(root / "test" / f"{s}.fa.gz") for s in SPECIES}

    print("1. orthologous divergence (test blocks; fraction of the human block's 16-mers absent from the other species' same block)")
    for other in SPECIES[1:]:
        fr = []
        for h, o in zip(test["human"], test[other]):
            a = kmers(h, 16)
            if a:
                fr.append(1 - len(a & kmers(o, 16)) / len(a))
        m = sum(fr) / len(fr)
        d = 1 - (1 - m) ** (1 / 16)
        print(f"   human vs {other:10s}: {m:.3f} of 16-mers differ over {len(fr)} blocks (≈ {100 * d:.2f} % of positions)")

    train = {s: "N".join(records(root / "train" / f"{s}.fa.gz"))[:max_bases] for s in SPECIES}
    test_cat = {s: "N".join(test[s]) for s in SPECIES}
    print(f"2. Markov-chain Bayes classifiers fitted on the first {max_bases:,} train bases of each species")
    for order in [0, 2, 5]:
        tables = {s: log_table(markov_counts(train[s], order)) for s in SPECIES}
        for W in [1024, 16384, 65536]:
            k = n = 0
            for truth in SPECIES:
                t = test_cat[truth]
                for i in range(0, len(t) - W + 1, W):
                    w = t[i:i + W]
                    best = max(SPECIES, key=lambda s: score(w, tables[s], order))
                    k += best == truth
                    n += 1
            lo, hi = wilson(k, n)
            print(f"   order {order}, W = {W:6d}: accuracy {k / n:.3f} (95 % CI {lo:.3f}–{hi:.3f}) over {n} windows; chance 0.250")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
