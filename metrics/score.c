/* File reading and pairing for `mmlora score` (rules in score.h), and parallel sentence scoring. */
#include "metrics/score.h"
#include "metrics/fp.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/bleu.h"
#include "metrics/utext.h"
#include "util/log.h"
#ifdef MMLORA_OPENMP
#include <omp.h>
#endif

static int read_file(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return mm_fail("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = mm_xmalloc(cap);
    for (;;) {
        if (n == cap) { cap *= 2; b = mm_xrealloc(b, cap); }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(b); return mm_fail("%s: read error", path); }
    *buf = b; *len = n;
    return 0;
}

/* Python str.strip() on a UTF-8 span (input already validated). */
static void py_strip(const char **p, size_t *n) {
    const char *s = *p;
    size_t len = *n;
    uint32_t cp[1];
    /* leading */
    while (len) {
        size_t l = 1;
        unsigned char c = (unsigned char)s[0];
        if (c >= 0x80) l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (l > len) break;
        mu_utf8_decode(s, l, cp);
        if (!mu_is_space(cp[0])) break;
        s += l; len -= l;
    }
    /* trailing */
    while (len) {
        size_t l = 1;
        while (l < len && l < 4 && ((unsigned char)s[len - l] & 0xC0) == 0x80) l++;
        mu_utf8_decode(s + len - l, l, cp);
        if (!mu_is_space(cp[0])) break;
        len -= l;
    }
    *p = s; *n = len;
}

typedef struct { const char *id; size_t id_len; const char *hyp; size_t hyp_len; int used; size_t item; } pred_ent;
typedef struct { pred_ent *tab; size_t cap; } pred_map;

static uint64_t hbytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h ^ (h >> 29);
}
static pred_ent *pm_find(pred_map *m, const char *id, size_t n, int insert) {
    size_t h = (size_t)(hbytes(id, n) & (m->cap - 1));
    for (;;) {
        pred_ent *e = &m->tab[h];
        if (!e->id) {
            if (!insert) return NULL;
            e->id = id; e->id_len = n; e->item = (size_t)-1;
            return e;
        }
        if (e->id_len == n && !memcmp(e->id, id, n)) return e;
        h = (h + 1) & (m->cap - 1);
    }
}

static int check_utf8(const char *name, const char *buf, size_t len, int universal) {
    size_t bad;
    if (mu_utf8_valid(buf, len, &bad)) return 0;
    size_t line = 1;
    for (size_t i = 0; i < bad; i++) {
        if (buf[i] == '\n') line++;
        else if (universal && buf[i] == '\r' && !(i + 1 < len && buf[i + 1] == '\n')) line++;
    }
    return mm_fail("%s:%zu: invalid UTF-8 (byte offset %zu); bleu.py would raise UnicodeDecodeError", name, line, bad);
}

typedef struct { const char **refs; size_t *lens; size_t n, cap; } reflist;

