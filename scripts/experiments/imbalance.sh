#!/usr/bin/env bash
# Class imbalance on sentiment: 400 training sentences with 10% negatives (from
# train_imbalanced.csv: 40 negative + 360 positive, seeded) and a balanced
# validation subset; three runs: plain, class_weights = "balanced",
# resample = "oversample". Prints per-class precision/recall/F1 of each run.
# Usage: scripts/experiments/imbalance.sh [EPOCHS=2] [VAL_ROWS=200] [N_NEG=40] [N_POS=360]
source "$(dirname "$0")/common.sh"
EPOCHS="${1:-2}" N_VAL="${2:-200}" N_NEG="${3:-40}" N_POS="${4:-360}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train_imbalanced.csv"
D="$EXP/imbalance_${N_NEG}_${N_POS}_e${EPOCHS}"
mkdir -p "$D"
"$PY" - "$SRC/train_imbalanced.csv" "$SRC/validation.csv" "$D/train.csv" "$D/validation.csv" "$N_VAL" "$N_NEG" "$N_POS" <<'PYEOF'
import csv, random, sys
def rows(p):
    with open(p, newline="") as f:
        r = list(csv.reader(f))
    return r[0], r[1:]
def write(p, head, body):
    with open(p, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n"); w.writerow(head); w.writerows(body)
head, tr = rows(sys.argv[1])
li = head.index("label")
rng = random.Random(1)
neg = [r for r in tr if r[li] == "negative"]; pos = [r for r in tr if r[li] == "positive"]
rng.shuffle(neg); rng.shuffle(pos)
nn, npos = int(sys.argv[6]), int(sys.argv[7])
train = neg[:nn] + pos[:npos]; rng.shuffle(train)
write(sys.argv[3], head, train)
head, va = rows(sys.argv[2])
n = int(sys.argv[5])
neg = [r for r in va if r[li] == "negative"]; pos = [r for r in va if r[li] == "positive"]
rng.shuffle(neg); rng.shuffle(pos)
val = neg[:n // 2] + pos[:n - n // 2]; rng.shuffle(val)
write(sys.argv[4], head, val)
print("train: %d negative + %d positive; validation: %d negative + %d positive" % (nn, npos, n // 2, n - n // 2))
PYEOF
"$TESSERA" prepare --task classification --input "$D/train.csv" --validation-input "$D/validation.csv" \
  --vocab "$VOCAB" --max-len 48 --output "$D/data.h5"
write_config() {  # NAME EXTRA_TRAIN_LINE
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
micro_batch_size = 16
eval_interval = 0
eval_metric = "macro_f1"
seed = 1
$2
[optim]
lr = 1e-4
schedule = "linear"
warmup_steps = 3
weight_decay = 0.01
[run]
dir = "$D/run_$1"
TOML
}
write_config plain ""
write_config balanced 'class_weights = "balanced"'
write_config oversample 'resample = "oversample"'
for r in plain balanced oversample; do
  rm -rf "$D/run_$r"
  train_run 1 "$D/$r.toml"
done
echo "== validation (balanced), final step"
"$PY" - "$D" <<'PYEOF'
import json, sys
print("  %-11s %8s %8s | %-28s | %-28s" % ("run", "accuracy", "macro_f1", "negative P / R / F1", "positive P / R / F1"))
for r in ("plain", "balanced", "oversample"):
    m = [json.loads(l) for l in open("%s/run_%s/metrics.jsonl" % (sys.argv[1], r)) if '"eval_metrics"' in l][-1]
    cls = lambda c: "%.4f / %.4f / %.4f" % (m["precision/" + c], m["recall/" + c], m["f1/" + c])
    print("  %-11s %8.4f %8.4f | %-28s | %-28s" % (r, m["accuracy"], m["macro_f1"], cls("negative"), cls("positive")))
PYEOF
