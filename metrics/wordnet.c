/* WordNet 3.0 reader for METEOR's synonym stage (see wordnet.h and metrics-spec.md 2.3). */
#include "metrics/wordnet.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/log.h"

static const char POS[4] = {'n', 'v', 'a', 'r'};
static const char *POSNAME[4] = {"noun", "verb", "adj", "adv"};

typedef struct { const char *p; size_t len; } span;
typedef struct { const char *p; size_t len; } mfile;

/* index entry: lemma -> offsets per POS */
typedef struct { span key; uint32_t off[4]; uint16_t cnt[4]; } ientry;
/* exception entry: inflected form -> base forms (spans into the .exc text) */
typedef struct { span key; uint32_t first; uint32_t n; } xentry;

struct mm_wordnet {
    mfile index[4], data[4], exc[4];
    ientry *itab; size_t icap;
    uint32_t *offs; size_t noffs, offcap;
    xentry *xtab[4]; size_t xcap[4];
    span *xforms; size_t nxf, xfcap;
};

static uint64_t hstr(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h ^ (h >> 29);
}

static int map_file(const char *dir, const char *name, mfile *f) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return mm_fail("WordNet database not found: cannot open %s (%s). Install the Debian package "
                       "'wordnet-base' (apt-get install wordnet-base) or point --wordnet DIR / WORDNET_DIR "
                       "at a WordNet 3.0 dict directory", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        close(fd);
        return mm_fail("WordNet file %s is empty or unreadable", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return mm_fail("cannot mmap %s: %s", path, strerror(errno));
    f->p = p;
    f->len = (size_t)st.st_size;
    return 0;
}

static ientry *ifind(const mm_wordnet *wn, const char *k, size_t n, int insert) {
    size_t h = (size_t)(hstr(k, n) & (wn->icap - 1));
    for (;;) {
        ientry *e = &wn->itab[h];
        if (!e->key.p) {
            if (!insert) return NULL;
            e->key.p = k; e->key.len = n;
            return e;
        }
        if (e->key.len == n && !memcmp(e->key.p, k, n)) return e;
        h = (h + 1) & (wn->icap - 1);
    }
}

static xentry *xfind(const mm_wordnet *wn, int pos, const char *k, size_t n, int insert) {
    size_t cap = wn->xcap[pos];
    size_t h = (size_t)(hstr(k, n) & (cap - 1));
    for (;;) {
        xentry *e = &wn->xtab[pos][h];
        if (!e->key.p) {
            if (!insert) return NULL;
            e->key.p = k; e->key.len = n;
            return e;
        }
        if (e->key.len == n && !memcmp(e->key.p, k, n)) return e;
        h = (h + 1) & (cap - 1);
    }
}

/* next space/newline-separated field in [*p, end) on the current line */
static int field(const char **p, const char *end, span *s) {
    const char *q = *p;
    while (q < end && *q == ' ') q++;
    if (q >= end || *q == '\n') { *p = q; return 0; }
    const char *b = q;
    while (q < end && *q != ' ' && *q != '\n') q++;
    s->p = b; s->len = (size_t)(q - b);
    *p = q;
    return 1;
}
static long num(span s, int base) {
    char buf[32];
    size_t l = s.len < 31 ? s.len : 31;
    memcpy(buf, s.p, l); buf[l] = 0;
    return strtol(buf, NULL, base);
}

static int load_index(mm_wordnet *wn, int pos) {
    const char *p = wn->index[pos].p, *end = p + wn->index[pos].len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if (*p != ' ') {
            const char *q = p;
            span lemma, f;
            if (field(&q, eol, &lemma) && field(&q, eol, &f)) {  /* lemma, pos */
                span t;
                long nsyn = field(&q, eol, &t) ? num(t, 10) : 0;
                long nptr = field(&q, eol, &t) ? num(t, 10) : 0;
                for (long i = 0; i < nptr; i++) field(&q, eol, &t);
                field(&q, eol, &t); field(&q, eol, &t); /* sense_cnt, tagsense_cnt */
                if (nsyn > 0 && nsyn < 65536) {
                    ientry *e = ifind(wn, lemma.p, lemma.len, 1);
                    if (wn->noffs + (size_t)nsyn > wn->offcap) {
                        wn->offcap = 2 * wn->offcap + (size_t)nsyn;
                        wn->offs = mm_xrealloc(wn->offs, wn->offcap * sizeof *wn->offs);
                    }
                    e->off[pos] = (uint32_t)wn->noffs;
                    e->cnt[pos] = 0;
                    for (long i = 0; i < nsyn && field(&q, eol, &t); i++) {
                        wn->offs[wn->noffs++] = (uint32_t)num(t, 10);
                        e->cnt[pos]++;
                    }
                }
            }
        }
        p = eol + 1;
    }
    return 0;
}

