#!/usr/bin/python3
"""Markdown table of `scripts/bench.sh tune` (JSON lines of bench_tune and bench_tune_optuna.py).

usage: /usr/bin/python3 scripts/tools/bench_tune_table.py build/bench_tune.jsonl
Columns: mean and median best value after 10 and after all N evaluations over the seeds,
the share of seeds within 1 % of the global range of f* ("solved"), seconds per proposal.
"""
import json
import statistics
import sys

OPT = {"branin": 0.397887, "hartmann6": -3.32237, "noisy_branin": 0.397887}
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| function | library | sampler | mean best @10 | mean best @N | median best @N | gap to f* (mean @N) | s / proposal |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    n = r["budget"]
    k = min(10, n) - 1
    print("| %s | %s | %s | %.4f | %.4f | %.4f | %.4f | %.3f |" % (
        r["function"], r["library"], r["sampler"], r["mean_best"][k], r["mean_best"][-1], r["median_best"][-1],
        r["mean_best"][-1] - OPT[r["function"]], r["propose_seconds"] / (n * r["seeds"])))
print("\n(N = %d evaluations, %d seeds)" % (rows[0]["budget"], rows[0]["seeds"]))
