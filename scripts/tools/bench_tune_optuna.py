"""Optuna's samplers on the functions of bench/bench_tune.cpp, same budget and seeds,
same JSON-lines format (library "optuna"). Run by `scripts/bench.sh tune` in a venv
with optuna (installed there with pip when missing).

usage: python bench_tune_optuna.py [--seeds 20] [--budget 30] [--samplers random,tpe,gp,cmaes]
"""
import argparse
import json
import math
import random
import statistics
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10


A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650],
     [4047, 8828, 8732, 5743, 1091, 381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - 1e-4 * P[i][j]) ** 2 for j in range(6))) for i in range(4))


PROBLEMS = {"branin": ([(-5, 10), (0, 15)], branin, 0.0), "hartmann6": ([(0, 1)] * 6, hartmann6, 0.0),
            "noisy_branin": ([(-5, 10), (0, 15)], branin, 1.0)}


def make(kind, seed):
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    raise SystemExit("unknown sampler " + kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=30)
    ap.add_argument("--samplers", default="random,tpe,gp")
    ap.add_argument("--functions", default="branin,hartmann6,noisy_branin")
    a = ap.parse_args()
    for fname in a.functions.split(","):
        bounds, f, noise = PROBLEMS[fname]
        for kind in a.samplers.split(","):
            curves, spent = [], 0.0
            for seed in range(1, a.seeds + 1):
                rng = random.Random(seed * 7919)
                study = optuna.create_study(sampler=make(kind, seed))
                best_obs, best_true, curve = math.inf, math.inf, []
                for _ in range(a.budget):
                    t0 = time.perf_counter()
                    trial = study.ask()
                    x = [trial.suggest_float("x%d" % d, lo, hi) for d, (lo, hi) in enumerate(bounds)]
                    spent += time.perf_counter() - t0
                    truth = f(x)
                    obs = truth + noise * rng.gauss(0, 1)
                    study.tell(trial, obs)
                    if obs < best_obs:
                        best_obs, best_true = obs, truth
                    curve.append(best_true)
                curves.append(curve)
            mean = [statistics.mean(c[k] for c in curves) for k in range(a.budget)]
            median = [statistics.median(c[k] for c in curves) for k in range(a.budget)]
            print(json.dumps({"bench": "tune", "library": "optuna " + optuna.__version__, "function": fname,
                              "sampler": kind, "seeds": a.seeds, "budget": a.budget, "mean_best": mean,
                              "median_best": median, "final": [c[-1] for c in curves], "propose_seconds": spent}),
                  flush=True)


if __name__ == "__main__":
    main()
