#!/usr/bin/env bash
# Installs the Python tools the tests use into a private directory (never into the
# system's site-packages): the PyPI `gguf` package (llama.cpp's reference GGUF
# reader), which tests/compress/test_gguf_export.cpp runs on the GGUF files
# `tessera export --format gguf` writes.
#   scripts/fetch_pytools.sh      install what is missing into ${TESSERA_PYLIB:-.cache/pylib}
# gguf==0.17.1 is pure Python: pip download --no-deps, sha256 checked, then
# pip install --no-deps --no-index --target. Its dependencies come from Debian
# (scripts/install.sh): numpy (python3-numpy) and PyYAML (python3-yaml); its third
# one, tqdm, is only imported by gguf's writer for a progress bar and not needed.
# Idempotent; exits non-zero, naming the step, when something fails.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYLIB=${TESSERA_PYLIB:-$REPO/.cache/pylib}
DL=${TESSERA_ASSETS:-$REPO/.cache/assets}/_downloads/pypi
PY=/usr/bin/python3
VERSION=0.17.1
WHEEL=gguf-$VERSION-py3-none-any.whl
SHA=7bc5aa7eeb1931f7d39b48fdc5b38fda6b294b9dca75cf607ac69557840a3943
die() { echo "fetch_pytools.sh: ERROR: $*" >&2; exit 1; }

check() { PYTHONPATH="$PYLIB" "$PY" -c "
import importlib.metadata as m, gguf.quants, gguf.gguf_reader
assert m.version('gguf') == '$VERSION', m.version('gguf')" 2>/dev/null; }
if check; then echo "fetch_pytools.sh: gguf $VERSION present in $PYLIB"; exit 0; fi

"$PY" -c "import numpy, yaml" 2>/dev/null || die "gguf needs numpy and PyYAML: apt-get install python3-numpy python3-yaml"
mkdir -p "$DL" "$PYLIB"
if [[ ! -f "$DL/$WHEEL" ]] || ! echo "$SHA  $DL/$WHEEL" | sha256sum -c --quiet - 2>/dev/null; then
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$DL" "gguf==$VERSION" ||
    die "pip download gguf==$VERSION failed (PyPI unreachable?)"
fi
echo "$SHA  $DL/$WHEEL" | sha256sum -c --quiet - || die "$DL/$WHEEL: sha256 mismatch"
"$PY" -m pip install --quiet --no-deps --no-index --upgrade --target "$PYLIB" "$DL/$WHEEL" ||
  die "pip install --target $PYLIB failed"
check || die "gguf is not importable from $PYLIB after installing"
echo "fetch_pytools.sh: installed gguf $VERSION into $PYLIB"
