/* LLaMA-family ops: RMSNorm, rotary embedding (HF rotate-half), SwiGLU. */
#include <math.h>
#include <stdlib.h>
#include "cpu/cpu_ops.h"

void mm_rope_tables(float *cos_t, float *sin_t, int max_pos, int D, float theta, float linear_scale) {
    const int half = D / 2;
    for (int i = 0; i < half; i++) {
        /* torch: 1.0 / (base ** (arange(0, D, 2).float() / D)), then / factor for linear scaling */
        float expo = (float)(2 * i) / (float)D;
        float inv = 1.0f / powf(theta, expo);
        if (linear_scale != 1.0f) inv = inv / linear_scale;
        for (int p = 0; p < max_pos; p++) {
            float a = (float)p * inv;
            cos_t[(size_t)p * half + i] = cosf(a);
            sin_t[(size_t)p * half + i] = sinf(a);
        }
    }
}

void cpu_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *yr = y + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)xr[c] * xr[c];
        float rs = (float)(1.0 / sqrt(s / C + (double)eps));
        for (int c = 0; c < C; c++) yr[c] = w[c] * (xr[c] * rs);
        if (rstd) rstd[n] = rs;
    }
}

void cpu_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                     int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *dyr = dy + (size_t)n * C;
        float *dxr = dx + (size_t)n * C;
        float rs = rstd[n];
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)(dyr[c] * w[c]) * (xr[c] * rs);
        float m = (float)(s / C);
        for (int c = 0; c < C; c++) dxr[c] += rs * (dyr[c] * w[c] - xr[c] * rs * m);
    }
    if (dw) { /* as layernorm_bwd: fixed row blocks, row-major, then the blocks in order */
        const int RB = 64, nb = (N + RB - 1) / RB;
        double *part = malloc(sizeof(double) * (size_t)nb * C);
#pragma omp parallel for schedule(static)
        for (int blk = 0; blk < nb; blk++) {
            double *pw = part + (size_t)blk * C;
            for (int c = 0; c < C; c++) pw[c] = 0.0;
            for (int n = blk * RB; n < N && n < (blk + 1) * RB; n++) {
                const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
                for (int c = 0; c < C; c++) pw[c] += (double)dyr[c] * (xr[c] * rstd[n]);
            }
        }
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int blk = 0; blk < nb; blk++) s += part[(size_t)blk * C + c];
            dw[c] += (float)s;
        }
        free(part);
    }
}

void cpu_rope(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N, const float *cos_t,
              const float *sin_t, int inverse) {
    const int half = D / 2;
    const float sg = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *cs = cos_t + (size_t)pos[n] * half, *sn = sin_t + (size_t)pos[n] * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)n * ldx + col0 + (size_t)h * D;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half], c = cs[i], s = sg * sn[i];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
    }
}

static inline float sigmoidf(float g) { return 1.0f / (1.0f + expf(-g)); }

void cpu_swiglu_fwd(float *act, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        act[i] = g * sigmoidf(g) * up[i];
    }
}

void cpu_swiglu_bwd(float *dgate, float *dup, const float *dact, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], s = sigmoidf(g), d = dact[i], u = up[i];
        dup[i] = d * g * s;
        dgate[i] = d * u * (s + g * s * (1.0f - s));
    }
}
