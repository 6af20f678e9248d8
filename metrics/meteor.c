/* METEOR as computed by NLTK (see meteor.h and metrics-spec.md Part 2). */
#include "metrics/meteor.h"
#include "metrics/fp.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/porter.h"
#include "metrics/utext.h"
#include "util/log.h"

/* synonym-set cache: stem -> SYN(stem) (per scorer, so per thread) */
typedef struct { char *key; mm_strset set; } syn_slot;

/* stem cache: lowered word -> Porter stem (per scorer, so per thread) */
typedef struct { char *key, *stem; } stem_slot;

struct mm_meteor {
    mm_wordnet *wn;
    int owns_wn;
    bool morphy39;
    syn_slot *cache; size_t ccap, cn;
    stem_slot *stems; size_t scap, sn;
    struct { char *p; size_t cap, used; } blk[32]; int nblk, cur;  /* per-call arena */
};

/* bump allocation from the arena; released all at once by arena_reset() (start of each score call) */
static void *arena(mm_meteor *m, size_t n) {
    n = (n + 15) & ~(size_t)15;
    for (;;) {
        if (m->cur < m->nblk && m->blk[m->cur].cap - m->blk[m->cur].used >= n) {
            void *r = m->blk[m->cur].p + m->blk[m->cur].used;
            m->blk[m->cur].used += n;
            return r;
        }
        if (m->cur + 1 < m->nblk) { m->cur++; m->blk[m->cur].used = 0; continue; }
        if (m->nblk == 32) return mm_xmalloc(n); /* not reached in practice; leaks only past 32 blocks */
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        if (m->nblk && m->blk[m->nblk - 1].cap * 2 > cap) cap = m->blk[m->nblk - 1].cap * 2;
        m->blk[m->nblk].p = mm_xmalloc(cap);
        m->blk[m->nblk].cap = cap;
        m->blk[m->nblk].used = 0;
        m->cur = m->nblk++;
    }
}
static void arena_reset(mm_meteor *m) {
    m->cur = 0;
    if (m->nblk) m->blk[0].used = 0;
}

mm_meteor *mm_meteor_new(const char *dir, bool morphy39) {
    mm_wordnet *wn = mm_wordnet_open(dir);
    if (!wn) return NULL;
    mm_meteor *m = mm_xcalloc(1, sizeof *m);
    m->wn = wn; m->owns_wn = 1; m->morphy39 = morphy39;
    return m;
}

mm_meteor *mm_meteor_clone(const mm_meteor *src) {
    mm_meteor *m = mm_xcalloc(1, sizeof *m);
    m->wn = src->wn; m->owns_wn = 0; m->morphy39 = src->morphy39;
    return m;
}

static void cache_free(mm_meteor *m) {
    for (size_t i = 0; i < m->ccap; i++)
        if (m->cache[i].key) { free(m->cache[i].key); mm_strset_free(&m->cache[i].set); }
    free(m->cache);
    m->cache = NULL; m->ccap = m->cn = 0;
}

static void stems_free(mm_meteor *m) {
    for (size_t i = 0; i < m->scap; i++)
        if (m->stems[i].key) { free(m->stems[i].key); free(m->stems[i].stem); }
    free(m->stems);
    m->stems = NULL; m->scap = m->sn = 0;
}

void mm_meteor_free(mm_meteor *m) {
    if (!m) return;
    cache_free(m);
    stems_free(m);
    for (int i = 0; i < m->nblk; i++) free(m->blk[i].p);
    if (m->owns_wn) mm_wordnet_close(m->wn);
    free(m);
}

static uint64_t hs(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h ^ (h >> 31);
}

