/* Causal multi-head attention with n_kv_heads (1 = multi-query, H = multi-head, between = grouped).
 * Scores are q·k / sqrt(D), softmax in fp32 over j <= i, dropout on the probabilities (HF applies it
 * after the softmax), out = P_dropped · V.  Masked entries are exactly 0, as HF's finfo.min mask gives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/cpu_ops.h"
#include "util/philox.h"

static inline float dotf(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* keep-mask row for probs[b,h,i,:] (length i+1; entries beyond are zero anyway) */
static void probs_mask_row(uint8_t *keep, mm_dropout d, int b, int h, int i, int H, int T) {
    uint64_t first = (((uint64_t)b * H + h) * T + i) * (uint64_t)T;
    mm_dropout_mask(keep, (uint64_t)i + 1, d.p, d.seed, d.step, d.stream, first);
}

void cpu_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T, int H,
                       int Hkv, int D, mm_dropout d) {
    const float scale = 1.0f / sqrtf((float)D);
    const int group = H / Hkv;
    const float dscale = d.p > 0.0f ? 1.0f / (1.0f - d.p) : 1.0f;
#pragma omp parallel
    {
        uint8_t *keep = d.p > 0.0f ? malloc((size_t)T) : NULL;
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const int kvh = h / group;
                const float *base = qkv + (size_t)b * T * ldqkv;
                const float *K = base + (size_t)H * D + (size_t)kvh * D;
                const float *V = base + (size_t)(H + Hkv) * D + (size_t)kvh * D;
                for (int i = 0; i < T; i++) {
                    const float *q = base + (size_t)i * ldqkv + (size_t)h * D;
                    float *p = probs + (((size_t)b * H + h) * T + i) * (size_t)T;
                    float mx = -INFINITY;
                    for (int j = 0; j <= i; j++) {
                        float s = dotf(q, K + (size_t)j * ldqkv, D) * scale;
                        p[j] = s;
                        if (s > mx) mx = s;
                    }
                    float sum = 0.0f;
                    for (int j = 0; j <= i; j++) { p[j] = expf(p[j] - mx); sum += p[j]; }
                    float inv = 1.0f / sum;
                    for (int j = 0; j <= i; j++) p[j] *= inv;
                    for (int j = i + 1; j < T; j++) p[j] = 0.0f;
                    float *o = out + ((size_t)b * T + i) * ldout + (size_t)h * D;
                    for (int c = 0; c < D; c++) o[c] = 0.0f;
                    if (keep) probs_mask_row(keep, d, b, h, i, H, T);
                    for (int j = 0; j <= i; j++) {
                        float w = keep ? (keep[j] ? p[j] * dscale : 0.0f) : p[j];
                        /* a dropped probability is saved with its sign bit set, so backward needs no mask */
                        if (keep && !keep[j]) p[j] = copysignf(p[j], -1.0f);
                        const float *v = V + (size_t)j * ldqkv;
#pragma omp simd
                        for (int c = 0; c < D; c++) o[c] += w * v[c];
                    }
                }
            }
        free(keep);
    }
}

void cpu_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                       const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout d) {
    const float scale = 1.0f / sqrtf((float)D);
    const int group = H / Hkv;
    const float dscale = d.p > 0.0f ? 1.0f / (1.0f - d.p) : 1.0f;
    const int width = (H + 2 * Hkv) * D;
#pragma omp parallel
    {
        float *dp = malloc((size_t)T * sizeof(float));
        /* one task per (b, kv head): the heads of a group share dK/dV, so they run in order */
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int kvh = 0; kvh < Hkv; kvh++) {
                const float *base = qkv + (size_t)b * T * ldqkv;
                float *dbase = dqkv + (size_t)b * T * ldqkv;
                const float *K = base + (size_t)H * D + (size_t)kvh * D;
                const float *V = base + (size_t)(H + Hkv) * D + (size_t)kvh * D;
                float *dK = dbase + (size_t)H * D + (size_t)kvh * D;
                float *dV = dbase + (size_t)(H + Hkv) * D + (size_t)kvh * D;
                for (int j = 0; j < T; j++) {
                    memset(dK + (size_t)j * ldqkv, 0, (size_t)D * sizeof(float));
                    memset(dV + (size_t)j * ldqkv, 0, (size_t)D * sizeof(float));
                }
                for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                    for (int i = 0; i < T; i++) {
                        const float *q = base + (size_t)i * ldqkv + (size_t)h * D;
                        float *dq = dbase + (size_t)i * ldqkv + (size_t)h * D;
                        const float *p = probs + (((size_t)b * H + h) * T + i) * (size_t)T;
                        const float *go = dout + ((size_t)b * T + i) * lddout + (size_t)h * D;
                        float sum = 0.0f;
                        for (int j = 0; j <= i; j++) {
                            float pj = fabsf(p[j]);
                            float m = d.p > 0.0f ? (signbit(p[j]) ? 0.0f : dscale) : 1.0f;
                            float g = dotf(go, V + (size_t)j * ldqkv, D) * m; /* dP (pre-dropout) */
                            dp[j] = g;
                            sum += g * pj;
                            /* dV[j] += P_dropped[i,j] * dout[i] */
                            float w = pj * m;
                            float *dv = dV + (size_t)j * ldqkv;
#pragma omp simd
                            for (int c = 0; c < D; c++) dv[c] += w * go[c];
                        }
                        for (int c = 0; c < D; c++) dq[c] = 0.0f;
                        for (int j = 0; j <= i; j++) {
                            float ds = fabsf(p[j]) * (dp[j] - sum) * scale;
                            const float *k = K + (size_t)j * ldqkv;
                            float *dk = dK + (size_t)j * ldqkv;
#pragma omp simd
                            for (int c = 0; c < D; c++) {
                                dq[c] += ds * k[c];
                                dk[c] += ds * q[c];
                            }
                        }
                    }
                }
            }
        free(dp);
    }
    (void)width;
}

void cpu_attention_rows(float *out, int ldout, const float *q, int ldq, const float *kcache, const float *vcache,
                        const int32_t *seq, const int32_t *pos, int R, int max_len, int H, int Hkv, int D) {
    const float scale = 1.0f / sqrtf((float)D);
    const int group = H / Hkv, kvw = Hkv * D;
#pragma omp parallel
    {
        float *p = malloc((size_t)max_len * sizeof(float));
#pragma omp for collapse(2) schedule(static)
        for (int r = 0; r < R; r++)
            for (int h = 0; h < H; h++) {
                const int kvh = h / group, n = pos[r] + 1;
                const float *K = kcache + (size_t)seq[r] * max_len * kvw + (size_t)kvh * D;
                const float *V = vcache + (size_t)seq[r] * max_len * kvw + (size_t)kvh * D;
                const float *qr = q + (size_t)r * ldq + (size_t)h * D;
                float mx = -INFINITY;
                for (int j = 0; j < n; j++) {
                    p[j] = dotf(qr, K + (size_t)j * kvw, D) * scale;
                    if (p[j] > mx) mx = p[j];
                }
                float sum = 0.0f;
                for (int j = 0; j < n; j++) { p[j] = expf(p[j] - mx); sum += p[j]; }
                float inv = 1.0f / sum;
                float *o = out + (size_t)r * ldout + (size_t)h * D;
                for (int c = 0; c < D; c++) o[c] = 0.0f;
                for (int j = 0; j < n; j++) {
                    float w = p[j] * inv;
                    const float *v = V + (size_t)j * kvw;
#pragma omp simd
                    for (int c = 0; c < D; c++) o[c] += w * v[c];
                }
            }
        free(p);
    }
}
