#!/usr/bin/env bash
# On a machine with a CUDA GPU: builds the CUDA variants and runs the GPU checks, one line per stage
# (PASS / FAIL / SKIP), in well under 10 minutes on one H100. Never run in CI (there is no GPU there).
#   scripts/gpu_check.sh            [CUDA_HOME=/usr/local/cuda] [TESSERA_CUDA_ARCH=AMPERE80]
# Stages:
#   1 kernels  build-cuda/ (Kokkos CUDA backend + nvcc, cuBLAS): ctest -L 'cuda-build|gpu' — every kernel's
#              output on the GPU against the host Serial build (tests/gpu/test_gpu_kernels.cpp)
#   2 engine   build-cuda-full/: the whole application (src/, CLI, bench) against the CUDA Kokkos
#   3 train    2 GPT-2 training steps on the GPU (device = "cuda"), loss finite
#   4 generate greedy generation from that checkpoint
#   5 bench    bench_train_step GPT-2 124M B=8 T=512 on the GPU; MFU against the H100's dense peaks
#              (fp32 non-tensor 67 TFLOP/s, bf16 tensor 989 TFLOP/s; SXM, NVIDIA's data sheet)
# Stages 3-5 run the engine on the device, which compiles and links for CUDA (CI compiles the training
# step's objects, see scripts/build_cuda_engine.sh) but has never run on a GPU (docs/status.md "GPU path");
# the script reports what fails instead of stopping at the first failure. The CUDA engine refuses
# device = "host" and tp/pp > 1 (only dp reductions go through NCCL); stages 3-5 use one rank.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi_env.sh
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
export PATH=$CUDA_HOME/bin:$PATH CUDA_ROOT=$CUDA_HOME
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
JOBS=${TESSERA_JOBS:-$(nproc)}
OUT=${TESSERA_GPU_CHECK_OUT:-runs/gpu_check}
mkdir -p "$OUT"
t0=$SECONDS
fails=0
stage() { echo "gpu_check: [$(( SECONDS - t0 ))s] $*"; }
fail() { stage "FAIL $*"; fails=$((fails + 1)); }

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  stage "SKIP: no GPU visible (nvidia-smi -L failed)"
  exit 2
fi
stage "GPU: $(nvidia-smi -L | head -1)"
[[ -x "$CUDA_HOME/bin/nvcc" ]] || { stage "FAIL: no nvcc at $CUDA_HOME/bin"; exit 1; }

# 0: host build + OpenMP + CUDA kernels variants (install.sh skips what is built)
TESSERA_JOBS=$JOBS scripts/install.sh >"$OUT/install.log" 2>&1 || { fail "install.sh (see $OUT/install.log)"; exit 1; }
KOKKOS_CUDA=$(scripts/build_kokkos.sh cuda 2>>"$OUT/install.log" | tail -1)
SM=$(cat "$KOKKOS_CUDA/.tessera-arch" 2>/dev/null || echo sm_80)

# 1: kernels on the GPU vs the host
if (cd "$BUILD_DIR" && ctest -L 'cuda-build|gpu' --output-on-failure) >"$OUT/kernels.log" 2>&1; then
  stage "PASS kernels: $(grep -h 'kernel records bitwise' "$OUT/kernels.log" | head -1 || true)"
  grep -q "Skipped" "$OUT/kernels.log" && stage "  (some GPU tests skipped: see $OUT/kernels.log)"
else
  fail "kernels (see $OUT/kernels.log)"
fi

# 1b: the cuBLAS glue (fp32/fp64 GEMMs vs host BLAS, bf16 cublasGemmEx vs an fp64 loop, device memory)
if "$BUILD_DIR"/tessera_cuda_check >"$OUT/cuda_check.log" 2>&1; then
  stage "PASS cuBLAS glue: $(grep -c max_rel_diff "$OUT/cuda_check.log") GEMM checks (bf16 included)"
else
  fail "cuBLAS glue (see $OUT/cuda_check.log)"
fi

# 2: the whole engine against the CUDA Kokkos
FULL=$BUILD_DIR-cuda-full
# (scripts/build_cuda_engine.sh full: ~17 CPU-minutes, so a few minutes on 16 cores)
if TESSERA_BUILD_DIR=$BUILD_DIR TESSERA_JOBS=$JOBS timeout 420 scripts/build_cuda_engine.sh full >"$OUT/engine.log" 2>&1; then
  stage "PASS engine: $FULL/tessera built for CUDA"
else
  fail "engine build for CUDA (first errors:)"
  grep -m 10 -E "error" "$OUT/engine.log" | sed 's/^/gpu_check:   /'
  stage "stages 3-5 need the engine: not run"
  stage "done: $fails failed, $(( SECONDS - t0 ))s"
  exit 1
fi

# 3: two GPT-2 training steps on the GPU (the README demo's model, 2 steps)
RUN=$OUT/train
rm -rf "$RUN"; mkdir -p "$RUN"
"$BUILD_DIR"/tessera prepare --input data/kjv/*.txt --output "$RUN/kjv.h5" >"$RUN/prepare.log" 2>&1 ||
  fail "prepare the KJV byte data (see $RUN/prepare.log)"
sed -e 's/^max_steps = .*/max_steps = 2/' -e 's/^device = .*/device = "cuda"/' -e 's/^eval_interval = .*/eval_interval = 2/' \
  -e "s|^path = .*|path = \"$RUN/kjv.h5\"|" jobs/configs/gpt2_kjv_demo.toml >"$RUN/cfg.toml"
if timeout 180 "$FULL"/tessera train "$RUN/cfg.toml" --run-dir "$RUN" >"$RUN/train.log" 2>&1 &&
   grep -q '"step": *2' "$RUN"/metrics.jsonl 2>/dev/null; then
  stage "PASS train: $(grep '"step": *2' "$RUN"/metrics.jsonl | head -1)"
else
  fail "train (see $RUN/train.log)"
fi

# 4: generation from that checkpoint
if timeout 60 "$FULL"/tessera generate "$RUN/cfg.toml" --run-dir "$RUN" --prompt "In the beginning" \
     --max-new-tokens 32 >"$RUN/generate.log" 2>&1; then
  stage "PASS generate: $(tail -1 "$RUN/generate.log" | cut -c1-80)"
else
  fail "generate (see $RUN/generate.log)"
fi

# 5: train-step benchmark with MFU against the H100 peaks
if timeout 240 "$FULL"/bench/bench_train_step --preset gpt2-small --batch 8 --seq 512 --steps 3 --warmup 1 \
     >"$OUT/bench.jsonl" 2>"$OUT/bench.err"; then
  python3 - "$OUT/bench.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try: r = json.loads(line)
    except ValueError: continue
    if "gflops" in r:
        g = r["gflops"]
        print(f"gpu_check: bench {r.get('config')}: {r.get('ms_per_step')} ms/step, {r.get('tokens_per_s')} tokens/s, "
              f"{g:.0f} GFLOP/s = MFU {g / 67e3:.1%} of fp32 67 TFLOP/s, {g / 989e3:.1%} of bf16 989 TFLOP/s")
EOF
else
  fail "bench (see $OUT/bench.err)"
fi
stage "done: $fails failed, $(( SECONDS - t0 ))s"
exit $((fails > 0))
