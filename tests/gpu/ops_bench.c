/* Timings of the CUDA op table (fp32) at the model's shapes: StarCoderBase-1B (d 2048, 16 heads, MQA,
 * D 128, vocab 49152) and DeepSeek-Coder-1.3B (16 kv heads), batch 8 × 512 tokens.  Each op: 2 warm-up
 * calls, then the mean of `iters` calls between two device synchronizations.  One line per op. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "cuda/cuda_bf16.h"
#include "cuda/cuda_util.h"
#include "kernels.h"
#include "util/log.h"
#include "util/philox.h"

static const mm_kernels *K;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *host_rand; /* shared random source for uploads */
static size_t host_n;

static float *drand(size_t n, float scale) {
    float *d = mm_cuda_malloc(n * sizeof(float));
    if (!d) {
        fprintf(stderr, "ops_bench: %s\n", mm_last_error());
        exit(3);
    }
    float *h = mm_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = scale * host_rand[i % host_n];
    if (mm_cuda_h2d(d, h, n * sizeof(float))) exit(3);
    free(h);
    return d;
}
static int32_t *dints(size_t n, int mod) {
    int32_t *h = mm_xmalloc(n * sizeof(int32_t)), *d = mm_cuda_malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) h[i] = (int32_t)((i * 2654435761u) % (unsigned)mod);
    if (!d || mm_cuda_h2d(d, h, n * sizeof(int32_t))) exit(3);
    free(h);
    return d;
}

#define TIME(label, iters, call)                                                             \
    do {                                                                                     \
        for (int w_ = 0; w_ < 2; w_++) { call; }                                             \
        if (mm_cuda_sync()) { fprintf(stderr, "%s\n", mm_last_error()); exit(3); }          \
        double t0_ = now();                                                                  \
        for (int i_ = 0; i_ < (iters); i_++) { call; }                                       \
        if (mm_cuda_sync()) { fprintf(stderr, "%s\n", mm_last_error()); exit(3); }          \
        printf("op %-46s %9.3f ms\n", label, (now() - t0_) * 1e3 / (iters));                 \
        fflush(stdout);                                                                      \
    } while (0)

