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

/* One text decoded, lowered and tokenized. */
typedef struct { uint32_t *cp; size_t ncp; tok *t; size_t nt; uint32_t *id; } seg;

static void seg_make(seg *g, const char *text, size_t len) {
    uint32_t *raw = mm_xmalloc((len + 1) * sizeof *raw);
    size_t n = mu_utf8_decode(text, len, raw);
    g->cp = mm_xmalloc((3 * n + 1) * sizeof *g->cp);
    g->ncp = mu_lower(raw, n, g->cp);
    free(raw);
    g->t = mm_xmalloc((g->ncp + 1) * sizeof *g->t);
    g->nt = tokenize(g->cp, g->ncp, g->t);
    g->id = mm_xmalloc((g->nt + 1) * sizeof *g->id);
}
static void seg_free(seg *g) { free(g->cp); free(g->t); free(g->id); }

static uint64_t hash_cps(const uint32_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}
static uint64_t mix(uint64_t h) {
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL; h ^= h >> 33;
    return h;
}

/* Interns the tokens of all segments into small integer ids (exact code-point equality). */
static void intern(seg *gs, size_t ng) {
    size_t total = 0;
    for (size_t g = 0; g < ng; g++) total += gs[g].nt;
    size_t cap = 16;
    while (cap < 2 * total + 2) cap <<= 1;
    struct { const uint32_t *p; size_t len; uint32_t id; int used; } *tab = mm_xcalloc(cap, sizeof *tab);
    uint32_t next = 0;
    for (size_t g = 0; g < ng; g++)
        for (size_t i = 0; i < gs[g].nt; i++) {
            const uint32_t *p = gs[g].cp + gs[g].t[i].off;
            size_t len = gs[g].t[i].len;
            size_t h = (size_t)(mix(hash_cps(p, len)) & (cap - 1));
            for (;;) {
                if (!tab[h].used) { tab[h].used = 1; tab[h].p = p; tab[h].len = len; tab[h].id = next++; break; }
                if (tab[h].len == len && !memcmp(tab[h].p, p, len * sizeof *p)) break;
                h = (h + 1) & (cap - 1);
            }
            gs[g].id[i] = tab[h].id;
        }
    free(tab);
}

typedef struct { const uint32_t *ids; int n; long hyp, refmax, cur; size_t curref; int used; } ngram_ent;

static uint64_t hash_ids(const uint32_t *ids, int n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < n; i++) h = mix(h ^ (ids[i] + 0x632BE59BD9B4E019ULL));
    return h;
}

static ngram_ent *ng_find(ngram_ent *tab, size_t cap, const uint32_t *ids, int n, int insert) {
    size_t h = (size_t)(hash_ids(ids, n) & (cap - 1));
    for (;;) {
        ngram_ent *e = &tab[h];
        if (!e->used) {
            if (!insert) return NULL;
            e->used = 1; e->ids = ids; e->n = n; e->curref = (size_t)-1;
            return e;
        }
        if (e->n == n && !memcmp(e->ids, ids, (size_t)n * sizeof *ids)) return e;
        h = (h + 1) & (cap - 1);
    }
}

static void cook(const seg *hyp, const seg *refs, size_t nref, mm_bleu_counts *c) {
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
    size_t cap = 16;
    while (cap < (size_t)(8 * lh + 8)) cap <<= 1;
    ngram_ent *tab = mm_xcalloc(cap, sizeof *tab);
    for (int k = 1; k <= 4; k++)
        for (long i = 0; i + k <= lh; i++) ng_find(tab, cap, hyp->id + i, k, 1)->hyp++;
    for (size_t r = 0; r < nref; r++) {
        long lr = (long)refs[r].nt;
        for (int k = 1; k <= 4; k++)
            for (long i = 0; i + k <= lr; i++) {
                ngram_ent *e = ng_find(tab, cap, refs[r].id + i, k, 0);
                if (!e) continue;
                if (e->curref != r) { e->curref = r; e->cur = 0; }
                if (++e->cur > e->refmax) e->refmax = e->cur;
            }
    }
    for (size_t h = 0; h < cap; h++)
        if (tab[h].used) c->correct[tab[h].n - 1] += tab[h].hyp < tab[h].refmax ? tab[h].hyp : tab[h].refmax;
    free(tab);
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

double mm_bleu_sentence(const char *hyp, size_t hyp_len, const char *const *refs, const size_t *ref_lens,
                        size_t nref, mm_bleu_counts *counts) {
    if (nref == 0) return mm_fail("bleu: no reference"), -1.0;
    seg *gs = mm_xmalloc((nref + 1) * sizeof *gs);
    seg_make(&gs[0], hyp, hyp_len);
    for (size_t r = 0; r < nref; r++) seg_make(&gs[r + 1], refs[r], ref_lens[r]);
    intern(gs, nref + 1);
    mm_bleu_counts c;
    cook(&gs[0], gs + 1, nref, &c);
    for (size_t g = 0; g <= nref; g++) seg_free(&gs[g]);
    free(gs);
    if (counts) *counts = c;
    return mm_bleu_from_counts(&c);
}

double mm_bleu(const char *hyp, const char *ref) {
    size_t rl = strlen(ref);
    return mm_bleu_sentence(hyp, strlen(hyp), &ref, &rl, 1, NULL);
}

char *mm_bleu_tokens(const char *text, size_t len) {
    seg g;
    seg_make(&g, text, len);
    char *out = mm_xmalloc(4 * g.ncp + g.nt + 1), *o = out;
    for (size_t i = 0; i < g.nt; i++) {
        if (i) *o++ = ' ';
        o += mu_utf8_encode(g.cp + g.t[i].off, g.t[i].len, o);
    }
    *o = 0;
    seg_free(&g);
    return out;
}
