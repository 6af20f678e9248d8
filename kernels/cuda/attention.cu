/* Causal attention with n_kv_heads on cuBLAS strided-batched GEMMs plus fused row kernels.
 *
 * Per sequence b (scratch is per sequence: O(H·T²)):
 *   forward   S_h = scale·Q_h·K_gᵀ -> probs (in place) ; row kernel: causal softmax, dropout (sign bit in
 *             probs, scaled kept probabilities in Pd) ; O_h = Pd_h·V_g -> dense scratch -> scattered into out
 *   backward  G_h = dout_h·V_gᵀ ; row kernel: dP = G·mask, dS = |P|·(dP − Σ dP·|P|)·scale, Pd = |P|·mask ;
 *             dQ_h = dS_h·K_g, dK_h = dS_hᵀ·Q_h, dV_h = Pd_hᵀ·dout_h -> dense scratch -> dK_g, dV_g = Σ over the
 *             heads of group g (fixed order, no atomics) -> scattered into dqkv
 * (g = h / (H/Hkv) is the kv head of head h.)  GEMM outputs go to dense scratch rather than straight into the
 * interleaved qkv/out layouts so no batched cuBLAS call writes through a strided, interleaved C.
 *
 * attention_rows (decoding): one block per (row, head), one warp per key at a time with an online softmax
 * per warp, warps merged at the end; D <= 256. */
#include <math.h>
#include <stdio.h>
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
#include "cuda/philox.cuh"
#include "cuda/reduce.cuh"

#define ROW_THREADS 128

/* an operand of a per-head GEMM: head h uses p + idx(h)·stride with idx(h) = h, or h / group when kv != 0 */
typedef struct {
    const float *p;
    int ld;
    long long stride;
    int kv;
} operand;

/* C_h = alpha·op(A_h)·op(B_h) for h < H (row-major), C dense per head: C + h·strideC, ldc */
static void heads_gemm(int tA, int tB, int M, int N, int K, float alpha, operand A, operand B, float *C, int ldc,
                       long long strideC, int H, int Hkv) {
    const float beta = 0.0f;
    const int group = H / Hkv;
    const cublasOperation_t opA = tA ? CUBLAS_OP_T : CUBLAS_OP_N, opB = tB ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (group == 1 || Hkv == 1 || (!A.kv && !B.kv)) {
        /* one call: a kv operand advances per head when group == 1 and stays put when Hkv == 1 */
        long long sA = A.kv && group != 1 ? 0 : A.stride, sB = B.kv && group != 1 ? 0 : B.stride;
        CUBLAS_CHECK(cublasSgemmStridedBatched(mm_cublas(), opB, opA, N, M, K, &alpha, B.p, B.ld, sB, A.p, A.ld, sA,
                                               &beta, C, ldc, strideC, H));
        return;
    }
    for (int g = 0; g < Hkv; g++) { /* grouped: one call per kv head, batched over its heads */
        const float *a = A.p + (A.kv ? (long long)g * A.stride : (long long)g * group * A.stride);
        const float *b = B.p + (B.kv ? (long long)g * B.stride : (long long)g * group * B.stride);
        CUBLAS_CHECK(cublasSgemmStridedBatched(mm_cublas(), opB, opA, N, M, K, &alpha, b, B.ld, B.kv ? 0 : B.stride,
                                               a, A.ld, A.kv ? 0 : A.stride, &beta, C + (long long)g * group * strideC,
                                               ldc, strideC, group));
    }
}

/* rows (h, i) of one sequence: in place causal softmax of the scores in probs; with dropout, the dropped
 * entries get their sign bit set and Pd receives the scaled kept probabilities (row layout [T]) */
__global__ void softmax_fwd_kernel(float *probs, float *Pd, int b, int H, int T, uint64_t seed, uint32_t step,
                                   uint32_t stream, uint32_t thr, float dscale) {
    const int r = blockIdx.x, h = r / T, i = r % T;
    float *p = probs + (size_t)r * T;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) mx = fmaxf(mx, p[j]);
    mx = block_max(mx);
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) sum += expf(p[j] - mx);
    sum = block_sum(sum);
    const float inv = 1.0f / sum;
    const uint64_t first = (((uint64_t)b * H + h) * T + i) * (uint64_t)T;
    float *pd = Pd ? Pd + (size_t)r * T : NULL;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        if (j > i) {
            p[j] = 0.0f;
            if (pd) pd[j] = 0.0f;
            continue;
        }
        float v = expf(p[j] - mx) * inv;
        if (pd) {
            bool keep = mm_dev_keep(seed, step, stream, first + (uint64_t)j, thr);
            pd[j] = keep ? v * dscale : 0.0f;
            p[j] = keep ? v : copysignf(v, -1.0f);
        } else {
            p[j] = v;
        }
    }
}

