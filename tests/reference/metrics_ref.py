#!/usr/bin/python3
"""Writes the metric fixtures under tests/fixtures/metrics/ from the real reference implementations.
NOT run by CI (needs the references, which are not part of this repository).

What it writes
  pairs.jsonl     ~4,000 synthetic hypothesis/reference cases (1-3 references) built from word lists
                  (WordNet lemmas, English function words, code identifiers) with synonyms, inflections,
                  reorderings, drops, repeats, empty strings, punctuation and '_', upper case and non-ASCII;
                  per case: CodeXGLUE sentence BLEU, NLTK 3.8 METEOR and NLTK >= 3.9 METEOR (repr strings).
  files.jsonl     gold/pred file pairs exercising bleu.py's file rules (CRLF, duplicate ids, missing ids,
                  blank lines, 3 fields, invalid UTF-8, ...), bytes hex-encoded; expected corpus BLEU
                  printed by the real script, or the exception it raised.
  stats.jsonl     random paired samples and scipy 1.10.1 ttest_rel / wilcoxon results (several options).
  realtext/*.txt  expected per-sentence scores (numbers only, never text) for fixed pairings of the
                  summaries in ../shared/data (each against itself, against the next one, and both with
                  every third word dropped); the C test reads the texts at test time.

How to run (Debian 12; network only for the pip installs):
  1. CodeXGLUE's bleu.py (blob f8f2b0aa, see ../shared/tools/bleu_oracle.md) saved outside the repo,
     e.g. /tmp/ref/cxg_bleu.py.  (When this was generated no CodeXGLUE clone was reachable; the copy used
     came from the public fork aminatadjer/text-code, Code-Text/code-to-text/code/bleu.py; its git blob id
     differs from f8f2b0aa (formatting), its code is the algorithm the spec describes and it reproduces
     the spec's worked examples 1-6 exactly.)
  2. Python with scipy 1.10.1 / numpy 1.24.2:  python3 -m venv /tmp/venv110 &&
     /tmp/venv110/bin/pip install scipy==1.10.1 numpy==1.24.2
  3. Python with NLTK >= 3.9 (pip nltk 3.10.4 here) and an NLTK_DATA dir holding a plain copy of the
     meteor oracle's WordNet shadow dir as corpora/wordnet (NLTK 3.10 refuses symlinks).
  4. /usr/bin/python3 tests/reference/metrics_ref.py
     env: CXG_BLEU=/tmp/ref/cxg_bleu.py  SCIPY_PYTHON=/tmp/venv110/bin/python
          NLTK39_PYTHON=python3 NLTK39_DATA=/tmp/nltkdata  SHARED_DIR=../shared
Runs under Debian's /usr/bin/python3 (NLTK 3.8, the default METEOR reference).
"""
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "fixtures", "metrics")
SHARED = os.environ.get("SHARED_DIR", os.path.join(REPO, "..", "shared"))
sys.path.insert(0, HERE)
import metrics_realtext  # noqa: E402  (the pairing rules shared with the C test)


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


B = load_module("cxg_bleu", os.environ.get("CXG_BLEU", "/tmp/ref/cxg_bleu.py"))
MO = load_module("meteor_oracle", os.environ.get("METEOR_ORACLE", os.path.join(SHARED, "tools", "meteor_oracle.py")))
from nltk.stem.porter import PorterStemmer  # noqa: E402
from nltk.translate import meteor_score as ms  # noqa: E402

WN = MO.load_wordnet()
STEMMER = PorterStemmer()


def prep(s):
    return B.splitPuncts(s.strip().lower())


def bleu_sentence(hyp, refs):
    return B.bleu([prep(r) for r in refs], prep(hyp))[0]


def meteor38(hyp, refs):
    return ms.meteor_score([r.split() for r in refs], hyp.split(), stemmer=STEMMER, wordnet=WN)


NLTK39_SCRIPT = r'''
import json, sys
from nltk.corpus.reader.wordnet import WordNetCorpusReader
WordNetCorpusReader.map_wn = lambda self, version="wordnet": None   # no OMW / other-version mapping
import nltk
from nltk.translate import meteor_score as ms
from nltk.corpus import wordnet as wn
assert tuple(int(x) for x in nltk.__version__.split(".")[:2]) >= (3, 9), nltk.__version__
for line in sys.stdin:
    c = json.loads(line)
    print(repr(ms.meteor_score([r.split() for r in c["r"]], c["h"].split(), wordnet=wn)))
'''


