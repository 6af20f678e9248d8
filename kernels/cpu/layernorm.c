/* LayerNorm forward/backward (biased variance, as torch.nn.LayerNorm). */
#include <math.h>
#include <stdlib.h>
#include "cpu/cpu_ops.h"

void cpu_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                       int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *yr = y + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += xr[c];
        float mu = (float)(s / C);
        double v = 0.0;
        for (int c = 0; c < C; c++) { double d = (double)xr[c] - mu; v += d * d; }
        float rs = (float)(1.0 / sqrt(v / C + (double)eps));
        for (int c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * w[c] + (b ? b[c] : 0.0f);
        if (mean) mean[n] = mu;
        if (rstd) rstd[n] = rs;
    }
}

void cpu_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                       const float *mean, const float *rstd, int N, int C) {
    /* dx: rows independent (parallel); dw/db: column sums over rows, serial over n for determinism */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *dyr = dy + (size_t)n * C;
        float *dxr = dx + (size_t)n * C;
        float mu = mean[n], rs = rstd[n];
        double s1 = 0.0, s2 = 0.0;
        for (int c = 0; c < C; c++) {
            float xh = (xr[c] - mu) * rs;
            float g = dyr[c] * w[c];
            s1 += g;
            s2 += (double)g * xh;
        }
        float m1 = (float)(s1 / C), m2 = (float)(s2 / C);
        for (int c = 0; c < C; c++) {
            float xh = (xr[c] - mu) * rs;
            dxr[c] += (dyr[c] * w[c] - m1 - xh * m2) * rs;
        }
    }
    if (dw || db) {
        /* column sums over rows: row-major partial sums over fixed blocks of rows (cache-friendly; the block
         * size does not depend on the thread count, so the result is the same for any number of threads),
         * then the blocks added in order */
        const int RB = 64, nb = (N + RB - 1) / RB;
        double *part = malloc(sizeof(double) * 2 * (size_t)nb * C);
#pragma omp parallel for schedule(static)
        for (int blk = 0; blk < nb; blk++) {
            double *pw = part + (size_t)blk * 2 * C, *pb = pw + C;
            for (int c = 0; c < C; c++) pw[c] = pb[c] = 0.0;
            for (int n = blk * RB; n < N && n < (blk + 1) * RB; n++) {
                const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
                const float mu = mean[n], rs = rstd[n];
                for (int c = 0; c < C; c++) {
                    pw[c] += (double)dyr[c] * ((xr[c] - mu) * rs);
                    pb[c] += dyr[c];
                }
            }
        }
        for (int c = 0; c < C; c++) {
            double sw = 0.0, sb = 0.0;
            for (int blk = 0; blk < nb; blk++) {
                sw += part[(size_t)blk * 2 * C + c];
                sb += part[(size_t)blk * 2 * C + C + c];
            }
            if (dw) dw[c] += (float)sw;
            if (db) db[c] += (float)sb;
        }
        free(part);
    }
}
