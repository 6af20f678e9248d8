/* Decoding ops (kernels.h: copy_rows, argmax_rows): the KV-cache writes and the greedy token choice of
 * core/infer/generate.c, as ops so the decoder runs on any table without touching its memory from the host. */
#include "cpu/cpu_ops.h"
#include <string.h>

void cpu_copy_rows(float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
                   const int32_t *src_rows, int R, int C) {
#pragma omp parallel for schedule(static) if ((size_t)R * C > 65536)
    for (int i = 0; i < R; i++) {
        const size_t d = dst_rows ? (size_t)dst_rows[i] : (size_t)i, s = src_rows ? (size_t)src_rows[i] : (size_t)i;
        memmove(dst + d * lddst, src + s * ldsrc, (size_t)C * sizeof(float));
    }
}

void cpu_argmax_rows(int32_t *out, const float *x, int ldx, int R, int V) {
#pragma omp parallel for schedule(static) if ((size_t)R * V > 65536)
    for (int r = 0; r < R; r++) {
        const float *v = x + (size_t)r * ldx;
        int32_t best = -1;
        float bv = 0.0f;
        for (int i = 0; i < V; i++)
            if (v[i] == v[i] && (best < 0 || v[i] > bv)) { best = i; bv = v[i]; }
        out[r] = best < 0 ? 0 : best;
    }
}
