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
 * Two drivers of the same kernels (MMLORA_CUDA_ATTN selects; parity.c checks both, ops_bench times both):
 *   batched (default)  the sequences in chunks: one cublasSgemmBatched over every (sequence, head) of the chunk
 *                      per GEMM (the operand pointers computed on the device, no host round trip) and one row
 *                      kernel launch per chunk; a chunk's scratch stays under MMLORA_CUDA_ATTN_SCRATCH_MB (default
 *                      128: StarCoderBase-1B at T 288 with dropout fits 17 sequences forward, 7 backward), so B = 24
 *                      is 2 chunks forward and 4 backward instead of 24 rounds of launches per op;
 *   loop               one sequence at a time, strided-batched over its heads (the first version).
 *
 * attention_rows (decoding): one block per (row, head), one warp per key at a time with an online softmax
 * per warp, warps merged at the end; D <= 256. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
__global__ void softmax_fwd_kernel(float *probs, float *Pd, int b0, int H, int T, uint64_t seed, uint32_t step,
                                   uint32_t stream, uint32_t thr, float dscale) {
    /* rows of sequences b0, b0 + 1, ...: probs and Pd point at sequence b0's first row */
    const int r = blockIdx.x, i = r % T, h = (r / T) % H, b = b0 + r / (T * H);
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

/* for nseq sequences s: dst[s·T + t, col0 + o·D + c] = Σ_{k < gsz} src[s][o·gsz + k, t, c] for o < nout (src dense
 * [nseq][nout·gsz, T, D]) */
__global__ void gather_heads_kernel(float *dst, int lddst, int col0, const float *src, int T, int D, int nout,
                                    int gsz, int nseq) {
    const size_t total = (size_t)nseq * T * nout * D;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(k % D);
        const int o = (int)((k / D) % nout);
        const size_t st = k / ((size_t)D * nout); /* s·T + t */
        const size_t sq = st / T, t = st % T;
        const float *sp = src + sq * (size_t)nout * gsz * T * D;
        float s = 0.0f;
        for (int q = 0; q < gsz; q++) s += sp[(((size_t)o * gsz + q) * T + t) * D + c];
        dst[st * lddst + col0 + (size_t)o * D + c] = s;
    }
}

static void gather_heads_n(float *dst, int lddst, int col0, const float *src, int T, int D, int nout, int gsz,
                           int nseq) {
    gather_heads_kernel<<<mm_grid((size_t)nseq * T * nout * D, 256), 256>>>(dst, lddst, col0, src, T, D, nout, gsz,
                                                                            nseq);
    CU_LAUNCHED("gather_heads_kernel");
}
static void gather_heads(float *dst, int lddst, int col0, const float *src, int T, int D, int nout, int gsz) {
    gather_heads_n(dst, lddst, col0, src, T, D, nout, gsz, 1);
}

/* ---- the batched driver: pointer arrays of one GEMM over (sequence, head) pairs, built on the device */

/* operand of pair i = s·H + h: base + s·seq_stride + idx·head_stride, idx = h, or h / group for a kv operand */
typedef struct {
    const float *base;
    long long seq_stride, head_stride;
    int kv;
} pair_operand;

__global__ void pair_ptrs_kernel(const float **out, pair_operand o, int n, int H, int group) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int sq = i / H, h = i % H, idx = o.kv ? h / group : h;
    out[i] = o.base + sq * o.seq_stride + idx * o.head_stride;
}

static const float **pair_ptrs(const float **slot, pair_operand o, int n, int H, int group) {
    pair_ptrs_kernel<<<(unsigned)((n + 127) / 128), 128>>>(slot, o, n, H, group);
    CU_LAUNCHED("pair_ptrs_kernel");
    return slot;
}

/* C_i = alpha·op(A_i)·op(B_i) for the n pairs (row-major, mapped to cuBLAS's column-major by swapping operands) */
static void pairs_gemm(int tA, int tB, int M, int N, int K, float alpha, const float **A, int lda, const float **B,
                       int ldb, const float **C, int ldc, int n) {
    const float beta = 0.0f;
    CUBLAS_CHECK(cublasSgemmBatched(mm_cublas(), tB ? CUBLAS_OP_T : CUBLAS_OP_N, tA ? CUBLAS_OP_T : CUBLAS_OP_N, N, M,
                                    K, &alpha, B, ldb, A, lda, &beta, (float *const *)C, ldc, n));
}

