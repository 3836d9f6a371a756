#!/usr/bin/env bash
# What the searchable architecture keys do to memory and speed (issue #11 item 5):
# all-MiniLM-L6-v2 fine-tuned STEPS steps on the sentiment data, one rank, for
#   full | freeze_embeddings | freeze_blocks=3 | freeze_blocks=6 + embeddings (head only)
#   | init_blocks=first:3 | init_blocks=every:2 | heads_per_layer=6
# and prints, from each run's metrics.jsonl: trainable parameters, optimizer-state MB,
# peak RSS, median step time (first step dropped) and the backward phase, each as a
# ratio to the full model measured in the same invocation (variants interleaved over
# ROUNDS rounds, the median over rounds; this machine is shared and noisy).
# Usage: scripts/experiments/architecture_cost.sh [STEPS=8] [ROUNDS=2] [TRAIN_ROWS=256]
source "$(dirname "$0")/common.sh"
STEPS="${1:-8}" ROUNDS="${2:-2}" N_TRAIN="${3:-256}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train.csv"
D="${ARCH_EXP_DIR:-$ROOT/build/experiments/architecture_cost}"
mkdir -p "$D"
subsample "$SRC/train.csv" "$D/train.csv" "$N_TRAIN" 1
subsample "$SRC/validation.csv" "$D/validation.csv" 64 2
"$TESSERA" prepare --task classification --input "$D/train.csv" --validation-input "$D/validation.csv" \
  --vocab "$VOCAB" --max-len 32 --output "$D/data.h5" > /dev/null
VARIANTS=(full freeze_embeddings freeze_blocks3 head_only init_first3 init_every2 heads6)
extra() {
  case "$1" in
    full) ;;
    freeze_embeddings) echo "train.freeze_embeddings = true" ;;
    freeze_blocks3) echo "train.freeze_blocks = 3" ;;
    head_only) printf 'train.freeze_blocks = 6\ntrain.freeze_embeddings = true\n' ;;
    init_first3) echo 'model.init_blocks = "first:3"' ;;
    init_every2) echo 'model.init_blocks = "every:2"' ;;
    heads6) echo "model.heads_per_layer = 6" ;;
  esac
}
for round in $(seq 1 "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    run="$D/$v.$round"
    rm -rf "$run"
    mkdir -p "$run"
    {
      echo "[model]"; echo "init_from = \"$MINILM_H5\""; echo 'family = "bert"'
      echo 'head = "sequence_classification"'; echo "num_labels = 2"
      extra "$v" | sed -n 's/^model\.//p'
      echo "[data]"; echo "path = \"$D/data.h5\""
      echo "[train]"; echo "max_steps = $STEPS"; echo "micro_batch_size = 16"; echo "eval_interval = 0"
      echo "seed = 1"; echo "peak_gflops = 50"
      extra "$v" | sed -n 's/^train\.//p'
      echo "[optim]"; echo "lr = 3e-4"
      echo "[checkpoint]"; echo "interval = 0"
      echo "[run]"; echo "dir = \"$run\""
    } > "$run.toml"
    "$TESSERA" train "$run.toml" > "$run.log" 2>&1 || { echo "$v failed:"; tail -5 "$run.log"; exit 1; }
  done
done
"$PY" - "$D" "$ROUNDS" "${VARIANTS[@]}" <<'PYEOF'
import json, statistics, sys
d, rounds, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {}
for v in variants:
    step, back, rss = [], [], []
    for r in range(1, rounds + 1):
        recs = [json.loads(l) for l in open(f"{d}/{v}.{r}/metrics.jsonl")]
        cfg = next(x for x in recs if x.get("kind") == "config")
        tr = [x for x in recs if x.get("kind") == "train"][1:]
        step.append(statistics.median(x["step_ms"] for x in tr))
        back.append(statistics.median(x["phase_ms"]["backward"] for x in tr))
        rss.append(max(x["peak_rss_mb_max_rank"] for x in tr))
    rows[v] = dict(trainable=cfg["trainable_parameters"], params=cfg["parameters"],
                   opt_mb=cfg["optimizer_state_bytes_per_rank"] / 2**20, rss=statistics.median(rss),
                   step=statistics.median(step), back=statistics.median(back))
f = rows["full"]
print("| variant | trainable | optimizer state MB | peak RSS MB | step ms | backward ms |")
print("|---|---|---|---|---|---|")
for v, x in rows.items():
    print(f"| {v} | {x['trainable']/1e6:.2f} M | {x['opt_mb']:.0f} ({x['opt_mb']/f['opt_mb']:.2f}×) "
          f"| {x['rss']:.0f} ({x['rss']/f['rss']:.2f}×) | {x['step']:.0f} ({x['step']/f['step']:.2f}×) "
          f"| {x['back']:.0f} ({x['back']/f['back']:.2f}×) |")
PYEOF
