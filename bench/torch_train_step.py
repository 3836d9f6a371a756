#!/usr/bin/env python3
"""PyTorch peer of bench/bench_train_step.cpp: GPT-2 training steps (forward + backward +
AdamW) at a given (B, T) in fp32 eager or with bf16 autocast, on the CPU.

A plain GPT-2 (pre-norm blocks, tanh-GELU MLP, tied head, learned positions) written with
torch.nn, so the benchmark needs torch only (not transformers); attention is
torch.nn.functional.scaled_dot_product_attention (causal). Prints one JSON object per line
with the keys bench_train_step uses (ms_per_step, tokens_per_s, peak_rss_mb, ...).
  torch_train_step.py --batch 8 --seq 512 --steps 2 --warmup 1 --dtype bf16 --threads 2
Installed by `scripts/bench.sh peers` into a venv from PyPI; optional, never a runtime dependency.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, vocab=50257, positions=1024, c=768, layers=12, heads=12):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(positions, c)
        self.h = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = GPT2()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    n = a.batch * a.seq
    idx = (torch.arange(n, dtype=torch.int64) * 2654435761 % 50257).view(a.batch, a.seq)
    tgt = ((torch.arange(n, dtype=torch.int64) * 40503 + 7) % 50257).view(a.batch, a.seq)
    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bf16"):
            loss = model(idx, tgt)
        loss.backward()
        opt.step()
        if s >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    ms = times[len(times) // 2] * 1e3
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "bench": "train_step_torch", "config": f"gpt2-small B={a.batch} T={a.seq}", "dtype": a.dtype,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "params": params,
        "batch": a.batch, "seq_len": a.seq, "steps": a.steps, "ms_per_step": ms,
        "tokens_per_s": n / (ms * 1e-3), "loss": float(loss), "finite": math.isfinite(float(loss)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
