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
if [[ -x "$CUDA_DUMP" ]] && readelf -S -W "$CUDA_DUMP" | grep -q nv_fatbin; then
  echo "test.sh: CUDA variant (Kokkos CUDA backend + nvcc) compiled and linked: $CUDA_DUMP ($(ldd "$CUDA_DUMP" | grep -o -E 'lib(cublas|cudart)\.so[^ ]*' | sort -u | tr '\n' ' ')device code $(cat .cache/kokkos/*-cuda/install/.tessera-arch 2>/dev/null | head -1))"
else
  echo "test.sh: CUDA variant not built (no nvcc at ${CUDA_HOME:-/usr/local/cuda}/bin)"
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j"${TESSERA_TEST_JOBS:-2}" --timeout 900 "$@"
