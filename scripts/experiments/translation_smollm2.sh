#!/usr/bin/env bash
# English -> Spanish Bible verses (KJV -> Reina-Valera, docs/datasets.md) with
# SmolLM2-135M-Instruct as a causal LM: import the GGUF, tokenize a seeded sample of
# translation_train.txt ("English: ... Spanish: ..." per line) with the GGUF tokenizer,
# validation perplexity before/after a short fine-tune, then greedy translation of the
# first test verses (prompt "English: <en> Spanish:", stop at a newline or "English:")
# and sacreBLEU of the base model, the fine-tuned model and the copy-the-source baseline.
# Every step prints its wall time.
# Usage: scripts/experiments/translation_smollm2.sh [TRAIN_LINES=1500] [TEST_VERSES=100] [MAX_STEPS=70]
#   env: TESSERA (default build/tessera), SEQ_LEN (128), MICRO_BATCH (4), GRAD_ACCUM (1),
#        LR (1e-4), MAX_TIME_S (840: training stops and checkpoints by then), MAX_NEW_TOKENS (80),
#        SKIP_TRAIN (1: keep data.h5 and the run's checkpoint, skip the base eval and training)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TESSERA="${TESSERA:-$ROOT/build/tessera}"
ASSETS="${TESSERA_ASSETS:-$ROOT/.cache/assets}"
GGUF="$ASSETS/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SRC="$ASSETS/datasets/kjv_spa_parallel"
D="$ROOT/.cache/experiments/translation_smollm2"
PY=/usr/bin/python3
N_TRAIN="${1:-1500}" N_TEST="${2:-100}" MAX_STEPS="${3:-70}"
SEQ_LEN="${SEQ_LEN:-128}" MICRO_BATCH="${MICRO_BATCH:-4}" GRAD_ACCUM="${GRAD_ACCUM:-1}"
LR="${LR:-1e-4}" MAX_TIME_S="${MAX_TIME_S:-840}" MAX_NEW_TOKENS="${MAX_NEW_TOKENS:-80}"
source "$ROOT/scripts/mpi_env.sh"
[ -x "$TESSERA" ] || { echo "missing $TESSERA: build tessera first" >&2; exit 1; }
[ -f "$GGUF" ] || { echo "missing $GGUF: run scripts/fetch_assets.sh" >&2; exit 1; }
[ -f "$SRC/translation_train.txt" ] || "$ROOT/scripts/fetch_datasets.sh"
mkdir -p "$D"

# timed LABEL CMD...: runs CMD, prints "wall_s <seconds>  LABEL" and returns CMD's exit code.
timed() {
  local label="$1" t0 t1 rc=0
  shift
  t0=$(date +%s.%N)
  "$@" || rc=$?
  t1=$(date +%s.%N)
  "$PY" -c "import sys; print('wall_s %.1f  %s' % (float(sys.argv[2]) - float(sys.argv[1]), sys.argv[3]))" "$t0" "$t1" "$label"
  return $rc
}

echo "== import $GGUF"
[ -f "$D/smollm2.h5" ] || timed import "$TESSERA" import --from "$GGUF" --out "$D/smollm2.h5"

echo "== data: $N_TRAIN seeded-sample lines of translation_train.txt; first $N_TEST test verses"
"$PY" - "$SRC/translation_train.txt" "$D/train_$N_TRAIN.txt" "$N_TRAIN" <<'PYEOF'
import random, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
random.Random(1).shuffle(lines)
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines[: int(sys.argv[3])]) + "\n")
PYEOF
head -n "$N_TEST" "$SRC/test.en" > "$D/test.en"
head -n "$N_TEST" "$SRC/test.es" > "$D/test.es"
sed -e 's/\\/\\\\/g' -e 's/^/English: /' -e 's/$/ Spanish:/' "$D/test.en" > "$D/prompts.txt"
[ "${SKIP_TRAIN:-0}" = 1 ] || rm -f "$D/data.h5"
[ -f "$D/data.h5" ] || timed prepare "$TESSERA" prepare --input "$D/train_$N_TRAIN.txt" --output "$D/data.h5" --tokenizer "$GGUF" \
  --doc-separator line --validation-fraction 0.05

cat > "$D/finetune.toml" <<TOML
[model]
init_from = "$D/smollm2.h5"
family = "llama"
head = "causal_lm"
[data]
path = "$D/data.h5"
seq_len = $SEQ_LEN
[train]
max_steps = $MAX_STEPS
micro_batch_size = $MICRO_BATCH
grad_accum_steps = $GRAD_ACCUM
eval_interval = 0
eval_batches = 0
log_interval = 5
max_time_s = $MAX_TIME_S
seed = 1
[optim]
lr = $LR
schedule = "cosine"
warmup_steps = 5
weight_decay = 0.0
[checkpoint]
keep_last = 1
[run]
dir = "$D/run"
TOML

if [ "${SKIP_TRAIN:-0}" != 1 ]; then  # SKIP_TRAIN=1: reuse the base evaluation's log and the run's checkpoint
  echo "== validation perplexity, base model"
  timed "eval base" "$TESSERA" eval "$D/finetune.toml" --checkpoint "$D/smollm2.h5" --split validation
  echo "== fine-tune: $MAX_STEPS steps x $MICRO_BATCH x $GRAD_ACCUM sequences of $SEQ_LEN tokens, lr $LR"
  rm -rf "$D/run"
  # Exit code 3 = stopped by train.max_time_s with a checkpoint (docs/slurm.md): fine here.
  timed train "$TESSERA" train "$D/finetune.toml" || [ $? -eq 3 ]
fi
FT="$(ls -t "$D"/run/checkpoints/*.h5 | head -n 1)"
echo "== validation perplexity, fine-tuned ($FT)"
timed "eval fine-tuned" "$TESSERA" eval "$D/finetune.toml" --checkpoint "$FT" --split validation

translate() {  # NAME CHECKPOINT
  timed "translate $1" "$TESSERA" generate "$D/finetune.toml" --checkpoint "$2" --tokenizer "$GGUF" --input "$D/prompts.txt" \
    --output "$D/hyp_$1.txt" --temperature 0 --max-new-tokens "$MAX_NEW_TOKENS" --stop $'\n' --stop "English:"
}
echo "== translate $N_TEST test verses (greedy)"
translate base "$D/smollm2.h5"
translate finetuned "$FT"

echo "== BLEU vs test.es ($N_TEST verses)"
for h in base finetuned; do
  echo "-- $h"
  "$TESSERA" score bleu --hypotheses "$D/hyp_$h.txt" --references "$D/test.es"
done
echo "-- copy-the-source baseline (hypothesis = the English verse)"
"$TESSERA" score bleu --hypotheses "$D/test.en" --references "$D/test.es"

echo "== examples"
for i in 1 2 3; do
  echo "EN:        $(sed -n "${i}p" "$D/test.en")"
  echo "base:      $(sed -n "${i}p" "$D/hyp_base.txt")"
  echo "finetuned: $(sed -n "${i}p" "$D/hyp_finetuned.txt")"
  echo "reference: $(sed -n "${i}p" "$D/test.es")"
  echo
done
