#include "train/batches.h"
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/philox.h"

int mm_batches_init(mm_batches *b, const mm_cache *c, int lang, long max_per_lang, int epochs, int micro,
                    uint64_t seed, int32_t pad_id) {
    memset(b, 0, sizeof *b);
    b->cache = c;
    b->epochs = epochs < 1 ? 1 : epochs;
    b->micro = micro;
    b->seed = seed;
    b->pad_id = pad_id;
    b->perm_epoch = -1;
    size_t total = mm_cache_count(c);
    b->pool = mm_xmalloc(sizeof(size_t) * (total ? total : 1));
    long taken[MM_CACHE_MAX_LANGS] = {0};
    for (size_t i = 0; i < total; i++) {
        mm_cache_example ex;
        if (mm_cache_get(c, i, &ex)) continue;
        if (lang >= 0 && ex.lang != lang) continue;
        if (ex.lang < 0 || ex.lang >= MM_CACHE_MAX_LANGS) continue;
        if (max_per_lang > 0 && taken[ex.lang] >= max_per_lang) continue;
        taken[ex.lang]++;
        b->pool[b->n++] = i;
    }
    if (!b->n) {
        free(b->pool);
        b->pool = NULL;
        return mm_fail("no training examples%s", lang >= 0 ? " for this language" : "");
    }
    b->perm = mm_xmalloc(sizeof(size_t) * b->n);
    return 0;
}

void mm_batches_free(mm_batches *b) {
    free(b->pool);
    free(b->perm);
    memset(b, 0, sizeof *b);
}

uint64_t mm_batches_total_micro(const mm_batches *b) {
    return ((uint64_t)b->n * b->epochs + b->micro - 1) / b->micro;
}

static void make_perm(mm_batches *b, long epoch) {
    for (size_t i = 0; i < b->n; i++) b->perm[i] = b->pool[i];
    for (size_t i = b->n - 1; i > 0; i--) { /* Fisher-Yates with counter-based draws */
        uint64_t r = ((uint64_t)mm_rng_u32(b->seed, (uint32_t)epoch, mm_rng_stream(-1, MM_RNG_DATA), 2 * i) << 32) |
                     mm_rng_u32(b->seed, (uint32_t)epoch, mm_rng_stream(-1, MM_RNG_DATA), 2 * i + 1);
        size_t j = (size_t)(r % (i + 1));
        size_t t = b->perm[i];
        b->perm[i] = b->perm[j];
        b->perm[j] = t;
    }
    b->perm_epoch = epoch;
}

int mm_batches_next(void *ctx, uint64_t micro, int32_t *tokens, float *weights, int32_t *langs, int B, int *T) {
    mm_batches *b = ctx;
    const uint64_t total = (uint64_t)b->n * b->epochs;
    uint64_t first = micro * (uint64_t)b->micro;
    if (first >= total) return 0;
    int rows = b->micro < B ? b->micro : B;
    if (first + (uint64_t)rows > total) rows = (int)(total - first);
    mm_cache_example ex[256];
    if (rows > 256) return mm_fail("micro-batch of %d sequences exceeds 256", rows);
    int len = 2;
    for (int r = 0; r < rows; r++) {
        uint64_t pos = first + (uint64_t)r;
        long epoch = (long)(pos / b->n);
        if (epoch != b->perm_epoch) make_perm(b, epoch);
        if (mm_cache_get(b->cache, b->perm[pos % b->n], &ex[r])) return mm_fail("cache index out of range");
        if (ex[r].n_tok > len) len = ex[r].n_tok;
    }
    if (len > *T) return mm_fail("a cached sequence of %d tokens exceeds the engine's %d", len, *T);
    *T = len;
    for (int r = 0; r < rows; r++) {
        int32_t *tk = tokens + (size_t)r * len;
        float *w = weights + (size_t)r * len;
        for (int p = 0; p < len; p++) {
            tk[p] = p < ex[r].n_tok ? ex[r].ids[p] : b->pad_id;
            w[p] = (p >= ex[r].n_src && p < ex[r].n_tok) ? 1.0f : 0.0f;
        }
        langs[r] = ex[r].lang;
    }
    return rows;
}
