#!/usr/bin/python3
"""English-Spanish verse pairs from two SWORD zText Bible modules (KJV and Reina-Valera 1909).

Reads Debian's sword-text-kjv (module engKJV2006eb) and sword-text-sparv (module
spaRV1909eb) with the standard library only. Both are zText, SourceType=OSIS,
Versification=KJV, so entry i of one module's verse index is the same key as entry
i of the other's; a verse pair is the two texts at the same index.

zText layout (per testament, ot.* and nt.*):
  .bzs  block index, 12-byte records <u32 offset, u32 size, u32 uncompressed size>
  .bzz  zlib-compressed blocks
  .bzv  verse index, 10-byte records <u32 block, u32 offset, u16 size>; entry i is
        the i-th key of the testament: 0 module header, 1 testament header, then per
        book a book-intro entry and per chapter a chapter-heading entry followed by
        the chapter's verses 1..n.
References come from the KJV module's own markers: a book intro holds
<div type="book" osisID=".." sID=..>, a chapter heading <chapter osisID="Gen.1"
sID=..>; the verses after a chapter heading are numbered 1, 2, ... The script
checks that the Spanish module has the same markers at the same indices and that
the KJV versification totals come out (1,189 chapters, 31,102 verses).

Markup: <note> and non-canonical <title> elements are dropped with their content;
every other tag (w lemma=, transChange, divineName, q, l, lg, milestone, canonical
psalm titles, ...) is dropped and its text kept; entities decoded, the paragraph
mark (U+00B6) removed, whitespace collapsed. RV1909 prints each chapter's first
word in capitals ("EN el principio", "Y JEHOVÁ dijo"); see fix_drop_caps for how it
is re-cased. Pairs where either side is empty are skipped, and so are the chapters
and verses where RV1909's verse division does not follow KJV's (see filter_misaligned).

Output in --out:
  all.tsv                      every pair: ref<TAB>en<TAB>es (header line)
  {train,validation,test}.tsv  the split (test/validation: --heldout verses each,
                               chosen by sha256 of the reference; the rest is train)
  translation_{train,validation}.txt   one example per line for causal-LM
                               fine-tuning: "English: <en> Spanish: <es>"
  test.en, test.es, test.ref   test sources, references and verse references,
                               line-aligned

Usage: /usr/bin/python3 scripts/tools/extract_sword_parallel.py \
         --kjv DIR/modules/texts/ztext/engKJV2006eb --es DIR/modules/texts/ztext/spaRV1909eb --out DIR
"""
import argparse
import hashlib
import math
import os
import re
import struct
import sys
import zlib

BOOK_RE = re.compile(r'<div\b[^>]*\btype="book"[^>]*>')
OSISID_RE = re.compile(r'\bosisID="([^"]+)"')
SID_RE = re.compile(r'\bsID="')
CHAPTER_RE = re.compile(r'<chapter\b[^>]*\bsID="([^"]+)"[^>]*/>')
NOTE_RE = re.compile(r'<note\b[^>]*?(?<!/)>.*?</note>', re.S)
TITLE_RE = re.compile(r'<title\b(?![^>]*\bcanonical="true")[^>]*?(?<!/)>.*?</title>', re.S)
TAG_RE = re.compile(r'<[^>]*>')
SPACE_RE = re.compile(r'\s+')
ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}
KJV_CHAPTERS, KJV_VERSES = 1189, 31102