def meteor39_batch(cases):
    env = dict(os.environ, NLTK_DATA=os.environ.get("NLTK39_DATA", "/tmp/nltkdata"))
    inp = "".join(json.dumps({"h": h, "r": r}) + "\n" for h, r in cases)
    out = subprocess.run([os.environ.get("NLTK39_PYTHON", "python3"), "-c", NLTK39_SCRIPT], input=inp.encode(),
                         capture_output=True, env=env, check=True).stdout.decode().split("\n")
    return out[:len(cases)]


# ------------------------------------------------------------------ word lists
FUNCTION_WORDS = """the a an of to in for on with at by from up about into over after under again further
then once here there when where why how all any both each few more most other some such no nor not only own
same so than too very can will just should now is are was were be been being have has had do does did
if or and but because as until while this that these those it its returns return""".split()
CODE_IDS = """getValue setName __init__ self_ HTTPServer to_string idx i j x1 y2 None True json_data
max_len numRows kwargs args _private __call__ parse_args os.path.join np.array str2int utf8 UTF-8 ID URL
userId file_name tmp_dir getUserById is_valid a_b_c foo_bar_baz CamelCase snake_case x-y a/b".split()
""".replace('".split()', "").split()
NON_ASCII = ["café", "naïve", "Straße", "İstanbul", "ΟΔΟΣ", "Σίσυφος", "ΣΑΣ", "日本語", "データ", "ﬁle", "Ǆemal",
             "½", "x²", "٣", "résumé", "Ünïcödé", "ñandú", "😀", "e\u0301", "\u00a0", "Привет", "мир", "İi",
             "ß", "ﬃ", "Ⅻ", "ǅ", "\u2028", "ΣΣ", "aΣ", "Σa", "a\u0345Σ"]
PUNCT = list(".,;:!?()[]{}<>\"'`~@#$%^&*-+=/\\|_")
SUFFIXES = ["s", "es", "ed", "ing", "ly", "er", "est", "ness", "ation", "ize", "izes", "ized", "ies", "ied",
            "ment", "ful", "fully", "ational", "ousness", "bly", "logy", "alli"]
WS = [" ", "  ", "\x0b", " \u00a0", "\u2028", "\x1c", "\u3000", "\x85"]


def wordnet_lemmas(rng):
    words = set()
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(MO.load_wordnet.__defaults__[0], "index." + pos), encoding="ascii") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                w = line.split(" ", 1)[0]
                if "_" not in w and w.isalpha():
                    words.add(w)
    words = sorted(words)
    return rng.sample(words, 3000)


def synonyms(w):
    out = set()
    for s in WN.synsets(w):
        for lem in s.lemmas():
            n = lem.name()
            if "_" not in n and n != w:
                out.add(n)
    return sorted(out)


def inflect(rng, w):
    return w + rng.choice(SUFFIXES)


def base_sentence(rng, lemmas):
    n = rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30])
    toks = []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            toks.append(rng.choice(FUNCTION_WORDS))
        elif r < 0.75:
            toks.append(rng.choice(lemmas))
        elif r < 0.9:
            toks.append(rng.choice(CODE_IDS))
        elif r < 0.95:
            toks.append(rng.choice(NON_ASCII))
        else:
            toks.append(rng.choice(PUNCT))
    return toks


