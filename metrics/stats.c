/* Paired significance tests (see stats.h and metrics-spec.md Part 3). */
#include "metrics/stats.h"
#include "metrics/fp.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

static double pairwise(const double *x, size_t n) {
    if (n < 8) {
        double r = 0.0;  /* numpy: res = 0. then += (for n < 8 the first add is exact) */
        for (size_t i = 0; i < n; i++) r += x[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; k++) r[k] = x[k];
        size_t i;
        for (i = 8; i < n - n % 8; i += 8)
            for (int k = 0; k < 8; k++) r[k] += x[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += x[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(x, n2) + pairwise(x + n2, n - n2);
}

/* np.add.reduce feeds the pairwise kernel in buffer-sized blocks of 8192 elements, added in order */
double mm_np_sum(const double *x, size_t n) {
    const size_t BLK = 8192;
    if (n <= BLK) return pairwise(x, n);
    double r = pairwise(x, BLK);
    for (size_t i = BLK; i < n; i += BLK) r += pairwise(x + i, n - i < BLK ? n - i : BLK);
    return r;
}

static bool any_nan(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isnan(a[i]) || isnan(b[i])) return true;
    return false;
}

/* Continued fraction for I_x(a,b) (modified Lentz). */
static double betacf(double a, double b, double x) {
    const double FPMIN = 1e-300, EPS = 1e-16;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < FPMIN) d = FPMIN;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 200000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d; if (fabs(d) < FPMIN) d = FPMIN;
        c = 1.0 + aa / c; if (fabs(c) < FPMIN) c = FPMIN;
        d = 1.0 / d; h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d; if (fabs(d) < FPMIN) d = FPMIN;
        c = 1.0 + aa / c; if (fabs(c) < FPMIN) c = FPMIN;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < EPS) break;
    }
    return h;
}

double mm_ibeta(double a, double b, double x, double xc) {
    if (x <= 0.0) return 0.0;
    if (xc <= 0.0) return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(xc);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * betacf(a, b, x) / a;
    return 1.0 - exp(lbt) * betacf(b, a, xc) / b;
}

int mm_ttest_rel(const double *a, const double *b, size_t n, mm_test_result *r) {
    memset(r, 0, sizeof *r);
    r->z = NAN;
    if (n == 0 || any_nan(a, b, n)) { r->statistic = r->pvalue = r->df = NAN; return 0; }
    double *d = mm_xmalloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = a[i] - b[i];
    double dm = mm_np_sum(d, n) / (double)n;
    for (size_t i = 0; i < n; i++) { double t = d[i] - dm; d[i] = t * t; }
    double v = mm_np_sum(d, n) / (double)n;
    free(d);
    v *= (double)n / (double)(n - 1);  /* n == 1: 0 * inf = nan, as numpy */
    double denom = sqrt(v / (double)n);
    double t = dm / denom;
    double df = (double)(n - 1);
    r->statistic = t;
    r->df = df;
    if (isnan(t)) r->pvalue = NAN;
    else if (isinf(t)) r->pvalue = 0.0;
    else {
        /* 2 * stdtr(df, -|t|) = I_{df/(df+t^2)}(df/2, 1/2) */
        double t2 = t * t;
        double x = df / (df + t2), xc = t2 / (df + t2);
        double p = mm_ibeta(df / 2.0, 0.5, x, xc);
        r->pvalue = p > 1.0 ? 1.0 : p;
    }
    return 0;
}

double mm_ndtr(double a) {
    const double S = 0.70710678118654752440;
    double x = a * S, z = fabs(x), y;
    if (z < S) y = 0.5 + 0.5 * erf(x);
    else {
        y = 0.5 * erfc(z);
        if (x > 0) y = 1.0 - y;
    }
    return y;
}

typedef struct { double v; size_t i; } vi;
static int cmp_vi(const void *p, const void *q) {
    const vi *x = p, *y = q;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* scipy.stats.rankdata(method="average") of v[0..n) into rank; returns tie group sizes via ties/nt */
static void rankdata(const double *v, size_t n, double *rank) {
    vi *s = mm_xmalloc((n + 1) * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = (vi){v[i], i};
    qsort(s, n, sizeof *s, cmp_vi);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && s[j + 1].v == s[i].v) j++;
        double avg = 0.5 * (double)(i + 1 + j + 1);  /* ranks i+1..j+1 averaged: exact halves */
        for (size_t k = i; k <= j; k++) rank[s[k].i] = avg;
        i = j + 1;
    }
    free(s);
}

static int cmp_d(const void *p, const void *q) {
    double x = *(const double *)p, y = *(const double *)q;
    return (x > y) - (x < y);
}

