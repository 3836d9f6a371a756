#!/usr/bin/env bash
# A real study with `tessera tune`: MiniLM (all-MiniLM-L6-v2) on the bundled
# movie-review sentiment data, 2 concurrent groups of 1 rank (mpirun -np 2), BO +
# ASHA over lr (log), warm-up, weight decay, dropout, frozen bottom blocks and frozen
# embeddings; then the default config
# (the base config as written) trained once for comparison. Prints the best trial's
# and the default's validation macro-F1 and the wall times; plots in the study dir.
# Usage: scripts/experiments/tune_sentiment.sh [TRIALS=16] [TRAIN_ROWS=256] [VAL_ROWS=256] [STEPS=24]
source "$(dirname "$0")/common.sh"
TRIALS="${1:-16}" N_TRAIN="${2:-256}" N_VAL="${3:-256}" STEPS="${4:-24}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train.csv"
D="${TUNE_EXP_DIR:-$ROOT/build/experiments/tune_sentiment}"
mkdir -p "$D"
subsample "$SRC/train.csv" "$D/train.csv" "$N_TRAIN" 1
subsample "$SRC/validation.csv" "$D/validation.csv" "$N_VAL" 2
"$TESSERA" prepare --task classification --input "$D/train.csv" --validation-input "$D/validation.csv" \
  --vocab "$VOCAB" --max-len 32 --output "$D/data.h5" > /dev/null
cat > "$D/base.toml" <<TOML
[model]
init_from = "$MINILM_H5"
family = "bert"
head = "sequence_classification"
num_labels = 2
[data]
path = "$D/data.h5"
[train]
max_steps = $STEPS
micro_batch_size = 16
eval_interval = 8
eval_metric = "macro_f1"
seed = 1
peak_gflops = 50
[optim]
lr = 3e-4
schedule = "linear"
[checkpoint]
keep_last = 1
[run]
dir = "$D/default_run"
TOML
cat > "$D/study.toml" <<TOML
[study]
name = "minilm_sentiment"
base_config = "$D/base.toml"
dir = "$D/study"
objective = "macro_f1"
trials = $TRIALS
sampler = "bo"
pruner = "asha"
ranks_per_trial = 1
seed = 1
[sampler]
n_startup_trials = 5
[pruner]
min_resource = 8
reduction_factor = 2
[space."optim.lr"]
type = "float"
low = 1e-5
high = 1e-3
log = true
[space."optim.warmup_steps"]
type = "int"
low = 0
high = 8
[space."optim.weight_decay"]
type = "float"
low = 0.0
high = 0.1
[space."model.resid_pdrop"]
type = "float"
low = 0.0
high = 0.3
[space."train.freeze_blocks"]
type = "int"
low = 0
high = 4
[space."train.freeze_embeddings"]
type = "categorical"
choices = [false, true]
TOML
t0=$(date +%s.%N)
mpirun -np 2 "$TESSERA" tune "$D/study.toml"
t1=$(date +%s.%N)
rm -rf "$D/default_run"
"$TESSERA" train "$D/base.toml" > "$D/default_train.log"
t2=$(date +%s.%N)
rm -rf "$D/default_run/checkpoints"
"$PY" - "$D" "$t0" "$t1" "$t2" <<'PYEOF'
import json, sys
d, t0, t1, t2 = sys.argv[1], *map(float, sys.argv[2:])
trials = [json.loads(l) for l in open(d + "/study/trials.jsonl")]
states = {}
for t in trials: states[t["state"]] = states.get(t["state"], 0) + 1
done = [t for t in trials if t["state"] == "complete"]
best = max(done, key=lambda t: t["value"])
recs = [json.loads(l) for l in open(d + "/default_run/metrics.jsonl") if '"eval_metrics"' in l]
print("trials %d %s" % (len(trials), states))
print("best trial %d macro_f1 %.4f params %s" % (best["number"], best["value"], best["params"]))
print("default config macro_f1 %.4f accuracy %.4f" % (recs[-1]["macro_f1"], recs[-1]["accuracy"]))
print("wall study %.1f s, default run %.1f s" % (t1 - t0, t2 - t1))
PYEOF