def mutate(rng, toks, lemmas):
    out = list(toks)
    ops = rng.randint(0, 5)
    for _ in range(ops):
        if not out:
            out.append(rng.choice(lemmas))
            continue
        op = rng.choice(["syn", "syn", "inflect", "inflect", "drop", "repeat", "swap", "shuffle", "upper",
                         "punct", "insert", "nonascii", "underscore", "title"])
        k = rng.randrange(len(out))
        if op == "syn":
            s = synonyms(out[k].lower())
            if s:
                out[k] = rng.choice(s)
        elif op == "inflect":
            out[k] = inflect(rng, out[k])
        elif op == "drop":
            del out[k]
        elif op == "repeat":
            out.insert(k, out[k])
        elif op == "swap" and len(out) > 1:
            j = rng.randrange(len(out))
            out[k], out[j] = out[j], out[k]
        elif op == "shuffle":
            rng.shuffle(out)
        elif op == "upper":
            out[k] = out[k].upper()
        elif op == "title":
            out[k] = out[k].title()
        elif op == "punct":
            out[k] = out[k] + rng.choice(PUNCT) if rng.random() < 0.5 else rng.choice(PUNCT) + out[k]
        elif op == "insert":
            out.insert(k, rng.choice(lemmas + FUNCTION_WORDS))
        elif op == "nonascii":
            out[k] = out[k] + rng.choice(NON_ASCII)
        elif op == "underscore":
            out[k] = out[k] + "_" + rng.choice(lemmas)
    return out


def join(rng, toks):
    if rng.random() < 0.9:
        return " ".join(toks)
    s = ""
    for i, t in enumerate(toks):
        s += (rng.choice(WS) if i else rng.choice(["", " "])) + t
    return s + rng.choice(["", " ", "\u00a0"])


def synonym_case(rng, lemmas):
    """A sentence where the hypothesis uses WordNet synonyms / inflections of the reference words."""
    ref = base_sentence(rng, lemmas)
    hyp = []
    for w in ref:
        s = synonyms(w.lower())
        r = rng.random()
        if s and r < 0.6:
            hyp.append(rng.choice(s))
        elif r < 0.8:
            hyp.append(inflect(rng, w))
        else:
            hyp.append(w)
    return hyp, ref


EDGE = [
    ("", [""]), ("", ["returns the value"]), ("returns the value", [""]), ("   ", ["  "]), ("x", ["x"]),
    ("foo", ["close the stream", "closes the underlying stream ."]), ("the the the the", ["the"]),
    ("a", ["a a a a a"]), ("_", ["_"]), ("__init__", ["init"]), ("get_Value(x) returns 3.5", ["Gets the value of x: 3.5"]),
    ("İ", ["i"]), ("ΣΑΣ", ["σας"]), ("dying", ["dies"]), ("assess the risk", ["rear the risk"]),
    ("big file", ["large file"]), ("the cat the dog", ["the dog the cat"]), ("RETURNS THE ID", ["returns the id"]),
    ("a\u00a0b", ["a b"]), ("x\u2028y", ["x y"]), ("3.5 - 2,000", ["3.5-2,000"]), ("&amp; &lt;", ["& <"]),
    ("<skipped> ok", ["ok"]), ("ﬁle", ["file"]), ("😀 😀", ["😀"]), ("e\u0301", ["é"]),
]


def gen_pairs():
    rng = random.Random(20240601)
    lemmas = wordnet_lemmas(rng)
    cases = list(EDGE)
    while len(cases) < 4100:
        r = rng.random()
        if r < 0.3:
            hyp, ref = synonym_case(rng, lemmas)
            refs = [ref]
        else:
            ref = base_sentence(rng, lemmas)
            hyp = mutate(rng, ref, lemmas)
            refs = [ref]
        if rng.random() < 0.15:
            refs.append(mutate(rng, refs[0], lemmas))
            if rng.random() < 0.3:
                refs.append(base_sentence(rng, lemmas))
        if rng.random() < 0.02:
            hyp = []
        cases.append((join(rng, hyp), [join(rng, r) for r in refs]))
    # fixtures are tab/newline separated elsewhere: keep texts free of TAB, LF, CR (and NUL)
    cases = [(h, rs) for h, rs in cases if not any(c in t for t in [h] + rs for c in "\t\n\r\0")]
    m39 = meteor39_batch(cases)
    with open(os.path.join(OUT, "pairs.jsonl"), "w", encoding="utf-8") as f:
        for (h, rs), m9 in zip(cases, m39):
            f.write(json.dumps({"h": h, "r": rs, "bleu": repr(bleu_sentence(h, rs)), "m38": repr(meteor38(h, rs)),
                                "m39": m9}, ensure_ascii=True) + "\n")
    return len(cases)


