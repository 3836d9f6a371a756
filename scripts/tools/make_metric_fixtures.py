#!/usr/bin/env python3
"""Writes the reference fixtures for src/metrics (run once; outputs are committed).

  python3 -m venv /tmp/mvenv && /tmp/mvenv/bin/pip install scikit-learn seqeval sacrebleu
  /tmp/mvenv/bin/python scripts/tools/make_metric_fixtures.py

Writes tests/fixtures/metrics/{classification,entities,squad,bleu}.json. Each file is
{"versions": {...library versions...}, "cases": [...]}; every case holds its inputs
and the reference outputs, computed by:
  classification.json  sklearn.metrics accuracy_score / precision_recall_fscore_support
                       (average=None/"micro"/"macro"/"weighted") / confusion_matrix
  entities.json        seqeval.metrics.classification_report(output_dict=True), default
                       mode and mode="strict", scheme=IOB2
  squad.json           the official SQuAD v1.1 evaluate-v1.1.py logic, re-implemented
                       below line for line (the script is not on PyPI; the `evaluate`
                       package's "squad" metric downloads the same script from the HF
                       hub at run time, which this machine cannot reach)
  bleu.json            sacrebleu.corpus_bleu / sacrebleu.sentence_bleu with defaults
                       (13a, exp smoothing, max order 4) and tokenizer outputs
NaN (seqeval's macro average over no entity types) is written as null.
Randomised cases use fixed seeds, so a rerun with the same versions is byte-identical.
"""
import json
import math
import platform
import random
import re
import string
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import sacrebleu
import seqeval
import sklearn
from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from seqeval.metrics import classification_report as seqeval_report
from seqeval.scheme import IOB2
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

warnings.filterwarnings("ignore")  # zero_division / ill-defined metric warnings are expected

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "metrics"

VERSIONS = {
    "python": platform.python_version(),
    "numpy": np.__version__,
    "scikit-learn": sklearn.__version__,
    "seqeval": getattr(seqeval, "__version__", None),
    "sacrebleu": sacrebleu.__version__,
}
if VERSIONS["seqeval"] is None:
    from importlib.metadata import version
    VERSIONS["seqeval"] = version("seqeval")


def num(x):
    """float/np scalar -> JSON number (NaN -> None)."""
    x = float(x)
    return None if math.isnan(x) else x


def write(name, cases):
    FIX.mkdir(parents=True, exist_ok=True)
    path = FIX / name
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"versions": VERSIONS, "cases": cases}, f, ensure_ascii=False, allow_nan=False,
                  separators=(",", ":"))
        f.write("\n")
    print(f"{path.relative_to(REPO)}: {len(cases)} cases, {path.stat().st_size} bytes")


