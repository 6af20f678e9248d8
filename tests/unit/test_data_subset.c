/* RQ4 subsets: per-language shares within one example, at least one per language, deterministic. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include "data/subset.h"
#include "util/log.h"

static void fill(mm_example_set *s, const size_t *per_lang, int n_langs) {
    for (int l = 0; l < n_langs; l++)   /* interleave languages to exercise in-order keeping */
        for (size_t i = 0; i < per_lang[l]; i++) mm_examples_push(s, mm_xstrdup("x"), mm_xstrdup("y"), l, (long)i + 1);
}

Test(subset, shares_within_one_example) {
    /* the CodeSearchNet train sizes, scaled by 1/10 */
    const size_t n[6] = {16729, 16492, 5803, 24124, 25182, 2493};
    const double fr[3] = {0.001, 0.005, 0.01};
    for (int f = 0; f < 3; f++) {
        mm_example_set s = {0};
        fill(&s, n, 6);
        size_t *keep;
        size_t k = mm_subset_indices(&s, fr[f], 7, &keep);
        size_t cnt[6] = {0};
        for (size_t i = 0; i < k; i++) {
            if (i) cr_assert_gt(keep[i], keep[i - 1]);
            cnt[s.ex[keep[i]].lang]++;
        }
        for (int l = 0; l < 6; l++) {
            cr_assert_geq(cnt[l], 1);
            cr_assert_leq(fabs((double)cnt[l] - fr[f] * (double)n[l]), 1.0, "lang %d: %zu vs %.2f", l, cnt[l],
                          fr[f] * (double)n[l]);
        }
        free(keep);
        mm_examples_free(&s);
    }
}

Test(subset, tiny_language_keeps_one) {
    const size_t n[3] = {5000, 3, 1};
    mm_example_set s = {0};
    fill(&s, n, 3);
    mm_subset_apply(&s, 0.001, 1);
    size_t cnt[3] = {0};
    for (size_t i = 0; i < s.n; i++) cnt[s.ex[i].lang]++;
    cr_assert_eq(cnt[0], 5);
    cr_assert_eq(cnt[1], 1);
    cr_assert_eq(cnt[2], 1);
    mm_examples_free(&s);
}

Test(subset, same_seed_same_subset) {
    const size_t n[2] = {20000, 777};
    mm_example_set s = {0};
    fill(&s, n, 2);
    size_t *a, *b, *c;
    size_t ka = mm_subset_indices(&s, 0.005, 42, &a), kb = mm_subset_indices(&s, 0.005, 42, &b);
    size_t kc = mm_subset_indices(&s, 0.005, 43, &c);
    cr_assert_eq(ka, kb);
    cr_assert_eq(memcmp(a, b, ka * sizeof *a), 0);
    cr_assert_eq(ka, kc);
    cr_assert_neq(memcmp(a, c, ka * sizeof *a), 0, "a different seed draws a different subset");
    /* pinned: the subset must not change across machines or releases */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < ka; i++) h = (h ^ a[i]) * 1099511628211ull;
    cr_assert_eq(ka, 104);
    cr_assert_eq(h, 0xd157d616e03cf32aull, "subset changed: %llx", (unsigned long long)h);
    free(a);
    free(b);
    free(c);
    mm_examples_free(&s);
}
