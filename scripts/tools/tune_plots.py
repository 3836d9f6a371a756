#!/usr/bin/python3
"""Plots of a `tessera tune` study (written by tune itself at the end of a job).

usage: /usr/bin/python3 scripts/tools/tune_plots.py STUDY_DIR

Reads STUDY_DIR/trials.jsonl and writes
  best_so_far.png           objective per finished trial (by finish time) and the best so far
  parallel_coordinates.png  one line per finished trial across the parameters (unit-scaled,
                            log parameters in log scale), coloured by the objective
  importance.png            parameter importance: |Spearman rank correlation| between each
                            parameter and the objective over finished trials (0 = none)
  timeline.png              every trial as a bar from start to end on its rank group's row,
                            coloured by state (concurrent groups overlap in time)
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"complete": "tab:green", "pruned": "tab:orange", "failed": "tab:red", "running": "tab:gray",
          "released": "tab:gray"}


def load(d):
    return [json.loads(l) for l in open(os.path.join(d, "trials.jsonl")) if l.strip()]


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0


def numeric(v, choices):
    if isinstance(v, bool) or isinstance(v, str):
        return float(choices.index(v))
    return float(v)


def main(d):
    trials = load(d)
    fin = [t for t in trials if t["state"] in ("complete", "pruned") and t.get("value") is not None]
    if not trials:
        return
    objective = trials[0]["objective"]
    maximize = trials[0]["direction"] == "maximize"
    # best so far
    fin_t = sorted(fin, key=lambda t: t["end"])
    fig, ax = plt.subplots(figsize=(6, 4))
    best, xs, bs = None, [], []
    for i, t in enumerate(fin_t):
        if t["state"] == "complete":
            best = t["value"] if best is None else (max if maximize else min)(best, t["value"])
        xs.append(i + 1)
        bs.append(best if best is not None else float("nan"))
        ax.scatter([i + 1], [t["value"]], color=COLORS[t["state"]], s=18)
    ax.plot(xs, bs, color="black", label="best so far (complete trials)")
    ax.set_xlabel("finished trials")
    ax.set_ylabel(objective)
    ax.legend(fontsize=8)
    ax.set_title("best so far (green complete, orange pruned)")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "best_so_far.png"), dpi=80)
    plt.close(fig)
    # parallel coordinates
    names = sorted({k for t in fin for k in t["params"]})
    choices = {k: sorted({json.dumps(t["params"][k]) for t in fin if k in t["params"]}) for k in names}
    choices = {k: [json.loads(c) for c in v] for k, v in choices.items()}
    if names and fin:
        cols = {}
        for k in names:
            vals = [t["params"][k] for t in fin if k in t["params"]]
            num = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
            logs = num and min(vals) > 0 and max(vals) / min(vals) > 20
            cols[k] = (num, logs)
        vmin = min(t["value"] for t in fin)
        vmax = max(t["value"] for t in fin)
        fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 4))
        cmap = plt.get_cmap("viridis")
        for t in fin:
            ys = []
            for k in names:
                if k not in t["params"]:
                    ys.append(float("nan"))
                    continue
                num, logs = cols[k]
                vals = [numeric(x["params"][k], choices[k]) for x in fin if k in x["params"]]
                v = numeric(t["params"][k], choices[k])
                if logs:
                    vals, v = [math.log(x) for x in vals], math.log(v)
                lo, hi = min(vals), max(vals)
                ys.append((v - lo) / (hi - lo) if hi > lo else 0.5)
            c = (t["value"] - vmin) / (vmax - vmin) if vmax > vmin else 0.5
            ax.plot(range(len(names)), ys, color=cmap(c if maximize else 1 - c), alpha=0.8,
                    linestyle="-" if t["state"] == "complete" else ":")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([k + (" (log)" if cols[k][1] else "") for k in names], rotation=20, fontsize=8)
        ax.set_ylabel("scaled value (min..max of the trials)")
        ax.set_title("parallel coordinates (colour: %s, brighter = better; dotted = pruned)" % objective, fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(d, "parallel_coordinates.png"), dpi=80)
        plt.close(fig)
        # importance
        imp = []
        for k in names:
            pts = [(numeric(t["params"][k], choices[k]), t["value"]) for t in fin if k in t["params"]]
            imp.append(abs(spearman([p[0] for p in pts], [p[1] for p in pts])) if len(pts) > 2 else 0.0)
        fig, ax = plt.subplots(figsize=(6, 0.5 * len(names) + 1.5))
        ax.barh(names, imp, color="tab:blue")
        ax.set_xlabel("|Spearman rank correlation| with %s" % objective)
        ax.set_xlim(0, 1)
        ax.set_title("parameter importance (%d finished trials)" % len(fin), fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(d, "importance.png"), dpi=80)
        plt.close(fig)
    # timeline
    t0 = min(t["start"] for t in trials if t["start"] > 0)
    fig, ax = plt.subplots(figsize=(7, 0.6 * (1 + max(t["group"] for t in trials)) + 1.5))
    for t in trials:
        if t["start"] <= 0:
            continue
        end = t["end"] if t["end"] > 0 else t["start"]
        ax.barh(t["group"], end - t["start"], left=t["start"] - t0, color=COLORS.get(t["state"], "gray"),
                edgecolor="black", height=0.6)
        ax.text(t["start"] - t0 + (end - t["start"]) / 2, t["group"], str(t["number"]), ha="center", va="center",
                fontsize=7)
    ax.set_xlabel("seconds since the first trial started")
    ax.set_ylabel("rank group")
    ax.set_yticks(sorted({t["group"] for t in trials}))
    ax.set_title("timeline (green complete, orange pruned, red failed)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "timeline.png"), dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1])