# ------------------------------------------------------------------ file rules
FILE_CASES = [
    ("basic", b"0\tReturns the name of the user .\n1\tGets the value of x: 3.5\n2\tclose the stream\n",
     b"0\tReturn the user name\n1\tget_Value(x) returns 3.5\n2\tCloses the stream .\n"),
    ("crlf_both", b"0\tReturns the value\r\n1\tclose it\r\n", b"0\treturns value\r\n1\tclose\r\n"),
    ("lone_cr_in_gold", b"0\tReturns\rthe value\n", b"0\treturns the value\n"),
    ("multi_reference", b"2\tclose the stream\n2\tcloses the underlying stream .\n", b"2\tfoo\n"),
    ("dup_pred_later_wins", b"0\ta b c\n", b"0\tx y z\n0\ta b c\n"),
    ("missing_and_extra_ids", b"0\ta b c\n1\td e f\n5\tg h\n", b"1\td e\n0\ta\n9\tzzz\n"),
    ("pred_without_tab", b"0\tReturns the value\n", b"0\n"),
    ("pred_empty_field", b"7\tReturns the value\n", b"7\t\n"),
    ("pred_three_fields", b"0\ta b c d\n", b"0\ta b c\td\n"),
    ("pred_blank_line", b"0\ta b\n", b"\n0\ta b\n\n"),
    ("pred_spaces_around", b"0\ta b\n", b"  0\t a b  \n"),
    ("gold_id_with_space", b" 0\ta b\n0\tc d\n", b"0\tc d\n"),
    ("no_final_newline", b"0\ta b c\n1\tx", b"0\ta b\n1\tx"),
    ("gold_blank_line", b"0\ta b\n\n1\tc\n", b"0\ta\n1\tc\n"),
    ("gold_no_tab", b"0\ta b\n1 c d\n", b"0\ta\n"),
    ("gold_two_tabs", b"0\ta\tb\n", b"0\ta\n"),
    ("no_common_id", b"0\ta\n", b"1\ta\n"),
    ("invalid_utf8_gold", b"0\ta \xff b\n", b"0\ta\n"),
    ("invalid_utf8_pred", b"0\ta b\n", b"0\ta \xc3\x28\n"),
    ("non_ascii", "0\tÜber die Straße İ ΣΑΣ\n1\t日本語のテキスト\n".encode(), "0\tüber die strasse i σας\n1\t日本語\n".encode()),
    ("empty_pred_file", b"0\ta\n", b""),
    ("nbsp_strip_pred", b"0\ta b\n", "\u00a00\ta b\u2028\n".encode()),
]


def gen_files(bleu_path):
    with open(os.path.join(OUT, "files.jsonl"), "w") as out:
        for name, gold, pred in FILE_CASES:
            with tempfile.TemporaryDirectory() as d:
                gp = os.path.join(d, "gold.txt")
                with open(gp, "wb") as f:
                    f.write(gold)
                # strict UTF-8 stdin, as under a UTF-8 locale such as en_US.UTF-8 (under C/C.UTF-8 Python
                # would surrogate-escape invalid PRED bytes instead; mmlora reports them as an error)
                env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", LANG="C.UTF-8")
                p = subprocess.run(["/usr/bin/python3", bleu_path, gp], input=pred, capture_output=True, env=env)
                if p.returncode == 0:
                    exp = {"bleu": p.stdout.decode().strip()}
                else:
                    exp = {"error": p.stderr.decode().strip().split("\n")[-1].split(":")[0]}
            out.write(json.dumps(dict(name=name, gold=gold.hex(), pred=pred.hex(), **exp)) + "\n")
    return len(FILE_CASES)


# ------------------------------------------------------------------ statistics
STATS_SCRIPT = r'''
import json, sys, numpy as np, scipy, scipy.stats as st
assert scipy.__version__ == "1.10.1", scipy.__version__
import warnings; warnings.simplefilter("ignore")
for line in sys.stdin:
    c = json.loads(line)
    a, b = np.array(c["a"]), np.array(c["b"])
    t = st.ttest_rel(a, b)
    res = {"ttest": [repr(float(t.statistic)), repr(float(t.pvalue))], "wilcoxon": []}
    for kw in c["wkw"]:
        try:
            w = st.wilcoxon(a, b, **kw)
            res["wilcoxon"].append({"kw": kw, "stat": repr(float(w.statistic)), "p": repr(float(w.pvalue))})
        except ValueError as e:
            res["wilcoxon"].append({"kw": kw, "error": "ValueError"})
    print(json.dumps(res))
'''