/* rows (h, i): G holds dout·Vᵀ on entry and dS on exit; Pd (dropout only) receives |P|·mask */
__global__ void softmax_bwd_kernel(float *G, float *Pd, const float *probs, int T, float scale, float dscale,
                                   int dropout) {
    const int r = blockIdx.x, i = r % T;
    float *g = G + (size_t)r * T;
    const float *p = probs + (size_t)r * T;
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) {
        float m = dropout ? (signbit(p[j]) ? 0.0f : dscale) : 1.0f;
        sum += g[j] * m * fabsf(p[j]);
    }
    sum = block_sum(sum);
    float *pd = Pd ? Pd + (size_t)r * T : NULL;
    for (int j = threadIdx.x; j < T; j += blockDim.x) {
        if (j > i) {
            g[j] = 0.0f;
            if (pd) pd[j] = 0.0f;
            continue;
        }
        float pj = fabsf(p[j]);
        float m = dropout ? (signbit(p[j]) ? 0.0f : dscale) : 1.0f;
        float dp = g[j] * m;
        g[j] = pj * (dp - sum) * scale;
        if (pd) pd[j] = pj * m;
    }
}

/* dst[t, col0 + o·D + c] = Σ_{k < gsz} src[o·gsz + k, t, c] for o < nout (src dense [nout·gsz, T, D]) */
__global__ void gather_heads_kernel(float *dst, int lddst, int col0, const float *src, int T, int D, int nout,
                                    int gsz) {
    const size_t total = (size_t)T * nout * D;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(k % D);
        const int o = (int)((k / D) % nout);
        const size_t t = k / ((size_t)D * nout);
        float s = 0.0f;
        for (int q = 0; q < gsz; q++) s += src[(((size_t)o * gsz + q) * T + t) * D + c];
        dst[t * lddst + col0 + (size_t)o * D + c] = s;
    }
}

static void gather_heads(float *dst, int lddst, int col0, const float *src, int T, int D, int nout, int gsz) {
    gather_heads_kernel<<<mm_grid((size_t)T * nout * D, 256), 256>>>(dst, lddst, col0, src, T, D, nout, gsz);
    CU_LAUNCHED("gather_heads_kernel");
}

static int check_shapes(const char *op, int H, int Hkv, int D) {
    if (H <= 0 || Hkv <= 0 || H % Hkv != 0 || D <= 0) {
        fprintf(stderr, "mmlora cuda: %s: bad heads H=%d Hkv=%d D=%d\n", op, H, Hkv, D);
        return 0;
    }
    return 1;
}

extern "C" void cuda_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T,
                                   int H, int Hkv, int D, mm_dropout d) {
    if (B <= 0 || T <= 0) return;
    if (!check_shapes("attention_fwd", H, Hkv, D)) mm_cuda_fatal("attention_fwd", __FILE__, __LINE__, "shapes");
    const float scale = 1.0f / sqrtf((float)D);
    const int drop = d.p > 0.0f;
    const float dscale = drop ? 1.0f / (1.0f - d.p) : 1.0f;
    const size_t tt = (size_t)T * T, td = (size_t)T * D;
    float *scr = (float *)mm_cuda_scratch(((drop ? H * tt : 0) + H * td) * sizeof(float));
    float *Pd = drop ? scr : NULL, *O = scr + (drop ? H * tt : 0);
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * ldqkv;
        float *pb = probs + (size_t)b * H * tt;
        operand Q = {base, ldqkv, D, 0}, K = {base + (size_t)H * D, ldqkv, D, 1};
        heads_gemm(0, 1, T, T, D, scale, Q, K, pb, T, (long long)tt, H, Hkv);
        softmax_fwd_kernel<<<(unsigned)(H * T), ROW_THREADS>>>(pb, Pd, b, H, T, d.seed, d.step, d.stream,
                                                              mm_dropout_threshold(d.p), dscale);
        CU_LAUNCHED("softmax_fwd_kernel");
        operand P = {drop ? Pd : pb, T, (long long)tt, 0}, V = {base + (size_t)(H + Hkv) * D, ldqkv, D, 1};
        heads_gemm(0, 0, T, D, T, 1.0f, P, V, O, D, (long long)td, H, Hkv);
        gather_heads(out + (size_t)b * T * ldout, ldout, 0, O, T, D, H, 1);
    }
}

