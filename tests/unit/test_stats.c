/* Paired tests: the reference values of metrics-spec.md 3.5 (scipy 1.10.1 / numpy 1.24.2). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "metrics/stats.h"

static uint64_t bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
#define cr_assert_bits(a, b) cr_assert_eq(bits(a), bits(b), "%.17g != %.17g", (double)(a), (double)(b))
#define cr_assert_rel(a, b, tol) \
    cr_assert(fabs((a) - (b)) <= (tol) * fabs(b), "%.17g vs %.17g (rel %.3g)", (double)(a), (double)(b), fabs((a) - (b)) / fabs(b))

Test(stats, ttest_T1_T5) {
    mm_test_result r;
    double a1[] = {0.1, 0.2, 0.3, 0.4, 0.5}, b1[] = {0.12, 0.18, 0.33, 0.37, 0.52};
    mm_ttest_rel(a1, b1, 5, &r);
    cr_assert_bits(r.statistic, -0.3310423554409468);
    cr_assert_rel(r.pvalue, 0.7572283499374897, 1e-10);
    cr_assert_eq(r.df, 4.0);
    double a2[] = {1, 2, 3, 4}, b2[] = {0, 1, 2, 3};
    mm_ttest_rel(a2, b2, 4, &r);
    cr_assert(isinf(r.statistic) && r.statistic > 0);
    cr_assert_eq(r.pvalue, 0.0);
    double a3[] = {0.5, 0.25, 0.75};
    mm_ttest_rel(a3, a3, 3, &r);
    cr_assert(isnan(r.statistic) && isnan(r.pvalue));
    double a4[] = {12.5, 30.1, 0.0, 45.2, 8.8, 100.0, 22.2, 16.4}, b4[] = {10.0, 31.5, 4.2, 40.0, 8.8, 90.0, 25.0, 11.1};
    mm_ttest_rel(a4, b4, 8, &r);
    cr_assert_bits(r.statistic, 1.0724200599366485);
    cr_assert_rel(r.pvalue, 0.3191053885404628, 1e-10);
    double a5[] = {0.0, 1.0}, b5[] = {1.0, 0.0};
    mm_ttest_rel(a5, b5, 2, &r);
    cr_assert_bits(r.statistic, 0.0);
    cr_assert_rel(r.pvalue, 1.0, 1e-10);
    mm_ttest_rel(a5, b5, 0, &r);
    cr_assert(isnan(r.pvalue));
}

static const double W1x[] = {0.9, 0.8, 0.7, 0.65, 0.55, 0.5, 0.45, 0.4};
static const double W1y[] = {0.85, 0.82, 0.6, 0.62, 0.5, 0.52, 0.3, 0.41};
static const double W2x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const double W2y[] = {1, 2.5, 2, 4, 3, 6.5, 5, 8, 7.5, 8, 13, 9};

Test(stats, wilcoxon_W1_to_W6) {
    mm_test_result r;
    cr_assert_eq(mm_wilcoxon(W1x, W1y, 8, NULL, &r), 0);
    cr_assert_bits(r.statistic, 6.0);
    cr_assert_bits(r.pvalue, 0.109375);
    cr_assert(r.exact);
    mm_wilcoxon(W2x, W2y, 12, NULL, &r);
    cr_assert_bits(r.statistic, 9.5);
    cr_assert_rel(r.pvalue, 0.11990168905413869, 1e-14);
    double x3[] = {1, 2, 3, 4, 5, 6}, y3[] = {2, 4, 1, 3, 6, 4};
    mm_wilcoxon(x3, y3, 6, NULL, &r);
    cr_assert_bits(r.statistic, 9.0);
    cr_assert_bits(r.pvalue, 0.84375);
    double x4[60], y4[60];
    for (int k = 0; k < 60; k++) { x4[k] = nearbyint(sin(k) * 10); y4[k] = nearbyint(cos(k) * 10); }
    mm_wilcoxon(x4, y4, 60, NULL, &r);
    cr_assert_bits(r.statistic, 844.5);
    cr_assert_rel(r.pvalue, 0.9319558953327454, 1e-14);
    mm_wilcoxon_opts o5 = {MM_ZERO_ZSPLIT, true, MM_ALT_TWO_SIDED, MM_WILCOXON_AUTO};
    mm_wilcoxon(W2x, W2y, 12, &o5, &r);
    cr_assert_bits(r.statistic, 21.5);
    cr_assert_rel(r.pvalue, 0.17980660516624503, 1e-14);
    mm_wilcoxon_opts o6 = {MM_ZERO_WILCOX, false, MM_ALT_TWO_SIDED, MM_WILCOXON_APPROX};
    mm_wilcoxon(W1x, W1y, 8, &o6, &r);
    cr_assert_bits(r.statistic, 6.0);
    cr_assert_bits(r.z, -1.6823991293586757);
    cr_assert_rel(r.pvalue, 0.09249147011262995, 1e-14);
}

Test(stats, wilcoxon_all_zero_is_an_error) {
    mm_test_result r;
    double x[60] = {0};
    cr_assert_eq(mm_wilcoxon(x, x, 60, NULL, &r), -1);
    mm_wilcoxon_opts z = {MM_ZERO_ZSPLIT, false, MM_ALT_TWO_SIDED, MM_WILCOXON_AUTO};
    cr_assert_eq(mm_wilcoxon(x, x, 60, &z, &r), 0);
}

Test(stats, resampling_seeded_and_sane) {
    double a[200], b[200];
    for (int i = 0; i < 200; i++) { a[i] = 0.5 + 0.3 * sin(i * 1.7); b[i] = a[i] - 0.05 + 0.02 * cos(i * 3.1); }
    mm_test_result r1, r2, r3;
    mm_paired_bootstrap(a, b, 200, 1000, 7, &r1);
    mm_paired_bootstrap(a, b, 200, 1000, 7, &r2);
    cr_assert_bits(r1.pvalue, r2.pvalue);
    cr_assert_eq(r1.wins, r2.wins);
    cr_assert_lt(r1.pvalue, 0.01);          /* a is clearly better */
    cr_assert_eq(r1.wins, 1000);
    mm_paired_permutation(a, b, 200, 2000, 7, &r3);
    cr_assert_lt(r3.pvalue, 0.01);
    cr_assert_bits(r3.statistic, r1.statistic);
    /* no difference: large p */
    mm_paired_permutation(a, a, 200, 500, 1, &r3);
    cr_assert_eq(r3.pvalue, 1.0);
    double c[200];
    for (int i = 0; i < 200; i++) c[i] = a[(i * 7) % 200];
    mm_paired_bootstrap(a, c, 200, 1000, 3, &r1);
    cr_assert_gt(r1.pvalue, 0.05);
}