int mm_score_parse(const char *gold, size_t gold_len, const char *gold_name, const char *pred, size_t pred_len,
                   const char *pred_name, mm_score_set *out) {
    memset(out, 0, sizeof *out);
    if (check_utf8(gold_name, gold, gold_len, 1) || check_utf8(pred_name, pred, pred_len, 0)) return -1;
    out->gold_buf = mm_xmalloc(gold_len + 1);
    memcpy(out->gold_buf, gold, gold_len); out->gold_buf[gold_len] = 0;
    out->pred_buf = mm_xmalloc(pred_len + 1);
    memcpy(out->pred_buf, pred, pred_len); out->pred_buf[pred_len] = 0;
    gold = out->gold_buf; pred = out->pred_buf;

    /* PRED: lines on '\n' only */
    size_t nl = 0;
    for (size_t i = 0; i < pred_len; i++) nl += pred[i] == '\n';
    pred_map pm = {NULL, 16};
    while (pm.cap < 2 * (nl + 2)) pm.cap <<= 1;
    pm.tab = mm_xcalloc(pm.cap, sizeof *pm.tab);
    size_t npred = 0;
    for (size_t i = 0; i < pred_len;) {
        const char *eol = memchr(pred + i, '\n', pred_len - i);
        size_t end = eol ? (size_t)(eol - pred) : pred_len;
        const char *row = pred + i;
        size_t rl = end - i;
        py_strip(&row, &rl);
        const char *tab = memchr(row, '\t', rl);
        const char *id = row, *hyp = "";
        size_t idl = rl, hl = 0;
        if (tab) {
            idl = (size_t)(tab - row);
            hyp = tab + 1;
            const char *tab2 = memchr(hyp, '\t', (size_t)(row + rl - hyp));
            hl = tab2 ? (size_t)(tab2 - hyp) : (size_t)(row + rl - hyp);
        }
        if (!idl) id = row;
        pred_ent *e = pm_find(&pm, id, idl, 1);
        e->hyp = hyp; e->hyp_len = hl;          /* later duplicate id wins */
        npred++;
        i = end + 1;
    }
    out->pred_lines = npred;

    /* GOLD: universal newlines; exactly one TAB per line */
    size_t cap_items = 16, nitems = 0, lineno = 0, unmatched = 0;
    mm_score_item *items = mm_xmalloc(cap_items * sizeof *items);
    reflist *rls = mm_xmalloc(cap_items * sizeof *rls);
    for (size_t i = 0; i < gold_len;) {
        size_t end = i;
        while (end < gold_len && gold[end] != '\n' && gold[end] != '\r') end++;
        size_t next = end + 1;
        if (end < gold_len && gold[end] == '\r' && end + 1 < gold_len && gold[end + 1] == '\n') next = end + 2;
        lineno++;
        const char *row = gold + i;
        size_t rl = end - i;
        const char *tab = memchr(row, '\t', rl);
        if (!tab || memchr(tab + 1, '\t', (size_t)(row + rl - tab - 1))) {
            free(pm.tab);
            for (size_t k = 0; k < nitems; k++) { free(rls[k].refs); free(rls[k].lens); }
            free(items); free(rls);
            mm_score_set_free(out);
            return mm_fail("%s:%zu: expected 'id<TAB>text' with exactly one TAB, found %s (bleu.py raises ValueError)",
                           gold_name, lineno, !tab ? (rl ? "none" : "a blank line") : "more than one");
        }
        size_t idl = (size_t)(tab - row);
        const char *text = tab + 1;
        size_t tl = (size_t)(row + rl - text);
        pred_ent *e = pm_find(&pm, row, idl, 0);
        if (!e) { unmatched++; i = next; continue; }
        if (e->item == (size_t)-1) {
            if (nitems == cap_items) {
                cap_items *= 2;
                items = mm_xrealloc(items, cap_items * sizeof *items);
                rls = mm_xrealloc(rls, cap_items * sizeof *rls);
            }
            e->item = nitems;
            items[nitems] = (mm_score_item){row, idl, e->hyp, e->hyp_len, NULL, NULL, 0};
            rls[nitems] = (reflist){NULL, NULL, 0, 0};
            e->used = 1;
            nitems++;
        }
        reflist *r = &rls[e->item];
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 2;
            r->refs = mm_xrealloc(r->refs, r->cap * sizeof *r->refs);
            r->lens = mm_xrealloc(r->lens, r->cap * sizeof *r->lens);
        }
        r->refs[r->n] = text; r->lens[r->n] = tl; r->n++;
        i = next;
    }
    out->gold_lines = lineno;
    out->gold_unmatched_lines = unmatched;
    size_t pu = 0;
    for (size_t h = 0; h < pm.cap; h++) pu += pm.tab[h].id && !pm.tab[h].used;
    out->pred_unmatched = pu;
    free(pm.tab);
    for (size_t k = 0; k < nitems; k++) {
        items[k].refs = rls[k].refs; items[k].ref_lens = rls[k].lens; items[k].nref = rls[k].n;
    }
    free(rls);
    out->items = items; out->n = nitems;
    if (nitems == 0) {
        mm_score_set_free(out);
        return mm_fail("%s and %s have no id in common (bleu.py raises ZeroDivisionError)", gold_name, pred_name);
    }
    return 0;
}