static const mm_strset *synonyms(mm_meteor *m, const char *w, size_t len) {
    if (2 * (m->cn + 1) > m->ccap) {
        if (m->ccap >= (1u << 20)) cache_free(m); /* bound memory */
        size_t nc = m->ccap ? 2 * m->ccap : 1024;
        syn_slot *nt = mm_xcalloc(nc, sizeof *nt);
        for (size_t i = 0; i < m->ccap; i++)
            if (m->cache[i].key) {
                size_t h = (size_t)(hs(m->cache[i].key, strlen(m->cache[i].key)) & (nc - 1));
                while (nt[h].key) h = (h + 1) & (nc - 1);
                nt[h] = m->cache[i];
            }
        free(m->cache);
        m->cache = nt; m->ccap = nc;
    }
    size_t h = (size_t)(hs(w, len) & (m->ccap - 1));
    while (m->cache[h].key) {
        if (strlen(m->cache[h].key) == len && !memcmp(m->cache[h].key, w, len)) return &m->cache[h].set;
        h = (h + 1) & (m->ccap - 1);
    }
    syn_slot *s = &m->cache[h];
    s->key = mm_xmalloc(len + 1);
    memcpy(s->key, w, len); s->key[len] = 0;
    memset(&s->set, 0, sizeof s->set);
    mm_wordnet_synonyms(m->wn, w, len, m->morphy39, &s->set);
    m->cn++;
    return &s->set;
}

/* UTF-8 with U+0000 written as C0 80 (so internal strings have no NUL; still injective) */
static size_t enc(const uint32_t *cp, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cp[i] == 0) { out[k++] = (char)0xC0; out[k++] = (char)0x80; }
        else k += mu_utf8_put(cp[i], out + k);
    }
    out[k] = 0;
    return k;
}

/* Porter stem of a lowered word (UTF-8 w, code points cp[0..n) in buf with capacity 3n+8), cached. */
static char *stem_of(mm_meteor *m, const char *w, size_t wl, uint32_t *cp, size_t n, char *scratch) {
    if (2 * (m->sn + 1) > m->scap) {
        size_t nc = m->scap ? 2 * m->scap : 4096;
        stem_slot *nt = mm_xcalloc(nc, sizeof *nt);
        for (size_t i = 0; i < m->scap; i++)
            if (m->stems[i].key) {
                size_t h = (size_t)(hs(m->stems[i].key, strlen(m->stems[i].key)) & (nc - 1));
                while (nt[h].key) h = (h + 1) & (nc - 1);
                nt[h] = m->stems[i];
            }
        free(m->stems);
        m->stems = nt; m->scap = nc;
    }
    size_t h = (size_t)(hs(w, wl) & (m->scap - 1));
    while (m->stems[h].key) {
        if (!strncmp(m->stems[h].key, w, wl) && m->stems[h].key[wl] == 0) return m->stems[h].stem;
        h = (h + 1) & (m->scap - 1);
    }
    size_t sn = mm_porter_stem_cp(cp, n);
    enc(cp, sn, scratch);
    m->stems[h].key = mm_xstrdup(w);
    m->stems[h].stem = mm_xstrdup(scratch);
    m->sn++;
    return m->stems[h].stem;
}

/* A tokenized text: lowered words and their Porter stems, as UTF-8 strings. */
typedef struct { char **word, **stem; size_t n; } toks;

static void toks_make(mm_meteor *m, toks *t, const char *text, size_t len) {
    uint32_t *cp = arena(m, (len + 1) * sizeof *cp);
    size_t n = mu_utf8_decode(text, len, cp);
    size_t cap = n / 2 + 1;
    t->word = arena(m, cap * sizeof *t->word);
    t->stem = arena(m, cap * sizeof *t->stem);
    t->n = 0;
    uint32_t *buf = arena(m, (3 * n + 8) * sizeof *buf);
    size_t i = 0;
    while (i < n) {
        if (mu_is_space(cp[i])) { i++; continue; }
        size_t j = i;
        while (j < n && !mu_is_space(cp[j])) j++;
        size_t ln = mu_lower(cp + i, j - i, buf);          /* preprocess = str.lower, per token */
        char *w = arena(m, 8 * ln + 8);
        size_t bl = enc(buf, ln, w);
        t->word[t->n] = w;
        char *scratch = arena(m, 8 * ln + 24);
        /* stemmer.stem(lowered word); the cache owns the stem string (stable until call_begin) */
        t->stem[t->n] = stem_of(m, w, bl, buf, ln, scratch);
        t->n++;
        i = j;
    }
}

typedef struct { int h, r; } pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *x = a, *y = b;
    return (x->h > y->h) - (x->h < y->h);
}

