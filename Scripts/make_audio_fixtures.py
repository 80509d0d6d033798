#!/usr/bin/env python3
"""make_audio_fixtures.py — reference values for the 8-bit sample tokenizers (MambaAudio).

Writes Tests/MambaKitTests/Fixtures/audio_tokenizers/reference.json with numpy implementations of

* mu-law, mu = 255: torchaudio.functional.mu_law_encoding / mu_law_decoding (the WaveNet / SaShiMi
  companding), computed in float32 like torch does:
      mu = 255.0
      y  = sign(x) * log1p(mu * |x|) / log1p(mu)
      id = int64((y + 1) / 2 * mu + 0.5)                 # encode
      y  = id / mu * 2 - 1
      x  = sign(y) * (exp(|y| * log1p(mu)) - 1) / mu     # decode
  (SaShiMi's own loader also min-max scales each clip to [-1, 1] first; MambaKit does not, so the
  inputs here already lie in [-1, 1].)
* linear 8 bit: id = floor((x + 1) / 2 * 255 + 0.5), decode x = 2 * id / 255 - 1.

For each encoded input the file also keeps the value before rounding (in float64), so a test can
tell a genuine mismatch from a value that sits within float32 rounding of a .5 boundary.

CI never runs Python: the output is committed. Deterministic (fixed seed).
Usage (from the repository root):  /work/venv-torch/bin/python Scripts/make_audio_fixtures.py
"""
import json
import os

import numpy as np


def mu_law_encode(x, mu=255.0):
    x = x.astype(np.float32)
    mu = np.float32(mu)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    scaled = (y + np.float32(1)) / np.float32(2) * mu + np.float32(0.5)
    return scaled.astype(np.int64), (np.sign(x.astype(np.float64)) * np.log1p(255.0 * np.abs(x.astype(np.float64))) / np.log1p(255.0) + 1) / 2 * 255


def mu_law_decode(ids, mu=255.0):
    mu = np.float32(mu)
    y = ids.astype(np.float32) / mu * np.float32(2) - np.float32(1)
    return np.sign(y) * (np.exp(np.abs(y) * np.log1p(mu)) - np.float32(1)) / mu


def linear_encode(x):
    x = x.astype(np.float32)
    scaled = (x + np.float32(1)) / np.float32(2) * np.float32(255)
    return np.floor(scaled + np.float32(0.5)).astype(np.int64), (x.astype(np.float64) + 1) / 2 * 255


def linear_decode(ids):
    return (np.float32(2) * ids.astype(np.float32) / np.float32(255) - np.float32(1)).astype(np.float32)


def main():
    rng = np.random.default_rng(5005)
    edges = np.array([-1.0, -0.5, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 0.25, 0.5, 0.999, 1.0], dtype=np.float32)
    uniform = rng.uniform(-1, 1, 400).astype(np.float32)
    quiet = np.clip(rng.normal(0, 0.02, 300), -1, 1).astype(np.float32)   # speech-like small amplitudes
    x = np.concatenate([edges, uniform, quiet])
    mu_ids, mu_scaled = mu_law_encode(x)
    lin_ids, lin_scaled = linear_encode(x)
    all_ids = np.arange(256)
    out = {
        "generator": "Scripts/make_audio_fixtures.py (numpy %s; torchaudio's mu_law_encoding/decoding formula)" % np.__version__,
        "x": [float(v) for v in x],
        "mu_law_ids": [int(v) for v in mu_ids],
        "mu_law_unrounded": [float(v) for v in mu_scaled],
        "mu_law_decoded": [float(v) for v in mu_law_decode(all_ids)],
        "linear_ids": [int(v) for v in lin_ids],
        "linear_unrounded": [float(v) for v in lin_scaled],
        "linear_decoded": [float(v) for v in linear_decode(all_ids)],
    }
    d = os.path.join("Tests", "MambaKitTests", "Fixtures", "audio_tokenizers")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")
    print("wrote", os.path.join(d, "reference.json"), len(x), "inputs")


if __name__ == "__main__":
    main()
