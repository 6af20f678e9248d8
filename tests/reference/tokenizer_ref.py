#!/usr/bin/env python3
"""Reference fixtures and speed numbers for core/io/tokenizer* from Hugging Face `tokenizers`.

Not run by CI.  Needs `pip install tokenizers` (tested with 0.23.3).  From the repo root:

    python3 tests/reference/tokenizer_ref.py fixtures   # (re)write tests/fixtures/tokenizer/*
    python3 tests/reference/tokenizer_ref.py bench      # HF encode MB/s on the bench text (1 thread, all)

`fixtures` does, deterministically:
  1. gathers ~3 MB of real Python source from /usr/lib/python3*/ (sorted paths) as training text;
  2. trains two byte-level BPE tokenizers (vocab 3000) with the StarCoder pipeline
     (Digits(individual) + ByteLevel(use_regex)) and the DeepSeek-Coder pipeline (5 Splits + Digits +
     ByteLevel(use_regex=False), 13 added single characters, BOS TemplateProcessing), plus variants
     (legacy "a b" merges strings, ignore_merges, added-token flags lstrip/rstrip/single_word);
  3. if build/mmlora exists, trains a tokenizer with OUR trainer on the same text and loads it in HF;
  4. dumps, for a corpus of hard strings, HF's ids (with/without special-token parsing, with/without
     the post-processor) and HF's decode of those ids, into cases.json.

Invalid UTF-8: HF takes a Python str, which cannot hold invalid UTF-8.  Fixture inputs are raw bytes
(hex); HF sees bytes.decode("utf-8", errors="replace") (each maximal invalid subpart -> U+FFFD),
and the C encoder applies the same replacement itself before encoding.
"""
import array, glob, hashlib, json, os, subprocess, sys, tempfile, time, unicodedata

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
VOCAB = 2000
DS_CHARS = "õ÷ÁýÀÿøúþüùöû"
DS_BOS, DS_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"


def py_sources(limit):
    files = sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True))
    out, total = [], 0
    for f in files:
        if "/test" in f or "site-packages" in f or "dist-packages" in f:
            continue
        try:
            b = open(f, "rb").read()
        except OSError:
            continue
        out.append(b)
        total += len(b)
        if total >= limit:
            break
    return out


def starcoder(specials):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def deepseek():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("[\r\n]"), behavior="isolated", invert=False),
        pre_tokenizers.Split(Regex("\\s?\\p{L}+"), behavior="isolated", invert=False),
        pre_tokenizers.Split(Regex("\\s?\\p{P}+"), behavior="isolated", invert=False),
        pre_tokenizers.Split(Regex("[一-龥ࠀ-一가-퟿]+"), behavior="isolated", invert=False),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    return tok


def train_all(texts):
    st_specials = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    st = starcoder(st_specials)
    st.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=st_specials,
                                                      initial_alphabet=alphabet, show_progress=False))
    ds = deepseek()
    ds_alpha = [c for c in alphabet if c not in DS_CHARS]
    ds.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=VOCAB - 13 - 9, initial_alphabet=ds_alpha,
                                                      show_progress=False, special_tokens=[]))
    ds.add_tokens([AddedToken(c, special=False, normalized=True) for c in DS_CHARS])
    ds.add_special_tokens([AddedToken(DS_BOS, normalized=False), AddedToken(DS_EOS, normalized=False)])
    ds.add_tokens([AddedToken(s, special=False, normalized=False) for s in
                   ["<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<pad>", "<|User|>", "<|Assistant|>"]])
    ds.add_special_tokens([AddedToken("<|EOT|>", normalized=False)])
    bos = ds.token_to_id(DS_BOS)
    ds.post_processor = processors.TemplateProcessing(single=f"{DS_BOS} $A", pair=f"{DS_BOS} $A {DS_BOS} $B",
                                                      special_tokens=[(DS_BOS, bos)])
    # variants, built by editing the JSON (exactly what a loader must accept)
    sj = json.loads(st.to_str())
    flags = dict(sj)
    flags["added_tokens"] = list(sj["added_tokens"])
    n = max(t["id"] for t in sj["added_tokens"]) + 1
    n = max(n, max(sj["model"]["vocab"].values()) + 1)
    for i, (content, special, ls, rs, sw, norm) in enumerate([
            ("<mask>", True, True, False, False, False), ("<rs>", True, False, True, False, False),
            ("<sw>", False, False, False, True, True), ("def foo", False, False, False, False, True)]):
        flags["added_tokens"].append({"id": n + i, "content": content, "single_word": sw, "lstrip": ls,
                                      "rstrip": rs, "normalized": norm, "special": special})
    # st_var: the same vocab with added-token flags and every Split behaviour / invert / String pattern,
    # Digits(contiguous) and ByteLevel(add_prefix_space=True)
    var = Tokenizer.from_str(json.dumps(flags))
    var.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\\s+"), behavior="merged_with_next", invert=False),
        pre_tokenizers.Split("::", behavior="removed", invert=False),
        pre_tokenizers.Split(Regex("[A-Z]"), behavior="merged_with_previous", invert=True),
        pre_tokenizers.Split(Regex("[(){}]"), behavior="contiguous", invert=False),
        pre_tokenizers.Split(Regex("_"), behavior="isolated", invert=True),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)])
    flags = json.loads(var.to_str())
    dj = json.loads(ds.to_str())
    dj["model"]["merges"] = [" ".join(m) for m in dj["model"]["merges"]]  # legacy "a b" strings
    im = json.loads(st.to_str())
    im["model"]["ignore_merges"] = True
    return {"st": st.to_str(), "ds": json.dumps(dj, ensure_ascii=False, separators=(",", ":")), "st_var": json.dumps(flags, ensure_ascii=False, separators=(",", ":")),
            "st_im": json.dumps(im, ensure_ascii=False, separators=(",", ":"))}


