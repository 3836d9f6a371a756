#!/usr/bin/env bash
# Compression report for SmolLM2-135M-Instruct on the KJV validation text: every
# variant's checkpoint size, peak memory (eval and generate), evaluation throughput
# (prefill tokens/s), greedy decoding tokens/s and validation perplexity, as one
# Markdown table (docs/results.md, "Compression").
#   scripts/compress_report.sh [CALIB_TOKENS=2048] [FT_STEPS=10]
# Env: TESSERA (default build/tessera), OUT (default .cache/experiments/compress).
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
{
  echo "| variant | file MB | eval peak RSS MB | eval tokens/s | generate peak RSS MB | generate tokens/s (wall incl. load) | perplexity |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
} > "$D/report.md"
for v in fp32 int8 q8_0 q4_0 gptq4 mag50 wanda50 wanda24 wanda24_ft; do
  size=$(stat -c %s "$D/$v.h5")
  T "$TESSERA" eval "$D/eval.toml" --checkpoint "$D/$v.h5" --split validation > "$D/eval_$v.txt"
  read -r es erss < "$D/time.txt"
  ppl=$(sed -n 's/.*perplexity \([0-9.]*\).*/\1/p' "$D/eval_$v.txt")
  T "$TESSERA" generate --checkpoint "$D/$v.h5" --tokenizer "$GGUF" --prompt "$PROMPT" --max-new-tokens 32 \
    --temperature 0 > "$D/gen_$v.txt"
  read -r gs grss < "$D/time.txt"
  /usr/bin/python3 - "$v" "$size" "$erss" "$es" "$grss" "$gs" "$ppl" >> "$D/report.md" <<'PY'
import sys
v, size, erss, es, grss, gs, ppl = sys.argv[1:]
# 3 batches x 4 x 256 tokens evaluated; generate = load + 6-token prompt + 32 new tokens
print(f"| {v} | {int(size)/1e6:.1f} | {int(erss)/1024:.0f} | {3*4*256/float(es):.0f} | {int(grss)/1024:.0f} | {32/float(gs):.2f} | {float(ppl):.3f} |")
PY
  tail -1 "$D/report.md"
done
echo "report: $D/report.md"
