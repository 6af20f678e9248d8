/* CodeXGLUE smoothed sentence BLEU-4.  Operation order follows bleu.py's score_cooked() exactly
 * (glibc log/exp, DBL_MIN added inside both logs, add-one for n >= 2, "+1" brevity penalty).
 *
 * Tokenization (equivalent to splitPuncts(lower(strip(t))) followed by normalize()):
 * a maximal run of alphanumerics (Python isalnum) is one token, each '_' is one token, every other
 * non-space code point is one token; lower() is Python's full str.lower() over the whole text. */
#include "metrics/bleu.h"
#include "metrics/fp.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/utext.h"
#include "util/log.h"

typedef struct { uint32_t *cp; size_t off, len; } tok;  /* token = cp[off, off+len) */

/* Tokenizes lowered text into tokens; returns the count. toks capacity >= n. */
static size_t tokenize(const uint32_t *s, size_t n, tok *toks) {
    size_t k = 0, i = 0;
    while (i < n) {
        uint32_t c = s[i];
        if (mu_is_space(c)) { i++; continue; }
        if (c != '_' && mu_is_alnum(c)) {
            size_t j = i + 1;
            while (j < n && s[j] != '_' && mu_is_alnum(s[j])) j++;
            toks[k++] = (tok){NULL, i, j - i};
            i = j;
        } else {
            toks[k++] = (tok){NULL, i, 1};
            i++;
        }
    }
    return k;
}

/* One text decoded, lowered and tokenized (buffers owned by the scratch, reused across calls). */
typedef struct { uint32_t *cp; size_t ncp, capcp; tok *t; size_t nt, capt; uint32_t *id; } seg;

typedef struct { const uint32_t *p; size_t len; uint32_t id, gen; } intern_ent;
typedef struct { const uint32_t *ids; int n; long hyp, refmax, cur; size_t curref; uint32_t gen; } ngram_ent;

struct mm_bleu_scratch {
    seg *segs; size_t nsegs;
    uint32_t *raw; size_t capraw;
    intern_ent *itab; size_t icap;
    ngram_ent *ntab; size_t ncap;
    uint32_t gen;
};

mm_bleu_scratch *mm_bleu_scratch_new(void) { return mm_xcalloc(1, sizeof(mm_bleu_scratch)); }

void mm_bleu_scratch_free(mm_bleu_scratch *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nsegs; i++) { free(s->segs[i].cp); free(s->segs[i].t); free(s->segs[i].id); }
    free(s->segs); free(s->raw); free(s->itab); free(s->ntab); free(s);
}

static void seg_make(mm_bleu_scratch *sc, seg *g, const char *text, size_t len) {
    if (len + 1 > sc->capraw) {
        free(sc->raw);
        sc->capraw = 2 * len + 16;
        sc->raw = mm_xmalloc(sc->capraw * sizeof *sc->raw);
    }
    size_t n = mu_utf8_decode(text, len, sc->raw);
    if (3 * n + 1 > g->capcp) {
        free(g->cp); free(g->t); free(g->id);
        g->capcp = 6 * n + 16;
        g->cp = mm_xmalloc(g->capcp * sizeof *g->cp);
        g->t = mm_xmalloc(g->capcp * sizeof *g->t);
        g->id = mm_xmalloc(g->capcp * sizeof *g->id);
    }
    g->ncp = mu_lower(sc->raw, n, g->cp);
    g->nt = tokenize(g->cp, g->ncp, g->t);
}

static uint64_t hash_cps(const uint32_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}
static uint64_t mix(uint64_t h) {
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL; h ^= h >> 33;
    return h;
}

/* next generation stamp: entries of older generations count as empty */
static uint32_t next_gen(mm_bleu_scratch *sc) {
    if (++sc->gen == 0) {  /* wrapped: clear the tables once */
        if (sc->itab) memset(sc->itab, 0, sc->icap * sizeof *sc->itab);
        if (sc->ntab) memset(sc->ntab, 0, sc->ncap * sizeof *sc->ntab);
        sc->gen = 1;
    }
    return sc->gen;
}

/* Interns the tokens of all segments into small integer ids (exact code-point equality). */
static void intern(mm_bleu_scratch *sc, seg *gs, size_t ng) {
    size_t total = 0;
    for (size_t g = 0; g < ng; g++) total += gs[g].nt;
    size_t cap = 64;
    while (cap < 2 * total + 2) cap <<= 1;
    if (cap > sc->icap) {
        free(sc->itab);
        sc->itab = mm_xcalloc(cap, sizeof *sc->itab);
        sc->icap = cap;
    }
    cap = sc->icap;
    uint32_t gen = next_gen(sc), next = 0;
    intern_ent *tab = sc->itab;
    for (size_t g = 0; g < ng; g++)
        for (size_t i = 0; i < gs[g].nt; i++) {
            const uint32_t *p = gs[g].cp + gs[g].t[i].off;
            size_t len = gs[g].t[i].len;
            size_t h = (size_t)(mix(hash_cps(p, len)) & (cap - 1));
            for (;;) {
                if (tab[h].gen != gen) { tab[h] = (intern_ent){p, len, next++, gen}; break; }
                if (tab[h].len == len && !memcmp(tab[h].p, p, len * sizeof *p)) break;
                h = (h + 1) & (cap - 1);
            }
            gs[g].id[i] = tab[h].id;
        }
}

static uint64_t hash_ids(const uint32_t *ids, int n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < n; i++) h = mix(h ^ (ids[i] + 0x632BE59BD9B4E019ULL));
    return h;
}

