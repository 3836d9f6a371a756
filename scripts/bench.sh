#!/usr/bin/env bash
# Runs Tessera's benchmarks (building first if needed). Each measured configuration
# prints one JSON object per line; with no argument every benchmark runs.
#   scripts/bench.sh                 all
#   scripts/bench.sh train_step      one (bench/bench_<name>.cpp)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi_env.sh
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
[[ -x "$BUILD_DIR/bench_train_step" ]] || scripts/install.sh >&2
cmake --build "$BUILD_DIR" -j"$(nproc)" >&2
which="${1:-all}"
run_train_step() {
  # GPT-2 124M, random init: a short-sequence and a long-sequence configuration.
  "$BUILD_DIR"/bench_train_step --preset gpt2-small --batch 4 --seq 64 --steps 5 --warmup 1
  "$BUILD_DIR"/bench_train_step --preset gpt2-small --batch 8 --seq 512 --steps 2 --warmup 1
}
case "$which" in
  all|train_step) run_train_step ;;
  *) echo "bench.sh: unknown benchmark '$which' (known: train_step)" >&2; exit 2 ;;
esac