int main(void) {
    char dev[160];
    if (mm_cuda_device_count() <= 0 || !(K = mm_kernels_cuda())) {
        printf("ops_bench: no CUDA device\n");
        return 2;
    }
    printf("ops_bench: %s table on %s\n", K->name, mm_cuda_device_name(dev, sizeof dev));
    host_n = (1u << 20) + 7;
    host_rand = mm_xmalloc(host_n * sizeof(float));
    for (size_t i = 0; i < host_n; i++) host_rand[i] = 2.0f * mm_u32_to_unit(mm_rng_u32(1, 0, 0, i)) - 1.0f;

    const int B = 8, T = 512, N = B * T, C = 2048, F = 8192, H = 16, D = 128, V = 49152;
    char label[96];
    /* linear layers (fp32 cuBLAS) */
    float *x = drand((size_t)N * F, 1), *W = drand((size_t)F * C, 0.02f), *bias = drand(F, 0.1f);
    float *y = drand((size_t)N * F, 1), *dW = drand((size_t)F * C, 0), *db = drand(F, 0);
    TIME("linear_fwd 4096x2048->8192 +bias", 10, K->linear_fwd(y, 0, x, 0, W, bias, N, C, F, 0));
    TIME("linear_bwd 4096x2048->8192 dx,dW,db", 10, K->linear_bwd(x, 0, dW, db, y, 0, x, 0, W, N, C, F, 0));
    uint16_t *Wb = mm_cuda_malloc((size_t)F * C * 2);
    if (!Wb) exit(3);
    mm_cuda_f32_to_bf16(Wb, W, (size_t)F * C);
    TIME("bf16 linear_fwd_wbf16 4096x2048->8192 +bias", 10, mm_cuda_linear_fwd_wbf16(y, 0, x, 0, Wb, bias, N, C, F, 0));
    TIME("bf16 linear_bwd_dx_wbf16 4096x8192->2048", 10, mm_cuda_linear_bwd_dx_wbf16(x, 0, y, 0, Wb, N, C, F, 0));
    setenv("MMLORA_CUDA_LT", "1", 1); /* the same through cublasLtMatmul (kernels/cuda/gemm_lt.cu) */
    TIME("bf16 linear_fwd_wbf16 4096x2048->8192 +bias lt", 10, mm_cuda_linear_fwd_wbf16(y, 0, x, 0, Wb, bias, N, C, F, 0));
    TIME("bf16 linear_bwd_dx_wbf16 4096x8192->2048 lt", 10, mm_cuda_linear_bwd_dx_wbf16(x, 0, y, 0, Wb, N, C, F, 0));
    unsetenv("MMLORA_CUDA_LT");
    mm_cuda_free(Wb);
    TIME("gelu_tanh_fwd 4096x8192", 20, K->gelu_tanh_fwd(y, x, (size_t)N * F));
    TIME("gelu_tanh_bwd 4096x8192", 20, K->gelu_tanh_bwd(y, y, x, (size_t)N * F));
    TIME("swiglu_fwd 4096x5504", 20, K->swiglu_fwd(y, x, y, (size_t)N * 5504));
    mm_dropout dr = {1, 1, mm_rng_stream(0, MM_RNG_RESID_MLP), 0.1f};
    TIME("dropout_fwd 4096x2048 p0.1", 20, K->dropout_fwd(y, x, (size_t)N * C, dr, 0));
    /* norms */
    float *w = drand(C, 1), *mean = drand(N, 0), *rstd = drand(N, 0);
    TIME("layernorm_fwd 4096x2048", 20, K->layernorm_fwd(y, mean, rstd, x, w, bias, N, C, 1e-5f));
    TIME("layernorm_bwd 4096x2048 dx,dw,db", 20, K->layernorm_bwd(y, dW, db, x, x, w, mean, rstd, N, C));
    TIME("rmsnorm_fwd 4096x2048", 20, K->rmsnorm_fwd(y, rstd, x, w, N, C, 1e-6f));
    TIME("rmsnorm_bwd 4096x2048 dx,dw", 20, K->rmsnorm_bwd(y, dW, x, x, w, rstd, N, C));
    int32_t *pos = dints(N, T), *ids = dints(N, V);
    float *cs = drand((size_t)T * D / 2, 1), *sn = drand((size_t)T * D / 2, 1);
    TIME("rope q 4096 rows x 16 heads x 128", 20, K->rope(x, 3 * C, 0, H, D, pos, N, cs, sn, 0));
    float *wte = drand((size_t)V * C, 0.02f), *dwte = drand((size_t)V * C, 0);
    TIME("embedding_fwd 4096x2048", 20, K->embedding_fwd(y, ids, pos, wte, NULL, N, C));
    TIME("embedding_bwd 4096x2048 (serial over rows)", 3, K->embedding_bwd(dwte, NULL, x, ids, pos, N, C));
    mm_cuda_free(wte);
    mm_cuda_free(dwte);
    /* attention */
    const int hkvs[2] = {1, 16};
    float *probs = drand((size_t)B * H * T * T, 0);
    for (int k = 0; k < 2; k++) {
        const int Hkv = hkvs[k], width = (H + 2 * Hkv) * D;
        float *qkv = drand((size_t)N * width, 1), *dqkv = drand((size_t)N * width, 0);
        float *out = drand((size_t)N * H * D, 0);
        for (int pd = 0; pd < 2; pd++) {
            mm_dropout ad = {7, 1, mm_rng_stream(0, MM_RNG_ATTN_PROBS), pd ? 0.1f : 0.0f};
            snprintf(label, sizeof label, "attention_fwd B8 T512 H16 Hkv%d D128 p%.1f", Hkv, ad.p);
            TIME(label, 5, K->attention_fwd(out, H * D, probs, qkv, width, B, T, H, Hkv, D, ad));
            snprintf(label, sizeof label, "attention_bwd B8 T512 H16 Hkv%d D128 p%.1f", Hkv, ad.p);
            TIME(label, 5, K->attention_bwd(dqkv, out, H * D, qkv, width, probs, B, T, H, Hkv, D, ad));
        }
        /* decoding: 8 rows against a 512-long cache */
        int32_t *seq = dints(B, B), *rpos = dints(B, T);
        snprintf(label, sizeof label, "attention_rows R8 len<=512 H16 Hkv%d D128", Hkv);
        TIME(label, 50, K->attention_rows(out, H * D, qkv, width, qkv, qkv, seq, rpos, B, T, H, Hkv, D));
        mm_cuda_free(seq);
        mm_cuda_free(rpos);
        mm_cuda_free(qkv);
        mm_cuda_free(dqkv);
        mm_cuda_free(out);
    }
    mm_cuda_free(probs);
    /* the benchmark's shape (StarCoderBase-1B, batch 24 x 288, MQA, attention dropout 0.1) with each attention driver
     * (kernels/cuda/attention.cu: batched in chunks, the default, or one sequence at a time) */
    {
        const int B1 = 24, T1 = 288, width = (H + 2) * D;
        float *qkv = drand((size_t)B1 * T1 * width, 1), *dqkv = drand((size_t)B1 * T1 * width, 0);
        float *out = drand((size_t)B1 * T1 * H * D, 0), *pr = drand((size_t)B1 * H * T1 * T1, 0);
        mm_dropout ad = {7, 1, mm_rng_stream(0, MM_RNG_ATTN_PROBS), 0.1f};
        for (int loop = 0; loop < 2; loop++) {
            if (loop) setenv("MMLORA_CUDA_ATTN", "loop", 1);
            snprintf(label, sizeof label, "attention_fwd B24 T288 H16 Hkv1 D128 p0.1 %s", loop ? "loop" : "batched");
            TIME(label, 5, K->attention_fwd(out, H * D, pr, qkv, width, B1, T1, H, 1, D, ad));
            snprintf(label, sizeof label, "attention_bwd B24 T288 H16 Hkv1 D128 p0.1 %s", loop ? "loop" : "batched");
            TIME(label, 5, K->attention_bwd(dqkv, out, H * D, qkv, width, pr, B1, T1, H, 1, D, ad));
        }
        unsetenv("MMLORA_CUDA_ATTN");
        mm_cuda_free(qkv), mm_cuda_free(dqkv), mm_cuda_free(out), mm_cuda_free(pr);
    }
    /* the experts' ops at the MLP projection's shape (4096 x 8192 inputs, ranks 8, 16, 32, dropout 0.1), fused (the
     * default) and unfused (MMLORA_CUDA_EXPERT=unfused: dropped input materialized, cuBLAS) */
    {
        const size_t nx = (size_t)N * F, words = (nx + 63) / 64;
        uint64_t *bits = mm_cuda_malloc(words * sizeof(uint64_t));
        float *A = drand((size_t)32 * F, 0.02f), *u = drand((size_t)N * 32, 0), *dA = drand((size_t)32 * F, 0);
        if (!bits) { fprintf(stderr, "%s\n", mm_last_error()); exit(3); }
        K->dropout_bits(bits, nx, (mm_dropout){7, 1, 3, 0.1f}, 0);
        for (int un = 0; un < 2; un++) {
            if (un) setenv("MMLORA_CUDA_EXPERT", "unfused", 1);
            for (int r = 8; r <= 32; r *= 2) {
                const char *mode = un ? "unfused" : "fused";
                snprintf(label, sizeof label, "expert_down 4096x8192 r%d %s", r, mode);
                TIME(label, 10, K->expert_down(u, r, x, bits, 0.1f, A, N, F, r));
                snprintf(label, sizeof label, "expert_down_bwd_a 4096x8192 r%d %s", r, mode);
                TIME(label, 10, K->expert_down_bwd_a(dA, u, r, x, bits, 0.1f, N, F, r));
                snprintf(label, sizeof label, "expert_down_bwd_x 4096x8192 r%d %s", r, mode);
                TIME(label, 10, K->expert_down_bwd_x(y, u, r, bits, 0.1f, A, N, F, r));
            }
        }
        unsetenv("MMLORA_CUDA_EXPERT");
        mm_cuda_free(bits), mm_cuda_free(A), mm_cuda_free(u), mm_cuda_free(dA);
    }
    /* loss and optimizer */
    mm_cuda_free(x);
    mm_cuda_free(y);
    float *logits = drand((size_t)N * V, 4);
    int32_t *tgt = dints(N, V);
    TIME("xent_fwd_bwd 4096x49152", 5, K->xent_fwd_bwd(logits, tgt, NULL, N, V, 1.0f / N));
    mm_cuda_free(logits);
    const size_t np = 25u << 20; /* ~ the LoRA r=32 trainable count of the two models */
    float *p = drand(np, 1), *g = drand(np, 1), *m = drand(np, 0), *v = drand(np, 0);
    TIME("adamw 26M params", 20, K->adamw(p, g, m, v, np, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
    return 0;
}
