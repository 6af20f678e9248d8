/* The table's memory ops and the small row ops that replaced the engine's and the adapters' host loops
 * (kernels.h, "memory" and "small ops").  Arithmetic follows kernels/cpu/rows.c: the products and sums
 * are written with __fmul_rn / __fadd_rn so nvcc contracts nothing into an FMA, and every sum runs in the
 * CPU's order (row_dot over c, group_sum_rows over n), so those ops are bit-identical to the CPU; the
 * token-router softmax uses the device expf (within a few ulp of the host's). */
#include <math.h>
#include <stdio.h>
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
extern "C" {
#include "util/log.h"
}

#define RT 256
#define TOPK_MAX 16
#define GRID_STRIDE(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* ---------------------------------------------------------------- memory */
extern "C" void *cuda_alloc(size_t bytes) {
    void *p = mm_cuda_malloc(bytes);
    if (!p) {
        /* out of memory (or another fault): the sizes, and the switches that shrink a run, instead of a bare abort */
        size_t free_b = 0, total_b = 0;
        (void)cudaGetLastError();
        const int have = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
        char dev[160];
        fprintf(stderr,
                "mmlora cuda: could not allocate %.3f GiB on %s: %s%s\n"
                "  plan the run's memory with `mmlora info --memory --device cuda --batch B --seq T [--recompute]`;\n"
                "  shrink it with --set micro_batch=N (gradient accumulation keeps the batch), --recompute (activation\n"
                "  recomputation), a shorter max_source, or for generation --set gen_batch=N; check that no other\n"
                "  process holds the GPU (nvidia-smi)\n",
                bytes / 1073741824.0, mm_cuda_device_name(dev, sizeof dev), mm_last_error(),
                have ? "" : " (memory info unavailable)");
        if (have)
            fprintf(stderr, "  the GPU has %.3f GiB free of %.3f GiB\n", free_b / 1073741824.0, total_b / 1073741824.0);
        mm_cuda_fatal("cudaMalloc", __FILE__, __LINE__, "out of device memory");
    }
    return p;
}
extern "C" void cuda_free(void *p) { mm_cuda_free(p); }
extern "C" void cuda_upload(void *dst, const void *src, size_t bytes) {
    if (mm_cuda_h2d(dst, src, bytes)) mm_cuda_fatal("upload", __FILE__, __LINE__, mm_last_error());
}
extern "C" void cuda_download(void *dst, const void *src, size_t bytes) {
    if (mm_cuda_d2h(dst, src, bytes)) mm_cuda_fatal("download", __FILE__, __LINE__, mm_last_error());
}
extern "C" void cuda_zero(void *p, size_t bytes) {
    if (!bytes) return;
    CU_CHECK(cudaMemsetAsync(p, 0, bytes, 0));
}

/* ---------------------------------------------------------------- elementwise / rows */
__global__ void add_kernel(float *y, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) y[i] = __fadd_rn(a[i], b[i]);
}
extern "C" void cuda_add(float *y, const float *a, const float *b, size_t n) {
    if (!n) return;
    add_kernel<<<mm_grid(n, RT), RT>>>(y, a, b, n);
    CU_LAUNCHED("add");
}

__global__ void gather_kernel(float *dst, const float *src, const int32_t *rows, int R, int C) {
    GRID_STRIDE(i, (size_t)R * C) {
        const size_t r = i / C, c = i % C;
        dst[i] = src[(size_t)rows[r] * C + c];
    }
}
extern "C" void cuda_gather_rows(float *dst, const float *src, const int32_t *rows, int R, int C) {
    if (R <= 0 || C <= 0) return;
    gather_kernel<<<mm_grid((size_t)R * C, RT), RT>>>(dst, src, rows, R, C);
    CU_LAUNCHED("gather_rows");
}

__global__ void scatter_kernel(float *dst, const float *src, const int32_t *rows, int R, int C) {
    GRID_STRIDE(i, (size_t)R * C) {
        const size_t r = i / C, c = i % C;
        dst[(size_t)rows[r] * C + c] = src[i];
    }
}
extern "C" void cuda_scatter_rows(float *dst, const float *src, const int32_t *rows, int R, int C) {
    if (R <= 0 || C <= 0) return;
    scatter_kernel<<<mm_grid((size_t)R * C, RT), RT>>>(dst, src, rows, R, C);
    CU_LAUNCHED("scatter_rows");
}

__global__ void positions_kernel(int32_t *pos, int T, size_t n) {
    GRID_STRIDE(i, n) pos[i] = (int32_t)(i % (size_t)T);
}
extern "C" void cuda_positions(int32_t *pos, int B, int T) {
    const size_t n = (size_t)B * T;
    if (!n) return;
    positions_kernel<<<mm_grid(n, RT), RT>>>(pos, T, n);
    CU_LAUNCHED("positions");
}

__global__ void row_scale_kernel(float *y, int ldy, const float *x, int ldx, const float *g, int g_stride,
                                 int group, float s, int N, int C) {
    GRID_STRIDE(i, (size_t)N * C) {
        const int n = (int)(i / C), c = (int)(i % C);
        const float f = __fmul_rn(s, g ? g[(size_t)(n / group) * g_stride] : 1.0f);
        y[(size_t)n * ldy + c] = __fmul_rn(f, x[(size_t)n * ldx + c]);
    }
}
extern "C" void cuda_row_scale(float *y, int ldy, const float *x, int ldx, const float *g, int g_stride, int group,
                               float s, int N, int C) {
    if (N <= 0 || C <= 0) return;
    row_scale_kernel<<<mm_grid((size_t)N * C, RT), RT>>>(y, ldy, x, ldx, g, g_stride, group, s, N, C);
    CU_LAUNCHED("row_scale");
}

