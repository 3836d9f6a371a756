#!/usr/bin/env bash
# Extractive QA on the KJV SQuAD-style fixture: fine-tune MiniLM with a
# question-answering head (--max-len 192 --doc-stride 64). Prints validation EM/F1
# (SQuAD v1, 0-100) over training and two baselines computed here over the
# validation JSON: the first capitalised word of the context, and a random span.
# Usage: scripts/experiments/qa_kjv.sh [EPOCHS=1] [MAX_LEN=192] [STRIDE=64]
source "$(dirname "$0")/common.sh"
EPOCHS="${1:-1}" MAX_LEN="${2:-192}" STRIDE="${3:-64}"
FIX="$ROOT/tests/fixtures/tasks/qa_kjv"
D="$EXP/qa_kjv"
mkdir -p "$D"
"$TESSERA" prepare --task qa --input "$FIX/train.json" --validation-input "$FIX/validation.json" \
  --vocab "$VOCAB" --max-len "$MAX_LEN" --doc-stride "$STRIDE" --output "$D/data.h5"
cat > "$D/qa.toml" <<TOML
[model]
init_from = "$MINILM_H5"
family = "bert"
head = "question_answering"
[data]
path = "$D/data.h5"
[train]
epochs = $EPOCHS
micro_batch_size = 8
eval_interval = 10
eval_metric = "f1"
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
train_run 1 "$D/qa.toml"
echo "== validation EM / F1 by step"
"$PY" - "$D/run/metrics.jsonl" <<'PYEOF'
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    if r.get("kind") == "eval_metrics":
        print("  step %3d  exact_match %6.2f  f1 %6.2f  loss %.4f" % (r["step"], r["exact_match"], r["f1"], r["loss"]))
PYEOF
echo "== baselines on validation (SQuAD v1 normalisation)"
"$PY" - "$FIX/validation.json" <<'PYEOF'
import json, random, re, string, sys, collections
def norm(s):
    s = "".join(c for c in s.lower() if c not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())
def f1(p, g):
    p, g = norm(p).split(), norm(g).split()
    common = sum((collections.Counter(p) & collections.Counter(g)).values())
    if common == 0: return 0.0
    pr, rc = common / len(p), common / len(g)
    return 2 * pr * rc / (pr + rc)
def score(pred_fn):
    em = f = n = 0
    for art in json.load(open(sys.argv[1]))["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                golds = [a["text"] for a in qa["answers"]]
                if not golds: continue
                p = pred_fn(para["context"], qa["question"])
                em += max(norm(p) == norm(g) for g in golds)
                f += max(f1(p, g) for g in golds)
                n += 1
    return 100 * em / n, 100 * f / n, n
def first_cap(ctx, q):
    words = ctx.split()
    # skip the context's first word (sentence-initial capital), then the first capitalised word
    for w in words[1:]:
        w = w.strip(string.punctuation)
        if w[:1].isupper(): return w
    return words[0]
rng = random.Random(1)
def random_span(ctx, q):
    words = ctx.split()
    i = rng.randrange(len(words)); n = rng.randint(1, 4)
    return " ".join(words[i:i + n])
for name, fn in (("first capitalised word", first_cap), ("random 1-4 word span", random_span)):
    em, f, n = score(fn)
    print("  %-24s exact_match %6.2f  f1 %6.2f  (%d questions)" % (name, em, f, n))
PYEOF
echo "== tessera eval --split validation (final checkpoint = best weights)"
eval_report "$D/qa.toml"
