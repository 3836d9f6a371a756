#!/usr/bin/env python3
"""Generates tests/fixtures/compress/blocks.json: ggml block quantisation of fixed
inputs by the PyPI `gguf` package (gguf.quants.quantize / dequantize, which follow
ggml-quants.c's reference quantize_row_*_ref bit for bit) — the independent reference
the `compress` tests compare Tessera's quantisers (src/compress/block_quantize.cpp)
against.

    .cache/venv-hf/bin/python scripts/tools/make_compress_fixtures.py

(any venv with numpy + gguf: python3 -m venv .cache/venv-gguf &&
.cache/venv-gguf/bin/pip install gguf numpy). Deterministic (seeded); the inputs
are stored as float32 bit patterns so C++ reads them exactly.
"""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "compress", "blocks.json")

rng = np.random.default_rng(15)
blocks = [
    rng.standard_normal(32),                       # typical weights
    rng.standard_normal(32) * 1e-3,                # small scale
    np.zeros(32),                                  # all zero: d = 0
    np.full(32, 0.25),                             # constant
    -np.abs(rng.standard_normal(32)),              # all negative (Q4_0 max has minus sign)
    np.abs(rng.standard_normal(32)) * 40.0,        # large, all positive
    np.linspace(-1, 1, 32),                        # ties at .5 steps
    rng.standard_normal(32) * np.where(rng.random(32) < 0.1, 20.0, 1.0),  # outliers
]
x = np.concatenate(blocks).astype(np.float32).reshape(2, 128)  # 2 rows x 4 blocks

fix = {"rows": 2, "cols": 128, "input_bits": x.reshape(-1).view(np.uint32).tolist()}
for name, qt in (("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1)):
    q = quantize(x, qt)
    fix[name] = np.asarray(q, dtype=np.uint8).reshape(-1).tolist()
    fix[name + "_dequant_bits"] = dequantize(q, qt).astype(np.float32).reshape(-1).view(np.uint32).tolist()
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(fix, f)
print("wrote", OUT)
