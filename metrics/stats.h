/* Paired significance tests on per-sample scores.
 *  - mm_ttest_rel:  scipy.stats.ttest_rel(a, b) (scipy 1.10.1): t bit-identical (numpy pairwise sums),
 *                   p = 2*stdtr(df, -|t|) via a regularized incomplete beta (~1e-12 relative).
 *  - mm_wilcoxon:   scipy.stats.wilcoxon(x, y, ...) with scipy 1.10.1 semantics (defaults
 *                   zero_method="wilcox", correction=False, alternative="two-sided", method="auto":
 *                   exact distribution when n <= 50 and no zero differences, ties allowed).
 *                   Statistic and exact p bit-identical; normal-approximation p uses glibc erfc.
 *  - mm_paired_bootstrap: Koehn (2004) / sacreBLEU --paired-bs: B resamples of n indices with
 *                   replacement; p = (c + 1) / (B + 1), c = #{ |dA_b - dB_b| - mean_b|..| > |delta| }.
 *  - mm_paired_permutation: approximate randomization (Riezler & Maxwell 2005): R trials swapping
 *                   each pair with probability 1/2; p = (c + 1) / (R + 1), c = #{ |delta_r| >= |delta| }.
 *  Both resampling tests use xoshiro256** seeded with splitmix64(seed): same seed, same result.
 *  statistic = mean(a) - mean(b) for the resampling tests.  Inputs with NaN give NaN results. */
#ifndef MMLORA_METRICS_STATS_H
#define MMLORA_METRICS_STATS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    double statistic, pvalue;
    double df;        /* t-test degrees of freedom */
    double z;         /* Wilcoxon normal-approximation z (NaN in exact mode) */
    bool exact;       /* Wilcoxon: exact distribution used */
    long wins;        /* bootstrap: #resamples with mean(A) > mean(B) (Koehn's count) */
} mm_test_result;

int mm_ttest_rel(const double *a, const double *b, size_t n, mm_test_result *r);

typedef enum { MM_ZERO_WILCOX, MM_ZERO_PRATT, MM_ZERO_ZSPLIT } mm_zero_method;
typedef enum { MM_ALT_TWO_SIDED, MM_ALT_GREATER, MM_ALT_LESS } mm_alternative;
typedef enum { MM_WILCOXON_AUTO, MM_WILCOXON_EXACT, MM_WILCOXON_APPROX } mm_wilcoxon_method;
typedef struct {
    mm_zero_method zero_method;
    bool correction;
    mm_alternative alternative;
    mm_wilcoxon_method method;
} mm_wilcoxon_opts;  /* zero-initialized = scipy defaults */

/* -1 + mm_fail() where scipy raises ValueError (all differences zero with wilcox/pratt in approx mode). */
int mm_wilcoxon(const double *x, const double *y, size_t n, const mm_wilcoxon_opts *opts, mm_test_result *r);

int mm_paired_bootstrap(const double *a, const double *b, size_t n, long resamples, uint64_t seed, mm_test_result *r);
int mm_paired_permutation(const double *a, const double *b, size_t n, long trials, uint64_t seed, mm_test_result *r);

/* numpy's float64 sum (np.add.reduce on a contiguous array: pairwise within 8192-element blocks). */
double mm_np_sum(const double *x, size_t n);
/* Regularized incomplete beta I_x(a, b); xc = 1 - x supplied for accuracy. */
double mm_ibeta(double a, double b, double x, double xc);
/* cephes ndtr (standard normal CDF) built on glibc erf/erfc. */
double mm_ndtr(double x);
#endif
