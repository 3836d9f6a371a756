#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, then trains a small
# GPT-2 on the bundled King James text (data/kjv), validates it (loss, perplexity),
# checkpoints it, and generates a sample from the checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi_env.sh
scripts/install.sh
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
RUN_DIR=runs/demo
mkdir -p "$RUN_DIR"
echo "== prepare: data/kjv/*.txt -> $RUN_DIR/kjv.h5"
"$BUILD_DIR"/tessera prepare --input data/kjv/*.txt --output "$RUN_DIR"/kjv.h5 --validation-fraction 0.05
"$BUILD_DIR"/tessera inspect "$RUN_DIR"/kjv.h5
echo "== train: jobs/configs/gpt2_kjv_demo.toml"
"$BUILD_DIR"/tessera train jobs/configs/gpt2_kjv_demo.toml
echo "== eval + generate from the last checkpoint"
"$BUILD_DIR"/tessera eval jobs/configs/gpt2_kjv_demo.toml
"$BUILD_DIR"/tessera generate jobs/configs/gpt2_kjv_demo.toml --prompt "And God said" --max-new-tokens 200 --temperature 0.8
