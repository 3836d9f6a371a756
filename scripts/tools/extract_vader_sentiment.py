#!/usr/bin/python3
"""Movie-review sentence sentiment (from PyPI vaderSentiment==3.3.2's sdist) to CSVs.

vaderSentiment's sdist carries additional_resources/hutto_ICWSM_2014.tar.gz, the
data set of Hutto & Gilbert (ICWSM 2014). Its movieReviewSnippets_GroundTruth.txt
holds 10,605 sentence-level snippets of Rotten Tomatoes reviews (derived from
Pang & Lee's 2,000 movie reviews), each with the mean of >= 20 human ratings on
[-4, 4], tab separated: ID, MEAN-SENTIMENT-RATING, TEXT (UTF-8, CRLF).

label = "positive" when the mean rating is > 0, "negative" when < 0; snippets with
a mean of exactly 0 and repeated texts (after the first) are dropped. The mean
rating is kept in a third column, "rating".

Splits are stratified and deterministic: within each label the snippets are ordered
by sha256(ID) and cut 80/10/10 (train/validation/test). train_imbalanced.csv is
train with the negatives cut down (first ones in that order) to 10% of its rows,
for class-weight / resampling experiments.
Output: <out>/{train,validation,test,train_imbalanced}.csv, RFC 4180, header
"text,label,rating", LF, rows ordered by sha256(ID).

Usage: /usr/bin/python3 scripts/tools/extract_vader_sentiment.py --archive vaderSentiment-3.3.2.tar.gz --out DIR
"""
import argparse
import csv
import hashlib
import io
import os
import sys
import tarfile

INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
LABELS = ("negative", "positive")
MINORITY, MINORITY_SHARE = "negative", 0.10


def key(row):
    return hashlib.sha256(row[0].encode()).hexdigest()


def read_snippets(archive):
    with tarfile.open(archive) as outer:
        inner = outer.extractfile(INNER)
        if inner is None:
            sys.exit(f"{archive}: no {INNER}")
        with tarfile.open(fileobj=io.BytesIO(inner.read())) as t:
            f = t.extractfile(MEMBER)
            if f is None:
                sys.exit(f"{archive}:{INNER}: no {MEMBER}")
            text = f.read().decode("utf-8")
    rows, seen, zero, dup = [], set(), 0, 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            sys.exit(f"{MEMBER}:{n}: expected 3 tab-separated fields, got {len(parts)}")
        sid, rating, snippet = parts[0], float(parts[1]), " ".join(parts[2].split())
        if rating == 0:
            zero += 1
            continue
        if snippet in seen:
            dup += 1
            continue
        seen.add(snippet)
        rows.append((sid, snippet, "positive" if rating > 0 else "negative", parts[1]))
    print(f"{MEMBER}: {len(rows)} snippets kept, {zero} with mean 0 and {dup} repeats dropped")
    return rows


def write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label", "rating"])
        for _, text, label, rating in rows:
            w.writerow([text, label, rating])
    per = {lab: sum(1 for r in rows if r[2] == lab) for lab in LABELS}
    print(f"{path}: {len(rows)} rows {per}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", required=True, help="vaderSentiment-3.3.2.tar.gz")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows = read_snippets(args.archive)
    splits = {"train": [], "validation": [], "test": []}
    for label in LABELS:
        mine = sorted((r for r in rows if r[2] == label), key=key)
        n_val = n_test = round(len(mine) * 0.1)
        splits["test"] += mine[:n_test]
        splits["validation"] += mine[n_test:n_test + n_val]
        splits["train"] += mine[n_test + n_val:]
    os.makedirs(args.out, exist_ok=True)
    for name, part in splits.items():
        part.sort(key=key)
        write(os.path.join(args.out, f"{name}.csv"), part)
    train = splits["train"]
    major = [r for r in train if r[2] != MINORITY]
    keep = round(len(major) * MINORITY_SHARE / (1 - MINORITY_SHARE))
    minor = [r for r in train if r[2] == MINORITY][:keep]
    write(os.path.join(args.out, "train_imbalanced.csv"), sorted(major + minor, key=key))


if __name__ == "__main__":
    main()
