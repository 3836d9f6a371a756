#!/usr/bin/python3
"""Parallel-training benchmark for Tessera (stdlib only).

Runs short `mpirun -np N tessera train CONFIG` jobs on a small GPT-2 over a KJV
dataset prepared into a temporary directory, reads each run's metrics.jsonl
("config", "train" and "comm" records, rank 0) and prints JSON lines:

  bench=parallel                  one line per measured configuration
  bench=parallel_weak_scaling     DP=2 vs DP=1 at the same per-rank micro-batch
  bench=parallel_overhead         TP=2 / PP=2 vs 1 rank at the same global batch
  bench=parallel_comm             bytes per step per axis, measured vs analytic
  bench=parallel_optimizer_state  AdamW state bytes per rank with/without ZeRO-1

Key conventions follow bench_train_step (ms_per_step, tokens_per_s, gflops,
peak_gflops, peak_ratio, peak_rss_mb) plus `baseline` and `ratio`
(ratio = value / baseline). The analytic byte formulas are derived in
docs/parallelism.md ("Communication volume").

Every rank runs with one BLAS thread (OPENBLAS_NUM_THREADS=1), so a run with R
ranks uses min(R, cores) cores; each line says how many ("cores").

  /usr/bin/python3 scripts/tools/bench_parallel.py --build build [--rounds 2] [--steps 6]
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
import time

F32 = 4
F64 = 8

# ---------------------------------------------------------------------------
# model shape (the benchmark model) and the analytic expectations


class Model:
    def __init__(self, n_layer, n_head, n_embd, n_positions, vocab_size):
        self.L, self.NH, self.C, self.P, self.V = n_layer, n_head, n_embd, n_positions, vocab_size

    def toml(self):
        return (f"n_layer = {self.L}\nn_head = {self.NH}\nn_embd = {self.C}\n"
                f"n_positions = {self.P}\nvocab_size = {self.V}\n"
                "embd_pdrop = 0.0\nattn_pdrop = 0.0\nresid_pdrop = 0.0\n")

    def num_parameters(self):
        C = self.C
        per_layer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C) + (4 * C * C + C)
        return self.V * C + self.P * C + self.L * per_layer + 2 * C

    def flops_per_token(self, T):  # same formula as src/train/trainer.cpp
        return 6.0 * self.num_parameters() + 12.0 * self.L * self.C * T


def balanced_range(n, parts, idx):  # src/model/model_parallel.hpp
    base, extra = n // parts, n % parts
    begin = idx * base + min(idx, extra)
    return begin, begin + base + (1 if idx < extra else 0)


def local_numel(m, tp, pp, tp_rank=0, pp_rank=0):
    """Elements of the parameter slab of rank (tp_rank, pp_rank) (src/model/gpt2.cpp)."""
    C = m.C
    Cl, Fl = C // tp, 4 * C // tp
    v0, v1 = balanced_range(m.V, tp, tp_rank)
    lb, le = balanced_range(m.L, pp, pp_rank)
    first, last = pp_rank == 0, pp_rank == pp - 1
    n = 0
    if first:
        n += (v1 - v0) * C + m.P * C
    per_layer = (2 * C + (3 * Cl * C + 3 * Cl) + (C * Cl + C) + 2 * C + (Fl * C + Fl) + (C * Fl + C))
    n += (le - lb) * per_layer
    if last:
        n += 2 * C
        if not first:
            n += (v1 - v0) * C
    return n


def padded(n, dp):
    return (n + dp - 1) // dp * dp


def analytic_bytes(m, T, B, accum, dp, tp, pp, zero1):
    """Bytes rank 0 (dp 0, pp 0, tp 0) hands to each axis' ops in one optimizer step,
    with the counting rules of src/parallel/mpi_communicator.cpp. Returns
    {axis: (bytes, formula)}."""
    N, C = B * T, m.C
    lb, le = balanced_range(m.L, pp, 0)
    Ls = le - lb
    first, last = True, pp == 1
    out = {}
    # TP: per micro-batch f/g all-reduces of N·C floats (2 per block forward, 2 backward),
    # the vocab-parallel embedding sum (first stage), on the last stage the CE partials
    # (max, sum-exp, target logit: 3 N-vectors) and the head's d(ln_f output) all-reduce;
    # per step one f64 grad-norm partial.
    if tp > 1:
        per_micro = 4 * Ls * N * C + (N * C if first else 0) + ((3 * N + N * C) if last else 0)
        b = F32 * accum * per_micro + F64
        f = (f"4*m*(4*Ls*N*C{' + N*C' if first else ''}{' + 3N + N*C' if last else ''}) + 8"
             f" = 4*{accum}*(4*{Ls}*{N}*{C}{' + ' + str(N * C) if first else ''}"
             f"{' + ' + str(3 * N) + ' + ' + str(N * C) if last else ''}) + 8")
        out["tp"] = (b, f)
    else:
        out["tp"] = (0, "0 (tp = 1)")
    # PP (rank 0 = first stage): per micro-batch activations N·C sent forward and their
    # gradient N·C received backward; per step the loss broadcast (f64) and the
    # grad-norm partial all-reduce (f64).
    if pp > 1:
        b = F32 * accum * 2 * N * C + 2 * F64
        out["pp"] = (b, f"4*m*2*N*C + 8 + 8 = 4*{accum}*2*{N}*{C} + 16")
    else:
        out["pp"] = (0, "0 (pp = 1)")
    # DP: plain = one all-reduce of the local (unpadded) gradient slab + the f64 loss;
    # ZeRO-1 = reduce_scatter (counted as its input: the padded slab) + all_gather
    # (counted as its input: one dp-th of the padded slab) + f64 loss + f64 grad-norm.
    n = local_numel(m, tp, pp)
    if dp > 1 and not zero1:
        out["dp"] = (F32 * n + F64, f"4*P_local + 8 = 4*{n} + 8")
    elif dp > 1:
        cap = padded(n, dp)
        out["dp"] = (F32 * cap + F32 * cap // dp + 2 * F64,
                     f"4*S + 4*S/dp + 8 + 8, S = padded slab = {cap}")
    else:
        out["dp"] = (0, "0 (dp = 1)")
    # Embedding group (pp > 1, first and last stage): the tied wte gradient, once per step.
    if pp > 1:
        v0, v1 = balanced_range(m.V, tp, 0)
        out["embedding"] = (F32 * (v1 - v0) * C, f"4*V_local*C = 4*{v1 - v0}*{C}")
    return out


# ---------------------------------------------------------------------------
# running

RUSAGE_WRAPPER = (
    "import resource,subprocess,sys\n"
    "rc=subprocess.call(sys.argv[1:])\n"
    "print('PEAK_RSS_KB=%d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n")


class Runner:
    def __init__(self, args, model, data_path, work):
        self.args, self.model, self.data_path, self.work = args, model, data_path, work
        self.tessera = os.path.join(args.build, "tessera")
        self.counter = 0
        self.env = dict(os.environ)
        self.env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})

    def config_text(self, name, dp, tp, pp, B, accum, steps, zero1):
        run_dir = os.path.join(self.work, name)
        return (f"[model]\n{self.model.toml()}\n"
                f"[data]\npath = \"{self.data_path}\"\nseq_len = {self.args.seq}\nshuffle = true\n"
                "validation_split = \"\"\n\n"
                f"[train]\nmax_steps = {steps}\nmicro_batch_size = {B}\ngrad_accum_steps = {accum}\n"
                "seed = 1234\ngrad_clip = 1.0\neval_interval = 0\neval_batches = 1\nlog_interval = 1\n"
                "device = \"host\"\n\n"
                "[optim]\nlr = 3e-4\nschedule = \"constant\"\n\n"
                f"[checkpoint]\ndir = \"{run_dir}/checkpoints\"\ninterval = 0\nkeep_last = 1\n\n"
                f"[run]\ndir = \"{run_dir}\"\nname = \"{name}\"\n\n"
                f"[parallel]\ndp = {dp}\ntp = {tp}\npp = {pp}\nzero1 = {'true' if zero1 else 'false'}\n"
                f"bucket_mb = {self.args.bucket_mb}\ntimeout_s = {self.args.timeout}\n")

    def run(self, label, dp=1, tp=1, pp=1, B=4, accum=1, steps=None, zero1=False):
        steps = steps or self.args.steps
        self.counter += 1
        name = f"r{self.counter:02d}_{label}"
        cfg = os.path.join(self.work, name + ".toml")
        with open(cfg, "w") as f:
            f.write(self.config_text(name, dp, tp, pp, B, accum, steps, zero1))
        ranks = dp * tp * pp
        cmd = [sys.executable, "-c", RUSAGE_WRAPPER, "mpirun", "-np", str(ranks), "--bind-to", "none",
               self.tessera, "train", cfg]
        load0 = os.getloadavg()[0]
        t0 = time.time()
        p = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=self.args.timeout + 120)
        wall = time.time() - t0
        if p.returncode != 0:
            sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
            raise SystemExit(f"bench_parallel: run {name} failed (exit {p.returncode})")
        rss_kb = 0
        for line in p.stderr.splitlines():
            if line.startswith("PEAK_RSS_KB="):
                rss_kb = int(line.split("=")[1])
        recs = [json.loads(x) for x in open(os.path.join(self.work, name, "metrics.jsonl")) if x.strip()]
        config = next(r for r in recs if r["kind"] == "config")
        train = {r["step"]: r for r in recs if r["kind"] == "train"}
        comm = {r["step"]: r["bytes"] for r in recs if r["kind"] == "comm"}
        timed = [s for s in sorted(train) if s >= self.args.first_timed_step] or sorted(train)
        step_ms = [train[s]["step_ms"] for s in timed]
        comm_timed = [comm[s] for s in timed if s in comm]
        return {"label": label, "dp": dp, "tp": tp, "pp": pp, "B": B, "accum": accum, "zero1": zero1,
                "ranks": ranks, "cores": min(ranks, self.args.cores), "step_ms": step_ms,
                "ms": statistics.median(step_ms), "comm": comm_timed,
                "comm_constant": all(c == comm_timed[0] for c in comm_timed),
                "state_bytes": config["optimizer_state_bytes_per_rank"], "parameters": config["parameters"],
                "peak_rss_mb": rss_kb / 1024.0, "wall_s": wall, "load_before": load0}


def measure_peak_gflops(build):
    """Single-thread sgemm peak from bench_train_step (its peak_gflops), or None."""
    exe = next((e for e in (os.path.join(build, "bench", "bench_train_step"), os.path.join(build, "bench_train_step"))
                if os.access(e, os.X_OK)), None)
    if exe is None:
        return None
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        p = subprocess.run([exe, "--preset", "gpt2-tiny", "--batch", "1", "--seq", "16", "--steps", "1",
                            "--warmup", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=300)
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                return json.loads(line).get("peak_gflops")
    except (subprocess.SubprocessError, ValueError):
        pass
    return None


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--inputs", default="data/kjv/*.txt")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--first-timed-step", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="repeat the timed set, interleaved")
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--accum", type=int, default=4, help="micro-batches for the PP bubble run")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--bucket-mb", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--no-grid8", action="store_true", help="skip the 8-rank 2x2x2 byte check")
    args = ap.parse_args()

    m = Model(args.layers, args.heads, args.width, args.seq, 257)
    T, B, M = args.seq, args.micro_batch, args.accum
    work = tempfile.mkdtemp(prefix="tessera_pbench_")
    try:
        data = os.path.join(work, "kjv.h5")
        inputs = sorted(glob.glob(args.inputs))
        if not inputs:
            raise SystemExit(f"bench_parallel: no input text matches {args.inputs}")
        subprocess.run([os.path.join(args.build, "tessera"), "prepare", "--input", *inputs, "--output", data],
                       check=True, stdout=subprocess.DEVNULL)
        r = Runner(args, m, data, work)
        per_core_peak = measure_peak_gflops(args.build)
        load_start = os.getloadavg()

        # Timed set: every configuration once per round, interleaved.
        timed = [("dp1", dict()), ("dp2", dict(dp=2)), ("tp2", dict(tp=2)), ("pp2", dict(pp=2)),
                 (f"dp1_m{M}", dict(accum=M)), (f"pp2_m{M}", dict(pp=2, accum=M)),
                 ("dp2_zero1", dict(dp=2, zero1=True))]
        runs = {k: [] for k, _ in timed}
        for _ in range(args.rounds):
            for label, kw in timed:
                runs[label].append(r.run(label, B=B, **kw))
        # Byte/state checks: short runs.
        extra = {
            "dp4": r.run("dp4", dp=4, B=B, steps=2),
            "dp4_zero1": r.run("dp4_zero1", dp=4, B=B, steps=2, zero1=True),
        }
        if not args.no_grid8:
            extra["dp2tp2pp2"] = r.run("dp2tp2pp2", dp=2, tp=2, pp=2, B=2, steps=2, accum=2)
        load_end = os.getloadavg()

        def summary(label):
            rs = runs[label]
            x = dict(rs[0])
            x["ms"] = statistics.median([q["ms"] for q in rs])
            x["ms_rounds"] = [round(q["ms"], 2) for q in rs]
            x["peak_rss_mb"] = max(q["peak_rss_mb"] for q in rs)
            x["load"] = [round(q["load_before"], 2) for q in rs]
            return x

        S = {label: summary(label) for label in runs}

        def tokens(x):
            return x["B"] * T * x["accum"] * x["dp"]

        def line_for(x):
            tps = tokens(x) / (x["ms"] * 1e-3)
            gflops = m.flops_per_token(T) * tps * 1e-9
            peak = per_core_peak * x["cores"] if per_core_peak else None
            return {"bench": "parallel",
                    "config": f"{x['label']} dp={x['dp']} tp={x['tp']} pp={x['pp']} B={x['B']} T={T} "
                              f"m={x['accum']}{' zero1' if x['zero1'] else ''}",
                    "ranks": x["ranks"], "cores": x["cores"], "blas_threads_per_rank": 1,
                    "global_batch_tokens": tokens(x), "params": m.num_parameters(),
                    "ms_per_step": round(x["ms"], 3), "ms_per_step_rounds": x["ms_rounds"],
                    "tokens_per_s": round(tps, 1), "gflops": round(gflops, 3),
                    "peak_gflops": round(peak, 2) if peak else None,
                    "peak_ratio": round(gflops / peak, 4) if peak else None,
                    "peak_rss_mb": round(x["peak_rss_mb"], 1), "load_avg_before_runs": x["load"]}

        for label in runs:
            emit(line_for(S[label]))

        # Weak scaling: DP=2 vs DP=1, same per-rank micro-batch.
        d1, d2 = S["dp1"], S["dp2"]
        t1, t2 = tokens(d1) / d1["ms"] * 1e3, tokens(d2) / d2["ms"] * 1e3
        emit({"bench": "parallel_weak_scaling", "config": f"dp2 vs dp1, B={B}/rank T={T}",
              "metric": "tokens_per_s", "baseline": round(t1, 1), "tokens_per_s": round(t2, 1),
              "ratio": round(t2 / t1, 4), "efficiency": round(t2 / (2 * t1), 4),
              "cores": {"dp1": d1["cores"], "dp2": d2["cores"]}, "machine_cores": args.cores,
              "note": "efficiency = tokens/s(dp2) / (2 * tokens/s(dp1)); one BLAS thread per rank"})

        # Overheads at the same global batch: step-time ratio vs 1 rank.
        base1, baseM = S["dp1"], S[f"dp1_m{M}"]
        for label, base, mb in (("tp2", base1, 1), ("pp2", base1, 1), (f"pp2_m{M}", baseM, M)):
            x = S[label]
            o = {"bench": "parallel_overhead", "config": f"{label} vs 1 rank, B={B} T={T} m={mb}",
                 "metric": "ms_per_step", "baseline": round(base["ms"], 3), "ms_per_step": round(x["ms"], 3),
                 "ratio": round(x["ms"] / base["ms"], 4), "cores": {"1rank": base["cores"], label: x["cores"]}}
            if x["pp"] > 1:
                bubble = (x["pp"] - 1) / (mb + x["pp"] - 1)
                o["bubble_fraction"] = round(bubble, 4)
                # With one core per stage, an ideal pipeline takes (m+pp-1)/(m*pp) of the 1-rank time.
                o["ideal_ratio_one_core_per_stage"] = round((mb + x["pp"] - 1) / (mb * x["pp"]), 4)
            else:
                o["ideal_ratio_one_core_per_rank"] = round(1 / x["tp"], 4)
            emit(o)

        # Bytes per step per axis, rank 0, measured vs analytic.
        comm_runs = [S[k] for k in runs] + list(extra.values())
        for x in comm_runs:
            exp = analytic_bytes(m, T, x["B"], x["accum"], x["dp"], x["tp"], x["pp"], x["zero1"])
            meas = x["comm"][0] if x["comm"] else {}
            for axis, (eb, formula) in exp.items():
                mb_ = meas.get(axis)
                emit({"bench": "parallel_comm",
                      "config": f"{x['label']} dp={x['dp']} tp={x['tp']} pp={x['pp']} B={x['B']} m={x['accum']}"
                                f"{' zero1' if x['zero1'] else ''}",
                      "axis": axis, "bytes_per_step": mb_, "baseline": eb, "analytic_formula": formula,
                      "ratio": round(mb_ / eb, 6) if (mb_ is not None and eb) else (1.0 if mb_ == eb else None),
                      "match": mb_ == eb, "constant_over_steps": x["comm_constant"]})

        # Optimizer state per rank, with and without ZeRO-1.
        plain1 = S["dp1"]["state_bytes"]
        for dp, plain, zero in ((2, S["dp2"], S["dp2_zero1"]), (4, extra["dp4"], extra["dp4_zero1"])):
            n = local_numel(m, 1, 1)
            emit({"bench": "parallel_optimizer_state", "config": f"dp={dp} zero1 vs replicated AdamW",
                  "metric": "optimizer_state_bytes_per_rank", "baseline": plain["state_bytes"],
                  "optimizer_state_bytes_per_rank": zero["state_bytes"],
                  "ratio": round(zero["state_bytes"] / plain["state_bytes"], 6), "expected_ratio": 1 / dp,
                  "analytic_zero1": 2 * F32 * padded(n, dp) // dp, "analytic_plain": 2 * F32 * n,
                  "dp1_plain": plain1})

        emit({"bench": "parallel_env", "config": "machine", "machine_cores": args.cores,
              "load_avg_start": [round(v, 2) for v in load_start], "load_avg_end": [round(v, 2) for v in load_end],
              "rounds": args.rounds, "steps": args.steps, "timed_steps": f"{args.first_timed_step}..{args.steps}",
              "per_core_sgemm_peak_gflops": per_core_peak,
              "model": {"n_layer": m.L, "n_head": m.NH, "n_embd": m.C, "vocab_size": m.V, "seq_len": T,
                        "params": m.num_parameters()},
              "bucket_mb": args.bucket_mb})
    finally:
        if args.keep:
            sys.stderr.write(f"bench_parallel: kept {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
