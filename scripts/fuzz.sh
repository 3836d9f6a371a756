#!/usr/bin/env bash
# Builds Tessera's libFuzzer targets (fuzz/, clang, ASan+UBSan) and runs each for
# SECONDS over its committed seed corpus fuzz/corpus/<target>/, printing libFuzzer's
# final stats (executions, coverage) and a summary line per target.
#
#   scripts/fuzz.sh [SECONDS=60] [TARGET...]       default: every target built
#
# Environment: TESSERA_FUZZ_BUILD (build dir, default <repo>/build-fuzz),
#   TESSERA_FUZZ_JOBS (build -j, default 2), TESSERA_FUZZ_MAX_LEN (default 65536),
#   TESSERA_FUZZ_PARALLEL=1 to run the targets concurrently.
# New corpus entries go to <build>/work/<target>/ (the seed corpus is never written);
# crashes to <build>/artifacts/<target>-crash-*. Exits non-zero when clang/libFuzzer
# is missing (Debian: apt-get install clang libclang-rt-14-dev), the build fails, or
# any target finds a crash, leak, timeout or sanitizer error.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER=${1:-60}
shift || true
BUILD=${TESSERA_FUZZ_BUILD:-$REPO/build-fuzz}
JOBS=${TESSERA_FUZZ_JOBS:-2}
MAX_LEN=${TESSERA_FUZZ_MAX_LEN:-65536}
die() { echo "fuzz.sh: ERROR: $*" >&2; exit 1; }

CXX_BIN=$(command -v clang++ || command -v clang++-14 || command -v clang++-15 || command -v clang++-16 || true)
CC_BIN=$(command -v clang || command -v clang-14 || command -v clang-15 || command -v clang-16 || true)
[[ -n $CXX_BIN && -n $CC_BIN ]] ||
  die "clang++ not found: libFuzzer needs clang. Install it: apt-get install -y clang libclang-rt-14-dev"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t){return 0;}\n' > "$probe/p.cpp"
"$CXX_BIN" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2> "$probe/err" ||
  { cat "$probe/err" >&2; die "$CXX_BIN cannot link -fsanitize=fuzzer (libFuzzer runtime missing): apt-get install -y clang libclang-rt-14-dev"; }

echo "fuzz.sh: building fuzz targets with $CXX_BIN in $BUILD"
mkdir -p "$BUILD"
cmake -S "$REPO/fuzz" -B "$BUILD" -DCMAKE_C_COMPILER="$CC_BIN" -DCMAKE_CXX_COMPILER="$CXX_BIN" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log" >&2; die "configuring fuzz/ failed"; }
cmake --build "$BUILD" -j"$JOBS" --target tessera_fuzzers || die "building the fuzz targets failed"

if (($# == 0)); then
  set --
  for t in fuzz_safetensors fuzz_gguf fuzz_hf_config fuzz_bpe_vocab_merges fuzz_tiktoken fuzz_wordpiece_vocab fuzz_gguf_tokenizer; do
    [[ -x $BUILD/$t ]] && set -- "$@" "$t"
  done
fi
(($# > 0)) || die "no fuzz targets were built"
mkdir -p "$BUILD/artifacts" "$BUILD/logs"

run_one() {
  local t=$1
  local seeds=$REPO/fuzz/corpus/$t
  [[ -x $BUILD/$t ]] || { echo "fuzz.sh: $t: not built" >&2; return 1; }
  [[ -d $seeds ]] || { echo "fuzz.sh: $t: no seed corpus $seeds" >&2; return 1; }
  mkdir -p "$BUILD/work/$t"
  "$BUILD/$t" -max_total_time="$SECONDS_PER" -print_final_stats=1 -max_len="$MAX_LEN" -rss_limit_mb=4096 \
    -timeout=30 -artifact_prefix="$BUILD/artifacts/$t-" "$BUILD/work/$t" "$seeds" > "$BUILD/logs/$t.log" 2>&1
}

declare -A RC
if [[ ${TESSERA_FUZZ_PARALLEL:-0} == 1 ]]; then
  declare -A PIDS
  for t in "$@"; do echo "fuzz.sh: $t: ${SECONDS_PER}s"; run_one "$t" & PIDS[$t]=$!; done
  for t in "$@"; do if wait "${PIDS[$t]}"; then RC[$t]=0; else RC[$t]=$?; fi; done
else
  for t in "$@"; do
    echo "fuzz.sh: $t: ${SECONDS_PER}s over fuzz/corpus/$t"
    if run_one "$t"; then RC[$t]=0; else RC[$t]=$?; fi
  done
fi

fail=0
echo
printf '%-24s %6s %12s %10s %8s %8s %s\n' target rc executions exec/s cov ft corpus
for t in "$@"; do
  log=$BUILD/logs/$t.log
  execs=$( (grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" || true) | awk '{print $2}' | tail -1)
  speed=$( (grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" || true) | awk '{print $2}' | tail -1)
  last=$( (grep -aE '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" || true) | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<< "$last")
  printf '%-24s %6s %12s %10s %8s %8s %s\n' "$t" "${RC[$t]}" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [[ ${RC[$t]} != 0 ]]; then
    fail=1
    echo "---- $t FAILED (log $log):" >&2
    grep -aE 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 >&2 || tail -30 "$log" >&2
  fi
done
echo "fuzz.sh: logs in $BUILD/logs, artifacts in $BUILD/artifacts"
((fail == 0)) || die "a fuzz target failed (see above)"
echo "fuzz.sh: all targets clean"