/* 1: the per-sequence driver (MMLORA_CUDA_ATTN=loop), 0: batched */
static int attn_loop(void) {
    const char *m = getenv("MMLORA_CUDA_ATTN");
    return m && !strcmp(m, "loop");
}
/* sequences per chunk for per-sequence scratch `per_seq` bytes (at least 1, at most B) */
static int attn_chunk(size_t per_seq, int B) {
    const char *e = getenv("MMLORA_CUDA_ATTN_SCRATCH_MB");
    const double mb = e && atof(e) > 0 ? atof(e) : 128.0;
    const long long n = (long long)(mb * 1048576.0 / (double)per_seq);
    return n < 1 ? 1 : n > B ? B : (int)n;
}
/* pointer slots at the front of a scratch region (n per array, k arrays), rounded up to 256 bytes so that the data
 * regions after them stay 256-byte aligned */
static size_t ptr_bytes(int n, int k) { return ((size_t)n * k * sizeof(void *) + 255) & ~(size_t)255; }

static int check_shapes(const char *op, int H, int Hkv, int D) {
    if (H <= 0 || Hkv <= 0 || H % Hkv != 0 || D <= 0) {
        fprintf(stderr, "mmlora cuda: %s: bad heads H=%d Hkv=%d D=%d\n", op, H, Hkv, D);
        return 0;
    }
    return 1;
}

static void attention_fwd_batched(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T,
                                  int H, int Hkv, int D, mm_dropout d) {
    const float scale = 1.0f / sqrtf((float)D);
    const int drop = d.p > 0.0f, group = H / Hkv;
    const float dscale = drop ? 1.0f / (1.0f - d.p) : 1.0f;
    const size_t tt = (size_t)T * T, td = (size_t)T * D;
    const size_t per_seq = ((drop ? H * tt : 0) + H * td) * sizeof(float) + (size_t)H * 6 * sizeof(void *);
    const int nb = attn_chunk(per_seq, B);
    char *scr = (char *)mm_cuda_scratch(ptr_bytes(nb * H, 6) + (size_t)nb * ((drop ? H * tt : 0) + H * td) * sizeof(float));
    const float **ptr = (const float **)scr;
    float *Pd = (float *)(scr + ptr_bytes(nb * H, 6)), *O = Pd + (drop ? (size_t)nb * H * tt : 0);
    if (!drop) Pd = NULL;
    const long long sq = (long long)T * ldqkv;
    for (int b0 = 0; b0 < B; b0 += nb) {
        const int n = B - b0 < nb ? B - b0 : nb, np = n * H;
        const float *base = qkv + (size_t)b0 * sq;
        float *pb = probs + (size_t)b0 * H * tt;
        const float **Q = pair_ptrs(ptr, {base, sq, D, 0}, np, H, group);
        const float **K = pair_ptrs(ptr + np, {base + (size_t)H * D, sq, D, 1}, np, H, group);
        const float **S = pair_ptrs(ptr + 2 * np, {pb, (long long)(H * tt), (long long)tt, 0}, np, H, group);
        pairs_gemm(0, 1, T, T, D, scale, Q, ldqkv, K, ldqkv, S, T, np);
        softmax_fwd_kernel<<<(unsigned)(np * T), ROW_THREADS>>>(pb, Pd, b0, H, T, d.seed, d.step, d.stream,
                                                               mm_dropout_threshold(d.p), dscale);
        CU_LAUNCHED("softmax_fwd_kernel");
        const float **P = drop ? pair_ptrs(ptr + 3 * np, {Pd, (long long)(H * tt), (long long)tt, 0}, np, H, group) : S;
        const float **V = pair_ptrs(ptr + 4 * np, {base + (size_t)(H + Hkv) * D, sq, D, 1}, np, H, group);
        const float **Op = pair_ptrs(ptr + 5 * np, {O, (long long)(H * td), (long long)td, 0}, np, H, group);
        pairs_gemm(0, 0, T, D, T, 1.0f, P, T, V, ldqkv, Op, D, np);
        gather_heads_n(out + (size_t)b0 * T * ldout, ldout, 0, O, T, D, H, 1, n);
    }
}

