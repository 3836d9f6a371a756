#!/usr/bin/env bash
# Compression report for SmolLM2-135M-Instruct on the KJV validation text: every
# variant's checkpoint size, peak memory (eval and generate), evaluation throughput
# (prefill tokens/s), greedy decoding tokens/s and validation perplexity, as one
# Markdown table (docs/results.md, "Compression").
#   scripts/compress_report.sh [CALIB_TOKENS=2048] [FT_STEPS=10]
# Env: TESSERA (default build/tessera), OUT (default .cache/experiments/compress),
# REPS (timing runs per measurement, best kept; default 2). Variants already in OUT are reused.
# Then every packed variant is exported with `tessera export --format gguf`, imported back
# and evaluated (second table).
# The float32 baseline is the import of the Q4_1 GGUF (dequantised), the only
# SmolLM2 weights available offline. Runs under nice -n 5, one command at a time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TESSERA="${TESSERA:-$ROOT/build/tessera}"
ASSETS="${TESSERA_ASSETS:-$ROOT/.cache/assets}"
GGUF="$ASSETS/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
D="${OUT:-$ROOT/.cache/experiments/compress}"
CALIB="${1:-2048}" FT_STEPS="${2:-10}"
source "$ROOT/scripts/mpi_env.sh"
[ -x "$TESSERA" ] || { echo "missing $TESSERA: build tessera first" >&2; exit 1; }
[ -f "$GGUF" ] || { echo "missing $GGUF: run scripts/fetch_gguf.sh" >&2; exit 1; }
mkdir -p "$D"
T() { nice -n 5 /usr/bin/time -f "%e %M" -o "$D/time.txt" "$@"; }

[ -f "$D/fp32.h5" ] || T "$TESSERA" import --from "$GGUF" --out "$D/fp32.h5"
# KJV with the SmolLM2 tokenizer: validation = 1% of the chapters (3,771 tokens;
# 3 batches of 4 x 256 are evaluated), calibration from the train split.
[ -f "$D/kjv.h5" ] || "$TESSERA" prepare --input data/kjv/*.txt --output "$D/kjv.h5" --tokenizer "$GGUF" \
  --validation-fraction 0.01
cat > "$D/eval.toml" <<TOML
[model]
init_from = "$D/fp32.h5"
family = "llama"
head = "causal_lm"
[data]
path = "$D/kjv.h5"
seq_len = 256
[train]
micro_batch_size = 4
TOML
CAL="--calibration-data $D/kjv.h5 --calibration-tokens $CALIB --calibration-seq-len 256"

make_variant() {  # name, command...
  local name=$1; shift
  [ -f "$D/$name.h5" ] && return 0
  echo "== $name: $*"
  T "$TESSERA" "$@" --out "$D/$name.h5" | tail -1
  echo "   $(cut -d' ' -f1 "$D/time.txt") s"
}
make_variant int8 quantize --checkpoint "$D/fp32.h5" --method int8
make_variant q8_0 quantize --checkpoint "$D/fp32.h5" --method q8_0
make_variant q4_0 quantize --checkpoint "$D/fp32.h5" --method q4_0
make_variant gptq4 quantize --checkpoint "$D/fp32.h5" --method gptq4 $CAL
make_variant mag50 prune --checkpoint "$D/fp32.h5" --method magnitude --sparsity 0.5 --scope layer
make_variant wanda50 prune --checkpoint "$D/fp32.h5" --method wanda --sparsity 0.5 $CAL
make_variant wanda24 prune --checkpoint "$D/fp32.h5" --method wanda --pattern 2:4 $CAL
if [ ! -f "$D/wanda24_ft.h5" ]; then  # 2:4 + a short fine-tune on KJV train (masks kept)
  cat > "$D/ft.toml" <<TOML
[model]
init_from = "$D/wanda24.h5"
family = "llama"
head = "causal_lm"
[data]
path = "$D/kjv.h5"
seq_len = 128
[train]
max_steps = $FT_STEPS
micro_batch_size = 4
eval_interval = 0
log_interval = 5
[optim]
lr = 5e-5
warmup_steps = 2
[checkpoint]
interval = 0
[run]
dir = "$D/ft_run"
TOML
  rm -rf "$D/ft_run"
  echo "== wanda24_ft: train $FT_STEPS steps"
  T "$TESSERA" train "$D/ft.toml" | tail -1
  cp "$D/ft_run/checkpoints/step_$(printf %08d "$FT_STEPS").h5" "$D/wanda24_ft.h5"
fi

PROMPT="In the beginning God created"
REPS="${REPS:-2}"  # timings: best of REPS runs (the machine is shared)
best() {  # best wall seconds and largest peak RSS (KB) of REPS runs of a command; output of the last run in $D/out.txt
  local bs="" br=0 s r
  for _ in $(seq "$REPS"); do
    T "$@" > "$D/out.txt"
    read -r s r < "$D/time.txt"
    if [ -z "$bs" ] || awk "BEGIN{exit !($s < $bs)}"; then bs=$s; fi
    [ "$r" -gt "$br" ] && br=$r
  done
  echo "$bs $br"
}
{
  echo "| variant | file MB | eval peak RSS MB | eval tokens/s (wall incl. load) | generate peak RSS MB | decode tokens/s | perplexity |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
} > "$D/report.md"
for v in fp32 int8 q8_0 q4_0 gptq4 mag50 wanda50 wanda24 wanda24_ft; do
  size=$(stat -c %s "$D/$v.h5")
  read -r es erss < <(best "$TESSERA" eval "$D/eval.toml" --checkpoint "$D/$v.h5" --split validation)
  cp "$D/out.txt" "$D/eval_$v.txt"
  ppl=$(sed -n 's/.*perplexity \([0-9.]*\).*/\1/p' "$D/eval_$v.txt")
  # decode tokens/s = 32 / (time for 40 new tokens - time for 8): load and prompt cancel out
  GEN=("$TESSERA" generate --checkpoint "$D/$v.h5" --tokenizer "$GGUF" --prompt "$PROMPT" --temperature 0)
  read -r g8 _ < <(best "${GEN[@]}" --max-new-tokens 8)
  read -r g40 grss < <(best "${GEN[@]}" --max-new-tokens 40)
  cp "$D/out.txt" "$D/gen_$v.txt"
  /usr/bin/python3 - "$v" "$size" "$erss" "$es" "$grss" "$g8" "$g40" "$ppl" >> "$D/report.md" <<'PY'