int mm_wilcoxon(const double *x, const double *y, size_t n, const mm_wilcoxon_opts *o, mm_test_result *r) {
    mm_wilcoxon_opts def = {0};
    if (!o) o = &def;
    memset(r, 0, sizeof *r);
    r->z = NAN; r->df = NAN;
    if (n == 0 || any_nan(x, y, n)) { r->statistic = r->pvalue = NAN; return 0; }
    double *d = mm_xmalloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i] - y[i];
    bool exact = o->method == MM_WILCOXON_EXACT || (o->method == MM_WILCOXON_AUTO && n <= 50);
    size_t n_zero = 0;
    for (size_t i = 0; i < n; i++) n_zero += d[i] == 0;
    if (n_zero > 0 && exact) exact = false;
    size_t count = n;
    if (!exact) {
        if (o->zero_method != MM_ZERO_ZSPLIT && n_zero == n) {
            free(d);
            return mm_fail("wilcoxon: zero_method 'wilcox' and 'pratt' do not work if x - y is zero for all elements");
        }
        if (o->zero_method == MM_ZERO_WILCOX) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) if (d[i] != 0) d[k++] = d[i];
            count = k;
        }
    }
    double *ad = mm_xmalloc(count * sizeof *ad), *rk = mm_xmalloc(count * sizeof *rk);
    for (size_t i = 0; i < count; i++) ad[i] = fabs(d[i]);
    rankdata(ad, count, rk);
    double *tmp = mm_xmalloc(count * sizeof *tmp);
    for (size_t i = 0; i < count; i++) tmp[i] = d[i] > 0 ? rk[i] : 0.0;
    double r_plus = mm_np_sum(tmp, count);
    for (size_t i = 0; i < count; i++) tmp[i] = d[i] < 0 ? rk[i] : 0.0;
    double r_minus = mm_np_sum(tmp, count);
    if (o->zero_method == MM_ZERO_ZSPLIT) {
        for (size_t i = 0; i < count; i++) tmp[i] = d[i] == 0 ? rk[i] : 0.0;
        double r_zero = mm_np_sum(tmp, count);
        r_plus += r_zero / 2.0;
        r_minus += r_zero / 2.0;
    }
    double T = o->alternative == MM_ALT_TWO_SIDED ? (r_plus < r_minus ? r_plus : r_minus) : r_plus;
    double prob;
    if (!exact) {
        double c = (double)count;
        double mn = c * (c + 1.0) * 0.25;
        double se = c * (c + 1.0) * (2.0 * c + 1.0);
        size_t nr = 0;
        for (size_t i = 0; i < count; i++)
            if (o->zero_method != MM_ZERO_PRATT || d[i] != 0) tmp[nr++] = rk[i];
        if (o->zero_method == MM_ZERO_PRATT) {
            double nz = (double)n_zero;
            mn -= nz * (nz + 1.0) * 0.25;
            se -= nz * (nz + 1.0) * (2.0 * nz + 1.0);
        }
        qsort(tmp, nr, sizeof *tmp, cmp_d);
        long long rep = 0;
        for (size_t i = 0; i < nr;) {
            size_t j = i;
            while (j + 1 < nr && tmp[j + 1] == tmp[i]) j++;
            long long t = (long long)(j - i + 1);
            if (t > 1) rep += t * (t * t - 1);
            i = j + 1;
        }
        if (rep) se -= 0.5 * (double)rep;
        se = sqrt(se / 24);
        double cc = 0.0;
        if (o->correction) {
            if (o->alternative == MM_ALT_TWO_SIDED) cc = 0.5 * (double)((T - mn > 0) - (T - mn < 0));
            else if (o->alternative == MM_ALT_LESS) cc = -0.5;
            else cc = 0.5;
        }
        double z = (T - mn - cc) / se;
        if (o->alternative == MM_ALT_TWO_SIDED) prob = 2.0 * mm_ndtr(-fabs(z));
        else if (o->alternative == MM_ALT_GREATER) prob = mm_ndtr(-z);
        else prob = mm_ndtr(z);
        r->z = z;
    } else {
        size_t len = count * (count + 1) / 2 + 1;
        double *c = mm_xcalloc(len, sizeof *c), *prev = mm_xcalloc(len, sizeof *prev);
        c[0] = 1.0;
        size_t clen = 1;
        for (size_t k = 1; k <= count; k++) {
            memcpy(prev, c, clen * sizeof *c);
            size_t m = clen, nl = k * (k + 1) / 2 + 1;
            memset(c, 0, nl * sizeof *c);
            for (size_t i = 0; i < m; i++) c[i] = prev[i] * 0.5;
            for (size_t i = 0; i < m; i++) c[nl - m + i] += prev[i] * 0.5;
            clen = nl;
        }
        long rp = (long)r_plus;  /* int(): truncation */
        /* np.sum(pmf[:rp+1]) and np.sum(pmf[rp:]): pairwise sums (exact anyway when count <= 50) */
        size_t lo = (size_t)(rp + 1) < clen ? (size_t)(rp + 1) : clen;
        double p_less = mm_np_sum(c, lo);
        double p_greater = (size_t)rp < clen ? mm_np_sum(c + rp, clen - (size_t)rp) : 0.0;
        if (o->alternative == MM_ALT_TWO_SIDED) {
            if ((size_t)rp == (clen - 1) / 2) prob = 1.0;
            else prob = 2 * (p_greater < p_less ? p_greater : p_less);
        } else if (o->alternative == MM_ALT_GREATER) prob = p_greater;
        else prob = p_less;
        if (prob < 0) prob = 0;
        if (prob > 1) prob = 1;
        free(c); free(prev);
    }
    r->statistic = T;
    r->pvalue = prob;
    r->exact = exact;
    free(d); free(ad); free(rk); free(tmp);
    return 0;
}

