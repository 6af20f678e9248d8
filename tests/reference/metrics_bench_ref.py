#!/usr/bin/python3
"""Reference timing for `make bench` (tests/bench/bench_metrics.c): CodeXGLUE's bleu.py (computeMaps +
bleuFromMaps) and NLTK 3.8 meteor_score over the same gold/pred files, single process as the scripts run.
Usage: CXG_BLEU=/tmp/ref/cxg_bleu.py /usr/bin/python3 tests/reference/metrics_bench_ref.py GOLD PRED
(NOT run by CI; needs bleu.py, see metrics_ref.py.)"""
import importlib.util
import os
import sys
import time

t0 = time.time()
here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("SHARED_DIR", os.path.join(here, "..", "..", "..", "shared"))
spec = importlib.util.spec_from_file_location("mo", os.path.join(shared, "tools", "meteor_oracle.py"))
mo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mo)
spec = importlib.util.spec_from_file_location("cxg", os.environ.get("CXG_BLEU", "/tmp/ref/cxg_bleu.py"))
B = importlib.util.module_from_spec(spec)
spec.loader.exec_module(B)
from nltk.stem.porter import PorterStemmer  # noqa: E402
from nltk.translate import meteor_score as ms  # noqa: E402

gold, pred = sys.argv[1], sys.argv[2]
wn = mo.load_wordnet()
wn.synsets("dog")  # force the lazy index load into the timing
t1 = time.time()
with open(pred, encoding="utf-8") as f:
    plines = f.readlines()
goldMap, predMap = B.computeMaps(plines, gold)
bleu = B.bleuFromMaps(goldMap, predMap)[0]
t2 = time.time()
hyp = {}
for row in plines:
    c = row.strip().split("\t")
    hyp[c[0]] = c[1] if len(c) > 1 else ""
refs = {}
with open(gold, encoding="utf-8") as f:
    for row in f:
        rid, text = row.split("\t")
        if rid in hyp:
            refs.setdefault(rid, []).append(text)
st = PorterStemmer()
s = 0.0
for rid, rs in refs.items():
    s += ms.meteor_score([r.split() for r in rs], hyp[rid].split(), stemmer=st, wordnet=wn)
meteor = s * 100.0 / len(refs)
t3 = time.time()
print("reference (bleu.py + NLTK %s): BLEU %r METEOR %r" % (__import__("nltk").__version__, bleu, meteor))
print("  WordNet load %.3f s, bleu.py %.3f s, NLTK METEOR %.3f s, total %.3f s wall, %.3f s CPU"
      % (t1 - t0, t2 - t1, t3 - t2, t3 - t0, time.process_time()))