def hard_strings(src):
    s = []
    add = lambda name, b: s.append((name, b if isinstance(b, bytes) else b.encode("utf-8")))
    add("empty", "")
    add("space", " ")
    for n in (2, 3, 7, 16):
        add(f"spaces{n}", " " * n)
        add(f"spaces{n}_word", " " * n + "word")
        add(f"tabs{n}", "\t" * n + "x\t" * n)
    add("mixed_ws", " \t \n\t\t  \n \r\n  x  \u00a0 y\u3000z \u2003w\v\f.")
    add("crlf", "line1\r\nline2\r\n\r\n  indented\r\n\tend\r")
    add("lf_only", "\n\n\n")
    add("trailing_spaces", "foo   \nbar \n  ")
    add("digits", "0 1 12 123 1234 3.14159 1e-10 0xDEADBEEF 1_000_000 -42 +7")
    add("long_number", "31415926535897932384626433832795028841971693993751058209749445923078164062862")
    add("unicode_digits", "٠١٢٣ ४५६ ¹²³ ½ Ⅻ ① 𝟙𝟚")
    add("contractions", "it's I'm they're we've you'll he'd 'S 'T can't DON'T")
    add("punct", "!@#$%^&*()_+-=[]{}|;:'\",.<>/?`~ ... --> <=> :: ->")
    add("code", "def f(x, y=3):\n    return {'a': [x**2, y // 2]}  # comment\n")
    add("code_c", "int main(void){printf(\"%d\\n\", a[i]++ >> 2);}\r\n")
    add("emoji", "hi 👋🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 ❤️ 🤖")
    add("combining", "e\u0301 a\u0308o\u0323\u0302 Z\u0351\u0352\u0353 \u0915\u094d\u0937 ")
    add("cjk", "中文编码 日本語のテキスト 한국어 텍스트 龥龦 一丁 ࠀ 가힣퟿ mixed中文abc123")
    add("rtl", "שלום عالم مرحبا")
    add("greek_cyrillic", "Αλφα βήτα Привет мир ǅungla ǈ")
    add("ds_added_chars", "über façade ÿes Àla öl ú þ ù û õ ÷ Á ý ø ü")
    add("accents_latin1", "naïve café résumé Ærøskøbing São Paulo")
    add("special_inline", "a<|endoftext|>b <fim_prefix>x<fim_suffix>y<fim_middle> <|endoftext|><|endoftext|>")
    add("special_partial", "<|endoftext| <fim_ <|endoftext|>>")
    add("ds_special_inline", f"{DS_BOS}hi{DS_EOS} <|EOT|> <|User|>q<|Assistant|> <pad><｜fim▁hole｜>")
    add("flags_tokens", "x <mask> y<mask>z  <mask>  <rs>   q <sw> a<sw>b <sw>. def foo(): def  foo")
    add("lone_specials", "<|endoftext|>")
    add("flags_single_word_unicode", "x_<sw>_y é<sw> \u0301<sw> ½<sw> Ⅻ<sw> \u200d<sw> 5<sw> <sw>")
    add("nel_etc", "a\u0085b\u2028c\u2029d\u200be\u180ef\ufeffg\u00adh")
    add("control", "".join(chr(c) for c in range(0, 32)) + "\x7f\x80\x9f")
    add("private_use", "\ue000\uf8ff\U000f0000")
    add("surrogate_like", "\U0001d400\U0001f600\U00010000")
    add("noncharacters", "\ufffe\uffff\ufdd0\U0010ffff")
    # invalid UTF-8 (HF sees the errors="replace" decoding)
    add("invalid_lone_cont", b"a\x80b\xbf")
    add("invalid_start", b"\xc0\xc1\xf5\xff x \xfe")
    add("invalid_trunc", b"\xe2\x82 \xf0\x9f\x98 end\xe2")
    add("invalid_surrogate", b"\xed\xa0\x80\xed\xbf\xbf ok")
    add("invalid_overlong", b"\xe0\x80\xaf \xf0\x80\x80\xaf \xc0\xaf")
    add("invalid_toolarge", b"\xf4\x90\x80\x80 \xf8\x88\x80\x80\x80")
    add("replacement_char", "\ufffd\ufffd x")
    # every general category: first 3 assigned BMP code points + one astral, per category
    cats = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = unicodedata.category(chr(cp))
        if c == "Cn":
            continue
        lst = cats.setdefault(c, [])
        if len(lst) < 4 or (cp > 0xFFFF and len(lst) < 6):
            lst.append(cp)
    for c in sorted(cats):
        add(f"cat_{c}", " ".join(chr(cp) + chr(cp) for cp in cats[c]) + " a" + "".join(chr(cp) for cp in cats[c]) + "1")
    # whitespace set: every White_Space code point, alone, between letters and before digits
    ws = [0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) + \
         [0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x180E, 0x200B, 0xFEFF]
    add("white_space_all", "".join(f"a{chr(c)}b{chr(c)}{chr(c)}1{chr(c)}!{chr(c)}" for c in ws))
    add("long_line", ("x = compute(alpha, beta) + 12345 * gamma  # " * 10) + "end")
    add("long_spaces", " " * 700 + "x" + "\t" * 100)
    add("long_word", "a" * 300)
    add("long_digits", "7" * 300)
    # real source snippets
    for i, b in enumerate(src[:: max(1, len(src) // 6)][:6]):
        add(f"src{i}", b[:400])
    return s


def codepoints():
    """Planes 0 and 1 entirely, every 16th code point of planes 2-16 (no surrogates)."""
    return [c for c in range(0x20000) if not 0xD800 <= c <= 0xDFFF] + list(range(0x20000, 0x110000, 16))


def codepoint_hashes(tok, pieces):
    """Per block of 512 code points c, the text " c" "a" "c" "1" "c" "." "cc" ... (exercises \\s, \\p{L},
    \\p{N}, \\p{P}, Digits on every code point) -> sha256 (16 hex digits) of int32 little-endian values:
    HF's ids, or (pieces) the UTF-8 byte lengths of the pre-tokenizer's pieces (stricter: the split itself)."""
    cps = codepoints()
    out = []
    for i in range(0, len(cps), 512):
        text = "".join(f" {chr(c)}a{chr(c)}1{chr(c)}.{chr(c)}{chr(c)}" for c in cps[i:i + 512])
        if pieces:
            vals = [len(p) for p, _ in tok.pre_tokenizer.pre_tokenize_str(text)]   # byte-level: 1 char = 1 byte
        else:
            vals = tok.encode(text, add_special_tokens=False).ids
        out.append(hashlib.sha256(array.array("i", vals).tobytes()).hexdigest()[:16])
    return out


# very long single lines: (unit, repeat, suffix); fixtures keep only a hash of HF's ids
LONG_TEXTS = {
    "code_line": ("x = compute(alpha, beta) + 12345 * gamma  # \u00fcber \u4e2d\u6587 'll ", 20000, "end"),
    "spaces": (" ", 100000, "x"),
    "letters": ("a", 100000, ""),
    "accents": ("\u00e9", 50000, "!"),
    "digits": ("7", 100000, " "),
    "tabs_crlf": ("\t \r\n", 30000, ""),
}


def long_hashes(tok):
    out = {}
    for name, (unit, rep, suffix) in LONG_TEXTS.items():
        ids = tok.encode(unit * rep + suffix, add_special_tokens=False).ids
        out[name] = hashlib.sha256(array.array("i", ids).tobytes()).hexdigest()[:16]
    return out


def dump_cases(toks, cases):
    out = []
    for name, raw in cases:
        text = raw.decode("utf-8", errors="replace")
        c = {"name": name, "hex": raw.hex()}
        for k, tok in toks.items():
            tok.encode_special_tokens = False
            ids = tok.encode(text, add_special_tokens=False).ids
            c[k] = ids
            # to keep the fixture small, the other outputs are stored only where they differ:
            # absent _post / _nosplit means "same ids as c[k]", absent _dec / _decskip "same text as the input"
            post = tok.encode(text, add_special_tokens=True).ids
            if post != ids:
                c[k + "_post"] = post
            tok.encode_special_tokens = True
            nosplit = tok.encode(text, add_special_tokens=False).ids
            if nosplit != ids:
                c[k + "_nosplit"] = nosplit
            tok.encode_special_tokens = False
            for suffix, skip in (("_dec", False), ("_decskip", True)):
                dec = tok.decode(ids, skip_special_tokens=skip)
                if dec != text:
                    c[k + suffix] = dec.encode("utf-8").hex()
        out.append(c)
    return out


def fixtures():
    src = py_sources(3_000_000)
    texts = [b.decode("utf-8", errors="replace") for b in src]
    jsons = train_all(texts)
    os.makedirs(FIX, exist_ok=True)
    for k, j in jsons.items():
        with open(os.path.join(FIX, f"{k}.json"), "w", encoding="utf-8") as f:
            f.write(j)
    mm = os.path.join(ROOT, "build", "mmlora")
    if os.path.exists(mm):
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "train.txt")
            with open(inp, "wb") as f:
                f.write(b"".join(src[: len(src) // 3]))
            for pt in ("starcoder", "deepseek"):
                out = os.path.join(FIX, "ours_st.json" if pt == "starcoder" else "ours_ds.json")
                subprocess.run([mm, "tokenizer", "train", "--vocab-size", "1200", "--pretokenizer", pt,
                                "--input", inp, "--out", out], check=True)
    toks = {k: Tokenizer.from_file(os.path.join(FIX, f"{k}.json")) for k in jsons}
    for pt in ("st", "ds"):
        p = os.path.join(FIX, f"ours_{pt}.json")
        if os.path.exists(p):
            toks[f"ours_{pt}"] = Tokenizer.from_file(p)
    cases = dump_cases(toks, hard_strings(src))
    with open(os.path.join(FIX, "cases.json"), "w") as f:
        json.dump({"tokenizers": sorted(toks), "cases": cases}, f, separators=(",", ":"))
    with open(os.path.join(FIX, "codepoints.json"), "w") as f:
        hashes = {k: codepoint_hashes(toks[k], False) for k in ("st", "ds")}
        hashes.update({k + "_pieces": codepoint_hashes(toks[k], True) for k in ("st", "ds")})
        json.dump(hashes, f, separators=(",", ":"))
    with open(os.path.join(FIX, "long.json"), "w") as f:
        json.dump({"texts": LONG_TEXTS, **{k: long_hashes(t) for k, t in toks.items()}}, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases x {len(toks)} tokenizers to {FIX}")


def bench_text():
    # the same text tests/bench/bench_tokenizer.c reads: first 8 MB of sorted /usr/lib/python3*/**/*.py
    return py_sources(8_000_000)


def bench():
    src = bench_text()
    texts = [b.decode("utf-8", errors="replace") for b in src]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    for k in ("st", "ds"):
        tok = Tokenizer.from_file(os.path.join(FIX, f"{k}.json"))
        t0 = time.perf_counter()
        n = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
        t1 = time.perf_counter()
        n2 = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
        t2 = time.perf_counter()
        lines = [l for t in texts for l in t.splitlines(keepends=True)]
        t3 = time.perf_counter()
        for l in lines:
            tok.encode(l, add_special_tokens=False)
        t4 = time.perf_counter()
        print(f"HF tokenizers {k}: {mb:.2f} MB, {n} ids: 1 thread {mb / (t1 - t0):.2f} MB/s, "
              f"encode_batch ({os.cpu_count()} threads) {mb / (t2 - t1):.2f} MB/s ({n2} ids); "
              f"1 thread line by line {mb / (t4 - t3):.2f} MB/s")


if __name__ == "__main__":
    {"fixtures": fixtures, "bench": bench}[sys.argv[1] if len(sys.argv) > 1 else "fixtures"]()
