#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention on the shapes of bench/bench_attention.cpp (one layer, fp32,
causal, B=1, 12 heads x 64, dropout p), forward + backward, median of REPEATS after a warm-up; peak RSS of
this process per T (ru_maxrss, monotonic: the largest T dominates). Run by `scripts/bench.sh attention`
only when torch is importable (nothing is installed for it). One JSON line per T."""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--seq", default="1024,2048")
ap.add_argument("--heads", type=int, default=12)
ap.add_argument("--hd", type=int, default=64)
ap.add_argument("--pdrop", type=float, default=0.1)
ap.add_argument("--repeats", type=int, default=3)
a = ap.parse_args()
torch.manual_seed(0)
for T in [int(t) for t in a.seq.split(",")]:
    q, k, v = (torch.empty(1, a.heads, T, a.hd).uniform_(-2, 2).requires_grad_() for _ in range(3))
    dout = torch.empty(1, a.heads, T, a.hd).uniform_(-1, 1)

    def step():
        for t in (q, k, v):
            t.grad = None
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=a.pdrop, is_causal=True)
        out.backward(dout)

    step()
    ms = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    print(json.dumps({"bench": "attention", "path": "torch_sdpa", "B": 1, "T": T, "heads": a.heads,
                      "head_dim": a.hd, "pdrop": a.pdrop, "fwd_bwd_ms": round(ms[len(ms) // 2], 2),
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}),
          flush=True)