/* xoshiro256** seeded by splitmix64 */
typedef struct { uint64_t s[4]; } rng;
static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static void rng_seed(rng *g, uint64_t seed) { for (int i = 0; i < 4; i++) g->s[i] = splitmix(&seed); }
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t rng_next(rng *g) {
    uint64_t *s = g->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}
/* unbiased integer in [0, n) (Lemire's multiply-and-reject) */
static uint64_t rng_below(rng *g, uint64_t n) {
    unsigned __int128 m = (unsigned __int128)rng_next(g) * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) { m = (unsigned __int128)rng_next(g) * n; l = (uint64_t)m; }
    }
    return (uint64_t)(m >> 64);
}

static double mean(const double *x, size_t n) { return mm_np_sum(x, n) / (double)n; }

int mm_paired_bootstrap(const double *a, const double *b, size_t n, long B, uint64_t seed, mm_test_result *r) {
    memset(r, 0, sizeof *r);
    r->z = r->df = NAN;
    if (B <= 0) return mm_fail("bootstrap: the number of resamples must be positive");
    if (n == 0 || any_nan(a, b, n)) { r->statistic = r->pvalue = NAN; return 0; }
    double delta = mean(a, n) - mean(b, n);
    double *x = mm_xmalloc((size_t)B * sizeof *x);
    double *ra = mm_xmalloc(n * sizeof *ra), *rb = mm_xmalloc(n * sizeof *rb);
    rng g;
    rng_seed(&g, seed);
    long wins = 0;
    for (long k = 0; k < B; k++) {
        for (size_t i = 0; i < n; i++) {
            size_t j = (size_t)rng_below(&g, n);
            ra[i] = a[j]; rb[i] = b[j];
        }
        double sa = mean(ra, n), sb = mean(rb, n);
        wins += sa > sb;
        x[k] = fabs(sa - sb);
    }
    double mx = mean(x, (size_t)B);
    long c = 0;
    for (long k = 0; k < B; k++) c += x[k] - mx > fabs(delta);
    r->statistic = delta;
    r->pvalue = (double)(c + 1) / (double)(B + 1);
    r->wins = wins;
    free(x); free(ra); free(rb);
    return 0;
}

int mm_paired_permutation(const double *a, const double *b, size_t n, long R, uint64_t seed, mm_test_result *r) {
    memset(r, 0, sizeof *r);
    r->z = r->df = NAN;
    if (R <= 0) return mm_fail("permutation: the number of trials must be positive");
    if (n == 0 || any_nan(a, b, n)) { r->statistic = r->pvalue = NAN; return 0; }
    double delta = mean(a, n) - mean(b, n);
    double *ra = mm_xmalloc(n * sizeof *ra), *rb = mm_xmalloc(n * sizeof *rb);
    rng g;
    rng_seed(&g, seed);
    long c = 0;
    for (long k = 0; k < R; k++) {
        uint64_t bitsv = 0;
        for (size_t i = 0; i < n; i++) {
            if (i % 64 == 0) bitsv = rng_next(&g);
            int sw = (int)(bitsv & 1);
            bitsv >>= 1;
            ra[i] = sw ? b[i] : a[i];
            rb[i] = sw ? a[i] : b[i];
        }
        c += fabs(mean(ra, n) - mean(rb, n)) >= fabs(delta);
    }
    r->statistic = delta;
    r->pvalue = (double)(c + 1) / (double)(R + 1);
    free(ra); free(rb);
    return 0;
}