int mm_score_read(const char *gold_path, const char *pred_path, mm_score_set *out) {
    char *g, *p;
    size_t gl, pl;
    memset(out, 0, sizeof *out);
    if (read_file(gold_path, &g, &gl)) return -1;
    if (read_file(pred_path, &p, &pl)) { free(g); return -1; }
    int rc = mm_score_parse(g, gl, gold_path, p, pl, pred_path, out);
    free(g); free(p);
    return rc;
}

void mm_score_set_free(mm_score_set *s) {
    for (size_t k = 0; k < s->n; k++) { free((void *)s->items[k].refs); free(s->items[k].ref_lens); }
    free(s->items); free(s->gold_buf); free(s->pred_buf);
    memset(s, 0, sizeof *s);
}

int mm_score_items(const mm_score_item *items, size_t n, mm_meteor *meteor, double *bleu_out, double *meteor_out,
                   int threads) {
#ifdef MMLORA_OPENMP
    int nt = threads > 0 ? threads : omp_get_max_threads();
    if ((size_t)nt > n / 64 + 1) nt = (int)(n / 64 + 1);
    #pragma omp parallel num_threads(nt)
    {
        mm_meteor *m = meteor ? (omp_get_thread_num() == 0 ? meteor : mm_meteor_clone(meteor)) : NULL;
        mm_bleu_scratch *sc = mm_bleu_scratch_new();
        #pragma omp for schedule(dynamic, 32)
        for (size_t i = 0; i < n; i++) {
            const mm_score_item *it = &items[i];
            if (bleu_out) bleu_out[i] = mm_bleu_sentence_s(sc, it->hyp, it->hyp_len, it->refs, it->ref_lens, it->nref, NULL);
            if (meteor_out && m) meteor_out[i] = mm_meteor_score(m, it->hyp, it->hyp_len, it->refs, it->ref_lens, it->nref);
        }
        mm_bleu_scratch_free(sc);
        if (m && m != meteor) mm_meteor_free(m);
    }
#else
    (void)threads;
    mm_bleu_scratch *sc = mm_bleu_scratch_new();
    for (size_t i = 0; i < n; i++) {
        const mm_score_item *it = &items[i];
        if (bleu_out) bleu_out[i] = mm_bleu_sentence_s(sc, it->hyp, it->hyp_len, it->refs, it->ref_lens, it->nref, NULL);
        if (meteor_out && meteor) meteor_out[i] = mm_meteor_score(meteor, it->hyp, it->hyp_len, it->refs, it->ref_lens, it->nref);
    }
    mm_bleu_scratch_free(sc);
#endif
    return 0;
}

int mm_score_lines(const char *const *hyps, const char *const *refs, size_t n, mm_meteor *meteor, double *bleu_out,
                   double *meteor_out, int threads) {
    mm_score_item *items = mm_xmalloc((n + 1) * sizeof *items);
    size_t *lens = mm_xmalloc((n + 1) * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(refs[i]);
        items[i] = (mm_score_item){"", 0, hyps[i], strlen(hyps[i]), (const char **)&refs[i], &lens[i], 1};
    }
    int rc = mm_score_items(items, n, meteor, bleu_out, meteor_out, threads);
    free(items); free(lens);
    return rc;
}

double mm_corpus_mean100(const double *s, size_t n) {
    double score = 0.0;
    for (size_t i = 0; i < n; i++) score = score + s[i];
    return (score * 100.0) / (double)n;
}

const char *mm_fmt_repr(double x, char *buf) {
    if (x != x) { strcpy(buf, "nan"); return buf; }
    if (x == 1.0 / 0.0) { strcpy(buf, "inf"); return buf; }
    if (x == -1.0 / 0.0) { strcpy(buf, "-inf"); return buf; }
    char e[40];
    int p;
    for (p = 1; p < 17; p++) {           /* shortest round-trip digit count */
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    snprintf(e, sizeof e, "%.*e", p - 1, x);
    int ex = atoi(strchr(e, 'e') + 1);
    if (ex >= -4 && ex < 16) {           /* Python repr: fixed notation, at least one decimal */
        int dec = p - 1 - ex;
        snprintf(buf, 32, "%.*f", dec > 0 ? dec : 0, x);
        if (!strchr(buf, '.')) strcat(buf, ".0");
    } else {
        snprintf(buf, 32, "%.31s", e);
    }
    return buf;
}
