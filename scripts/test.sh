#!/usr/bin/env bash
# Installs, builds and runs the whole test suite with ctest.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L gradcheck
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi_env.sh
scripts/install.sh
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
cmake --build "$BUILD_DIR" --target tessera_cuda_check 2>/dev/null && \
  echo "test.sh: CUDA glue built and linked: $(ls "$BUILD_DIR"/tessera_cuda_check) ($(ldd "$BUILD_DIR"/tessera_cuda_check | grep -o -E 'lib(cublas|cudart)[^ ]*' | sort -u | tr '\n' ' '))" || \
  echo "test.sh: CUDA glue not built (no CUDA toolkit)"
CUDA_DUMP="$BUILD_DIR-cuda/tessera_kernel_dump"
if [[ -x "$CUDA_DUMP" ]] && readelf -S -W "$CUDA_DUMP" | grep nv_fatbin >/dev/null; then
  echo "test.sh: CUDA variant (Kokkos CUDA backend + nvcc) compiled and linked: $CUDA_DUMP ($(ldd "$CUDA_DUMP" | grep -o -E 'lib(cublas|cudart)\.so[^ ]*' | sort -u | tr '\n' ' ')device code $(cat .cache/kokkos/*-cuda/install/.tessera-arch 2>/dev/null | head -1))"
else
  echo "test.sh: CUDA variant not built (no nvcc at ${CUDA_HOME:-/usr/local/cuda}/bin)"
fi
ENGINE="$BUILD_DIR-cuda-full"
ENGINE_OBJ="$ENGINE/CMakeFiles/tessera_core.dir"
if [[ -x "$ENGINE/tessera" && -x "$ENGINE/bench/bench_train_step" ]] && readelf -S -W "$ENGINE/tessera" | grep nv_fatbin >/dev/null; then
  echo "test.sh: CUDA engine (tessera, bench_train_step) compiled and linked with nvcc: $ENGINE ($(ldd "$ENGINE/tessera" | grep -o -E 'lib(cublas|cudart|nccl)\.so[^ ]*' | sort -u | tr '\n' ' '))"
elif [[ -f "$ENGINE_OBJ/src/model/transformer_forward.cpp.o" ]] && readelf -S -W "$ENGINE_OBJ/src/model/transformer_forward.cpp.o" | grep nv_fatbin >/dev/null; then
  echo "test.sh: CUDA engine training step compiled with nvcc (subset: $(find "$ENGINE_OBJ" -name '*.o' | wc -l) objects with device code in $ENGINE_OBJ; model forward/backward, trainer, gradient sync, ZeRO-1, NCCL/host-staged communicators, device bf16 GEMM; the full link is scripts/build_cuda_engine.sh full)"
else
  echo "test.sh: CUDA engine not built (no nvcc at ${CUDA_HOME:-/usr/local/cuda}/bin)"
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j"${TESSERA_TEST_JOBS:-2}" --timeout 900 "$@"
