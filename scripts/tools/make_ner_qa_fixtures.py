#!/usr/bin/python3
"""NER (CoNLL) and extractive-QA (SQuAD v1.1) fixtures over the bundled KJV text.

Public-domain input only: data/kjv/*.txt (one verse per line, a blank line between
chapters). Standard library only; the output is the same on every run.

NER -> tests/fixtures/tasks/ner_kjv/{train,validation}.conll
  Two columns "token TAG", BIO tags PER / LOC, a blank line between sentences (one
  sentence = one verse). Labels come from the hand-made gazetteer below, not from
  annotators: a token is PER / LOC when it is in PERSONS / PLACES (case-sensitive);
  consecutive tokens of one type form one entity (Simon Peter -> B-PER I-PER). To keep
  the labels honest a verse is used only when every capitalised token after the first
  is in the gazetteer or in NOT_ENTITIES (God, LORD, Egyptians, ...) — so verses with
  unlisted or ambiguous names (Israel, Judah, Dan) are left out. Verses of 6..60 tokens.

QA -> tests/fixtures/tasks/qa_kjv/{train,validation}.json
  SQuAD v1.1. Questions are templates over verse patterns ("Moses went to Egypt" ->
  "Who went to Egypt?" / "Where did Moses go?", "X said unto Y", "X begat Y",
  "X dwelt in Y", "X the son of Y", "X took Y", "X was N years old"), where X and Y
  are gazetteer names. The context
  is the verse with its neighbours in the chapter (up to one before and one after);
  answer_start is the character (code point) offset in the context, checked here.
  A question text is used at most --max-same-question times per split (so "To whom
  did the LORD speak?" does not crowd out the rest).

Split: by chapter (no verse or context is shared by the two splits): a chapter goes
to validation when int(sha256("<book>.<chapter>"), 16) % 5 == 0; inside a split the
items are taken in sha256 order of their reference up to --ner-train/--ner-validation
(--qa-train/--qa-validation) items, then written in canonical order.

Usage: /usr/bin/python3 scripts/tools/make_ner_qa_fixtures.py [--kjv data/kjv] [--out tests/fixtures/tasks]
"""
import argparse
import hashlib
import json
import os
import re
import sys

PERSONS = set("""
Adam Eve Cain Abel Seth Enoch Methuselah Lamech Noah Shem Ham Japheth Terah Nahor Abram Abraham
Sarai Sarah Hagar Ishmael Isaac Rebekah Jacob Esau Laban Rachel Leah Bilhah Zilpah Joseph Reuben Simeon
Levi Benjamin Naphtali Zebulun Issachar Asher Dinah Tamar Potiphar Pharaoh Moses Aaron Miriam Amram
Jochebed Zipporah Jethro Hobab Hur Nadab Abihu Eleazar Ithamar Phinehas Korah Dathan Abiram Balaam
Balak Joshua Caleb Nun Othniel Ehud Deborah Barak Sisera Jael Gideon Abimelech Jephthah Samson Delilah
Manoah Micah Naomi Ruth Orpah Boaz Obed Jesse David Elimelech Mahlon Chilion Melchizedek Lot
Jesus Christ Peter Simon Andrew James John Philip Bartholomew Thomas Matthew Judas Iscariot Mary
Magdalene Martha Lazarus Pilate Pontius Herod Herodias Elias Zacharias Elisabeth Nicodemus Barabbas
Caiaphas Annas Zacchaeus Jairus Esaias Salome Zebedee Alphaeus Cleopas Joses Bartimaeus Levi
""".split()) - {"Lot"}  # Lot: the person, but "lot" starts verses too; left out
PLACES = set("""
Egypt Canaan Jerusalem Bethlehem Nazareth Galilee Judaea Samaria Jordan Jericho Hebron Bethel Shechem
Sodom Gomorrah Haran Ur Babel Eden Goshen Sinai Horeb Moab Edom Midian Gilead Bashan Kadesh Gaza Gerar
Beer-sheba Mamre Machpelah Zoar Paran Zin Shiloh Gilgal Ai Gibeah Mizpeh Ramah Capernaum Bethany
Bethsaida Tyre Sidon Decapolis Gethsemane Golgotha Damascus Assyria Syria Chaldees Padan-aram
Mesopotamia Nineveh Rameses Succoth Elim Rephidim Meribah Hormah Heshbon Lachish Hazor Gibeon Timnath
Zorah Eshtaol Emmaus Cana Chorazin Jericho Arimathaea Gadarenes Bethphage Siloam Pisgah Nebo
""".split())
# Capitalised words that are not person or place names here (tagged O).
NOT_ENTITIES = set("""
God LORD Lord GOD I O Amen Spirit Holy Ghost Son Father Almighty Most High Sabbath Passover Jubile
Hebrew Hebrews Egyptian Egyptians Israelite Israelites Philistine Philistines Pharisees Pharisee
Sadducees Jews Jew Gentiles Canaanites Canaanite Amorites Amorite Hittites Hittite Hivites Perizzites
Jebusites Girgashites Levites Levite Midianites Moabites Moabitess Ammonites Edomites Samaritan
Samaritans Galilaeans Nazarene Rabbi Master Satan Devil Beelzebub Messias Thou Thy Thee Ye My Behold
""".split())
TOKEN_RE = re.compile(r"’s\b|\w+(?:-\w+)*|[^\w\s]")

