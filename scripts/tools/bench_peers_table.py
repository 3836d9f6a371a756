#!/usr/bin/env python3
"""Markdown table of `scripts/bench.sh peers`: Tessera fp32 and bf16 (bench_train_step
--precision) vs PyTorch fp32 eager and bf16 autocast (bench/torch_train_step.py) per (B, T),
from one JSON-lines file. Cells: ms per step (tokens/s, peak RSS MB). Ratios: Tessera bf16
speed-up over Tessera fp32 (fp32 ms / bf16 ms), and PyTorch ms / Tessera ms at the same
precision (above 1: Tessera faster). Load: the 1-minute load average before/after the shape."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
shapes = sorted({(r["batch"], r["seq_len"]) for r in rows if "batch" in r})
print("| B, T | Tessera fp32 ms (tok/s, RSS MB) | Tessera bf16 ms | PyTorch fp32 ms | PyTorch bf16 ms "
      "| Tessera bf16 speed-up | PyTorch/Tessera fp32 | PyTorch/Tessera bf16 | load avg | contended |")
print("|---|---|---|---|---|---|---|---|---|---|")
for b, t in shapes:
    def pick(bench, key=None, value=None):
        for r in rows:
            if r["bench"] == bench and r.get("batch") == b and r.get("seq_len") == t and (key is None or r.get(key) == value):
                return r
        return None
    t32 = pick("train_step", "precision", "fp32") or pick("train_step", "precision", None)
    t16 = pick("train_step", "precision", "bf16")
    p32, p16 = pick("train_step_torch", "dtype", "fp32"), pick("train_step_torch", "dtype", "bf16")
    before, after = None, None
    for r in rows:
        if r["bench"] == "loadavg" and r.get("batch") == b and r.get("seq_len") == t:
            before = r.get("loadavg", before)
            after = r.get("loadavg_after", after)

    def cell(r):
        return "—" if r is None or "ms_per_step" not in r else f"{r['ms_per_step']:.0f} ({r['tokens_per_s']:.0f}, {r['peak_rss_mb']:.0f})"

    def ratio(num, den):
        if num is None or den is None or "ms_per_step" not in num or "ms_per_step" not in den:
            return "—"
        return f"{num['ms_per_step'] / den['ms_per_step']:.2f}×"

    contended = [f"{r.get('precision', 'fp32')}: {r['contention']}" for r in (t32, t16) if r and r.get("contention")]
    load = "—" if before is None else (before.split()[0] + (f" → {after.split()[0]}" if after else ""))
    print(f"| {b}, {t} | {cell(t32)} | {cell(t16)} | {cell(p32)} | {cell(p16)} | {ratio(t32, t16)} | "
          f"{ratio(p32, t32)} | {ratio(p16, t16)} | {load} | {'; '.join(contended) or 'no'} |")
