"""Real-text pairing rules shared by metrics_ref.py and (re-implemented in C) tests/unit/test_metrics_realtext.c.
Sources (read from SHARED_DIR/data at test time; nothing is copied into the repository):
  codesearchnet/<lang>/<split>.jsonl : text = ' '.join(record['docstring_tokens'])
  xlcost/generation/.../*-tok.txt    : text = the line without its '\\n'
Pairings, for text i of n (j = (i + 1) % n; drop(s) = tokens of s.split() whose index % 3 != 2, joined by ' '):
  (s_i, s_i), (s_i, s_j), (drop(s_i), s_i), (drop(s_i), s_j)    as (hypothesis, reference)."""
import json
import os

SOURCES = [
    ("csn_ruby_test", "data/codesearchnet/ruby/test.jsonl"),
    ("csn_ruby_valid", "data/codesearchnet/ruby/valid.jsonl"),
    ("csn_python_test", "data/codesearchnet/python/test.jsonl"),
    ("csn_python_valid", "data/codesearchnet/python/valid.jsonl"),
    ("xlcost_desc_test", "data/xlcost/generation/pair_data_tok_full_desc/Python-desc/test-Python-desc-tok.txt"),
    ("xlcost_desc_val", "data/xlcost/generation/pair_data_tok_full_desc/Python-desc/val-Python-desc-tok.txt"),
    ("xlcost_comment_test", "data/xlcost/generation/pair_data_tok_1_comment/Python-comment/test-Python-comment-tok.txt"),
    ("xlcost_comment_val", "data/xlcost/generation/pair_data_tok_1_comment/Python-comment/val-Python-comment-tok.txt"),
]


def read_texts(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if path.endswith(".jsonl"):
        return [" ".join(json.loads(l)["docstring_tokens"]) for l in lines]
    return lines


def sources(shared):
    for name, rel in SOURCES:
        yield name, read_texts(os.path.join(shared, rel))


def drop(s):
    return " ".join(w for k, w in enumerate(s.split()) if k % 3 != 2)


def pairings(texts):
    n = len(texts)
    out = []
    for i in range(n):
        j = (i + 1) % n
        out += [(texts[i], texts[i]), (texts[i], texts[j]), (drop(texts[i]), texts[i]), (drop(texts[i]), texts[j])]
    return out
