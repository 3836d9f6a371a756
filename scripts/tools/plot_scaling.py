#!/usr/bin/python3
"""Collects a scaling study (scripts/scaling_study.sh) and plots it.

usage: /usr/bin/python3 scripts/tools/plot_scaling.py OUTDIR

Reads OUTDIR/*/entry.json (what the entry ran) and OUTDIR/*/metrics.jsonl (rank
0's JSON lines: "train" records with step_ms, tokens_per_s; "comm" records with
the bytes each axis moved), drops the first `warmup` steps, and writes
  OUTDIR/scaling.md             Markdown table (median step time, throughput,
                                speed-up, parallel efficiency, comm MB/step)
  OUTDIR/scaling.json           the same numbers
  OUTDIR/throughput.png         tokens/s vs ranks per series (+ ideal)
  OUTDIR/efficiency.png         parallel efficiency vs ranks
  OUTDIR/step_time.png          median step time per entry (min–max bars) and rank 0's comm MB per step
Efficiency: strong = T(1) / (R · T(R)); weak = T(1) / T(R), T = median step time,
baseline = the 1-rank entry of the same mode (strong-tp uses strong-dp-1).
"""
import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(outdir):
    rows = []
    for ej in sorted(glob.glob(os.path.join(outdir, "*", "entry.json"))):
        d = os.path.dirname(ej)
        e = json.load(open(ej))
        steps, comm = [], []
        mp = os.path.join(d, "metrics.jsonl")
        if not os.path.exists(mp):
            continue
        for line in open(mp):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            kind = r.get("kind") or r.get("type") or r.get("record")
            if kind == "train" or ("step_ms" in r and "loss" in r):
                steps.append(r)
            elif kind == "comm" or "bytes" in r:
                comm.append(r)
        warm = int(e.get("warmup", 3))
        timed = [s for s in steps if s["step"] > warm] or steps
        if not timed:
            continue
        ms = [float(s["step_ms"]) for s in timed]
        tok = e["global_batch"] * e["seq_len"]
        med = statistics.median(ms)
        cb = [sum(v for v in c["bytes"].values()) for c in comm if c.get("step", 0) > warm]
        rows.append(dict(e, step_ms=med, step_ms_min=min(ms), step_ms_max=max(ms), n_steps=len(ms),
                         tokens_per_s=tok / (med / 1e3), comm_mb=(statistics.median(cb) / 2**20) if cb else 0.0,
                         final_loss=float(steps[-1]["loss"])))
    return rows


def add_efficiency(rows):
    base = {}
    for r in rows:
        if r["ranks"] == 1:
            base[r["mode"]] = r["step_ms"]
    if "strong" in base:
        base.setdefault("strong-tp", base["strong"])
    for r in rows:
        b = base.get(r["mode"])
        if b is None:
            r["speedup"] = r["efficiency"] = float("nan")
        elif r["mode"] == "weak":
            r["speedup"] = r["ranks"] * b / r["step_ms"]  # scaled speed-up (work grows with R)
            r["efficiency"] = b / r["step_ms"]
        else:
            r["speedup"] = b / r["step_ms"]
            r["efficiency"] = b / (r["ranks"] * r["step_ms"])


def series(rows):
    out = {}
    for r in rows:
        out.setdefault(r["mode"], []).append(r)
    for m in out:
        out[m].sort(key=lambda r: r["ranks"])
        if m == "strong-tp":  # the 1-rank point of the tp series is the dp baseline
            b = [r for r in rows if r["mode"] == "strong" and r["ranks"] == 1]
            out[m] = b + out[m]
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    rows = load(outdir)
    if not rows:
        sys.exit(f"plot_scaling: no entries with metrics under {outdir}")
    add_efficiency(rows)
    order = {"strong": 0, "strong-tp": 1, "weak": 2}
    rows.sort(key=lambda r: (order.get(r["mode"], 9), r["ranks"]))
    host = rows[0].get("host", "?")
    ncpu = os.cpu_count()

    lines = [f"Scaling study `{outdir}` on host {host} ({ncpu} CPUs visible; launcher {rows[0].get('launcher')}); "
             f"median over steps after the first {rows[0].get('warmup', 3)}.", "",
             "| entry | mode | ranks | grid dp×tp×pp | micro-batch | global batch (seq) | median step ms (min–max) "
             "| tokens/s | speed-up | efficiency | comm MB/step (rank 0) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['mode']} | {r['ranks']} | {r['dp']}×{r['tp']}×{r['pp']} | {r['micro_batch']} | "
                     f"{r['global_batch']} × {r['seq_len']} | {r['step_ms']:.1f} ({r['step_ms_min']:.1f}–{r['step_ms_max']:.1f}) | "
                     f"{r['tokens_per_s']:.0f} | {r['speedup']:.2f} | {r['efficiency']:.0%} | {r['comm_mb']:.2f} |")
    md = "\n".join(lines) + "\n"
    open(os.path.join(outdir, "scaling.md"), "w").write(md)
    json.dump(rows, open(os.path.join(outdir, "scaling.json"), "w"), indent=1)

    ser = series(rows)
    labels = {"strong": "strong (dp, fixed global batch)", "strong-tp": "strong (tp=2, fixed global batch)",
              "weak": "weak (dp, fixed batch per rank)"}
    ranks_all = sorted({r["ranks"] for r in rows})

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for m, rs in ser.items():
        ax.plot([r["ranks"] for r in rs], [r["tokens_per_s"] for r in rs], "o-", label=labels.get(m, m))
        if rs and rs[0]["ranks"] == 1:
            ax.plot(ranks_all, [rs[0]["tokens_per_s"] * k for k in ranks_all], ":", color="gray", lw=1)
    ax.plot([], [], ":", color="gray", label="ideal (linear from 1 rank)")
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("throughput (tokens/s)")
    ax.set_xticks(ranks_all)
    ax.set_title(f"Training throughput vs ranks ({host}, {ncpu} CPUs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "throughput.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for m, rs in ser.items():
        ax.plot([r["ranks"] for r in rs], [100 * r["efficiency"] for r in rs], "o-", label=labels.get(m, m))
    ax.axhline(100, color="gray", ls=":", lw=1)
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("parallel efficiency (%)")
    ax.set_xticks(ranks_all)
    ax.set_ylim(0, 110)
    ax.set_title("Parallel efficiency (strong: T1/(R·TR), weak: T1/TR)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "efficiency.png"), dpi=110)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.4))
    names = [r["name"] for r in rows]
    med = [r["step_ms"] for r in rows]
    err = [[r["step_ms"] - r["step_ms_min"] for r in rows], [r["step_ms_max"] - r["step_ms"] for r in rows]]
    colors = ["C%d" % order.get(r["mode"], 3) for r in rows]
    a1.bar(names, med, yerr=err, color=colors, capsize=3)
    a1.set_ylabel("step time (ms), median; bars = min–max")
    a1.set_xlabel("entry")
    a1.set_title("Time per optimizer step")
    a1.tick_params(axis="x", rotation=60)
    a2.bar(names, [r["comm_mb"] for r in rows], color=colors)
    a2.set_ylabel("MB per step handed to collectives (rank 0)")
    a2.set_xlabel("entry")
    a2.set_title("Communication volume per step (rank 0)")
    a2.tick_params(axis="x", rotation=60)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "step_time.png"), dpi=110)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