static void load_exc(mm_wordnet *wn, int pos) {
    const char *p = wn->exc[pos].p, *end = p + wn->exc[pos].len;
    size_t lines = 0;
    for (const char *q = p; q < end; q++) lines += *q == '\n';
    wn->xcap[pos] = 16;
    while (wn->xcap[pos] < 2 * lines + 2) wn->xcap[pos] <<= 1;
    wn->xtab[pos] = mm_xcalloc(wn->xcap[pos], sizeof(xentry));
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *q = p;
        span k, f;
        if (field(&q, eol, &k)) {
            xentry *e = xfind(wn, pos, k.p, k.len, 1); /* a repeated key: the last line wins */
            e->first = (uint32_t)wn->nxf;
            e->n = 0;
            while (field(&q, eol, &f)) {
                if (wn->nxf == wn->xfcap) {
                    wn->xfcap = 2 * wn->xfcap + 64;
                    wn->xforms = mm_xrealloc(wn->xforms, wn->xfcap * sizeof *wn->xforms);
                }
                wn->xforms[wn->nxf++] = f;
                e->n++;
            }
        }
        p = eol + 1;
    }
}

mm_wordnet *mm_wordnet_open(const char *dir) {
    if (!dir || !*dir) dir = getenv("WORDNET_DIR");
    if (!dir || !*dir) dir = MM_WORDNET_DEFAULT_DIR;
    mm_wordnet *wn = mm_xcalloc(1, sizeof *wn);
    char name[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "index.%s", POSNAME[i]);
        if (map_file(dir, name, &wn->index[i])) goto fail;
        snprintf(name, sizeof name, "data.%s", POSNAME[i]);
        if (map_file(dir, name, &wn->data[i])) goto fail;
        snprintf(name, sizeof name, "%s.exc", POSNAME[i]);
        if (map_file(dir, name, &wn->exc[i])) goto fail;
    }
    size_t lines = 0;
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k < wn->index[i].len; k++) lines += wn->index[i].p[k] == '\n';
    wn->icap = 16;
    while (wn->icap < lines + lines / 4 + 2) wn->icap <<= 1;  /* load <= 0.8 */
    wn->itab = mm_xcalloc(wn->icap, sizeof *wn->itab);
    for (int i = 0; i < 4; i++) {
        load_index(wn, i);
        load_exc(wn, i);
    }
    return wn;
fail:
    mm_wordnet_close(wn);
    return NULL;
}

void mm_wordnet_close(mm_wordnet *wn) {
    if (!wn) return;
    for (int i = 0; i < 4; i++) {
        if (wn->index[i].p) munmap((void *)wn->index[i].p, wn->index[i].len);
        if (wn->data[i].p) munmap((void *)wn->data[i].p, wn->data[i].len);
        if (wn->exc[i].p) munmap((void *)wn->exc[i].p, wn->exc[i].len);
        free(wn->xtab[i]);
    }
    free(wn->itab); free(wn->offs); free(wn->xforms); free(wn);
}

void mm_strset_free(mm_strset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->items[i]);
    free(s->items);
    free(s->slots);
    memset(s, 0, sizeof *s);
}
static void strset_clear(mm_strset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->items[i]);
    s->n = 0;
    if (s->slots) memset(s->slots, 0, s->nslots * sizeof *s->slots);
}
/* slots hold item index + 1 (0 = empty); open addressing, load <= 1/2 */
static size_t slot_of(const mm_strset *s, const char *w, size_t len) {
    size_t h = (size_t)(hstr(w, len) & (s->nslots - 1));
    while (s->slots[h]) {
        const char *it = s->items[s->slots[h] - 1];
        if (strlen(it) == len && !memcmp(it, w, len)) return h;
        h = (h + 1) & (s->nslots - 1);
    }
    return h;
}
bool mm_strset_has(const mm_strset *s, const char *w, size_t len) {
    if (!s->n) return false;
    return s->slots[slot_of(s, w, len)] != 0;
}
static void strset_add(mm_strset *s, const char *w, size_t len) {
    if (2 * (s->n + 1) > s->nslots) {
        size_t ns = s->nslots ? 2 * s->nslots : 32;
        free(s->slots);
        s->slots = mm_xcalloc(ns, sizeof *s->slots);
        s->nslots = ns;
        for (size_t i = 0; i < s->n; i++) s->slots[slot_of(s, s->items[i], strlen(s->items[i]))] = (uint32_t)(i + 1);
    }
    size_t h = slot_of(s, w, len);
    if (s->slots[h]) return;
    if (s->n == s->cap) {
        s->cap = 2 * s->cap + 8;
        s->items = mm_xrealloc(s->items, s->cap * sizeof *s->items);
    }
    char *c = mm_xmalloc(len + 1);
    memcpy(c, w, len); c[len] = 0;
    s->items[s->n] = c;
    s->slots[h] = (uint32_t)(++s->n);
}

static int posidx(char pos) {
    for (int i = 0; i < 4; i++) if (POS[i] == pos) return i;
    return -1;
}

static bool in_db(const mm_wordnet *wn, int pi, const char *f, size_t n) {
    const ientry *e = ifind(wn, f, n, 0);
    return e && e->cnt[pi] > 0;
}