# ===================================================================== classification
def classification_case(name, y_true, y_pred, labels=None):
    kind = "str" if isinstance(y_true[0], str) else "int"
    case = {"name": name, "label_type": kind, "y_true": y_true, "y_pred": y_pred, "labels": labels}
    case["accuracy"] = num(accuracy_score(y_true, y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None)
    used = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    case["per_class"] = {"labels": used, "precision": [num(x) for x in p], "recall": [num(x) for x in r],
                         "f1": [num(x) for x in f], "support": [int(x) for x in s]}
    for avg in ("micro", "macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg)
        case[avg] = {"precision": num(p), "recall": num(r), "f1": num(f)}
    try:
        cm = confusion_matrix(y_true, y_pred, labels=labels)
        case["confusion"] = cm.tolist()
    except ValueError as e:  # e.g. no label of `labels` in y_true
        case["confusion"] = None
        case["confusion_error"] = str(e)
    return case


def classification_cases():
    c = []
    c.append(classification_case("perfect", [0, 1, 2, 1, 0], [0, 1, 2, 1, 0]))
    c.append(classification_case("all_wrong", [0, 0, 1, 1], [1, 1, 0, 0]))
    c.append(classification_case("binary", [1, 0, 1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 1, 0, 1]))
    c.append(classification_case("label_missing_from_predictions", [0, 1, 2, 2, 1, 0], [0, 0, 0, 1, 1, 0]))
    c.append(classification_case("label_only_in_predictions", [0, 0, 1, 1], [0, 3, 1, 3]))
    c.append(classification_case("single_sample", [7], [7]))
    c.append(classification_case("single_class_all_predicted_other", [2, 2, 2], [5, 5, 5]))
    c.append(classification_case("negative_and_gapped_labels", [-3, 10, 10, 42, -3], [10, 10, -3, 42, 42]))
    c.append(classification_case("ties_equal_scores", [0, 1, 0, 1], [0, 0, 1, 1]))
    c.append(classification_case("explicit_labels_superset", [0, 1, 1, 0], [0, 1, 0, 0], labels=[0, 1, 2]))
    c.append(classification_case("explicit_labels_subset_micro", [0, 1, 2, 2, 1], [0, 2, 2, 1, 1], labels=[2, 1]))
    c.append(classification_case("explicit_labels_reordered", [0, 1, 2, 2], [0, 2, 2, 1], labels=[2, 0, 1]))
    c.append(classification_case("explicit_labels_absent_everywhere", [1, 1], [2, 2], labels=[3]))
    c.append(classification_case("explicit_labels_absent_from_true", [1, 1, 2], [2, 4, 4], labels=[4, 5]))
    c.append(classification_case("strings", ["cat", "dog", "bird", "dog"], ["cat", "cat", "bird", "dog"]))
    c.append(classification_case("strings_unicode", ["négatif", "positif", "ñ", "négatif"],
                                 ["positif", "positif", "ñ", "négatif"]))
    c.append(classification_case("strings_explicit", ["b", "a", "c"], ["a", "a", "c"], labels=["c", "a", "z"]))
    rng = random.Random(20240917)
    for i in range(50):
        n = rng.randint(1, 60)
        k = rng.randint(2, 7)
        pool = rng.sample(range(-5, 30), k)
        skew = [rng.random() + 0.05 for _ in pool]
        y_true = rng.choices(pool, weights=skew, k=n)
        acc = rng.random()
        y_pred = [t if rng.random() < acc else rng.choice(pool) for t in y_true]
        labels = None
        mode = i % 5
        if mode == 3:
            labels = rng.sample(pool + [99, 100], rng.randint(1, k + 2))
        elif mode == 4:
            labels = sorted(set(y_true) | set(y_pred))
            rng.shuffle(labels)
        if i % 7 == 6:  # string labels
            names = ["neg", "neu", "pos", "Ünï", "x-y", "Z", "aa"]
            m = {v: names[j % len(names)] + str(j // len(names)) for j, v in enumerate(pool + [99, 100])}
            y_true = [m[v] for v in y_true]
            y_pred = [m[v] for v in y_pred]
            labels = [m[v] for v in labels] if labels is not None else None
        c.append(classification_case(f"random_{i:02d}", y_true, y_pred, labels))
    return c


# ===================================================================== entities (seqeval)
def seqeval_dict(y_true, y_pred, strict):
    if strict:
        rep = seqeval_report(y_true, y_pred, output_dict=True, mode="strict", scheme=IOB2)
    else:
        rep = seqeval_report(y_true, y_pred, output_dict=True)
    return {k: {"precision": num(v["precision"]), "recall": num(v["recall"]), "f1": num(v["f1-score"]),
                "support": int(v["support"])} for k, v in rep.items()}


def entity_case(name, y_true, y_pred):
    return {"name": name, "y_true": y_true, "y_pred": y_pred, "default": seqeval_dict(y_true, y_pred, False),
            "strict": seqeval_dict(y_true, y_pred, True)}


def entity_cases():
    c = []
    c.append(entity_case("perfect", [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]))
    c.append(entity_case("seqeval_doc_example",
                         [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]],
                         [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]))
    c.append(entity_case("no_entities_at_all", [["O", "O"], ["O"]], [["O", "O"], ["O"]]))
    c.append(entity_case("empty_sentences", [[], []], [[], []]))
    c.append(entity_case("empty_predictions_all_O", [["B-PER", "O", "B-LOC", "I-LOC"]], [["O", "O", "O", "O"]]))
    c.append(entity_case("predicted_but_no_gold", [["O", "O", "O"]], [["B-ORG", "I-ORG", "O"]]))
    c.append(entity_case("I_after_O_starts_entity_in_default_only", [["O", "I-PER", "I-PER", "O"]],
                         [["O", "B-PER", "I-PER", "O"]]))
    c.append(entity_case("I_type_switch", [["B-PER", "I-LOC", "I-LOC"]], [["B-PER", "B-LOC", "I-LOC"]]))
    c.append(entity_case("boundary_mismatch", [["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-PER", "O"]]))
    c.append(entity_case("adjacent_B", [["B-PER", "B-PER", "B-PER"]], [["B-PER", "I-PER", "B-PER"]]))
    c.append(entity_case("entity_at_sentence_end", [["O", "B-LOC"], ["I-LOC", "O"]], [["O", "B-LOC"], ["B-LOC", "O"]]))
    c.append(entity_case("type_with_dash", [["B-GEO-LOC", "I-GEO-LOC", "O"]], [["B-GEO-LOC", "I-GEO-LOC", "O"]]))
    c.append(entity_case("bare_B_I", [["B", "I", "O", "I"]], [["B", "O", "O", "I"]]))
    c.append(entity_case("label_missing_from_predictions",
                         [["B-PER", "O", "B-LOC", "O", "B-ORG"]], [["B-PER", "O", "O", "O", "B-ORG"]]))
    c.append(entity_case("ties", [["B-A", "O", "B-B", "O"]], [["B-A", "B-B", "O", "B-A"]]))
    rng = random.Random(1234567)
    types = ["PER", "LOC", "ORG", "MISC"]
    for i in range(50):
        ntypes = rng.randint(1, 4)
        ts = types[:ntypes]
        y_true, y_pred = [], []
        for _ in range(rng.randint(1, 6)):
            n = rng.randint(0, 14)
            gold = []
            prev = "O"
            for _ in range(n):
                r = rng.random()
                if r < 0.45:
                    tag = "O"
                elif r < 0.7:
                    tag = "B-" + rng.choice(ts)
                elif prev != "O" and r < 0.92:
                    tag = "I-" + prev[2:]  # well-formed continuation
                else:
                    tag = "I-" + rng.choice(ts)  # stray / ill-formed I-
                gold.append(tag)
                prev = tag
            noise = rng.random() * 0.5
            pred = []
            for tag in gold:
                if rng.random() < noise:
                    r = rng.random()
                    tag = "O" if r < 0.4 else (("B-" if r < 0.7 else "I-") + rng.choice(ts))
                pred.append(tag)
            y_true.append(gold)
            y_pred.append(pred)
        c.append(entity_case(f"random_{i:02d}", y_true, y_pred))
    return c


# ===================================================================== SQuAD v1.1
# The official evaluate-v1.1.py logic (normalize_answer, f1_score, exact_match_score,
# metric_max_over_ground_truths, evaluate), re-implemented from its published code.
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def squad_evaluate(predictions, ground_truths):
    f1 = exact_match = total = 0
    for pred, gts in zip(predictions, ground_truths):
        total += 1
        exact_match += metric_max_over_ground_truths(exact_match_score, pred, gts)
        f1 += metric_max_over_ground_truths(f1_score, pred, gts)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {'exact_match': exact_match, 'f1': f1}


def squad_case(name, predictions, ground_truths):
    res = squad_evaluate(predictions, ground_truths)
    per_q = [{"em": bool(metric_max_over_ground_truths(exact_match_score, p, g)),
              "f1": float(metric_max_over_ground_truths(f1_score, p, g))}
             for p, g in zip(predictions, ground_truths)]
    strings = sorted(set(predictions) | {g for gs in ground_truths for g in gs})
    return {"name": name, "predictions": predictions, "ground_truths": ground_truths,
            "exact_match": res["exact_match"], "f1": float(res["f1"]), "per_question": per_q,
            "normalized": {s: normalize_answer(s) for s in strings}}


def squad_cases():
    c = []
    c.append(squad_case("exact", ["Denver Broncos"], [["Denver Broncos", "the Broncos"]]))
    c.append(squad_case("articles", ["The Eiffel Tower", "an apple a day", "theatre the", "A", "the the the"],
                        [["Eiffel Tower"], ["apple day"], ["theatre"], ["an"], [""]]))
    c.append(squad_case("punctuation_and_case", ["Hello, World!!", "U.S.A.", "rock'n'roll", "(1995)"],
                        [["hello world"], ["USA"], ["rocknroll"], ["1995"]]))
    c.append(squad_case("partial_overlap", ["in the early 19th century", "Paris France", "cat cat dog"],
                        [["early 19th century"], ["Paris", "France"], ["cat dog dog"]]))
    c.append(squad_case("empty_prediction", ["", "   ", "the"], [["something"], ["x"], ["a"]]))
    c.append(squad_case("multiple_ground_truths_max", ["Saint Bernadette Soubirous"],
                        [["Bernadette", "Saint Bernadette Soubirous", "Soubirous"]]))
    c.append(squad_case("unicode", ["Café Müller", "São Paulo — Brazil", "“quoted” text", "naïve\u00a0résumé",
                                    "ΟΔΟΣ", "İstanbul", "日本 東京", "Straße", "ﬁnal", "the\u2003end"],
                        [["cafe muller", "café müller"], ["São Paulo Brazil"], ["quoted text"], ["naïve résumé"],
                         ["οδος"], ["i̇stanbul"], ["東京"], ["STRASSE", "straße"], ["final"], ["end"]]))
    c.append(squad_case("articles_next_to_unicode", ["thé théâtre", "a-b an_c the—thing", "ä a ä", "the1 a2 an3"],
                        [["thé théâtre"], ["b c thing"], ["ä ä"], ["the1 a2 an3"]]))
    c.append(squad_case("numbers_and_whitespace", ["1,000,000 \t dollars\n", "3.14", " 42 "],
                        [["1000000 dollars"], ["314"], ["42"]]))
    rng = random.Random(777)
    words = ["the", "a", "an", "river", "Nile", "Egypt", "1869", "Suez", "canal", "Canal,", "French", "ß", "é",
             "(built)", "in", "of", "—", "THE", "An", "Ægypt", "ocean."]
    preds, gts = [], []
    for _ in range(120):
        gt = [" ".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(rng.randint(1, 3))]
        base = rng.choice(gt).split()
        pred = [w for w in base if rng.random() < 0.8] + rng.choices(words, k=rng.randint(0, 2))
        rng.shuffle(pred) if rng.random() < 0.3 else None
        preds.append(" ".join(pred))
        gts.append(gt)
    for i in range(4):
        c.append(squad_case(f"random_{i}", preds[i * 30:(i + 1) * 30], gts[i * 30:(i + 1) * 30]))
    return c


# ===================================================================== BLEU (sacrebleu)
def bleu_dict(s):
    return {"score": float(s.score), "counts": [int(x) for x in s.counts], "totals": [int(x) for x in s.totals],
            "precisions": [float(x) for x in s.precisions], "bp": float(s.bp), "sys_len": int(s.sys_len),
            "ref_len": int(s.ref_len)}


def bleu_case(name, hyps, refs, lowercase=False):
    corpus = sacrebleu.corpus_bleu(hyps, refs, lowercase=lowercase)
    sentences = [bleu_dict(sacrebleu.sentence_bleu(h, [r[i] for r in refs], lowercase=lowercase))
                 for i, h in enumerate(hyps)]
    tok = Tokenizer13a()
    lines = sorted(set(hyps) | {x for r in refs for x in r})
    # tokenizer output as BLEU applies it: lowercase (optional), rstrip, 13a
    tokenized = {l: tok((l.lower() if lowercase else l).rstrip()) for l in lines}
    return {"name": name, "hypotheses": hyps, "references": refs, "lowercase": lowercase,
            "corpus": bleu_dict(corpus), "sentences": sentences, "tokenized": tokenized}


def bleu_cases():
    c = []
    c.append(bleu_case("perfect", ["the cat sat on the mat"], [["the cat sat on the mat"]]))
    c.append(bleu_case("sacrebleu_readme",
                       ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."],
                       [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
                        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]))
    c.append(bleu_case("empty_hypothesis", [""], [["a reference sentence"]]))
    c.append(bleu_case("empty_hypotheses_in_corpus", ["", "hello world"], [["x y z", "hello world"]]))
    c.append(bleu_case("very_short_hypothesis_bp", ["the"], [["the quick brown fox jumps over the lazy dog"]]))
    c.append(bleu_case("short_hypothesis_bp", ["the quick brown fox"], [["the quick brown fox jumps over it"]]))
    c.append(bleu_case("zero_matches", ["alpha beta gamma delta"], [["one two three four five"]]))
    c.append(bleu_case("unigram_matches_only", ["one three five seven"], [["one two three four five six seven"]]))
    c.append(bleu_case("no_4gram_matches", ["a b c x a b c y"], [["a b c d a b c e"]]))
    c.append(bleu_case("longer_than_reference", ["a b c d e f g h i j"], [["a b c d"]]))
    c.append(bleu_case("multiple_references_closest_length_tie",
                       ["w1 w2 w3 w4 w5"], [["w1 w2 w3 w4"], ["w1 w2 w3 w4 w5 w6"], ["w9 w8 w7"]]))
    c.append(bleu_case("multiple_references_clipping", ["the the the the the the the"],
                       [["the cat is on the mat"], ["there is a cat on the mat"]]))
    c.append(bleu_case("tokenizer_13a_punct_numbers",
                       ["He paid $3.50, i.e. 1,000.5 units (approx.) at 5-6 p.m.; ok?",
                        "Wait... what?! \"quoted\" [brackets] {braces} a/b a\\b `tick` ~tilde ^hat @at #hash"],
                       [["He paid $ 3.50 , i.e. 1,000.5 units ( approx . ) at 5 - 6 p.m. ; ok ?",
                         "Wait . . . what ? ! \" quoted \" [ brackets ] { braces } a / b a \\ b ` tick ` ~ tilde"]]))
    c.append(bleu_case("tokenizer_13a_entities_and_skipped",
                       ["A &amp; B &lt;tag&gt; &quot;q&quot; &amp;quot; <skipped> end", "line-\nbreak and\nnewline -\n"],
                       [["A & B <tag> \"q\" &quot; end", "linebreak and newline -"]]))
    c.append(bleu_case("unicode_and_whitespace",
                       ["Der Bär läuft\u00a0schnell.  Ça va\u2009? 東京は 大きい。", "tab\tseparated\u3000words  "],
                       [["Der Bär läuft schnell. Ça va ? 東京は大きい。", "tab separated words"]]))
    c.append(bleu_case("tokenized_period_input", ["this is a test ."], [["this is a test."]]))
    c.append(bleu_case("lowercase_option", ["THE Cat SAT ON ΟΔΟΣ"], [["the cat sat on οδος"]], lowercase=True))
    c.append(bleu_case("case_sensitive_default", ["THE Cat SAT on the mat"], [["the cat sat on the mat"]]))
    c.append(bleu_case("empty_reference", ["some words here", "more words"], [["", "more words"]]))
    rng = random.Random(4242)
    vocab = ["the", "a", "cat", "dog", "sat", "on", "mat", "quickly", "red", "blue", "runs", "over", "hill",
             "3.5", "1,000", "2-3", "(x)", "end.", "yes,", "no!", "Über", "café", "&amp;", "it's", "U.S.", "—"]
    for i in range(30):
        nseg = rng.randint(1, 8)
        nref = rng.randint(1, 3)
        refs = [[] for _ in range(nref)]
        hyps = []
        for _ in range(nseg):
            base = rng.choices(vocab, k=rng.randint(1, 15))
            for r in refs:
                alt = [w if rng.random() < 0.75 else rng.choice(vocab) for w in base]
                if rng.random() < 0.3:
                    alt = alt[: rng.randint(1, len(alt))]
                r.append(" ".join(alt))
            q = rng.random()
            hyp = [w for w in base if rng.random() < 0.85]
            hyp = [w if rng.random() < q else rng.choice(vocab) for w in hyp]
            if rng.random() < 0.1:
                hyp = []
            hyps.append(" ".join(hyp))
        c.append(bleu_case(f"random_{i:02d}", hyps, refs, lowercase=(i % 10 == 9)))
    return c


def main():
    print(json.dumps(VERSIONS))
    write("classification.json", classification_cases())
    write("entities.json", entity_cases())
    write("squad.json", squad_cases())
    write("bleu.json", bleu_cases())


if __name__ == "__main__":
    sys.exit(main())
