/* Per-language proportional subsets.  See subset.h. */
#include "data/subset.h"
#include <math.h>
#include <stdlib.h>
#include "util/log.h"

uint64_t mm_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t mm_subset_count(size_t n, double fraction) {
    if (n == 0) return 0;
    if (fraction >= 1.0) return n;
    size_t k = (size_t)floor(fraction * (double)n + 0.5);
    if (k < 1) k = 1;
    return k > n ? n : k;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

size_t mm_subset_indices(const mm_example_set *s, double fraction, uint64_t seed, size_t **keep) {
    size_t *out = mm_xmalloc((s->n ? s->n : 1) * sizeof *out), n_out = 0;
    size_t *idx = mm_xmalloc((s->n ? s->n : 1) * sizeof *idx);
    for (int lang = 0; lang < MM_MAX_LANGS; lang++) {
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->ex[i].lang == lang) idx[n++] = i;
        size_t k = mm_subset_count(n, fraction);
        uint64_t st = seed * 0x100000001B3ull + (uint64_t)lang * 0x9E3779B97F4A7C15ull + 1;
        for (size_t j = 0; j < k; j++) {   /* partial Fisher-Yates: idx[0..k) is a uniform sample */
            size_t r = j + (size_t)(mm_splitmix64(&st) % (uint64_t)(n - j));
            size_t t = idx[j];
            idx[j] = idx[r];
            idx[r] = t;
            out[n_out++] = idx[j];
        }
    }
    free(idx);
    qsort(out, n_out, sizeof *out, cmp_size);
    *keep = out;
    return n_out;
}

size_t mm_subset_apply(mm_example_set *s, double fraction, uint64_t seed) {
    size_t *keep;
    size_t k = mm_subset_indices(s, fraction, seed, &keep);
    mm_examples_select(s, keep, k);
    free(keep);
    return k;
}
