/* Byte-level BPE on one pre-tokenized piece: start from one symbol per byte (bytes the vocab lacks are
 * dropped, as HF does without unk_token), then repeatedly merge the adjacent pair with the lowest merge
 * rank, leftmost first.  Short pieces: arrays with cached pair ranks; long ones: a heap (as HF). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

void mm_ids_grow(mm_ids *v) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->ids = mm_xrealloc(v->ids, v->cap * sizeof *v->ids);
}

/* Per-thread direct-mapped cache of short pieces -> ids (source code repeats its pieces a lot).
 * Entries carry the tokenizer's serial, so a freed / reloaded tokenizer never hits stale entries. */
enum { CACHE_BITS = 12, CACHE_KEY = 22, CACHE_IDS = 7 };
typedef struct {
    uint64_t serial;
    uint32_t hash;
    uint8_t len, nids;
    char key[CACHE_KEY];
    int32_t ids[CACHE_IDS];
} centry;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static void cache_make_key(void) { pthread_key_create(&cache_key, free); }
static centry *thread_cache(void) {
    pthread_once(&cache_once, cache_make_key);
    centry *c = pthread_getspecific(cache_key);
    if (!c) {
        c = mm_xcalloc((size_t)1 << CACHE_BITS, sizeof *c);
        pthread_setspecific(cache_key, c);
    }
    return c;
}
static uint64_t next_serial = 1;
uint64_t mm_tok_new_serial(void) { return __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED); }


#define NO_RANK INT32_MAX
enum { SHORT_MAX = 256 };

static int bpe_short(const mm_tokenizer *t, int32_t *ids, int n, mm_ids *out) {
    int32_t rank[SHORT_MAX], nid[SHORT_MAX];
    for (int i = 0; i + 1 < n; i++) {
        const mm_pairmap_slot *m = mm_pairmap_get(&t->merges, ids[i], ids[i + 1]);
        rank[i] = m ? m->rank : NO_RANK;
        nid[i] = m ? m->id : -1;
    }
    while (n > 1) {
        int best = -1;
        int32_t br = NO_RANK;
        for (int i = 0; i + 1 < n; i++)
            if (rank[i] < br) br = rank[i], best = i;
        if (best < 0) break;
        ids[best] = nid[best];
        memmove(ids + best + 1, ids + best + 2, (size_t)(n - best - 2) * sizeof *ids);
        if (n - best - 3 > 0) {
            memmove(rank + best + 1, rank + best + 2, (size_t)(n - best - 3) * sizeof *rank);
            memmove(nid + best + 1, nid + best + 2, (size_t)(n - best - 3) * sizeof *nid);
        }
        n--;
        for (int i = best - 1; i <= best; i++) {
            if (i < 0 || i + 1 >= n) continue;
            const mm_pairmap_slot *m = mm_pairmap_get(&t->merges, ids[i], ids[i + 1]);
            rank[i] = m ? m->rank : NO_RANK;
            nid[i] = m ? m->id : -1;
        }
    }
    for (int i = 0; i < n; i++) mm_ids_push(out, ids[i]);
    return 0;
}

typedef struct { int32_t rank, pos, id; } hent;
static int hless(hent a, hent b) { return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos; }
static void hpush(hent *h, size_t *n, hent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(e, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}
static hent hpop(hent *h, size_t *n) {
    hent top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        hent best = last;
        if (l < *n && hless(h[l], best)) m = l, best = h[l];
        if (r < *n && hless(h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static int bpe_long(const mm_tokenizer *t, int32_t *ids, int n, mm_ids *out) {
    int32_t *prev = mm_xmalloc((size_t)n * sizeof *prev), *next = mm_xmalloc((size_t)n * sizeof *next);
    uint8_t *alive = mm_xmalloc((size_t)n);
    hent *h = mm_xmalloc((size_t)(3 * n + 4) * sizeof *h);   /* at most n-1 initial + 2 per merge */
    size_t hn = 0;
    for (int i = 0; i < n; i++) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1, alive[i] = 1;
    for (int i = 0; i + 1 < n; i++) {
        const mm_pairmap_slot *m = mm_pairmap_get(&t->merges, ids[i], ids[i + 1]);
        if (m) hpush(h, &hn, (hent){m->rank, i, m->id});
    }
    while (hn) {
        hent e = hpop(h, &hn);
        int p = e.pos;
        if (!alive[p] || next[p] < 0) continue;
        int q = next[p];
        const mm_pairmap_slot *m = mm_pairmap_get(&t->merges, ids[p], ids[q]);
        if (!m || m->id != e.id) continue;   /* stale */
        ids[p] = e.id;
        alive[q] = 0;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        if (prev[p] >= 0) {
            const mm_pairmap_slot *a = mm_pairmap_get(&t->merges, ids[prev[p]], ids[p]);
            if (a) hpush(h, &hn, (hent){a->rank, prev[p], a->id});
        }
        if (next[p] >= 0) {
            const mm_pairmap_slot *b = mm_pairmap_get(&t->merges, ids[p], ids[next[p]]);
            if (b) hpush(h, &hn, (hent){b->rank, p, b->id});
        }
    }
    for (int i = 0; i >= 0; i = next[i]) mm_ids_push(out, ids[i]);
    free(prev);
    free(next);
    free(alive);
    free(h);
    return 0;
}

static int bpe_uncached(const mm_tokenizer *t, const unsigned char *p, size_t n, mm_ids *out);

int mm_tok_bpe(const mm_tokenizer *t, const unsigned char *p, size_t n, mm_ids *out) {
    if (n > CACHE_KEY) return bpe_uncached(t, p, n, out);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    centry *e = &thread_cache()[(h ^ (h >> 15)) & ((1u << CACHE_BITS) - 1)];
    if (e->serial == t->serial && e->hash == h && e->len == n && !memcmp(e->key, p, n)) {
        for (int i = 0; i < e->nids; i++) mm_ids_push(out, e->ids[i]);
        return 0;
    }
    size_t before = out->n;
    int rc = bpe_uncached(t, p, n, out);
    size_t k = out->n - before;
    if (!rc && k <= CACHE_IDS) {
        e->serial = t->serial, e->hash = h, e->len = (uint8_t)n, e->nids = (uint8_t)k;
        memcpy(e->key, p, n);
        memcpy(e->ids, out->ids + before, k * sizeof *e->ids);
    }
    return rc;
}

static int bpe_uncached(const mm_tokenizer *t, const unsigned char *p, size_t n, mm_ids *out) {
    if (t->ignore_merges && n <= UINT32_MAX) {
        int32_t id = mm_strmap_get(&t->model_bytes, (const char *)p, (uint32_t)n);
        if (id >= 0) return mm_ids_push(out, id);
    }
    if (n > (size_t)INT32_MAX / 4) return mm_fail("tokenizer: piece of %zu bytes is too long", n);
    int32_t stack[SHORT_MAX], *ids = n <= SHORT_MAX ? stack : mm_xmalloc(n * sizeof *ids);
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[p[i]];
        if (id >= 0) ids[k++] = id;
    }
    int rc = 0;
    if (k == 1) mm_ids_push(out, ids[0]);
    else if (k > 1) rc = k <= SHORT_MAX ? bpe_short(t, ids, k, out) : bpe_long(t, ids, k, out);
    if (ids != stack) free(ids);
    return rc;
}
