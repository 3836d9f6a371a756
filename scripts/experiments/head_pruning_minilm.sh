#!/usr/bin/env bash
# Attention-head pruning on a real model: all-MiniLM-L6-v2 (6 layers × 12 heads)
# fine-tuned on the bundled movie-review sentiment data, then continued for a few steps
# with heads pruned (model.heads_per_layer: Michel et al.'s importance on the validation
# split; or model.prune_heads with the same number of random heads per layer, seeded),
# and a control continued without pruning. Prints, per variant: validation macro-F1 and
# accuracy, mean step time and tokens/s, peak RSS (docs/results.md, "Attention-head
# pruning"); the *_0 variants prune without retraining (1 step at lr 1e-9, i.e. the
# pruned model as is); then step time of pruned vs unpruned in 3 interleaved repeats.
# Variants whose run directory holds metrics are not re-run (delete to redo).
# Usage: scripts/experiments/head_pruning_minilm.sh [TRAIN_ROWS=256] [VAL_ROWS=256] [STEPS=24] [RETRAIN=8]
source "$(dirname "$0")/common.sh"
N_TRAIN="${1:-256}" N_VAL="${2:-256}" STEPS="${3:-24}" RETRAIN="${4:-8}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train.csv"
D="${HEADS_EXP_DIR:-$ROOT/build/experiments/head_pruning}"
mkdir -p "$D"
subsample "$SRC/train.csv" "$D/train.csv" "$N_TRAIN" 1
subsample "$SRC/validation.csv" "$D/validation.csv" "$N_VAL" 2
"$TESSERA" prepare --task classification --input "$D/train.csv" --validation-input "$D/validation.csv" \
  --vocab "$VOCAB" --max-len 32 --output "$D/data.h5" > /dev/null
config() {  # file init_from run_dir steps lr extra-model-lines
  cat > "$1" <<TOML
[model]
init_from = "$2"
family = "bert"
head = "sequence_classification"
num_labels = 2
$6
[data]
path = "$D/data.h5"
[train]
max_steps = $4
micro_batch_size = 16
eval_interval = 0
eval_metric = "macro_f1"
seed = 1
peak_gflops = 50
[optim]
lr = $5
schedule = "linear"
[checkpoint]
keep_last = 1
interval = 0
[run]
dir = "$3"
TOML
}
run() {  # name config
  rm -rf "$D/$1"
  /usr/bin/time -f "%M" -o "$D/$1.rss" "$TESSERA" train "$2" > "$D/$1.log"
}
config "$D/base.toml" "$MINILM_H5" "$D/base" "$STEPS" 3e-4 ""
[ -f "$D/base/checkpoints/step_$(printf %08d "$STEPS").h5" ] || run base "$D/base.toml"
FT="$D/base/checkpoints/step_$(printf %08d "$STEPS").h5"
random_heads() {  # K pruned per layer, seeded
  "$PY" -c "
import random, sys
r = random.Random(7); k = int(sys.argv[1])
print(';'.join('%d:%s' % (l, ','.join(map(str, sorted(r.sample(range(12), k))))) for l in range(6)))" "$1"
}
for v in control imp6 rand6 imp3 rand3 imp1 imp6_0 rand6_0 imp3_0 rand3_0; do
  steps=$RETRAIN lr=1e-4
  case $v in *_0) steps=1 lr=1e-9 ;; esac
  case ${v%_0} in
    control) extra="" ;;
    imp6) extra="heads_per_layer = 6" ;;
    imp3) extra="heads_per_layer = 3" ;;
    imp1) extra="heads_per_layer = 1" ;;
    rand6) extra="prune_heads = \"$(random_heads 6)\"" ;;
    rand3) extra="prune_heads = \"$(random_heads 9)\"" ;;
  esac
  config "$D/$v.toml" "$FT" "$D/$v" "$steps" "$lr" "$extra"
  [ -f "$D/$v/metrics.jsonl" ] || run "$v" "$D/$v.toml"
done
# Speed: unpruned vs the imp3 heads (18/72 kept) given as a list (no importance pass), interleaved.
IMP3=$(grep -o 'model.prune_heads = "[^"]*"' "$D/imp3.log" | cut -d'"' -f2)
for rep in 1 2 3; do
  config "$D/speed_full.toml" "$FT" "$D/speed_full_$rep" 6 1e-4 ""
  config "$D/speed_pruned.toml" "$FT" "$D/speed_pruned_$rep" 6 1e-4 "prune_heads = \"$IMP3\""
  [ -f "$D/speed_full_$rep/metrics.jsonl" ] || run "speed_full_$rep" "$D/speed_full.toml"
  [ -f "$D/speed_pruned_$rep/metrics.jsonl" ] || run "speed_pruned_$rep" "$D/speed_pruned.toml"
done
"$PY" - "$D" <<'PYEOF'
import json, statistics, sys
d = sys.argv[1]
for kind in ("full", "pruned"):
    ms = []
    for rep in (1, 2, 3):
        recs = [json.loads(l) for l in open(f"{d}/speed_{kind}_{rep}/metrics.jsonl")]
        ms += [r["step_ms"] for r in recs if "step_ms" in r][1:]
    print(f"speed {kind}: median step {statistics.median(ms):.1f} ms over {len(ms)} steps")
PYEOF
"$PY" - "$D" base control imp6 rand6 imp3 rand3 imp1 imp6_0 rand6_0 imp3_0 rand3_0 <<'PYEOF'
import json, sys
d = sys.argv[1]
print("| variant | heads kept | macro-F1 | accuracy | step ms (mean) | tokens/s | peak RSS MB |")
print("|---|---|---|---|---|---|---|")
for v in sys.argv[2:]:
    recs = [json.loads(l) for l in open(f"{d}/{v}/metrics.jsonl")]
    ev = [r for r in recs if "macro_f1" in r][-1]
    steps = [r for r in recs if "step_ms" in r][1:]  # the first step warms up
    ms = sum(r["step_ms"] for r in steps) / max(1, len(steps))
    tps = sum(r["tokens_per_s"] for r in steps) / max(1, len(steps))
    log = open(f"{d}/{v}.log").read()
    kept = 72
    if "pruned " in log:
        kept = 72 - int(log.split("pruned ")[1].split(" of ")[0])
    rss = int(open(f"{d}/{v}.rss").read().split()[-1]) / 1024
    print(f"| {v} | {kept}/72 | {ev['macro_f1']:.4f} | {ev['accuracy']:.4f} | {ms:.1f} | {tps:.0f} | {rss:.0f} |")
PYEOF
