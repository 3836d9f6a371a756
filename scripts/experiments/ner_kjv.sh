#!/usr/bin/env bash
# NER on the KJV fixture (PER/LOC, IOB2): fine-tune MiniLM with a token-classification
# head (labels on the first subword of each word). Prints entity F1 (micro and per
# type) on validation over training, and the all-"O" baseline (entity F1 0).
# Usage: scripts/experiments/ner_kjv.sh [EPOCHS=2] [MAX_LEN=64]
source "$(dirname "$0")/common.sh"
EPOCHS="${1:-2}" MAX_LEN="${2:-64}"
FIX="$ROOT/tests/fixtures/tasks/ner_kjv"
D="$EXP/ner_kjv"
mkdir -p "$D"
"$TESSERA" prepare --task ner --input "$FIX/train.conll" --validation-input "$FIX/validation.conll" \
  --vocab "$VOCAB" --max-len "$MAX_LEN" --label-alignment first-subword --output "$D/data.h5"
cat > "$D/ner.toml" <<TOML
[model]
init_from = "$MINILM_H5"
family = "bert"
head = "token_classification"
num_labels = 4
[data]
path = "$D/data.h5"
[train]
epochs = $EPOCHS
micro_batch_size = 16
eval_interval = 10
eval_metric = "entity_f1"
keep_best = true
seed = 1
[optim]
lr = 2e-4
schedule = "linear"
warmup_steps = 3
weight_decay = 0.01
[run]
dir = "$D/run"
TOML
rm -rf "$D/run"
train_run 1 "$D/ner.toml"
echo "== entity F1 on validation by step (all-O baseline: entity_f1 0, token_accuracy = share of O)"
"$PY" - "$D/run/metrics.jsonl" "$FIX/validation.conll" <<'PYEOF'
import json, sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "eval_metrics"]
for r in recs:
    print("  step %3d  entity_f1 %.4f  P %.4f  R %.4f  f1/PER %.4f  f1/LOC %.4f  token_acc %.4f  loss %.4f" % (
        r["step"], r["entity_f1"], r["entity_precision"], r["entity_recall"], r.get("f1/PER", 0), r.get("f1/LOC", 0),
        r["token_accuracy"], r["loss"]))
tags = [l.split()[-1] for l in open(sys.argv[2]) if l.strip()]
print("  all-O baseline: entity_f1 0.0000, token accuracy %.4f (%d of %d words are O)" % (
    tags.count("O") / len(tags), tags.count("O"), len(tags)))
PYEOF
echo "== tessera eval --split validation (final checkpoint = best weights)"
eval_report "$D/ner.toml"