/* one thread per row, c in order: the CPU's sum */
__global__ void row_dot_kernel(float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s,
                               int N, int C) {
    GRID_STRIDE(n, (size_t)N) {
        const float *ar = a + n * lda, *br = b + n * ldb;
        float acc = 0.0f;
        for (int c = 0; c < C; c++) acc = __fadd_rn(acc, __fmul_rn(ar[c], br[c]));
        out[n * ld_out] = __fmul_rn(s, acc);
    }
}
extern "C" void cuda_row_dot(float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s, int N,
                             int C) {
    if (N <= 0) return;
    row_dot_kernel<<<mm_grid((size_t)N, RT), RT>>>(out, ld_out, a, lda, b, ldb, s, N, C);
    CU_LAUNCHED("row_dot");
}

/* one thread per (group, e), the group's rows in order: the CPU's sum, no atomics */
__global__ void group_sum_kernel(float *out, int ld_out, const float *x, int ldx, int N, int E, int group,
                                 int n_groups) {
    GRID_STRIDE(i, (size_t)n_groups * E) {
        const int g = (int)(i / E), e = (int)(i % E);
        const int n0 = group ? g * group : 0, n1 = group ? min(N, n0 + group) : N;
        float acc = out[(size_t)g * ld_out + e];
        for (int n = n0; n < n1; n++) acc = __fadd_rn(acc, x[(size_t)n * ldx + e]);
        out[(size_t)g * ld_out + e] = acc;
    }
}
extern "C" void cuda_group_sum_rows(float *out, int ld_out, const float *x, int ldx, int N, int E, int group) {
    if (N <= 0 || E <= 0) return;
    const int n_groups = group ? (N + group - 1) / group : 1;
    group_sum_kernel<<<mm_grid((size_t)n_groups * E, RT), RT>>>(out, ld_out, x, ldx, N, E, group, n_groups);
    CU_LAUNCHED("group_sum_rows");
}

/* ---------------------------------------------------------------- token router (one thread per row, E <= 16) */
__device__ static void topk_renorm(const float *p, int E, int k, float *w) {
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
    for (int j = 0; j < k; j++) s = __fadd_rn(s, p[sel[j]]);
    for (int e = 0; e < E; e++) w[e] = 0.0f;
    for (int j = 0; j < k; j++) w[sel[j]] = __fdiv_rn(p[sel[j]], s);
}

__global__ void softmax_topk_kernel(float *probs, float *gates, int N, int E, int top_k) {
    GRID_STRIDE(n, (size_t)N) {
        float *p = probs + n * E;
        float mx = p[0], s = 0.0f;
        for (int e = 1; e < E; e++) mx = p[e] > mx ? p[e] : mx;
        for (int e = 0; e < E; e++) { p[e] = expf(p[e] - mx); s = __fadd_rn(s, p[e]); }
        for (int e = 0; e < E; e++) p[e] = __fdiv_rn(p[e], s);
        topk_renorm(p, E, top_k, gates + n * E);
    }
}
extern "C" void cuda_softmax_topk_rows(float *probs, float *gates, int N, int E, int top_k) {
    if (N <= 0) return;
    softmax_topk_kernel<<<mm_grid((size_t)N, RT), RT>>>(probs, gates, N, E, top_k);
    CU_LAUNCHED("softmax_topk_rows");
}

__global__ void softmax_topk_bwd_kernel(float *dlogits, const float *probs, const float *gates, const float *dgates,
                                        int ld_dgates, int N, int E) {
    GRID_STRIDE(n, (size_t)N) {
        const float *p = probs + n * E, *w = gates + n * E, *dw = dgates + n * ld_dgates;
        float s = 0.0f, dot = 0.0f, dp[TOPK_MAX];
        for (int e = 0; e < E; e++)
            if (w[e] != 0.0f) { s = __fadd_rn(s, p[e]); dot = __fadd_rn(dot, __fmul_rn(dw[e], w[e])); }
        for (int e = 0; e < E; e++) dp[e] = (w[e] != 0.0f && s > 0.0f) ? __fdiv_rn(__fsub_rn(dw[e], dot), s) : 0.0f;
        float d2 = 0.0f;
        for (int e = 0; e < E; e++) d2 = __fadd_rn(d2, __fmul_rn(dp[e], p[e]));
        for (int e = 0; e < E; e++) dlogits[n * E + e] = __fmul_rn(p[e], __fsub_rn(dp[e], d2));
    }
}
extern "C" void cuda_softmax_topk_bwd_rows(float *dlogits, const float *probs, const float *gates,
                                           const float *dgates, int ld_dgates, int N, int E) {
    if (N <= 0) return;
    softmax_topk_bwd_kernel<<<mm_grid((size_t)N, RT), RT>>>(dlogits, probs, gates, dgates, ld_dgates, N, E);
    CU_LAUNCHED("softmax_topk_bwd_rows");
}