import sys
v, size, erss, es, grss, g8, g40, ppl = sys.argv[1:]
# eval: 3 batches x 4 x 256 tokens
dt = float(g40) - float(g8)
dec = f"{32/dt:.1f}" if dt > 0 else "n/a"
print(f"| {v} | {int(size)/1e6:.1f} | {int(erss)/1024:.0f} | {3*4*256/float(es):.0f} | {int(grss)/1024:.0f} | {dec} | {float(ppl):.3f} |")
PY
  tail -1 "$D/report.md"
done

# GGUF export (tessera export --format gguf, tokenizer copied from the source GGUF):
# the file, then Tessera's own import of it (dequantised to float32) evaluated again.
{
  echo
  echo "| exported | GGUF MB | tensor types | perplexity of the re-imported GGUF |"
  echo "|---|---:|---|---:|"
} >> "$D/report.md"
for v in q8_0 q4_0 gptq4; do
  "$TESSERA" export --format gguf --checkpoint "$D/$v.h5" --out "$D/$v.gguf" --tokenizer "$GGUF" > "$D/export_$v.txt"
  types=$(sed -n 's/.*: \(.*\) tensors, .*/\1/p' "$D/export_$v.txt" | head -1)
  "$TESSERA" import --from "$D/$v.gguf" --out "$D/${v}_gguf.h5" > /dev/null
  ppl=$("$TESSERA" eval "$D/eval.toml" --checkpoint "$D/${v}_gguf.h5" --split validation |
        sed -n 's/.*perplexity \([0-9.]*\).*/\1/p')
  echo "| $v | $(awk "BEGIN{printf \"%.1f\", $(stat -c %s "$D/$v.gguf")/1e6}") | $types | $ppl |" >> "$D/report.md"
  tail -1 "$D/report.md"
  rm -f "$D/${v}_gguf.h5"
done
echo "report: $D/report.md"
