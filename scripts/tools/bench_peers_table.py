#!/usr/bin/env python3
"""Markdown table of `scripts/bench.sh peers`: Tessera fp32 (bench_train_step) vs PyTorch
fp32 eager and bf16 autocast (bench/torch_train_step.py) per (B, T), from one JSON-lines file.
Ratios are PyTorch ms / Tessera ms (above 1: Tessera faster)."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
shapes = sorted({(r["batch"], r["seq_len"]) for r in rows})
print("| B, T | Tessera fp32 ms (tok/s, RSS MB) | PyTorch fp32 ms | PyTorch bf16 ms | fp32 ratio | vs bf16 | contended |")
print("|---|---|---|---|---|---|---|")
for b, t in shapes:
    def pick(bench, dtype=None):
        for r in rows:
            if r["bench"] == bench and r["batch"] == b and r["seq_len"] == t and (dtype is None or r.get("dtype") == dtype):
                return r
        return None
    ts, p32, p16 = pick("train_step"), pick("train_step_torch", "fp32"), pick("train_step_torch", "bf16")
    def cell(r):
        return "—" if r is None else f"{r['ms_per_step']:.0f} ({r['tokens_per_s']:.0f}, {r['peak_rss_mb']:.0f})"
    def ratio(r):
        return "—" if r is None or ts is None else f"{r['ms_per_step'] / ts['ms_per_step']:.2f}×"
    print(f"| {b}, {t} | {cell(ts)} | {cell(p32)} | {cell(p16)} | {ratio(p32)} | {ratio(p16)} | "
          f"{'—' if ts is None else (ts.get('contention') or 'no')} |")