def read_testament(module_dir, name):
    """Yields the decoded text of every index entry ("" for empty ones)."""
    paths = [os.path.join(module_dir, name + ext) for ext in (".bzs", ".bzv", ".bzz")]
    for p in paths:
        if not os.path.isfile(p):
            sys.exit(f"{p}: not found (is {module_dir} a zText module?)")
    bzs, bzv, bzz = (open(p, "rb").read() for p in paths)
    if len(bzs) % 12 or len(bzv) % 10:
        sys.exit(f"{module_dir}/{name}: .bzs/.bzv sizes are not multiples of 12/10 bytes")
    blocks = [struct.unpack_from("<III", bzs, i * 12) for i in range(len(bzs) // 12)]
    cache = {}
    for i in range(len(bzv) // 10):
        block, offset, size = struct.unpack_from("<IIH", bzv, i * 10)
        if size == 0:
            yield ""
            continue
        if block not in cache:
            cache.clear()
            if block >= len(blocks):
                sys.exit(f"{paths[1]}: entry {i} points at block {block}, .bzs has {len(blocks)}")
            off, csize, usize = blocks[block]
            data = zlib.decompress(bzz[off:off + csize])
            if len(data) != usize:
                sys.exit(f"{paths[2]}: block {block} decompressed to {len(data)} bytes, index says {usize}")
            cache[block] = data
        yield cache[block][offset:offset + size].decode("utf-8")


def clean(fragment):
    text = NOTE_RE.sub(" ", fragment)
    text = TITLE_RE.sub(" ", text)
    text = TAG_RE.sub(" ", text)
    for k, v in ENTITIES.items():
        text = text.replace(k, v)
    text = text.replace("\u00b6", " ")
    text = SPACE_RE.sub(" ", text).strip()
    text = re.sub(r" ([,.;:?!)’»])", r"\1", text)  # tags split words from punctuation
    text = re.sub(r"([(¿¡«]) ", r"\1", text)
    return text


CAPS_RE = re.compile(r"\b([^\W\d_]{2,})\b(?=[\s,.;:!?¡¿]+[^\W\d_])")


def fix_drop_caps(pairs):
    """RV1909 sets a chapter's first word in capitals ("EN el principio", "Y JEHOVÁ dijo").
    In verse 1 the first all-capital word followed by more text (and an all-capital word
    right after it) is re-cased: capitalised
    at the start of the text or of a sentence (after a psalm title), elsewhere to its more frequent spelling in the module
    (lower case or capitalised, e.g. "fueron" but "Jehová")."""
    freq = {}
    for _, _, es in pairs:
        for w in re.findall(r"[^\W\d_]+", es):
            freq[w] = freq.get(w, 0) + 1
    def recase(w, at_start):
        lower, title = w.lower(), w.capitalize()
        return title if at_start or freq.get(title, 0) > freq.get(lower, 0) else lower

    out = []
    for ref, en, es in pairs:
        if ref.endswith(".1"):
            m = next((m for m in CAPS_RE.finditer(es) if m.group(1).isupper()), None)
            while m:  # the capitals may run over two words ("LA SEGUNDA suerte")
                at_start = re.search(r"(^|[.!?:]\s)[\s¡¿«(]*$", es[:m.start()]) is not None
                es = es[:m.start()] + recase(m.group(1), at_start) + es[m.end():]
                gap = re.match(r"\.? ", es[m.end():])
                m = CAPS_RE.match(es, m.end() + len(gap.group(0))) if gap else None
                if m and not m.group(1).isupper():
                    m = None
        out.append((ref, en, es))
    return out


def markers(fragment):
    """('book', 'Gen') / ('chapter', 'Gen.1') / None for an index entry."""
    ch = CHAPTER_RE.findall(fragment)
    if ch:
        return ("chapter", ch[-1])
    for m in BOOK_RE.finditer(fragment):
        if SID_RE.search(m.group(0)):
            oid = OSISID_RE.search(m.group(0))
            return ("book", oid.group(1) if oid else "?")
    return None


def parallel(kjv_dir, es_dir):
    """Returns [(ref, en, es)] for every verse key, in canonical order."""
    pairs, skipped, chapters, verses = [], [], 0, 0
    for testament in ("ot", "nt"):
        en_entries = list(read_testament(kjv_dir, testament))
        es_entries = list(read_testament(es_dir, testament))
        if len(en_entries) != len(es_entries):
            sys.exit(f"{testament}: {len(en_entries)} index entries in {kjv_dir}, {len(es_entries)} in {es_dir}")
        chapter, verse = None, 0
        for i, (en, es) in enumerate(zip(en_entries, es_entries)):
            mk = markers(en)
            if mk is not None:
                if markers(es) != mk:
                    sys.exit(f"{testament} entry {i}: KJV has {mk}, the Spanish module {markers(es)}")
                if mk[0] == "chapter":
                    chapter, verse = mk[1], 0
                    chapters += 1
                else:
                    chapter = None
                continue
            if chapter is None:
                continue
            verse += 1
            verses += 1
            ref = f"{chapter}.{verse}"
            en_text, es_text = clean(en), clean(es)
            if en_text and es_text:
                pairs.append((ref, en_text, es_text))
            else:
                skipped.append(f"{ref}({'en' if not en_text else ''}{'es' if not es_text else ''} empty)")
    if (chapters, verses) != (KJV_CHAPTERS, KJV_VERSES):
        sys.exit(f"found {chapters} chapters and {verses} verse keys, KJV versification has "
                 f"{KJV_CHAPTERS} and {KJV_VERSES}: index layout not understood")
    print(f"{verses} verse keys, {len(pairs)} pairs, {len(skipped)} skipped: {' '.join(skipped)}")
    return filter_misaligned(fix_drop_caps(pairs), [s.split("(")[0] for s in skipped])


def chapter_of(ref):
    return ref.rsplit(".", 1)[0]


def filter_misaligned(pairs, empty_refs, chapter_z=1.9, verse_z=3.0):
    """RV1909's own verse division differs from KJV's in a few places (e.g. KJV Jonah 1:17
    is RV Jonah 2:1); the module fills the KJV slots in order, leaves a slot empty and
    shifts the rest of the chapter, or merges two verses into one slot. Dropped:
    a chapter holding an empty Spanish slot and the chapter after it (same book);
    a chapter whose mean |z| of log(len(es)/len(en)) is > chapter_z (a shift without an
    empty slot); and any verse whose |z| > verse_z (a merge)."""
    logs = [math.log(len(es) / len(en)) for _, en, es in pairs]
    mu = sum(logs) / len(logs)
    sd = math.sqrt(sum((x - mu) ** 2 for x in logs) / len(logs))
    z = [abs(x - mu) / sd for x in logs]
    chapters = []  # canonical order
    per = {}
    for (ref, _, _), zi in zip(pairs, z):
        c = chapter_of(ref)
        if c not in per:
            chapters.append(c)
            per[c] = []
        per[c].append(zi)
    drop = set()
    for ref in empty_refs:
        c = chapter_of(ref)
        drop.add(c)
        book, n = c.rsplit(".", 1)
        drop.add(f"{book}.{int(n) + 1}")
    drop |= {c for c in chapters if sum(per[c]) / len(per[c]) > chapter_z}
    kept = [p for p, zi in zip(pairs, z) if chapter_of(p[0]) not in drop and zi <= verse_z]
    dropped_chapters = [c for c in chapters if c in drop]
    n_chapter = sum(len(per[c]) for c in dropped_chapters)
    print(f"alignment filter: {len(dropped_chapters)} chapters dropped ({n_chapter} pairs): "
          f"{' '.join(dropped_chapters)}; {len(pairs) - len(kept) - n_chapter} more verses with "
          f"|z| > {verse_z} of log(len es / len en) (mean {mu:.3f}, sd {sd:.3f}); {len(kept)} pairs kept")
    return kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kjv", required=True, help="zText module folder of engKJV2006eb")
    ap.add_argument("--es", required=True, help="zText module folder of spaRV1909eb")
    ap.add_argument("--out", required=True)
    ap.add_argument("--heldout", type=int, default=300, help="verses in validation and in test")
    ap.add_argument("--show", nargs="*", default=["John.3.16", "Gen.1.1", "Ps.23.1", "Rev.22.21"],
                    help="references to print for checking the alignment by eye")
    args = ap.parse_args()
    pairs = parallel(args.kjv, args.es)
    for p in pairs:
        if "\t" in p[1] + p[2] or "\n" in p[1] + p[2]:
            sys.exit(f"{p[0]}: tab or newline left in the text")
    order = sorted(range(len(pairs)), key=lambda i: hashlib.sha256(pairs[i][0].encode()).hexdigest())
    test_ids = set(order[:args.heldout])
    val_ids = set(order[args.heldout:2 * args.heldout])
    split = {"train": [], "validation": [], "test": []}
    for i, p in enumerate(pairs):  # canonical order inside each split
        split["test" if i in test_ids else "validation" if i in val_ids else "train"].append(p)

    os.makedirs(args.out, exist_ok=True)

    def out(name, lines):
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(line + "\n" for line in lines)
        print(f"{path}: {len(lines)} lines")

    def tsv(rows):
        return ["ref\ten\tes"] + ["\t".join(r) for r in rows]

    out("all.tsv", tsv(pairs))
    for name, rows in split.items():
        out(f"{name}.tsv", tsv(rows))
    for name in ("train", "validation"):
        out(f"translation_{name}.txt", [f"English: {en} Spanish: {es}" for _, en, es in split[name]])
    out("test.en", [en for _, en, _ in split["test"]])
    out("test.es", [es for _, _, es in split["test"]])
    out("test.ref", [ref for ref, _, _ in split["test"]])
    by_ref = {p[0]: p for p in pairs}
    for ref in args.show:
        if ref in by_ref:
            print(f"{ref}\n  en: {by_ref[ref][1]}\n  es: {by_ref[ref][2]}")


if __name__ == "__main__":
    main()