static ngram_ent *ng_find(ngram_ent *tab, size_t cap, uint32_t gen, const uint32_t *ids, int n, int insert) {
    size_t h = (size_t)(hash_ids(ids, n) & (cap - 1));
    for (;;) {
        ngram_ent *e = &tab[h];
        if (e->gen != gen) {
            if (!insert) return NULL;
            *e = (ngram_ent){ids, n, 0, 0, 0, (size_t)-1, gen};
            return e;
        }
        if (e->n == n && !memcmp(e->ids, ids, (size_t)n * sizeof *ids)) return e;
        h = (h + 1) & (cap - 1);
    }
}

static void cook(mm_bleu_scratch *sc, const seg *hyp, const seg *refs, size_t nref, mm_bleu_counts *c) {
    long lh = (long)hyp->nt;
    c->testlen = lh;
    c->reflen = (long)refs[0].nt;
    for (size_t r = 1; r < nref; r++)
        if ((long)refs[r].nt < c->reflen) c->reflen = (long)refs[r].nt;
    for (int k = 1; k <= 4; k++) {
        c->guess[k - 1] = lh - k + 1 > 0 ? lh - k + 1 : 0;
        c->correct[k - 1] = 0;
    }
    if (lh == 0) return;
    size_t cap = 64;
    while (cap < (size_t)(8 * lh + 8)) cap <<= 1;
    if (cap > sc->ncap) {
        free(sc->ntab);
        sc->ntab = mm_xcalloc(cap, sizeof *sc->ntab);
        sc->ncap = cap;
    }
    cap = sc->ncap;
    uint32_t gen = next_gen(sc);
    ngram_ent *tab = sc->ntab;
    for (int k = 1; k <= 4; k++)
        for (long i = 0; i + k <= lh; i++) ng_find(tab, cap, gen, hyp->id + i, k, 1)->hyp++;
    for (size_t r = 0; r < nref; r++) {
        long lr = (long)refs[r].nt;
        for (int k = 1; k <= 4; k++)
            for (long i = 0; i + k <= lr; i++) {
                ngram_ent *e = ng_find(tab, cap, gen, refs[r].id + i, k, 0);
                if (!e) continue;
                if (e->curref != r) { e->curref = r; e->cur = 0; }
                if (++e->cur > e->refmax) e->refmax = e->cur;
            }
    }
    /* sum over the distinct hypothesis n-grams: walk the hypothesis, counting each n-gram once */
    for (int k = 1; k <= 4; k++)
        for (long i = 0; i + k <= lh; i++) {
            ngram_ent *e = ng_find(tab, cap, gen, hyp->id + i, k, 0);
            if (e->hyp < 0) continue;  /* already counted */
            c->correct[k - 1] += e->hyp < e->refmax ? e->hyp : e->refmax;
            e->hyp = -1;
        }
}

double mm_bleu_from_counts(const mm_bleu_counts *c) {
    double logbleu = 0.0;
    for (int k = 0; k < 4; k++) {
        long add = k > 0 ? 1 : 0;
        logbleu += log((double)(c->correct[k] + add) + DBL_MIN) - log((double)(c->guess[k] + add) + DBL_MIN);
    }
    logbleu /= 4.0;
    double bp = 1.0 - (double)(c->reflen + 1) / (double)(c->testlen + 1);
    if (bp > 0.0) bp = 0.0;  /* min(0, bp): min returns 0 (int) only when bp > 0; value identical */
    return exp(logbleu + bp);
}

double mm_bleu_sentence_s(mm_bleu_scratch *sc, const char *hyp, size_t hyp_len, const char *const *refs,
                          const size_t *ref_lens, size_t nref, mm_bleu_counts *counts) {
    if (nref == 0) return mm_fail("bleu: no reference"), -1.0;
    if (nref + 1 > sc->nsegs) {
        sc->segs = mm_xrealloc(sc->segs, (nref + 1) * sizeof *sc->segs);
        memset(sc->segs + sc->nsegs, 0, (nref + 1 - sc->nsegs) * sizeof *sc->segs);
        sc->nsegs = nref + 1;
    }
    seg *gs = sc->segs;
    seg_make(sc, &gs[0], hyp, hyp_len);
    for (size_t r = 0; r < nref; r++) seg_make(sc, &gs[r + 1], refs[r], ref_lens[r]);
    intern(sc, gs, nref + 1);
    mm_bleu_counts c;
    cook(sc, &gs[0], gs + 1, nref, &c);
    if (counts) *counts = c;
    return mm_bleu_from_counts(&c);
}

double mm_bleu_sentence(const char *hyp, size_t hyp_len, const char *const *refs, const size_t *ref_lens,
                        size_t nref, mm_bleu_counts *counts) {
    mm_bleu_scratch *sc = mm_bleu_scratch_new();
    double r = mm_bleu_sentence_s(sc, hyp, hyp_len, refs, ref_lens, nref, counts);
    mm_bleu_scratch_free(sc);
    return r;
}

double mm_bleu(const char *hyp, const char *ref) {
    size_t rl = strlen(ref);
    return mm_bleu_sentence(hyp, strlen(hyp), &ref, &rl, 1, NULL);
}

char *mm_bleu_tokens(const char *text, size_t len) {
    mm_bleu_scratch *sc = mm_bleu_scratch_new();
    seg g = {0};
    seg_make(sc, &g, text, len);
    char *out = mm_xmalloc(4 * g.ncp + g.nt + 1), *o = out;
    for (size_t i = 0; i < g.nt; i++) {
        if (i) *o++ = ' ';
        o += mu_utf8_encode(g.cp + g.t[i].off, g.t[i].len, o);
    }
    *o = 0;
    free(g.cp); free(g.t); free(g.id);
    mm_bleu_scratch_free(sc);
    return out;
}
