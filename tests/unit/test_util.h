/* Shared helpers of the unit tests. */
#ifndef MMLORA_TEST_UTIL_H
#define MMLORA_TEST_UTIL_H
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>

/* max|got − want| / max|want| (0 when both are 0) */
static inline double rel_err(const float *got, const float *want, size_t n) {
    double md = 0.0, mw = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs((double)want[i]) > mw) mw = fabs((double)want[i]);
    }
    if (mw == 0.0) return md;
    return md / mw;
}
#define EXPECT_CLOSE(name, got, want, n, tol)                                                                 \
    do {                                                                                                      \
        double _e = rel_err((got), (want), (n));                                                              \
        cr_expect(_e < (tol), "%s: relative error %.3g >= %.3g", (name), _e, (double)(tol));                  \
    } while (0)
#endif