BOOK_TITLES = {"genesis": "Genesis", "exodus": "Exodus", "leviticus": "Leviticus", "numbers": "Numbers",
               "deuteronomy": "Deuteronomy", "joshua": "Joshua", "judges": "Judges", "ruth": "Ruth",
               "matthew": "Matthew", "mark": "Mark", "luke": "Luke", "john": "John"}


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def is_validation(chapter_ref):
    return int(sha(chapter_ref), 16) % 5 == 0


def read_kjv(folder):
    """[(book title, chapter no., [verse, ...])] in canonical order."""
    chapters = []
    names = sorted(f for f in os.listdir(folder) if f.endswith(".txt"))
    if not names:
        sys.exit(f"{folder}: no *.txt (the bundled KJV text)")
    for name in names:
        key = name[:-4].split("_", 1)[1]
        title = BOOK_TITLES.get(key, key.capitalize())
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            blocks = f.read().strip("\n").split("\n\n")
        for n, block in enumerate(blocks, 1):
            chapters.append((title, n, block.split("\n")))
    return chapters


# ------------------------------------------------------------------ NER
def tag_tokens(tokens):
    """BIO tags from the gazetteer, or None when the verse has an unlisted capitalised word."""
    types = []
    for i, t in enumerate(tokens):
        typ = "PER" if t in PERSONS else "LOC" if t in PLACES else None
        if typ is None and i > 0 and t[:1].isupper() and t not in NOT_ENTITIES:
            return None
        types.append(typ)
    if not any(types):
        return None
    tags = []
    for i, typ in enumerate(types):
        if typ is None:
            tags.append("O")
        elif i > 0 and types[i - 1] == typ:
            tags.append("I-" + typ)
        else:
            tags.append("B-" + typ)
    return tags


def ner_items(chapters):
    items = {"train": [], "validation": []}
    for book, ch, verses in chapters:
        split = "validation" if is_validation(f"{book}.{ch}") else "train"
        for v, text in enumerate(verses, 1):
            tokens = TOKEN_RE.findall(text)
            if not 6 <= len(tokens) <= 60:
                continue
            tags = tag_tokens(tokens)
            if tags:
                items[split].append((f"{book}.{ch}.{v}", tokens, tags))
    return items


def write_conll(path, items):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for _, tokens, tags in items:
            for t, g in zip(tokens, tags):
                f.write(f"{t} {g}\n")
            f.write("\n")


# ------------------------------------------------------------------ QA
def alt(names):
    return "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))


PER, LOC = alt(PERSONS), alt(PLACES)
# past tense -> base form, for "Whom did X <base>?" / "Where did X <base>?"
VERBS = {"took": "take", "sent": "send", "blessed": "bless", "saw": "see",
         "kissed": "kiss", "loved": "love", "heard": "hear", "met": "meet", "followed": "follow",
         "buried": "bury", "smote": "smite", "brought": "bring", "answered": "answer",
         "commanded": "command", "charged": "charge", "besought": "beseech", "asked": "ask"}
MOVES = {"went": "go", "came": "come", "fled": "flee", "returned": "return", "journeyed": "journey",
         "departed": "depart", "removed": "remove"}