static const char *SUBST[4][10][2] = {
    {{"s", ""}, {"ses", "s"}, {"ves", "f"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}, {NULL, NULL}},
    {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}, {NULL, NULL}},
    {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}, {NULL, NULL}},
    {{NULL, NULL}},
};

/* apply_rules over a set of forms (deduplicated: only the set matters, see spec 2.3) */
static void apply_rules(int pi, const mm_strset *in, mm_strset *out) {
    char sbuf[256], *buf = sbuf;
    size_t cap = sizeof sbuf;
    for (size_t i = 0; i < in->n; i++) {
        const char *f = in->items[i];
        size_t fl = strlen(f);
        if (fl + 8 > cap) {
            if (buf != sbuf) free(buf);
            cap = fl + 8;
            buf = mm_xmalloc(cap);
        }
        for (int r = 0; SUBST[pi][r][0]; r++) {
            const char *old = SUBST[pi][r][0], *nw = SUBST[pi][r][1];
            size_t ol = strlen(old), nl = strlen(nw);
            if (fl < ol || memcmp(f + fl - ol, old, ol)) continue;
            memcpy(buf, f, fl - ol);
            memcpy(buf + fl - ol, nw, nl);
            strset_add(out, buf, fl - ol + nl);
        }
    }
    if (buf != sbuf) free(buf);
}

static void filter_into(const mm_wordnet *wn, int pi, const mm_strset *forms, mm_strset *out, size_t *hits) {
    for (size_t i = 0; i < forms->n; i++) {
        const char *f = forms->items[i];
        if (in_db(wn, pi, f, strlen(f))) { strset_add(out, f, strlen(f)); (*hits)++; }
    }
}

void mm_wordnet_morphy(const mm_wordnet *wn, const char *form, char pos, bool morphy39, mm_strset *out) {
    int pi = posidx(pos);
    if (pi < 0) return;
    size_t fl = strlen(form), hits = 0;
    mm_strset cur = {0}, next = {0};
    strset_add(&cur, form, fl);
    const xentry *x = xfind(wn, pi, form, fl, 0);
    if (x) { /* 0. exceptions: [form] + exc[form] */
        for (uint32_t k = 0; k < x->n; k++) strset_add(&cur, wn->xforms[x->first + k].p, wn->xforms[x->first + k].len);
        filter_into(wn, pi, &cur, out, &hits);
        goto done;
    }
    apply_rules(pi, &cur, &next);                 /* 1. one pass */
    for (size_t i = 0; i < next.n; i++) strset_add(&cur, next.items[i], strlen(next.items[i]));
    filter_into(wn, pi, &cur, out, &hits);        /* 2. incl. the form itself */
    if (hits || morphy39) goto done;
    while (next.n) {                              /* 3. NLTK <= 3.8: repeat until a hit */
        strset_clear(&cur);
        apply_rules(pi, &next, &cur);
        mm_strset t = cur; cur = next; next = t;
        filter_into(wn, pi, &next, out, &hits);
        if (hits) break;
    }
done:
    mm_strset_free(&cur);
    mm_strset_free(&next);
}

void mm_wordnet_synonyms(const mm_wordnet *wn, const char *w, size_t len, bool morphy39, mm_strset *out) {
    strset_clear(out);
    if (len == 0) return;
    char sq[256], *q = len < sizeof sq ? sq : mm_xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 0x80 || c == 0) { if (q != sq) free(q); return; }  /* WordNet 3.0 is ASCII: no synsets */
        q[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    q[len] = 0;
    mm_strset forms = {0};
    for (int pi = 0; pi < 4; pi++) {
        strset_clear(&forms);
        mm_wordnet_morphy(wn, q, POS[pi], morphy39, &forms);
        for (size_t f = 0; f < forms.n; f++) {
            const ientry *e = ifind(wn, forms.items[f], strlen(forms.items[f]), 0);
            if (!e) continue;
            for (uint16_t k = 0; k < e->cnt[pi]; k++) {
                uint32_t off = wn->offs[e->off[pi] + k];
                const mfile *d = &wn->data[pi];
                if (off >= d->len) continue;
                const char *p = d->p + off, *end = d->p + d->len;
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol) eol = end;
                span t;
                field(&p, eol, &t); field(&p, eol, &t); field(&p, eol, &t); /* offset lex_filenum ss_type */
                if (!field(&p, eol, &t)) continue;
                long nw = num(t, 16);
                for (long i = 0; i < nw; i++) {
                    span name, lexid;
                    if (!field(&p, eol, &name) || !field(&p, eol, &lexid)) break;
                    size_t nl = name.len;
                    /* re.match(r"(.*?)(\(.*\))?$"): drop a trailing "(...)" marker */
                    if (nl && name.p[nl - 1] == ')') {
                        const char *o = memchr(name.p, '(', nl);
                        if (o) nl = (size_t)(o - name.p);
                    }
                    if (memchr(name.p, '_', nl)) continue;
                    strset_add(out, name.p, nl);
                }
            }
        }
    }
    mm_strset_free(&forms);
    if (q != sq) free(q);
}