extern "C" void cuda_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T,
                                   int H, int Hkv, int D, mm_dropout d) {
    if (B <= 0 || T <= 0) return;
    if (!check_shapes("attention_fwd", H, Hkv, D)) mm_cuda_fatal("attention_fwd", __FILE__, __LINE__, "shapes");
    if (!attn_loop()) {
        attention_fwd_batched(out, ldout, probs, qkv, ldqkv, B, T, H, Hkv, D, d);
        return;
    }
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

static void attention_bwd_batched(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                                  const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout d) {
    const float scale = 1.0f / sqrtf((float)D);
    const int drop = d.p > 0.0f, group = H / Hkv;
    const float dscale = drop ? 1.0f / (1.0f - d.p) : 1.0f;
    const size_t tt = (size_t)T * T, td = (size_t)T * D;
    const size_t floats_seq = (drop ? 2 : 1) * H * tt + 3 * H * td;
    const int nb = attn_chunk(floats_seq * sizeof(float) + (size_t)H * 12 * sizeof(void *), B);
    char *scr = (char *)mm_cuda_scratch(ptr_bytes(nb * H, 12) + (size_t)nb * floats_seq * sizeof(float));
    const float **ptr = (const float **)scr;
    float *G = (float *)(scr + ptr_bytes(nb * H, 12));
    float *Pd = drop ? G + (size_t)nb * H * tt : NULL;
    float *dQh = G + (size_t)(drop ? 2 : 1) * nb * H * tt, *dKh = dQh + (size_t)nb * H * td, *dVh = dKh + (size_t)nb * H * td;
    const long long sq = (long long)T * ldqkv, sqo = (long long)T * lddout, sH = (long long)(H * tt), sD = (long long)(H * td);
    for (int b0 = 0; b0 < B; b0 += nb) {
        const int n = B - b0 < nb ? B - b0 : nb, np = n * H;
        const float *base = qkv + (size_t)b0 * sq, *pb = probs + (size_t)b0 * H * tt;
        const float **dO = pair_ptrs(ptr, {dout + (size_t)b0 * sqo, sqo, D, 0}, np, H, group);
        const float **Q = pair_ptrs(ptr + np, {base, sq, D, 0}, np, H, group);
        const float **K = pair_ptrs(ptr + 2 * np, {base + (size_t)H * D, sq, D, 1}, np, H, group);
        const float **V = pair_ptrs(ptr + 3 * np, {base + (size_t)(H + Hkv) * D, sq, D, 1}, np, H, group);
        const float **Gp = pair_ptrs(ptr + 4 * np, {G, sH, (long long)tt, 0}, np, H, group);
        const float **P = pair_ptrs(ptr + 5 * np, {drop ? Pd : pb, sH, (long long)tt, 0}, np, H, group);
        const float **dQp = pair_ptrs(ptr + 6 * np, {dQh, sD, (long long)td, 0}, np, H, group);
        const float **dKp = pair_ptrs(ptr + 7 * np, {dKh, sD, (long long)td, 0}, np, H, group);
        const float **dVp = pair_ptrs(ptr + 8 * np, {dVh, sD, (long long)td, 0}, np, H, group);
        pairs_gemm(0, 1, T, T, D, 1.0f, dO, lddout, V, ldqkv, Gp, T, np);
        softmax_bwd_kernel<<<(unsigned)(np * T), ROW_THREADS>>>(G, Pd, pb, T, scale, dscale, drop);
        CU_LAUNCHED("softmax_bwd_kernel");
        pairs_gemm(0, 0, T, D, T, 1.0f, Gp, T, K, ldqkv, dQp, D, np);   /* dQ_h = dS·K_g */
        pairs_gemm(1, 0, T, D, T, 1.0f, Gp, T, Q, ldqkv, dKp, D, np);   /* dK_h = dSᵀ·Q_h */
        pairs_gemm(1, 0, T, D, T, 1.0f, P, T, dO, lddout, dVp, D, np);  /* dV_h = Pdᵀ·dO_h */
        float *dbase = dqkv + (size_t)b0 * sq;
        gather_heads_n(dbase, ldqkv, 0, dQh, T, D, H, 1, n);
        gather_heads_n(dbase, ldqkv, H * D, dKh, T, D, Hkv, group, n);
        gather_heads_n(dbase, ldqkv, (H + Hkv) * D, dVh, T, D, Hkv, group, n);
    }
}

extern "C" void cuda_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                                   const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout d) {
    if (B <= 0 || T <= 0) return;
    if (!check_shapes("attention_bwd", H, Hkv, D)) mm_cuda_fatal("attention_bwd", __FILE__, __LINE__, "shapes");
    if (!attn_loop()) {
        attention_bwd_batched(dqkv, dout, lddout, qkv, ldqkv, probs, B, T, H, Hkv, D, d);
        return;
    }
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
