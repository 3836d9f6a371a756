#!/usr/bin/env bash
# Issue #13's PEFT measurement: MiniLM (all-MiniLM-L6-v2) sentiment fine-tune, full vs
# LoRA r=8 vs LoRA r=8 + frozen embeddings, same data, same steps (epochs), same seeds.
# Each recipe is its own: full fine-tuning at lr 1e-4; LoRA at a 10x higher lr (1e-3; 2e-3 diverged on one seed of three) (as in
# Hu et al. 2021 / PEFT practice), adapters on every attention and MLP linear
# (query, key, value, attention.output.dense, intermediate.dense, output.dense),
# alpha = 2r, dropout 0.05, the classifier head trained in full. `full_bf16` is the full
# recipe with train.precision = "bf16" (issue #13's bf16-vs-fp32 validation metric);
# pick recipes with RECIPES="full full_bf16" (the first one is the baseline of the ratios).
# Prints one table row per (recipe, seed): trainable parameters, optimizer state,
# peak RSS, median training tokens/s, validation accuracy and macro-F1 (the whole
# validation subset, evaluated at the end of training); then the mean per recipe.
# Usage: scripts/experiments/lora_vs_full.sh [TRAIN_ROWS=160] [VAL_ROWS=256] [EPOCHS=3] [SEEDS="1"] [LORA_LR=1e-3]
source "$(dirname "$0")/common.sh"
N_TRAIN="${1:-160}" N_VAL="${2:-256}" EPOCHS="${3:-3}" SEEDS="${4:-1}" LORA_LR="${5:-1e-3}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train.csv"
D="${LORA_EXP_DIR:-$ROOT/build/experiments/lora_vs_full}"
mkdir -p "$D"
subsample "$SRC/train.csv" "$D/train.csv" "$N_TRAIN" 1
subsample "$SRC/validation.csv" "$D/validation.csv" "$N_VAL" 2
"$TESSERA" prepare --task classification --input "$D/train.csv" --validation-input "$D/validation.csv" \
  --vocab "$VOCAB" --max-len 32 --output "$D/data.h5" > /dev/null

write_config() {  # NAME SEED LR EXTRA_TRAIN EXTRA_SECTIONS
  cat > "$D/$1_s$2.toml" <<TOML
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
eval_metric = "accuracy"
log_interval = 1
seed = $2
$4
[optim]
lr = $3
schedule = "linear"
warmup_steps = 3
weight_decay = 0.01
[run]
dir = "$D/run_$1_s$2"
$5
TOML
}
LORA='[lora]
r = 8
alpha = 16
dropout = 0.05
targets = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]'
RECIPES="${RECIPES:-full lora_r8 lora_r8_frozen_emb}"
for s in $SEEDS; do
  write_config full "$s" 1e-4 "" ""
  write_config lora_r8 "$s" "$LORA_LR" "" "$LORA"
  write_config lora_r8_frozen_emb "$s" "$LORA_LR" "freeze_embeddings = true" "$LORA"
  write_config full_bf16 "$s" 1e-4 'precision = "bf16"' ""
  for r in $RECIPES; do
    rm -rf "$D/run_${r}_s$s"
    train_run 1 "$D/${r}_s$s.toml" > "$D/${r}_s$s.log" 2>&1 || { cat "$D/${r}_s$s.log" >&2; exit 1; }
    tail -1 "$D/${r}_s$s.log"
    rm -rf "$D/run_${r}_s$s/checkpoints"
  done
done

echo "== $N_TRAIN train / $N_VAL validation rows of sentiment_movies, max_len 32, batch 16, $EPOCHS epochs; LoRA lr $LORA_LR"
"$PY" - "$D" "$RECIPES" "$SEEDS" <<'PYEOF'
import json, statistics, sys
d, recipes, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def load(run):
    recs = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    kind = lambda k: [r for r in recs if r.get("type") == k or r.get("record") == k or k in r.get("event", "")]
    cfg = next(r for r in recs if "trainable_parameters" in r)
    ev = [r for r in recs if "macro_f1" in r][-1]
    tps = [r["tokens_per_s"] for r in recs if "tokens_per_s" in r][1:]  # first step: warm-up
    summ = [r for r in recs if "peak_rss_mb_rank0" in r][-1]
    return dict(trainable=cfg["trainable_parameters"], opt=cfg["optimizer_state_bytes_per_rank"],
                rss=summ["peak_rss_mb_rank0"], tps=statistics.median(tps), acc=ev["accuracy"], f1=ev["macro_f1"])
print("| recipe | seed | trainable params | optimizer state (MiB) | peak RSS (MiB) | tokens/s (median) | val accuracy | val macro-F1 |")
print("|---|---|---|---|---|---|---|---|")
means = {}
for r in recipes:
    for s in seeds:
        m = load("%s/run_%s_s%s" % (d, r, s)); means.setdefault(r, []).append(m)
        print("| %s | %s | %d | %.1f | %.0f | %.0f | %.4f | %.4f |" % (r, s, m["trainable"], m["opt"] / 2**20, m["rss"], m["tps"], m["acc"], m["f1"]))
if len(seeds) > 1:
    for r, ms in means.items():
        print("| %s | mean | | | | %.0f | %.4f | %.4f |" % (r, statistics.mean(x["tps"] for x in ms), statistics.mean(x["acc"] for x in ms), statistics.mean(x["f1"] for x in ms)))
full = means[recipes[0]]
for r in recipes[1:]:
    da = statistics.mean(x["acc"] for x in means[r]) - statistics.mean(x["acc"] for x in full)
    df = statistics.mean(x["f1"] for x in means[r]) - statistics.mean(x["f1"] for x in full)
    print("%s vs %s: accuracy %+.2f points, macro-F1 %+.2f points" % (r, recipes[0], 100 * da, 100 * df))
PYEOF