# (pattern over a verse, [(question template, answer group)]); {v}: the verb as found,
# {base}: its base form
QA_TEMPLATES = [
    (rf"\b(?P<a>{PER}) (?P<v>{alt(MOVES)}) (?:up |down |again |out |away )?(?:in)?to (?:the land of )?(?P<b>{LOC})\b",
     [("Who {v} to {b}?", "a"), ("Where did {a} {base}?", "b")]),
    (rf"\b(?P<a>{PER}) (?P<v>{alt(MOVES)}) (?:up |down |away |out )?(?:from|out of) (?P<b>{LOC})\b",
     [("Who {v} from {b}?", "a"), ("From where did {a} {base}?", "b")]),
    (rf"\b(?P<a>{PER}) (?:dwelt|abode|sojourned) in (?:the land of )?(?P<b>{LOC})\b",
     [("Who dwelt in {b}?", "a"), ("Where did {a} dwell?", "b")]),
    (rf"\b(?P<a>{PER}) (?:said|spake) unto (?P<b>{PER})\b",
     [("Who spoke to {b}?", "a"), ("To whom did {a} speak?", "b")]),
    (rf"\b(?P<a>the LORD|God|the angel of the LORD) (?:said|spake|appeared) unto (?P<b>{PER})\b",
     [("To whom did {a} speak?", "b")]),
    (rf"\b(?P<a>{PER}),? (?:his|her|the) (?P<v>wife|brother|father|mother|sister|daughter|son|servant|handmaid)(?: of (?P<b>{PER}))?\b",
     [("Who was the {v} of {b}?", "a")]),
    (rf"\b(?P<a>{PER}) begat (?P<b>{PER})\b",
     [("Who begat {b}?", "a"), ("Whom did {a} beget?", "b")]),
    (rf"\b(?P<a>{PER}) (?P<v>{alt(VERBS)}) (?P<b>{PER})\b",
     [("Who {v} {b}?", "a"), ("Whom did {a} {base}?", "b")]),
    (rf"\b(?P<a>{PER}),? the son of (?P<b>{PER})\b",
     [("Whose son was {a}?", "b")]),
    (rf"\b(?P<a>{PER}) (?:was|were) (?:born )?in (?P<b>{LOC})\b",
     [("Who was in {b}?", "a"), ("Where was {a}?", "b")]),
    (rf"\b(?P<a>{PER}),? (?:the )?(?P<v>king|priest|prince|captain|governor) of (?P<b>{LOC})\b",
     [("Who was the {v} of {b}?", "a"), ("Of what place was {a} the {v}?", "b")]),
    (rf"\b(?P<a>{PER}) the (?P<v>[A-Z][a-z]+(?:ite|itess|ian|ess))\b",
     [("Who was the {v}?", "a")]),
    (rf"\b(?P<a>{PER}) (?P<v>died|was buried) in (?:the land of )?(?P<b>{LOC})\b",
     [("Where {v} {a}?", "b")]),
    (rf"\b(?P<a>{PER}) and (?P<b>{PER}) (?:went|came|said|spake|fell|rose|stood)\b",
     [("Who was with {a}?", "b")]),
    (rf"\b(?P<a>{PER}) was (?P<b>(?:[a-z]+ )+?years) old\b",
     [("How old was {a}?", "b")]),
]
QA_TEMPLATES = [(re.compile(p), qs) for p, qs in QA_TEMPLATES]


def qa_items(chapters):
    items = {"train": [], "validation": []}
    for book, ch, verses in chapters:
        split = "validation" if is_validation(f"{book}.{ch}") else "train"
        for v, text in enumerate(verses, 1):
            lo, hi = max(0, v - 2), min(len(verses), v + 1)
            before = " ".join(verses[lo:v - 1])
            context = " ".join(verses[lo:hi])
            base = len(before) + (1 if before else 0)  # offset of this verse in the context
            seen = set()
            for pat, questions in QA_TEMPLATES:
                for m in pat.finditer(text):
                    for q, group in questions:
                        g = m.groupdict()
                        if "{b}" in q and g.get("b") is None:
                            continue
                        verb = g.get("v") or ""
                        if q.startswith("Where {v}"):
                            q = "Where did {a} die?" if verb == "died" else "Where was {a} buried?"
                        question = q.format(a=g["a"], b=g.get("b"), v=verb,
                                            base=VERBS.get(verb) or MOVES.get(verb, ""))
                        if question in seen:
                            continue
                        seen.add(question)
                        answer = m.group(group)
                        start = base + m.start(group)
                        if context[start:start + len(answer)] != answer:
                            sys.exit(f"{book} {ch}:{v}: answer '{answer}' not at {start} of the context")
                        items[split].append(dict(ref=f"{book}.{ch}.{v}", book=book, context=context,
                                                 question=question, answer=answer, start=start))
    return items


