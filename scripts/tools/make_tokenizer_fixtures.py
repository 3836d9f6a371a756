#!/usr/bin/env python3
"""Writes the tokenizer parity corpus and fixtures (run once; outputs are committed).

  python make_tokenizer_fixtures.py corpus     # (re)writes tests/fixtures/tokenizer/corpus.txt
  python make_tokenizer_fixtures.py fixtures   # writes the *.jsonl expected outputs

`fixtures` needs a venv with PyPI `tokenizers` and `tiktoken`
(e.g. python3 -m venv /tmp/v && /tmp/v/bin/pip install tokenizers tiktoken) and the
assets from scripts/fetch_assets.sh (env TESSERA_ASSETS or <repo>/.cache/assets).

Fixture format (JSON Lines): line 1 is {"header": {...}} (tool versions, asset sha256,
corpus sha256); then one object per corpus line, in order:
  {"ids": [...], "offsets": [b0, e0, b1, e1, ...]}
Offsets are UTF-8 *byte* offsets into the corpus line (HF's Python API reports char
offsets; they are converted here). gpt2_tiktoken.jsonl has ids only.
"""
import hashlib
import json
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "tokenizer"
ASSETS = Path(os.environ.get("TESSERA_ASSETS", REPO / ".cache" / "assets"))


# ---------------------------------------------------------------- corpus
def make_corpus():
    rng = random.Random(20240601)
    lines = []

    # 1. English prose: KJV verses, evenly sampled across the books in data/kjv.
    kjv = []
    for f in sorted((REPO / "data" / "kjv").glob("*.txt")):
        kjv += [l for l in f.read_text(encoding="utf-8").split("\n") if l.strip()]
    step = max(1, len(kjv) // 1100)
    lines += kjv[::step][:1100]

    # 2. Code: lines of the repository's own C++/Python/CMake (indentation = whitespace runs).
    code = []
    for pat in ("src/**/*.cpp", "src/**/*.hpp", "kernels/*.cpp", "scripts/tools/*.py", "CMakeLists.txt"):
        for f in sorted(REPO.glob(pat)):
            if "tokenizer" in f.name:
                continue
            for l in f.read_text(encoding="utf-8", errors="replace").split("\n"):
                if l.strip() and "\r" not in l:
                    code.append(l)
    rng.shuffle(code)
    lines += code[:300]

    # 3. Hand-written / combinatorial edge cases.
    contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D",
                    "’s", "'x", "''", "'"]
    words = ["it", "don", "you", "they", "I", "we", "she", "JOHN", "Mary", "O'Neil", "rock'n'roll", "y'all"]
    for w in words:
        for c in contractions:
            lines.append(f"{w}{c} here, {w.upper()}{c} there; {w}{c}{c}")
    numbers = ["0", "7", "42", "1234567890", "3.14159", "-12", "+1e-9", "1,000,000", "2024-06-01", "12:30:45",
               "0x1F", "v1.2.3", "100%", "$5.99", "€10", "½", "²³", "Ⅻ", "٣٤٥", "१२३", "１２３", "1st", "22nd",
               "C3PO", "R2-D2"]
    for i in range(120):
        a, b, c = rng.choice(numbers), rng.choice(numbers), rng.choice(numbers)
        lines.append(f"Item {i}: {a} + {b} = {c}{rng.choice(['', '.', '!', ' ', '  '])}")
    accents = ["café", "naïve", "résumé", "señor", "mañana", "über", "Ärger", "Straße", "São Paulo", "Zürich",
               "crème brûlée", "Ångström", "Đorđe", "İstanbul", "ǅemal", "ﬁne ﬂow", "e\u0301te\u0301",
               "n\u0303o", "a\u0308\u0304", "Å vs A\u030a", "ΑΒΓ αβγ Ωμέγα", "Привет, мир", "Ελληνικά",
               "ΣΊΣΥΦΟΣ", "Ǆ", "ℌ𝔢𝔩𝔩𝔬", "𝐁𝐨𝐥𝐝"]
    cjk = ["你好，世界！", "日本語のテキスト。", "한국어 문장입니다.", "中文English混合", "漢字かなカナ",
           "「引用」と『書名』", "𠀋𡈽𡌛", "ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ", "ｶﾀｶﾅ", "〜～・"]
    emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🫠", "🇫🇷🇯🇵", "👩🏾‍💻", "✌︎", "🧑‍🤝‍🧑",
             "#️⃣", "©", "™", "☃", "🤷‍♀️"]
    other = ["مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "ሰላም", "Γειά σου Κόσμε",
             "Tiếng Việt có dấu", "ქართული", "Հայերեն", "ᚠᚢᚦ"]
    punct = ["!!!", "?!", "...", "…", "—", "–", "--", "«»", "“quoted”", "‘single’", "(parens)", "[brackets]",
             "{braces}", "<angle>", "@user", "#tag", "a/b\\c", "x_y", "~`^|", "§¶†‡", "¿Qué?", "¡Hola!",
             "***", "=>", "!=", "&&", "::", "->", "<|endoftext|>", "<|endoftext", "|>"]
    spaces = [" ", "  ", "   ", "\t", "\t\t", " \t ", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2003\u2003",
              "\x0b", "\x0c", "\x1f", "\u0085", "\u2028", "\ue000", "\u00ad", "\ufeff"]
    pools = [accents, cjk, emoji, other, punct, words, numbers]
    for i in range(700):
        k = rng.randint(2, 9)
        parts = []
        for _ in range(k):
            parts.append(rng.choice(rng.choice(pools)))
            parts.append(rng.choice(spaces) if rng.random() < 0.3 else " ")
        if rng.random() < 0.5:
            parts.pop()  # no trailing separator half of the time
        s = "".join(parts)
        if rng.random() < 0.15:
            s = s.upper()
        lines.append(s)
    fixed = [
        "Hello world! The quick brown fox.",
        "<|endoftext|>",
        "Before<|endoftext|>after <|endoftext|> spaced",
        "trailing spaces   ",
        "   leading spaces",
        "\tleading tab",
        "tabs\tin\tthe\tmiddle\t",
        "mixed \t \t whitespace \t",
        "a" * 150,
        "supercalifragilisticexpialidocious" * 4,
        "x",
        " ",
        "  ",
        "\t",
        "He said \"I'm sure you're right, it's John's and we'll see; they've, I'd\".",
        "HE'S, YOU'RE, WE'VE, I'M, THEY'LL, SHE'D, DON'T",
        "https://example.com/path?query=1&b=2#frag",
        "user@example.org, +1 (555) 123-4567",
        "def f(x):    return x**2  # square",
        "for (int i = 0; i < n; ++i) { a[i] += b[i] * 2.0f; }",
        "std::vector<std::pair<int, float>> v{{1, 2.5f}};",
        "Ünïcödé ÀÉÎÕÜ àéîõü",
        "Mixed: English, Русский, 中文, العربية, हिन्दी, 日本語, 😀!",
    ]
    lines += fixed
    for l in lines:
        assert "\n" not in l and "\r" not in l
    FIX.mkdir(parents=True, exist_ok=True)
    (FIX / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"corpus.txt: {len(lines)} lines")


