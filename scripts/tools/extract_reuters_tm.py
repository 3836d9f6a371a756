#!/usr/bin/python3
"""Reuters-21578 acq/crude articles (from Debian's r-cran-tm) to topic-classification CSVs.

The R package tm ships two small samples of Reuters-21578 in
usr/lib/R/site-library/tm/texts/: acq/ (50 articles about acquisitions) and
crude/ (20 articles about crude oil), one <REUTERS> XML document per file.
The label is the folder name (every article's <TOPICS> lists it; some list
other topics too). The text is "<TITLE>. <BODY>" with whitespace collapsed and
the trailing "Reuter" signature removed.

Splits are stratified and deterministic: within each label the articles are
ordered by sha256("<label>/<file name>") and cut 60/20/20 (train/validation/test).
Output: <out>/{train,validation,test}.csv, RFC 4180, header "text,label", LF.

Usage: /usr/bin/python3 scripts/tools/extract_reuters_tm.py --texts DIR/tm/texts --out DIR
"""
import argparse
import csv
import hashlib
import os
import re
import sys
import xml.etree.ElementTree as ET

LABELS = ("acq", "crude")
FRACTIONS = (("train", 0.6), ("validation", 0.2), ("test", 0.2))


def read_article(path, label):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        sys.exit(f"{path}: not well-formed XML: {e}")
    topics = [d.text for d in root.findall("./TOPICS/D")]
    if label not in topics:
        sys.exit(f"{path}: <TOPICS> {topics} does not list '{label}'")
    title = (root.findtext("./TEXT/TITLE") or "").strip()
    body = root.findtext("./TEXT/BODY") or ""
    body = re.sub(r"\s*\bReuter\s*$", "", body.strip())
    title = re.sub(r"\s+", " ", title)
    body = re.sub(r"\s+", " ", body).strip()
    if not body:
        sys.exit(f"{path}: empty <BODY>")
    text = f"{title}. {body}" if title else body
    return text


def split_counts(n):
    """60/20/20 with rounding; validation and test get at least one item when n >= 3."""
    n_val = max(1, round(n * FRACTIONS[1][1])) if n >= 3 else 0
    n_test = max(1, round(n * FRACTIONS[2][1])) if n >= 3 else 0
    return {"train": n - n_val - n_test, "validation": n_val, "test": n_test}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", required=True, help="the tm/texts folder (holds acq/ and crude/)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    splits = {name: [] for name, _ in FRACTIONS}
    for label in LABELS:
        folder = os.path.join(args.texts, label)
        if not os.path.isdir(folder):
            sys.exit(f"{folder}: not found (is this tm/texts from r-cran-tm?)")
        names = sorted(f for f in os.listdir(folder) if f.endswith(".xml"))
        names.sort(key=lambda f: hashlib.sha256(f"{label}/{f}".encode()).hexdigest())
        counts = split_counts(len(names))
        i = 0
        for split, _ in FRACTIONS:
            for f in names[i:i + counts[split]]:
                splits[split].append((read_article(os.path.join(folder, f), label), label))
            i += counts[split]
    os.makedirs(args.out, exist_ok=True)
    for split, rows in splits.items():
        path = os.path.join(args.out, f"{split}.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["text", "label"])
            w.writerows(rows)
        per = {lab: sum(1 for _, l in rows if l == lab) for lab in LABELS}
        print(f"{path}: {len(rows)} rows {per}")


if __name__ == "__main__":
    main()
