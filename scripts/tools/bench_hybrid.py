#!/usr/bin/python3
"""MPI x threads hybrid benchmark (issue #14 item 3; stdlib only).

One GPT-2 training step shape (the bench_parallel model: 4 layers, 8 heads, width 256,
byte vocab, T=128, KJV text) at the same global batch, run as
  1x1   one rank, one thread                      (OpenMP engine, OMP/OpenBLAS threads = 1)
  2x1   flat MPI: dp = 2 ranks x 1 thread          (OpenMP engine, threads = 1)
  1x2   hybrid: one rank x 2 OpenMP threads        (OpenMP engine, OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = 2)
  1x2 passive        the same with OMP_WAIT_POLICY=passive (idle OpenMP threads sleep instead of spinning)
  1x2 kokkos-only    OMP_NUM_THREADS = 2, OpenBLAS on 1 thread (only the Kokkos kernels threaded)
  1x2 serial-kokkos  one rank, Serial Kokkos kernels, OpenBLAS 2 threads (today's default build; optional)
interleaved over --rounds, each `mpirun -np R tessera train CONFIG` read from its
metrics.jsonl (median step_ms of the steps >= --first-timed-step). Prints one JSON line per
configuration with tokens/s, ratio against 1x1 and the load average before each run.

  /usr/bin/python3 scripts/tools/bench_hybrid.py --build build-omp-engine [--serial-build build]
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_parallel as bp  # noqa: E402  (Model, Runner: config text, mpirun, metrics.jsonl)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build-omp-engine", help="engine built against the OpenMP Kokkos")
    ap.add_argument("--serial-build", default="", help="engine built against Serial Kokkos (extra 1x2 row)")
    ap.add_argument("--inputs", default="data/kjv/*.txt")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--first-timed-step", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--global-batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--bucket-mb", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.global_batch % 2:
        raise SystemExit("bench_hybrid: --global-batch must be even (dp = 2 splits it)")

    m = bp.Model(args.layers, args.heads, args.width, args.seq, 257)
    work = tempfile.mkdtemp(prefix="tessera_hybrid_")
    try:
        data = os.path.join(work, "kjv.h5")
        inputs = sorted(glob.glob(args.inputs))
        if not inputs:
            raise SystemExit(f"bench_hybrid: no input text matches {args.inputs}")
        subprocess.run([os.path.join(args.build, "tessera"), "prepare", "--input", *inputs, "--output", data],
                       check=True, stdout=subprocess.DEVNULL)
        G = args.global_batch
        # (label, build, ranks, threads per rank, extra environment)
        configs = [("1x1", args.build, 1, 1, {}), ("2x1", args.build, 2, 1, {}), ("1x2", args.build, 1, 2, {}),
                   # libgomp's idle threads spin (OMP_WAIT_POLICY active) while OpenBLAS' own threads want the cores
                   ("1x2 passive", args.build, 1, 2, {"OMP_WAIT_POLICY": "passive"}),
                   ("1x2 kokkos-only", args.build, 1, 2, {"OPENBLAS_NUM_THREADS": "1"})]
        if args.serial_build:
            configs.append(("1x2 serial-kokkos", args.serial_build, 1, 2, {}))
        runners = {}
        for label, build, ranks, threads, extra in configs:
            r = bp.Runner(argparse.Namespace(**{**vars(args), "build": build}), m, data, work)
            r.env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                          "OMP_PROC_BIND": "false", **extra})
            runners[label] = r
        results = {label: [] for label, *_ in configs}
        for _ in range(args.rounds):
            for label, build, ranks, threads, extra in configs:
                results[label].append(runners[label].run(label.replace(" ", "_"), dp=ranks, B=G // ranks))
        T = args.seq
        base = None
        for label, build, ranks, threads, extra in configs:
            rs = results[label]
            ms = statistics.median(q["ms"] for q in rs)
            tps = G * T / (ms * 1e-3)
            base = base or tps
            print(json.dumps({"bench": "hybrid", "config": label, "build": build, "ranks": ranks,
                              "threads_per_rank": threads, "env": {**{"OMP_NUM_THREADS": str(threads),
                              "OPENBLAS_NUM_THREADS": str(threads)}, **extra}, "global_batch": G, "seq": T,
                              "params": m.num_parameters(), "ms_per_step": round(ms, 2),
                              "ms_per_step_rounds": [round(q["ms"], 2) for q in rs],
                              "tokens_per_s": round(tps, 1), "ratio_vs_1x1": round(tps / base, 3),
                              "peak_rss_mb": round(max(q["peak_rss_mb"] for q in rs), 1),
                              "load_avg_before_runs": [round(q["load_before"], 2) for q in rs]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
