#!/usr/bin/env bash
# Calibration of a fine-tuned MiniLM sentiment classifier (issue #12 item 6): fine-tune
# with dropout 0.1 (TRAIN_ROWS rows, EPOCHS epochs), then `tessera calibrate` on the
# test split before and after temperature scaling fitted on the validation split, and
# with MC dropout (MC passes). Prints the calibrate summaries; the reports land in
# $EXP/calibrate_sentiment/{raw,fit,test_scaled,mc}/calibration.json.
# Usage: scripts/experiments/calibrate_sentiment.sh [TRAIN_ROWS=512] [VAL_ROWS=256] [TEST_ROWS=256] [EPOCHS=3] [MC=8]
#   (TESSERA_EXP=DIR puts the run outside .cache/experiments)
source "$(dirname "$0")/common.sh"
N_TRAIN="${1:-512}" N_VAL="${2:-256}" N_TEST="${3:-256}" EPOCHS="${4:-3}" MC="${5:-8}"
SRC="$DATASETS/sentiment_movies"
need_dataset "$SRC/train.csv"
D="$EXP/calibrate_sentiment"
mkdir -p "$D"
subsample "$SRC/train.csv" "$D/train.csv" "$N_TRAIN" 1
subsample "$SRC/validation.csv" "$D/validation.csv" "$N_VAL" 1
subsample "$SRC/test.csv" "$D/test.csv" "$N_TEST" 1
"$TESSERA" prepare --task classification --input "$D/train.csv" --validation-input "$D/validation.csv" \
  --test-input "$D/test.csv" --vocab "$VOCAB" --max-len 64 --output "$D/data.h5"
cat > "$D/run.toml" <<TOML
[model]
init_from = "$MINILM_H5"
family = "bert"
head = "sequence_classification"
num_labels = 2
resid_pdrop = 0.1
attn_pdrop = 0.1
classifier_pdrop = 0.1
[data]
path = "$D/data.h5"
[train]
epochs = $EPOCHS
micro_batch_size = 16
eval_interval = 0
seed = 1
[optim]
lr = 1e-4
schedule = "linear"
warmup_steps = 3
weight_decay = 0.01
[run]
dir = "$D/run"
TOML
rm -rf "$D/run"
train_run 1 "$D/run.toml"
CK=$(ls "$D"/run/checkpoints/step_*.h5 | tail -1)
echo "== checkpoint $CK"
echo "== test split, uncalibrated"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split test --output "$D/raw"
echo "== fit T on validation"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split validation --fit-temperature --output "$D/fit"
echo "== test split with the fitted T"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split test --output "$D/test_scaled"
echo "== test split, MC dropout ($MC passes, fitted T applied to each pass)"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split test --mc-dropout "$MC" --output "$D/mc"
echo "== test split, last-layer Laplace (fitted on train; probit, then 64 MC samples)"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split test --laplace --output "$D/laplace"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split test --laplace --laplace-samples 64 --output "$D/laplace_mc"
echo "== test split, last-layer Laplace, Kronecker-factored (probit)"
"$TESSERA" calibrate "$D/run.toml" --checkpoint "$CK" --split test --laplace --laplace-structure kron --output "$D/laplace_kron"