/* NLTK _match_enums / _enum_wordnetsyn_match: for each still-unmatched hypothesis position from the
 * end, the last still-unmatched reference position that matches. stage 0 exact, 1 stem, 2 synonym. */
static int greedy(mm_meteor *m, const toks *H, const toks *R, char *hused, char *rused, pair *out, int np, int stage) {
    for (size_t ii = H->n; ii-- > 0;) {
        if (hused[ii]) continue;
        const mm_strset *syn = NULL;
        if (stage == 2) syn = synonyms(m, H->stem[ii], strlen(H->stem[ii]));
        for (size_t jj = R->n; jj-- > 0;) {
            if (rused[jj]) continue;
            bool eq;
            if (stage == 0) eq = !strcmp(H->word[ii], R->word[jj]);
            else if (stage == 1) eq = !strcmp(H->stem[ii], R->stem[jj]);
            else eq = !strcmp(H->stem[ii], R->stem[jj]) || mm_strset_has(syn, R->stem[jj], strlen(R->stem[jj]));
            if (eq) {
                out[np++] = (pair){(int)ii, (int)jj};
                hused[ii] = rused[jj] = 1;
                break;
            }
        }
    }
    return np;
}

static double single(mm_meteor *m, const toks *H, const toks *R, mm_meteor_detail *d) {
    const double alpha = 0.9, beta = 3.0, gamma = 0.5;
    size_t lh = H->n, lr = R->n;
    if (d) { memset(d, 0, sizeof *d); d->hyp_len = (int)lh; d->ref_len = (int)lr; }
    if (lh == 0 || lr == 0) return 0.0;
    char *hused = arena(m, lh), *rused = arena(m, lr);
    memset(hused, 0, lh); memset(rused, 0, lr);
    pair *M = arena(m, (lh < lr ? lh : lr) * sizeof *M + sizeof *M);
    int n0 = greedy(m, H, R, hused, rused, M, 0, 0);
    int n1 = greedy(m, H, R, hused, rused, M, n0, 1);
    int n2 = greedy(m, H, R, hused, rused, M, n1, 2);
    int mc = n2;
    if (mc == 0) return 0.0;
    qsort(M, (size_t)mc, sizeof *M, cmp_pair);  /* hypothesis indices are unique */
    int chunks = 1;
    for (int k = 0; k + 1 < mc; k++)
        if (!(M[k + 1].h == M[k].h + 1 && M[k + 1].r == M[k].r + 1)) chunks++;
    if (d) { d->exact = n0; d->stem = n1 - n0; d->syn = n2 - n1; d->chunks = chunks; }
    double precision = (double)mc / (double)lh;
    double recall = (double)mc / (double)lr;
    double fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall);
    double frag = (double)chunks / (double)mc;
    double penalty = gamma * pow(frag, beta);
    return (1 - penalty) * fmean;
}

/* start of a scoring call: release the arena; bound the stem cache (its strings are referenced by the
   tokens of one call only, so it may be dropped here and nowhere else) */
static void call_begin(mm_meteor *m) {
    arena_reset(m);
    if (m->sn > (1u << 20)) stems_free(m);
}

double mm_meteor_single(mm_meteor *m, const char *hyp, size_t hl, const char *ref, size_t rl, mm_meteor_detail *d) {
    call_begin(m);
    toks H, R;
    toks_make(m, &H, hyp, hl);
    toks_make(m, &R, ref, rl);
    double s = single(m, &H, &R, d);
    return s;
}

double mm_meteor_score(mm_meteor *m, const char *hyp, size_t hl, const char *const *refs, const size_t *rls, size_t nref) {
    if (nref == 0) return mm_fail("meteor: no reference"), -1.0;
    call_begin(m);
    toks H;
    toks_make(m, &H, hyp, hl);
    double best = 0.0;
    for (size_t r = 0; r < nref; r++) {
        toks R;
        toks_make(m, &R, refs[r], rls[r]);
        double s = single(m, &H, &R, NULL);
        if (r == 0 || s > best) best = s;  /* Python max(): first maximal element */
    }
    return best;
}

double mm_meteor_str(mm_meteor *m, const char *hyp, const char *ref) {
    size_t rl = strlen(ref);
    return mm_meteor_score(m, hyp, strlen(hyp), &ref, &rl, 1);
}
