/* Linears with a frozen bf16 weight on the CPU (kernels.h: linear_fwd_w16, linear_bwd_dx_w16).  The fp32
 * activation is rounded to bf16 (nearest even, mm_f32_to_bf16) into a scratch copy that keeps the caller's row
 * stride, the bf16 weight is widened to fp32 (exact), and both go through the fp32 linear (gemm.c): the result
 * is that of linear_fwd / linear_bwd on the rounded inputs, bit for bit.  A reference for the CUDA op and the
 * engine's bf16 path, not a fast path: W is widened on every call. */
#include <stdlib.h>
#include "cpu/cpu_ops.h"
#include "util/halffloat.h"
#include "util/log.h"

/* rows [R, C] of stride ld rounded to bf16 and back, into a buffer of the same layout */
static float *round_rows(const float *x, int ld, int R, int C) {
    float *r = mm_xmalloc_aligned(((size_t)(R - 1) * ld + C) * sizeof(float));
#pragma omp parallel for schedule(static) if ((size_t)R * C > 65536)
    for (int n = 0; n < R; n++) {
        const float *s = x + (size_t)n * ld;
        float *d = r + (size_t)n * ld;
        for (int c = 0; c < C; c++) d[c] = mm_bf16_to_f32(mm_f32_to_bf16(s[c]));
    }
    return r;
}

void cpu_to_bf16(uint16_t *dst, const float *src, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] = mm_f32_to_bf16(src[i]);
}

void cpu_from_bf16(float *dst, const uint16_t *src, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] = mm_bf16_to_f32(src[i]);
}

static float *widen(const uint16_t *W, size_t n) {
    float *w = mm_xmalloc_aligned(n * sizeof(float));
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) w[i] = mm_bf16_to_f32(W[i]);
    return w;
}

void cpu_linear_fwd_w16(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N, int in,
                        int out, int acc) {
    if (N <= 0) return;
    if (!ldx) ldx = in;
    float *xr = round_rows(x, ldx, N, in), *w = widen(W, (size_t)out * in);
    cpu_linear_fwd(y, ldy, xr, ldx, w, b, N, in, out, acc);
    free(xr);
    free(w);
}

void cpu_linear_bwd_dx_w16(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in, int out,
                           int acc_dx) {
    if (N <= 0 || !dx) return;
    if (!lddy) lddy = out;
    float *dyr = round_rows(dy, lddy, N, out), *w = widen(W, (size_t)out * in);
    cpu_linear_bwd(dx, lddx, NULL, NULL, dyr, lddy, NULL, 0, w, N, in, out, acc_dx);
    free(dyr);
    free(w);
}
