/* Open-addressing hash maps for the tokenizer: byte string -> id, and (id, id) -> merge. */
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

static uint64_t hash_bytes(const char *s, uint32_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (uint32_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}
static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

void mm_strmap_init(mm_strmap *m, size_t expect) {
    m->cap = pow2_at_least(expect * 2 + 1);
    m->n = 0;
    m->slots = mm_xcalloc(m->cap, sizeof *m->slots);
}
void mm_strmap_free(mm_strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}
static mm_strmap_slot *str_find(const mm_strmap *m, const char *s, uint32_t len) {
    size_t mask = m->cap - 1, i = hash_bytes(s, len) & mask;
    for (;; i = (i + 1) & mask) {
        mm_strmap_slot *e = &m->slots[i];
        if (!e->s) return e;
        if (e->len == len && memcmp(e->s, s, len) == 0) return e;
    }
}
int32_t mm_strmap_put(mm_strmap *m, const char *s, uint32_t len, int32_t val, int replace) {
    if ((m->n + 1) * 2 > m->cap) {
        mm_strmap old = *m;
        m->cap *= 2;
        m->n = 0;
        m->slots = mm_xcalloc(m->cap, sizeof *m->slots);
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].s) *str_find(m, old.slots[i].s, old.slots[i].len) = old.slots[i], m->n++;
        free(old.slots);
    }
    mm_strmap_slot *e = str_find(m, s ? s : "", len);
    if (e->s) {
        int32_t prev = e->val;
        if (replace) e->val = val;
        return prev;
    }
    e->s = s ? s : "";
    e->len = len;
    e->val = val;
    m->n++;
    return -1;
}
int32_t mm_strmap_get(const mm_strmap *m, const char *s, uint32_t len) {
    if (!m->cap) return -1;
    const mm_strmap_slot *e = str_find(m, s ? s : "", len);
    return e->s ? e->val : -1;
}

static inline size_t hash_pair(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}
void mm_pairmap_init(mm_pairmap *m, size_t expect) {
    m->cap = pow2_at_least(expect * 2 + 1);
    m->n = 0;
    m->slots = mm_xcalloc(m->cap, sizeof *m->slots);
}
void mm_pairmap_free(mm_pairmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}
static mm_pairmap_slot *pair_find(const mm_pairmap *m, uint64_t key) {
    size_t mask = m->cap - 1, i = hash_pair(key) & mask;
    while (m->slots[i].key && m->slots[i].key != key) i = (i + 1) & mask;
    return &m->slots[i];
}
void mm_pairmap_put(mm_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    if ((m->n + 1) * 2 > m->cap) {
        mm_pairmap old = *m;
        m->cap *= 2;
        m->n = 0;
        m->slots = mm_xcalloc(m->cap, sizeof *m->slots);
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].key) *pair_find(m, old.slots[i].key) = old.slots[i], m->n++;
        free(old.slots);
    }
    uint64_t key = mm_pair_key(a, b);
    mm_pairmap_slot *e = pair_find(m, key);
    if (!e->key) m->n++;
    e->key = key;
    e->rank = rank;
    e->id = id;
}
const mm_pairmap_slot *mm_pairmap_get(const mm_pairmap *m, int32_t a, int32_t b) {
    const mm_pairmap_slot *e = pair_find(m, mm_pair_key(a, b));
    return e->key ? e : NULL;
}
