#!/usr/bin/env bash
# Activation recomputation on GPT-2 124M (random init: memory and time do not depend on the
# weights) at T=1024: peak RSS and step time for train.recompute = none / selective / full.
# One process per (round, mode) so each peak RSS is that mode's own; rounds interleave the
# modes so a load that comes and goes hits all of them. Prints one JSON line per run.
#   scripts/bench_recompute.sh [BUILD_DIR] [ROUNDS] [BATCH] [SEQ] [STEPS]
set -euo pipefail
BUILD_DIR=${1:-build}
ROUNDS=${2:-2}
B=${3:-1}
T=${4:-1024}
STEPS=${5:-2}
for r in $(seq 1 "$ROUNDS"); do
  for mode in none selective full; do
    "$BUILD_DIR"/bench/bench_train_step --preset gpt2-small --batch "$B" --seq "$T" --steps "$STEPS" --warmup 1 \
      --dropout 0.1 --recompute "$mode" --peak-n 1024 | sed "s/^{/{\"round\":$r,/"
  done
done
