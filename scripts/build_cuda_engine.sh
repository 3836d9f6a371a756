#!/usr/bin/env bash
# The whole engine (src/, io/, the CLI, bench/) against the CUDA Kokkos, nvcc through Kokkos'
# nvcc_wrapper, into $BUILD_DIR-cuda-full (docs/architecture.md "Memory spaces"). No GPU is needed.
#   scripts/build_cuda_engine.sh full     tessera + bench_train_step, compiled and linked (~17 min cold
#                                         on the 2-core VM; gpu_check.sh stage 2)
#   scripts/build_cuda_engine.sh subset   the objects of the device training step only (CI: install.sh):
#                                         model forward/backward/init, trainer, gradient sync, ZeRO-1,
#                                         process grid + NCCL / host-staged communicators, device bf16 GEMM
# Prints the Kokkos prefix it used on the last line. Env: CUDA_HOME (/usr/local/cuda), TESSERA_BUILD_DIR
# (build), TESSERA_JOBS (nproc), TESSERA_CMAKE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-subset}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
JOBS=${TESSERA_JOBS:-$(nproc)}
FULL=$BUILD_DIR-cuda-full
[[ -x "$CUDA_HOME/bin/nvcc" ]] || { echo "build_cuda_engine.sh: no nvcc at $CUDA_HOME/bin" >&2; exit 1; }
export PATH=$CUDA_HOME/bin:$PATH CUDA_ROOT=$CUDA_HOME
KOKKOS_CUDA=$(CUDA_HOME=$CUDA_HOME TESSERA_JOBS=$JOBS scripts/build_kokkos.sh cuda | tail -1)
SM=$(grep -o -E "sm_[0-9]+" "$KOKKOS_CUDA/.tessera-arch" 2>/dev/null || echo sm_80)
# Makefiles: the per-object targets below are the Makefile generator's (src/x.cpp.o).
cmake -S . -B "$FULL" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$KOKKOS_CUDA" \
  -DCMAKE_CXX_COMPILER="$KOKKOS_CUDA/bin/nvcc_wrapper" -DCMAKE_CXX_FLAGS="-arch=$SM" -DCUDAToolkit_ROOT="$CUDA_HOME" \
  -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_FUZZ=OFF ${TESSERA_CMAKE_ARGS:-} | grep -E "^-- Tessera|Error|error" >&2 || true
case "$MODE" in
  full) cmake --build "$FULL" -j"$JOBS" --target tessera bench_train_step >&2 ;;
  subset)
    objects=(kernels/gemm_device_bf16.cpp.o src/model/transformer.cpp.o src/model/transformer_forward.cpp.o
             src/model/transformer_backward.cpp.o src/train/trainer.cpp.o src/train/gradient_sync.cpp.o
             src/train/zero_adamw.cpp.o src/parallel/process_grid.cpp.o src/parallel/host_staged_communicator.cpp.o
             src/parallel/nccl_communicator.cpp.o)
    present=()
    for o in "${objects[@]}"; do  # nccl_communicator only where CMake found NCCL
      if grep -q "^$o:" "$FULL/Makefile"; then present+=("$o"); else echo "build_cuda_engine.sh: $o not in this build" >&2; fi
    done
    cmake --build "$FULL" -j"$JOBS" --target "${present[@]}" >&2 ;;
  *) echo "build_cuda_engine.sh: mode must be full or subset (got '$MODE')" >&2; exit 2 ;;
esac
echo "$KOKKOS_CUDA"
