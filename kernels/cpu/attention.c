/* Causal multi-head attention with n_kv_heads (1 = multi-query, H = multi-head, between = grouped).
 * Scores are q·k / sqrt(D), softmax in fp32 over j <= i, dropout on the probabilities (HF applies it
 * after the softmax), out = P_dropped · V.  Masked entries are exactly 0, as HF's finfo.min mask gives. */
#include <cblas.h>
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

/* Per (batch, head): S = Q·Kᵀ·scale and O = P·V as OpenBLAS GEMMs (the causal upper triangle is computed
 * and discarded: at GEMM speed that is cheaper than scalar loops).  Called inside an OpenMP loop, the
 * OpenMP build of OpenBLAS runs each GEMM on the calling thread. */
void cpu_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T, int H,
                       int Hkv, int D, mm_dropout d) {
    const float scale = 1.0f / sqrtf((float)D);
    const int group = H / Hkv;
    const float dscale = d.p > 0.0f ? 1.0f / (1.0f - d.p) : 1.0f;
#pragma omp parallel
    {
        uint8_t *keep = d.p > 0.0f ? malloc((size_t)T) : NULL;
        float *pd = d.p > 0.0f ? malloc((size_t)T * T * sizeof(float)) : NULL;
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                const int kvh = h / group;
                const float *base = qkv + (size_t)b * T * ldqkv;
                const float *Q = base + (size_t)h * D;
                const float *K = base + (size_t)H * D + (size_t)kvh * D;
                const float *V = base + (size_t)(H + Hkv) * D + (size_t)kvh * D;
                float *P = probs + ((size_t)b * H + h) * T * (size_t)T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, Q, ldqkv, K, ldqkv, 0.0f, P, T);
                for (int i = 0; i < T; i++) {
                    float *p = P + (size_t)i * T;
                    float mx = -INFINITY;
                    for (int j = 0; j <= i; j++) mx = p[j] > mx ? p[j] : mx;
                    float sum = 0.0f;
                    for (int j = 0; j <= i; j++) { p[j] = expf(p[j] - mx); sum += p[j]; }
                    float inv = 1.0f / sum;
                    for (int j = 0; j <= i; j++) p[j] *= inv;
                    for (int j = i + 1; j < T; j++) p[j] = 0.0f;
                    if (!keep) continue;
                    /* a dropped probability is saved with its sign bit set, so backward needs no mask */
                    probs_mask_row(keep, d, b, h, i, H, T);
                    float *q = pd + (size_t)i * T;
                    for (int j = 0; j < T; j++) {
                        q[j] = (j <= i && keep[j]) ? p[j] * dscale : 0.0f;
                        if (j <= i && !keep[j]) p[j] = copysignf(p[j], -1.0f);
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, keep ? pd : P, T, V, ldqkv, 0.0f,
                            out + (size_t)b * T * ldout + (size_t)h * D, ldout);
            }
        free(keep);
        free(pd);
    }
}

void cpu_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                       const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout d) {
    const float scale = 1.0f / sqrtf((float)D);
    const int group = H / Hkv;
    const float dscale = d.p > 0.0f ? 1.0f / (1.0f - d.p) : 1.0f;
#pragma omp parallel
    {
        float *pd = malloc((size_t)T * T * sizeof(float)), *dp = malloc((size_t)T * T * sizeof(float));
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
                    const float *Q = base + (size_t)h * D;
                    float *dQ = dbase + (size_t)h * D;
                    const float *P = probs + ((size_t)b * H + h) * T * (size_t)T;
                    const float *dO = dout + (size_t)b * T * lddout + (size_t)h * D;
                    /* pd = dropped probabilities */
                    for (size_t k = 0; k < (size_t)T * T; k++)
                        pd[k] = d.p > 0.0f ? (signbit(P[k]) ? 0.0f : P[k] * dscale) : P[k];
                    /* dV += pdᵀ·dO ; dp = dO·Vᵀ */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, pd, T, dO, lddout, 1.0f, dV,
                                ldqkv);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dO, lddout, V, ldqkv, 0.0f, dp,
                                T);
                    /* dS = P ⊙ (m ⊙ dp − Σ_j P m dp)·scale, in place of dp */
                    for (int i = 0; i < T; i++) {
                        const float *p = P + (size_t)i * T;
                        float *g = dp + (size_t)i * T;
                        float sum = 0.0f;
                        for (int j = 0; j <= i; j++) {
                            float m = d.p > 0.0f ? (signbit(p[j]) ? 0.0f : dscale) : 1.0f;
                            g[j] *= m;
                            sum += g[j] * fabsf(p[j]);
                        }
                        for (int j = 0; j <= i; j++) g[j] = fabsf(p[j]) * (g[j] - sum) * scale;
                        for (int j = i + 1; j < T; j++) g[j] = 0.0f;
                    }
                    /* dQ = dS·K ; dK += dSᵀ·Q */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dp, T, K, ldqkv, 0.0f, dQ,
                                ldqkv);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, dp, T, Q, ldqkv, 1.0f, dK,
                                ldqkv);
                }
            }
        free(pd);
        free(dp);
    }
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