# ---------------------------------------------------------------- fixtures
def sha256(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def char_to_byte_table(s):
    t = [0]
    for ch in s:
        t.append(t[-1] + len(ch.encode("utf-8")))
    return t


def read_corpus():
    text = (FIX / "corpus.txt").read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def make_fixtures():
    import tiktoken
    import tokenizers
    from tiktoken.load import load_tiktoken_bpe
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    lines = read_corpus()
    vocab, merges = ASSETS / "gpt2/vocab.json", ASSETS / "gpt2/merges.txt"
    ttk, bert = ASSETS / "gpt2/gpt2.tiktoken", ASSETS / "minilm/tokenizer.json"
    common = {
        "tokenizers": tokenizers.__version__,
        "tiktoken": tiktoken.__version__,
        "python": sys.version.split()[0],
        "corpus_sha256": sha256(FIX / "corpus.txt"),
        "corpus_lines": len(lines),
        "offsets": "utf-8 byte offsets [begin,end) flattened",
    }

    # GPT-2 byte-level BPE from vocab.json + merges.txt, configured like HF's gpt2 tokenizer.json.
    bpe = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    bpe.add_special_tokens([AddedToken("<|endoftext|>", special=True)])

    # tiktoken gpt2 with the locally fetched ranks (no network).
    spec = tiktoken.registry.get_encoding  # noqa: F841  (ensures registry import works)
    from tiktoken_ext.openai_public import r50k_pat_str
    enc = tiktoken.Encoding(name="gpt2-local", pat_str=r50k_pat_str, mergeable_ranks=load_tiktoken_bpe(str(ttk)),
                            special_tokens={"<|endoftext|>": 50256}, explicit_n_vocab=50257)

    wp = Tokenizer.from_file(str(bert))
    wp.no_truncation()
    wp.no_padding()

    def dump(name, header, rows):
        with open(FIX / name, "w", encoding="utf-8") as f:
            f.write(json.dumps({"header": header}, ensure_ascii=False) + "\n")
            for r in rows:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        print(f"{name}: {len(rows)} rows, {os.path.getsize(FIX / name)} bytes")

    bpe_rows, tt_rows, wp_rows = [], [], []
    n_tt_diff = n_rt_fail = 0
    for s in lines:
        tb = char_to_byte_table(s)
        e = bpe.encode(s)
        offs = [tb[x] for o in e.offsets for x in o]
        row = {"ids": e.ids, "offsets": offs}
        if bpe.decode(e.ids, skip_special_tokens=False) != s:
            row["roundtrip"] = False
            n_rt_fail += 1
        bpe_rows.append(row)
        t = enc.encode(s, allowed_special={"<|endoftext|>"})
        n_tt_diff += t != e.ids
        tt_rows.append({"ids": t})
        w = wp.encode(s, add_special_tokens=False)
        wp_rows.append({"ids": w.ids, "offsets": [tb[x] for o in w.offsets for x in o]})

    dump("gpt2_bpe.jsonl", dict(common, tokenizer="HF tokenizers BPE(vocab.json, merges.txt) + ByteLevel(add_prefix_space=False, trim_offsets=False) + special <|endoftext|>",
                                vocab_json_sha256=sha256(vocab), merges_txt_sha256=sha256(merges),
                                roundtrip_failures=n_rt_fail), bpe_rows)
    dump("gpt2_tiktoken.jsonl", dict(common, tokenizer="tiktoken Encoding(r50k_pat_str, gpt2.tiktoken, {<|endoftext|>: 50256}), allowed_special={<|endoftext|>}",
                                     gpt2_tiktoken_sha256=sha256(ttk), lines_differing_from_hf_bpe=n_tt_diff), tt_rows)
    dump("bert_uncased_wordpiece.jsonl", dict(common, tokenizer="HF tokenizers Tokenizer.from_file(minilm/tokenizer.json), no truncation/padding, add_special_tokens=False",
                                              tokenizer_json_sha256=sha256(bert), vocab_txt_sha256=sha256(ASSETS / "minilm/vocab.txt")), wp_rows)
    print(f"tiktoken vs HF BPE differing lines: {n_tt_diff}; HF BPE round-trip failures: {n_rt_fail}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    {"corpus": make_corpus, "fixtures": make_fixtures}[cmd]()