extern "C" void cuda_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                                   const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout d) {
    if (B <= 0 || T <= 0) return;
    if (!check_shapes("attention_bwd", H, Hkv, D)) mm_cuda_fatal("attention_bwd", __FILE__, __LINE__, "shapes");
    const float scale = 1.0f / sqrtf((float)D);
    const int drop = d.p > 0.0f, group = H / Hkv;
    const float dscale = drop ? 1.0f / (1.0f - d.p) : 1.0f;
    const size_t tt = (size_t)T * T, td = (size_t)T * D;
    float *G = (float *)mm_cuda_scratch(((drop ? 2 : 1) * H * tt + 3 * H * td) * sizeof(float));
    float *Pd = drop ? G + H * tt : NULL;
    float *dQh = G + (drop ? 2 : 1) * H * tt, *dKh = dQh + H * td, *dVh = dKh + H * td;
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * ldqkv;
        const float *pb = probs + (size_t)b * H * tt;
        float *dbase = dqkv + (size_t)b * T * ldqkv;
        operand dO = {dout + (size_t)b * T * lddout, lddout, D, 0};
        operand Q = {base, ldqkv, D, 0}, K = {base + (size_t)H * D, ldqkv, D, 1};
        operand V = {base + (size_t)(H + Hkv) * D, ldqkv, D, 1};
        heads_gemm(0, 1, T, T, D, 1.0f, dO, V, G, T, (long long)tt, H, Hkv);
        softmax_bwd_kernel<<<(unsigned)(H * T), ROW_THREADS>>>(G, Pd, pb, T, scale, dscale, drop);
        CU_LAUNCHED("softmax_bwd_kernel");
        operand dS = {G, T, (long long)tt, 0}, P = {drop ? Pd : pb, T, (long long)tt, 0};
        heads_gemm(0, 0, T, D, T, 1.0f, dS, K, dQh, D, (long long)td, H, Hkv);
        heads_gemm(1, 0, T, D, T, 1.0f, dS, Q, dKh, D, (long long)td, H, Hkv);
        heads_gemm(1, 0, T, D, T, 1.0f, P, dO, dVh, D, (long long)td, H, Hkv);
        gather_heads(dbase, ldqkv, 0, dQh, T, D, H, 1);
        gather_heads(dbase, ldqkv, H * D, dKh, T, D, Hkv, group);
        gather_heads(dbase, ldqkv, (H + Hkv) * D, dVh, T, D, Hkv, group);
    }
}

#define ROWS_WARPS 4
#define ROWS_MAXC 8 /* D <= 32·8 */

__global__ void attention_rows_kernel(float *out, int ldout, const float *q, int ldq, const float *kcache,
                                      const float *vcache, const int32_t *seq, const int32_t *pos, int max_len, int H,
                                      int Hkv, int D, float scale) {
    const int r = blockIdx.x / H, h = blockIdx.x % H, kvh = h / (H / Hkv), kvw = Hkv * D;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int n = pos[r] + 1;
    const float *K = kcache + (size_t)seq[r] * max_len * kvw + (size_t)kvh * D;
    const float *V = vcache + (size_t)seq[r] * max_len * kvw + (size_t)kvh * D;
    const float *qr = q + (size_t)r * ldq + (size_t)h * D;
    float qv[ROWS_MAXC], acc[ROWS_MAXC];
#pragma unroll
    for (int k = 0; k < ROWS_MAXC; k++) {
        int c = lane + 32 * k;
        qv[k] = c < D ? qr[c] : 0.0f;
        acc[k] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = w; j < n; j += ROWS_WARPS) {
        const float *kj = K + (size_t)j * kvw, *vj = V + (size_t)j * kvw;
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < ROWS_MAXC; k++) {
            int c = lane + 32 * k;
            if (c < D) s += qv[k] * kj[c];
        }
        s = warp_sum(s) * scale;
        const float mn = fmaxf(m, s), a = expf(m - mn), e = expf(s - mn);
        l = l * a + e;
#pragma unroll
        for (int k = 0; k < ROWS_MAXC; k++) {
            int c = lane + 32 * k;
            acc[k] = acc[k] * a + (c < D ? e * vj[c] : 0.0f);
        }
        m = mn;
    }
    __shared__ float sm[ROWS_WARPS], sl[ROWS_WARPS], sacc[ROWS_WARPS][32 * ROWS_MAXC];
    if (lane == 0) {
        sm[w] = m;
        sl[w] = l;
    }
#pragma unroll
    for (int k = 0; k < ROWS_MAXC; k++) sacc[w][lane + 32 * k] = acc[k];
    __syncthreads();
    float M = -INFINITY;
    for (int k = 0; k < ROWS_WARPS; k++) M = fmaxf(M, sm[k]);
    float L = 0.0f, f[ROWS_WARPS];
    for (int k = 0; k < ROWS_WARPS; k++) {
        f[k] = sl[k] > 0.0f ? expf(sm[k] - M) : 0.0f; /* a warp that saw no key has m = -inf, l = 0 */
        L += sl[k] * f[k];
    }
    float *o = out + (size_t)r * ldout + (size_t)h * D;
    for (int c = threadIdx.x; c < D; c += blockDim.x) {
        float s = 0.0f;
        for (int k = 0; k < ROWS_WARPS; k++) s += sacc[k][c] * f[k];
        o[c] = s / L;
    }
}

extern "C" void cuda_attention_rows(float *out, int ldout, const float *q, int ldq, const float *kcache,
                                    const float *vcache, const int32_t *seq, const int32_t *pos, int R, int max_len,
                                    int H, int Hkv, int D) {
    if (R <= 0) return;
    if (!check_shapes("attention_rows", H, Hkv, D) || D > 32 * ROWS_MAXC)
        mm_cuda_fatal("attention_rows", __FILE__, __LINE__, "unsupported shape (needs H % Hkv == 0, D <= 256)");
    attention_rows_kernel<<<(unsigned)(R * H), 32 * ROWS_WARPS>>>(out, ldout, q, ldq, kcache, vcache, seq, pos, max_len,
                                                                  H, Hkv, D, 1.0f / sqrtf((float)D));
    CU_LAUNCHED("attention_rows_kernel");
}
