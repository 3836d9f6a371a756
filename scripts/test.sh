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
cd "$BUILD_DIR"
ctest --output-on-failure -j"${TESSERA_TEST_JOBS:-2}" --timeout 900 "$@"
