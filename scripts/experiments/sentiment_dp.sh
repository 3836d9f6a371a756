#!/usr/bin/env bash
# Sentiment (movie-review sentences): fine-tune MiniLM on 1 rank and on dp=2 with the
# same global batch (16 = 1 x 16 = 2 x 8), dropout 0. Prints validation accuracy and
# macro-F1 of both runs, the majority-class baseline and the per-step difference of
# the training loss between the two runs (metrics.jsonl "train" records).
# Usage: scripts/experiments/sentiment_dp.sh [TRAIN_ROWS=512] [VAL_ROWS=256] [EPOCHS=2]
source "$(dirname "$0")/common.sh"
N_TRAIN="${1:-512}" N_VAL="${2:-256}" EPOCHS="${3:-2}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train.csv"
D="$EXP/sentiment"
mkdir -p "$D"
subsample "$SRC/train.csv" "$D/train_$N_TRAIN.csv" "$N_TRAIN" 1
subsample "$SRC/validation.csv" "$D/validation_$N_VAL.csv" "$N_VAL" 1
"$TESSERA" prepare --task classification --input "$D/train_$N_TRAIN.csv" --validation-input "$D/validation_$N_VAL.csv" \
  --vocab "$VOCAB" --max-len 64 --output "$D/data.h5"

write_config() {  # NAME DP MICRO_BATCH
  cat > "$D/$1.toml" <<TOML
[model]
init_from = "$MINILM_H5"
family = "bert"
head = "sequence_classification"
num_labels = 2
[data]
path = "$D/data.h5"
[train]
epochs = $EPOCHS
micro_batch_size = $3
eval_interval = 0
eval_metric = "accuracy"
seed = 1
[optim]
lr = 1e-4
schedule = "linear"
warmup_steps = 3
weight_decay = 0.01
[run]
dir = "$D/run_$1"
[parallel]
dp = $2
TOML
}
write_config dp1 1 16
write_config dp2 2 8
rm -rf "$D/run_dp1" "$D/run_dp2"
train_run 1 "$D/dp1.toml"
train_run 2 "$D/dp2.toml"

echo "== majority-class baseline (validation subset)"
"$PY" - "$D/validation_$N_VAL.csv" <<'PYEOF'
import csv, sys, collections
labels = [r["label"] for r in csv.DictReader(open(sys.argv[1], newline=""))]
c = collections.Counter(labels)
lab, n = c.most_common(1)[0]
print("  rows %d  counts %s  majority '%s' accuracy %.4f  macro_f1 %.4f" % (len(labels), dict(c), lab, n / len(labels), (2 * n / (n + len(labels))) / 2))
PYEOF
for r in dp1 dp2; do
  echo "== $r: final validation metrics"
  final_metrics "$D/run_$r" accuracy macro_f1 loss recall/negative recall/positive
done
echo "== per-step training loss, dp=1 vs dp=2"
"$PY" - "$D/run_dp1/metrics.jsonl" "$D/run_dp2/metrics.jsonl" <<'PYEOF'
import json, sys
def losses(p):
    return {r["step"]: r["loss"] for r in map(json.loads, open(p)) if r.get("kind") == "train"}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
steps = sorted(set(a) & set(b))
rel = [abs(a[s] - b[s]) / max(abs(a[s]), 1e-12) for s in steps]
worst = max(range(len(steps)), key=lambda i: rel[i])
print("  steps compared %d (dp1 %d, dp2 %d)" % (len(steps), len(a), len(b)))
print("  first loss %.6f / %.6f  last loss %.6f / %.6f" % (a[steps[0]], b[steps[0]], a[steps[-1]], b[steps[-1]]))
print("  max |dloss| %.3e  max relative %.3e (step %d)  mean relative %.3e" % (
    max(abs(a[s] - b[s]) for s in steps), rel[worst], steps[worst], sum(rel) / len(rel)))
PYEOF
