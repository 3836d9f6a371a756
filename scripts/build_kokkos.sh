#!/usr/bin/env bash
# Builds Kokkos' core library (no kernels, tests or examples) from a registry source and
# installs it under .cache/kokkos/<version>-<backend>/install, once per machine.
#   scripts/build_kokkos.sh openmp     Serial + OpenMP host backends
#   scripts/build_kokkos.sh cuda       Serial + CUDA backend through nvcc (compile/link only
#                                      needs no GPU); CUDA_HOME / TESSERA_CUDA_ARCH pick the
#                                      toolkit and the architecture (default AMPERE80)
# Prints the install prefix on its last line (use it as Kokkos_ROOT).
#
# Source: the Kokkos 3.4.01 tree that PyPI's pykokkos-base 0.0.7 sdist vendors
# (external/kokkos), checked by sha256. It is the newest Kokkos reachable from the
# registries this project may use: Debian bookworm's pool carries only trilinos 13.2
# (Kokkos 3.4.01 as well, 165 MB); the standalone `kokkos` source package (5.x) and
# trilinos 16 are listed in the newer suites' indices but not served by the pool.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:?usage: scripts/build_kokkos.sh openmp|cuda}

KOKKOS_VERSION=3.4.01
SDIST=pykokkos-base-0.0.7.tar.gz
SDIST_URL=https://files.pythonhosted.org/packages/1d/2e/e3e6035ba1b7358033ad15e07ed0d49ba1b1298fdfa9ea8814a8ccc39df8/$SDIST
SDIST_SHA256=6339daced1e81a2748f381847d8717cd77d824407da3c263b9491b5630c642b0

mkdir -p .cache/kokkos
ROOT=$(cd .cache/kokkos && pwd -P)  # .cache may be a link shared by several checkouts
SRC=$ROOT/src-$KOKKOS_VERSION
LOGDIR=$ROOT/$KOKKOS_VERSION-$BACKEND
PREFIX=$LOGDIR/install
BUILD=$LOGDIR/build

if [[ -f "$PREFIX/.tessera-complete" ]]; then
  echo "build_kokkos.sh: Kokkos $KOKKOS_VERSION ($BACKEND) already built" >&2
  echo "$PREFIX"
  exit 0
fi

if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
  tmp=$(mktemp -d "$ROOT/fetch.XXXXXX")
  echo "build_kokkos.sh: fetching $SDIST from PyPI" >&2
  curl -fsSL --retry 3 -o "$tmp/$SDIST" "$SDIST_URL"
  echo "$SDIST_SHA256  $tmp/$SDIST" | sha256sum -c --quiet -
  tar xzf "$tmp/$SDIST" -C "$tmp" pykokkos-base-0.0.7/external/kokkos
  rm -rf "$SRC"
  mv "$tmp/pykokkos-base-0.0.7/external/kokkos" "$SRC"
  rm -rf "$tmp"
fi

LAUNCHER=()
if command -v ccache >/dev/null; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

case "$BACKEND" in
  openmp)
    OPTS=(-DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON)
    ;;
  cuda)
    CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
    [[ -x "$CUDA_HOME/bin/nvcc" ]] || { echo "build_kokkos.sh: no nvcc at $CUDA_HOME/bin/nvcc (set CUDA_HOME)" >&2; exit 1; }
    export CUDA_ROOT=$CUDA_HOME PATH=$CUDA_HOME/bin:$PATH
    ARCH=${TESSERA_CUDA_ARCH:-AMPERE80}
    # nvcc_wrapper's own default (sm_35) is gone from CUDA >= 12: CMake's compiler probes need an -arch.
    case "$ARCH" in AMPERE80) SM=sm_80 ;; AMPERE86) SM=sm_86 ;; VOLTA70) SM=sm_70 ;; *) SM=sm_80 ;; esac
    # nvcc_wrapper makes g++ command lines go through nvcc; ccache goes in front of it.
    # Kokkos 3.4 predates CUDA 12/13: half_t → __half is an explicit conversion in their cuda_fp16.h and
    # __half2double is gone; CUDA 13 takes a cudaMemLocation in cudaMemPrefetchAsync. The patch spells
    # these out (applied once; the host backends never compile these files).
    PATCH=$PWD/scripts/kokkos-3.4.01-cuda13.patch
    if ! patch -R --dry-run -s -f -p1 -d "$SRC" <"$PATCH" >/dev/null 2>&1; then
      patch -s -p1 -d "$SRC" <"$PATCH"
    fi
    OPTS=(-DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_CUDA_LAMBDA=ON
          -DKokkos_ARCH_${ARCH}=ON -DCMAKE_CXX_COMPILER="$SRC/bin/nvcc_wrapper"
          -DCUDAToolkit_ROOT="$CUDA_HOME" -DCMAKE_CXX_FLAGS="-arch=$SM")
    ;;
  *) echo "build_kokkos.sh: unknown backend '$BACKEND' (expected openmp or cuda)" >&2; exit 2 ;;
esac

echo "build_kokkos.sh: building Kokkos $KOKKOS_VERSION core ($BACKEND) into $PREFIX" >&2
rm -rf "$BUILD"; mkdir -p "$LOGDIR"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DCMAKE_CXX_STANDARD=17 -DKokkos_ENABLE_TESTS=OFF -DKokkos_ENABLE_EXAMPLES=OFF \
  -DKokkos_ENABLE_BENCHMARKS=OFF -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  "${LAUNCHER[@]}" "${OPTS[@]}" >"$LOGDIR/configure.log" 2>&1 ||
  { tail -30 "$LOGDIR/configure.log" >&2; exit 1; }
cmake --build "$BUILD" -j"${TESSERA_JOBS:-$(nproc)}" >"$LOGDIR/build.log" 2>&1 ||
  { grep -E "error|Error" "$LOGDIR/build.log" | head -30 >&2; exit 1; }
cmake --install "$BUILD" >/dev/null
[[ "$BACKEND" == cuda ]] && echo "$SM" >"$PREFIX/.tessera-arch"
touch "$PREFIX/.tessera-complete"
echo "$PREFIX"