def gen_stats():
    rng = random.Random(7)
    cases = []
    kws = [{}, {"zero_method": "pratt"}, {"zero_method": "zsplit"}, {"correction": True},
           {"alternative": "greater"}, {"alternative": "less"}, {"method": "approx"}, {"method": "exact"},
           {"zero_method": "zsplit", "correction": True, "alternative": "less"}]
    for k in range(400):
        n = rng.choice([1, 2, 3, 5, 8, 10, 13, 20, 30, 49, 50, 51, 60, 100, 200, 300])
        kind = rng.random()
        if kind < 0.3:    # sentence-score-like values in [0,1] with ties and zeros
            a = [rng.choice([0.0, 1.0, round(rng.random(), 2)]) for _ in range(n)]
            b = [x if rng.random() < 0.2 else rng.choice([0.0, 1.0, round(rng.random(), 2)]) for x in a]
        elif kind < 0.6:
            a = [rng.random() for _ in range(n)]
            b = [x + rng.gauss(0.02, 0.1) for x in a]
        else:
            a = [float(rng.randint(0, 10)) for _ in range(n)]
            b = [float(rng.randint(0, 10)) for _ in range(n)]
        cases.append({"a": a, "b": b, "wkw": kws})
    inp = "".join(json.dumps(c) + "\n" for c in cases)
    out = subprocess.run([os.environ.get("SCIPY_PYTHON", "/tmp/venv110/bin/python"), "-c", STATS_SCRIPT],
                         input=inp.encode(), capture_output=True, check=True).stdout.decode().strip().split("\n")
    with open(os.path.join(OUT, "stats.jsonl"), "w") as f:
        for c, o in zip(cases, out):
            o = json.loads(o)
            f.write(json.dumps({"a": c["a"], "b": c["b"], "ttest": o["ttest"], "wilcoxon": o["wilcoxon"]}) + "\n")
    return len(cases)


# ------------------------------------------------------------------ real text
def gen_realtext():
    os.makedirs(os.path.join(OUT, "realtext"), exist_ok=True)
    total = 0
    for name, texts in metrics_realtext.sources(SHARED):
        pairs = metrics_realtext.pairings(texts)
        cases = [(h, [r]) for h, r in pairs]
        m39 = meteor39_batch(cases)
        # corpus BLEU of the 'next' pairing through the real script's file path (gold i<TAB>s_i, pred i<TAB>s_i+1)
        with tempfile.TemporaryDirectory() as d:
            gp, pp = os.path.join(d, "gold"), os.path.join(d, "pred")
            with open(gp, "w", encoding="utf-8", newline="") as g, open(pp, "w", encoding="utf-8", newline="") as p:
                for i, t in enumerate(texts):
                    g.write("%d\t%s\n" % (i, t))
                    p.write("%d\t%s\n" % (i, texts[(i + 1) % len(texts)]))
            env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", LANG="C.UTF-8")
            with open(pp, "rb") as pf:
                corpus = subprocess.run(["/usr/bin/python3", os.environ.get("CXG_BLEU", "/tmp/ref/cxg_bleu.py"), gp],
                                        stdin=pf, capture_output=True, env=env, check=True).stdout.decode().strip()
        with open(os.path.join(OUT, "realtext", name + ".txt"), "w") as f:
            f.write("# %d texts x 4 pairings (self, next, dropped-self, dropped-next): bleu m38 m39; "
                    "bleu.py on files of the next pairing: %s\n" % (len(texts), corpus))
            for (h, rs), m9 in zip(cases, m39):
                f.write("%r %r %s\n" % (bleu_sentence(h, rs), meteor38(h, rs), m9))
        total += len(cases)
    return total


def main():
    os.makedirs(OUT, exist_ok=True)
    print("pairs", gen_pairs())
    print("files", gen_files(os.environ.get("CXG_BLEU", "/tmp/ref/cxg_bleu.py")))
    print("stats", gen_stats())
    print("realtext", gen_realtext())


if __name__ == "__main__":
    main()
