/* Row and elementwise helpers of the engine and the adapted linear layer (residual adds, LM-head row
 * gather/scatter, positions, per-row gates, gate gradients, token-router softmax/top-k).  Each keeps the
 * arithmetic order of the host loop it replaced, so results are bit-identical to it. */
#include <math.h>
#include <string.h>
#include "cpu/cpu_ops.h"

enum { TOPK_MAX = 16 }; /* MM_MAX_EXPERTS */

void cpu_add(float *y, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 16384)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void cpu_gather_rows(float *dst, const float *src, const int32_t *rows, int R, int C) {
#pragma omp parallel for schedule(static) if (R > 64)
    for (int i = 0; i < R; i++) memcpy(dst + (size_t)i * C, src + (size_t)rows[i] * C, (size_t)C * sizeof(float));
}

void cpu_scatter_rows(float *dst, const float *src, const int32_t *rows, int R, int C) {
#pragma omp parallel for schedule(static) if (R > 64)
    for (int i = 0; i < R; i++) memcpy(dst + (size_t)rows[i] * C, src + (size_t)i * C, (size_t)C * sizeof(float));
}

void cpu_positions(int32_t *pos, int B, int T) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) pos[(size_t)b * T + t] = t;
}

void cpu_row_scale(float *y, int ldy, const float *x, int ldx, const float *g, int g_stride, int group, float s,
                   int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > 16384)
    for (int n = 0; n < N; n++) {
        const float f = s * (g ? g[(size_t)(n / group) * g_stride] : 1.0f);
        float *yr = y + (size_t)n * ldy;
        const float *xr = x + (size_t)n * ldx;
        for (int c = 0; c < C; c++) yr[c] = f * xr[c];
    }
}

void cpu_row_dot(float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > 16384)
    for (int n = 0; n < N; n++) {
        const float *ar = a + (size_t)n * lda, *br = b + (size_t)n * ldb;
        float acc = 0.0f;
        for (int c = 0; c < C; c++) acc += ar[c] * br[c];
        out[(size_t)n * ld_out] = s * acc;
    }
}

void cpu_group_sum_rows(float *out, int ld_out, const float *x, int ldx, int N, int E, int group) {
    for (int n = 0; n < N; n++) {
        const int g = group ? n / group : 0;
        for (int e = 0; e < E; e++) out[(size_t)g * ld_out + e] += x[(size_t)n * ldx + e];
    }
}

void mm_topk_renorm(const float *p, int E, int k, float *w) {
    int sel[TOPK_MAX];
    int used[TOPK_MAX] = {0};
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!used[e] && (best < 0 || p[e] > p[best])) best = e;
        used[best] = 1;
        sel[j] = best;
    }
    float s = 0.0f;
    for (int j = 0; j < k; j++) s += p[sel[j]];
    for (int e = 0; e < E; e++) w[e] = 0.0f;
    for (int j = 0; j < k; j++) w[sel[j]] = p[sel[j]] / s;
}

void mm_topk_renorm_bwd(const float *p, const float *w, const float *dw, int E, float *dp) {
    float s = 0.0f, dot = 0.0f;
    for (int e = 0; e < E; e++)
        if (w[e] != 0.0f) { s += p[e]; dot += dw[e] * w[e]; }
    for (int e = 0; e < E; e++) dp[e] = (w[e] != 0.0f && s > 0.0f) ? (dw[e] - dot) / s : 0.0f;
}

void cpu_softmax_topk_rows(float *probs, float *gates, int N, int E, int top_k) {
#pragma omp parallel for schedule(static) if (N > 256)
    for (int n = 0; n < N; n++) {
        float *p = probs + (size_t)n * E;
        float mx = p[0], s = 0.0f;
        for (int e = 1; e < E; e++) mx = p[e] > mx ? p[e] : mx;
        for (int e = 0; e < E; e++) { p[e] = expf(p[e] - mx); s += p[e]; }
        for (int e = 0; e < E; e++) p[e] /= s;
        mm_topk_renorm(p, E, top_k, gates + (size_t)n * E);
    }
}

void cpu_softmax_topk_bwd_rows(float *dlogits, const float *probs, const float *gates, const float *dgates,
                               int ld_dgates, int N, int E) {
#pragma omp parallel for schedule(static) if (N > 256)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * E, *w = gates + (size_t)n * E;
        float dp[TOPK_MAX];
        mm_topk_renorm_bwd(p, w, dgates + (size_t)n * ld_dgates, E, dp);
        float dot = 0.0f;
        for (int e = 0; e < E; e++) dot += dp[e] * p[e];
        for (int e = 0; e < E; e++) dlogits[(size_t)n * E + e] = p[e] * (dp[e] - dot);
    }
}

/* the trainer's reductions: elementwise scaling (any order gives the same floats) and the sum of squares
 * with one double accumulator in index order, exactly the trainer's former host loop */
void cpu_scale(float *x, float s, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

double cpu_sumsq(const float *x, size_t n) {
    double sq = 0.0;
    for (size_t i = 0; i < n; i++) sq += (double)x[i] * x[i];
    return sq;
}
