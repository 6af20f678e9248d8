/* RQ4 subsets: a fraction of the training data, keeping each language's share.
 * Per language with n examples: k = max(1, floor(fraction * n + 0.5)) examples drawn without
 * replacement by a seeded Fisher-Yates (splitmix64 stream seeded with seed and the language id), kept
 * in file order.  Deterministic: same input order + fraction + seed -> same subset, on any machine. */
#ifndef MMLORA_DATA_SUBSET_H
#define MMLORA_DATA_SUBSET_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"

/* Number kept from n examples of one language. */
size_t mm_subset_count(size_t n, double fraction);
/* Indices (strictly increasing, malloc'd into *keep) of the subset of s; returns their count. */
size_t mm_subset_indices(const mm_example_set *s, double fraction, uint64_t seed, size_t **keep);
/* Applies the subset to s in place; returns the new size. */
size_t mm_subset_apply(mm_example_set *s, double fraction, uint64_t seed);
/* splitmix64 step (exposed for tests and the corpus split). */
uint64_t mm_splitmix64(uint64_t *state);
#endif
