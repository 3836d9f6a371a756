#!/usr/bin/python3
"""Extract plain-text books of the King James Version from Debian's sword-text-kjv.

Decodes the SWORD zText module engKJV2006eb (CompressType=ZIP) with the standard
library only and writes one UTF-8 text file per book into data/kjv/:
one verse per line (no verse numbers), a blank line between chapters, so
`tessera prepare --doc-separator blank-lines` makes one document per chapter.

zText layout (per testament, ot.* and nt.*):
  .bzs  block index, 12-byte records <u32 offset, u32 size, u32 uncompressed size>
        pointing into .bzz
  .bzz  zlib-compressed blocks
  .bzv  verse index, 10-byte records <u32 block, u32 offset, u16 size>; entry i
        is the i-th key of the testament (module/testament headers, book
        intros, chapter headings, verses) and (offset, size) select bytes in
        the decompressed block.
Entries are OSIS XML fragments. Book and chapter starts appear in-stream as
<div type="book" osisID="Gen" .../> and <chapter osisID="Gen.1" sID=.../>; we
track them instead of hard-coding the versification. <note> and <title>
elements are dropped with their content, every other tag is dropped and its
text kept; the paragraph mark U+00B6 is removed.

Usage: /usr/bin/python3 scripts/tools/extract_kjv.py [--module-dir DIR] [--out data/kjv]
"""
import argparse
import os
import re
import struct
import sys
import zlib

DEFAULT_MODULE = "/usr/share/sword/modules/texts/ztext/engKJV2006eb"

# The books written out (OSIS id, file name). Genesis..Ruth plus the four Gospels.
BOOKS = [
    ("Gen", "01_genesis"), ("Exod", "02_exodus"), ("Lev", "03_leviticus"),
    ("Num", "04_numbers"), ("Deut", "05_deuteronomy"), ("Josh", "06_joshua"),
    ("Judg", "07_judges"), ("Ruth", "08_ruth"),
    ("Matt", "40_matthew"), ("Mark", "41_mark"), ("Luke", "42_luke"), ("John", "43_john"),
]

BOOK_RE = re.compile(r'<div\b[^>]*\btype="book"[^>]*>')
OSISID_RE = re.compile(r'\bosisID="([^"]+)"')
CHAPTER_RE = re.compile(r'<chapter\b[^>]*\bsID="([^"]+)"[^>]*/>')
DROP_RE = re.compile(r'<(note|title)\b[^>]*?(?<!/)>.*?</\1>', re.S)
TAG_RE = re.compile(r'<[^>]*>')
SPACE_RE = re.compile(r'\s+')
ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}


def read_testament(module_dir, name):
    with open(os.path.join(module_dir, name + ".bzs"), "rb") as f:
        bzs = f.read()
    with open(os.path.join(module_dir, name + ".bzv"), "rb") as f:
        bzv = f.read()
    with open(os.path.join(module_dir, name + ".bzz"), "rb") as f:
        bzz = f.read()
    if len(bzs) % 12 or len(bzv) % 10:
        sys.exit(f"{module_dir}/{name}: index sizes are not multiples of the record sizes")
    blocks = [struct.unpack_from("<III", bzs, i * 12) for i in range(len(bzs) // 12)]
    cache = {}
    for i in range(len(bzv) // 10):
        block, offset, size = struct.unpack_from("<IIH", bzv, i * 10)
        if size == 0:
            continue
        if block not in cache:
            cache.clear()
            off, csize, usize = blocks[block]
            data = zlib.decompress(bzz[off:off + csize])
            if len(data) != usize:
                sys.exit(f"{module_dir}/{name}.bzz: block {block} decompressed to {len(data)} bytes, index says {usize}")
            cache[block] = data
        yield cache[block][offset:offset + size].decode("utf-8")


def clean(fragment):
    text = DROP_RE.sub(" ", fragment)
    text = TAG_RE.sub(" ", text)
    for k, v in ENTITIES.items():
        text = text.replace(k, v)
    text = text.replace("\u00b6", " ")
    text = SPACE_RE.sub(" ", text).strip()
    # tags split words from punctuation: "earth ." -> "earth."
    text = re.sub(r" ([,.;:?!)])", r"\1", text)
    text = re.sub(r"\( ", "(", text)
    return text


def extract(module_dir):
    """Returns {book: {chapter: [verse text, ...]}} in document order."""
    books = {}
    book = chapter = None
    for testament in ("ot", "nt"):
        for frag in read_testament(module_dir, testament):
            for m in BOOK_RE.finditer(frag):
                oid = OSISID_RE.search(m.group(0))
                if oid and re.search(r"\bsID=", m.group(0)):  # a book start, not its eID closer
                    book, chapter = oid.group(1), None
                    books.setdefault(book, {})
            for c in CHAPTER_RE.finditer(frag):
                chapter = int(c.group(1).rsplit(".", 1)[1])
                books.setdefault(book, {}).setdefault(chapter, [])
            if book is None or chapter is None:
                continue
            # text after the last chapter-start tag belongs to that chapter
            starts = list(CHAPTER_RE.finditer(frag))
            text = clean(frag[starts[-1].end():] if starts else frag)
            if text:
                books[book][chapter].append(text)
    return books


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module-dir", default=DEFAULT_MODULE)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "data", "kjv"))
    args = ap.parse_args()
    if not os.path.isdir(args.module_dir):
        sys.exit(f"{args.module_dir}: not found (apt-get install sword-text-kjv)")
    books = extract(args.module_dir)
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for osis, fname in BOOKS:
        chapters = books.get(osis)
        if not chapters:
            sys.exit(f"book {osis} not found in {args.module_dir}")
        body = "\n\n".join("\n".join(v) for _, v in sorted(chapters.items())) + "\n"
        path = os.path.join(args.out, fname + ".txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(body)
        total += len(body.encode("utf-8"))
        print(f"{path}: {len(chapters)} chapters, {sum(len(v) for v in chapters.values())} verses")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