def write_squad(path, items):
    data = {}
    for n, it in enumerate(items):
        paras = data.setdefault(it["book"], {})
        para = paras.setdefault(it["context"], [])
        para.append({"id": f"{it['ref']}-{len(para) + 1}", "question": it["question"],
                     "answers": [{"text": it["answer"], "answer_start": it["start"]}]})
    doc = {"version": "1.1", "data": [
        {"title": book, "paragraphs": [{"context": c, "qas": qas} for c, qas in paras.items()]}
        for book, paras in data.items()]}
    # independent check of every offset, as a reader would do it
    for art in doc["data"]:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                a = qa["answers"][0]
                if p["context"][a["answer_start"]:a["answer_start"] + len(a["text"])] != a["text"]:
                    sys.exit(f"{path}: question {qa['id']}: answer_start {a['answer_start']} does not hold '{a['text']}'")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def take(items, n, key, order, same=None, max_same=0):
    """The first n items in sha256(key) order; with `same`, at most max_same items per same(item)."""
    chosen, per = [], {}
    for it in sorted(items, key=lambda it: sha(key(it))):
        if same is not None:
            k = same(it)
            if per.get(k, 0) >= max_same:
                continue
            per[k] = per.get(k, 0) + 1
        chosen.append(it)
        if len(chosen) == n:
            break
    return sorted(chosen, key=order)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.relpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kjv", default=os.path.join(root, "data", "kjv"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "tasks"))
    ap.add_argument("--ner-train", type=int, default=400)
    ap.add_argument("--ner-validation", type=int, default=100)
    ap.add_argument("--qa-train", type=int, default=320)
    ap.add_argument("--qa-validation", type=int, default=75)
    ap.add_argument("--max-same-question", type=int, default=8,
                    help="QA: at most this many items per question text in a split")
    args = ap.parse_args()
    chapters = read_kjv(args.kjv)
    canon = {f"{b}.{c}.{v}": (i, v) for i, (b, c, vs) in enumerate(chapters) for v in range(1, len(vs) + 1)}

    ner = ner_items(chapters)
    os.makedirs(os.path.join(args.out, "ner_kjv"), exist_ok=True)
    for split, n in (("train", args.ner_train), ("validation", args.ner_validation)):
        chosen = take(ner[split], n, lambda it: it[0], lambda it: canon[it[0]])
        if len(chosen) < n:
            sys.exit(f"NER {split}: only {len(chosen)} verses qualify, {n} asked")
        path = os.path.join(args.out, "ner_kjv", f"{split}.conll")
        write_conll(path, chosen)
        counts = {}
        for _, _, tags in chosen:
            for g in tags:
                if g.startswith("B-"):
                    counts[g[2:]] = counts.get(g[2:], 0) + 1
        print(f"{path}: {len(chosen)} sentences, {sum(len(t) for _, t, _ in chosen)} tokens, "
              f"entities {dict(sorted(counts.items()))} (of {len(ner[split])} candidates)")

    qa = qa_items(chapters)
    os.makedirs(os.path.join(args.out, "qa_kjv"), exist_ok=True)
    for split, n in (("train", args.qa_train), ("validation", args.qa_validation)):
        chosen = take(qa[split], n, lambda it: it["ref"] + it["question"],
                      lambda it: (canon[it["ref"]], it["question"]),
                      same=lambda it: it["question"], max_same=args.max_same_question)
        if len(chosen) < n:
            sys.exit(f"QA {split}: only {len(chosen)} questions qualify, {n} asked")
        path = os.path.join(args.out, "qa_kjv", f"{split}.json")
        write_squad(path, chosen)
        kinds = {}
        for it in chosen:
            k = it["question"].split()[0]
            kinds[k] = kinds.get(k, 0) + 1
        print(f"{path}: {len(chosen)} questions, {len({it['context'] for it in chosen})} contexts, "
              f"by first word {dict(sorted(kinds.items()))} (of {len(qa[split])} candidates)")


if __name__ == "__main__":
    main()
