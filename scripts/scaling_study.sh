#!/usr/bin/env bash
# Strong- and weak-scaling study of `tessera train` over a matrix of grids and
# problem sizes; collects rank 0's JSON step records and plots them.
#
#   scripts/scaling_study.sh [OUTDIR]           run every entry locally with mpirun, then report
#   scripts/scaling_study.sh list               the matrix: index name mode ranks dp tp pp micro_batch
#   scripts/scaling_study.sh run-one I OUTDIR   run entry I (what jobs/scaling.sbatch's array task I does)
#   scripts/scaling_study.sh report OUTDIR      OUTDIR/scaling.md (table) + PNG plots (scripts/tools/plot_scaling.py)
#
# The matrix, for every R in SCALING_RANKS:
#   strong-dp-R  dp=R, micro-batch = SCALING_GLOBAL_BATCH / R   (fixed global batch: time/step should fall as 1/R)
#   weak-dp-R    dp=R, micro-batch = SCALING_MICRO_BATCH         (fixed work per rank: time/step should stay flat)
#   strong-tp-R  (R>1) tp=2, dp=R/2, micro-batch = SCALING_GLOBAL_BATCH / dp (tensor parallel, same global batch)
# Knobs: SCALING_RANKS ("1 2 4"), SCALING_STEPS (20), SCALING_WARMUP (3 steps left out of timings),
#   SCALING_GLOBAL_BATCH (8), SCALING_MICRO_BATCH (4), SCALING_SEQ (64), SCALING_LAYERS (4),
#   SCALING_EMBD (128), SCALING_HEADS (4), SCALING_DATA (a tessera dataset; default: prepared from
#   data/kjv/08_ruth.txt into OUTDIR), TESSERA_BUILD (build dir, default build), TESSERA_LAUNCHER
#   (mpirun outside Slurm, srun inside an allocation), TESSERA_RUNS (default runs).
# Each entry writes OUTDIR/<name>/{entry.json,config.toml,metrics.jsonl,stdout.txt}. See docs/scaling.md.
set -euo pipefail
ROOT=${TESSERA_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${TESSERA_BUILD:-$ROOT/build}
EXE=$BUILD/tessera
RANKS=${SCALING_RANKS:-1 2 4}
STEPS=${SCALING_STEPS:-20}
GLOBAL_BATCH=${SCALING_GLOBAL_BATCH:-8}
MICRO_BATCH=${SCALING_MICRO_BATCH:-4}
SEQ=${SCALING_SEQ:-64}
LAYERS=${SCALING_LAYERS:-4}
EMBD=${SCALING_EMBD:-128}
HEADS=${SCALING_HEADS:-4}
die() { echo "scaling_study: error: $*" >&2; exit 1; }

# Prints "name mode ranks dp tp pp micro_batch" per entry, in index order.
matrix() {
  local r
  for r in $RANKS; do echo "strong-dp-$r strong $r $r 1 1 $((GLOBAL_BATCH / r))"; done
  for r in $RANKS; do echo "weak-dp-$r weak $r $r 1 1 $MICRO_BATCH"; done
  for r in $RANKS; do
    ((r > 1 && r % 2 == 0)) && echo "strong-tp-$r strong-tp $r $((r / 2)) 2 1 $((GLOBAL_BATCH / (r / 2)))"
  done
  return 0
}

dataset() {  # dataset OUTDIR → path of the dataset (prepared once)
  local out=$1
  if [[ -n ${SCALING_DATA:-} ]]; then echo "$SCALING_DATA"; return; fi
  local d=$out/ruth.h5
  if [[ ! -f $d ]]; then
    (flock 9; [[ -f $d ]] || "$EXE" prepare --input "$ROOT/data/kjv/08_ruth.txt" --output "$d.tmp.$$" \
      --validation-fraction 0.1 --doc-separator line >&2 && mv "$d.tmp.$$" "$d") 9>"$out/.prepare.lock"
  fi
  echo "$d"
}

run_one() {
  local idx=${1:?index} out=${2:?outdir} line name mode ranks dp tp pp mb dir data
  [[ -x $EXE ]] || die "tessera executable '$EXE' not found (set TESSERA_BUILD)"
  mkdir -p "$out"
  line=$(matrix | sed -n "$((idx + 1))p")
  [[ -n $line ]] || die "no matrix entry $idx ($(matrix | wc -l) entries: see '$0 list')"
  read -r name mode ranks dp tp pp mb <<<"$line"
  ((mb >= 1)) || die "entry $name: micro-batch $mb < 1 (raise SCALING_GLOBAL_BATCH)"
  data=$(dataset "$out")
  dir=$out/$name
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/config.toml" <<EOF
# scaling study entry $name (scripts/scaling_study.sh)
[model]
n_layer = $LAYERS
n_head = $HEADS
n_embd = $EMBD
n_positions = $SEQ
vocab_size = 257
[data]
path = "$data"
seq_len = $SEQ
[train]
max_steps = $STEPS
micro_batch_size = $mb
grad_accum_steps = 1
seed = 1
eval_interval = 0
eval_batches = 1
log_interval = 1
[optim]
lr = 1e-3
warmup_steps = 2
[checkpoint]
interval = 0
keep_last = 1
[run]
dir = "$dir"
name = "$name"
[parallel]
dp = $dp
tp = $tp
pp = $pp
EOF
  printf '{"name":"%s","mode":"%s","ranks":%d,"dp":%d,"tp":%d,"pp":%d,"micro_batch":%d,"global_batch":%d,"seq_len":%d,"steps":%d,"warmup":%d,"launcher":"%s","host":"%s"}\n' \
    "$name" "$mode" "$ranks" "$dp" "$tp" "$pp" "$mb" "$((mb * dp))" "$SEQ" "$STEPS" "${SCALING_WARMUP:-3}" \
    "$LAUNCHER" "$(hostname -s)" >"$dir/entry.json"
  echo "scaling_study: $name: $ranks ranks (dp $dp × tp $tp × pp $pp), micro-batch $mb, $STEPS steps via $LAUNCHER" >&2
  local rc=0
  case $LAUNCHER in
    srun) srun --mpi=pmix -n "$ranks" --kill-on-bad-exit=1 "$EXE" train "$dir/config.toml" --run-dir "$dir" >"$dir/stdout.txt" 2>&1 || rc=$? ;;
    mpirun) mpirun -np "$ranks" "$EXE" train "$dir/config.toml" --run-dir "$dir" >"$dir/stdout.txt" 2>&1 || rc=$? ;;
    *) die "TESSERA_LAUNCHER must be srun or mpirun" ;;
  esac
  rm -rf "$dir/checkpoints"  # only the timings matter
  ((rc == 0)) || { tail -5 "$dir/stdout.txt" >&2; die "entry $name failed (exit $rc): $dir/stdout.txt"; }
}

[[ -r $ROOT/scripts/mpi_env.sh ]] && source "$ROOT/scripts/mpi_env.sh"
LAUNCHER=${TESSERA_LAUNCHER:-$([[ -n ${SLURM_JOB_ID:-} ]] && echo srun || echo mpirun)}
cmd=${1:-all}
case $cmd in
  list) matrix | nl -v0 -w2 -s' ' ;;
  run-one) shift; run_one "$@" ;;
  report) /usr/bin/python3 "$ROOT/scripts/tools/plot_scaling.py" "${2:?usage: report OUTDIR}" ;;
  all | *)
    [[ $cmd == all ]] && out=${TESSERA_RUNS:-$ROOT/runs}/scaling-local || out=$cmd
    n=$(matrix | wc -l)
    for ((i = 0; i < n; i++)); do run_one "$i" "$out"; done
    /usr/bin/python3 "$ROOT/scripts/tools/plot_scaling.py" "$out"
    ;;
esac
