/* Elementwise ops: tanh-GELU, dropout. */
#include <math.h>
#include "cpu/cpu_ops.h"
#include "util/philox.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

void cpu_gelu_tanh_fwd(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

void cpu_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
    }
}

void cpu_dropout_fwd(float *y, const float *x, size_t n, mm_dropout d, uint64_t first) {
    if (d.p <= 0.0f) {
        if (y != x) for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    }
    const float scale = 1.0f / (1.0f - d.p);
    const size_t CH = 4096;
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < n; c0 += CH) {
        uint8_t keep[4096];
        size_t m = n - c0 < CH ? n - c0 : CH;
        mm_dropout_mask(keep, m, d.p, d.seed, d.step, d.stream, first + c0);
        for (size_t i = 0; i < m; i++) y[c0 + i] = keep[i] ? x[c0 + i] * scale : 0.0f;
    }
}
