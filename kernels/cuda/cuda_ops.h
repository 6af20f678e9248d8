/* CUDA implementations of the ops in kernels/kernels.h (internal: use mm_kernels_cuda()).  Same
 * semantics as the CPU backend (kernels/cpu/), fp32 on the device; every pointer is a device pointer.
 * All work is queued on the legacy default stream; only xent_fwd_bwd (which returns the loss) waits. */
#ifndef MMLORA_CUDA_OPS_H
#define MMLORA_CUDA_OPS_H
/* kernels.h has no extern "C" guard of its own: include it with C linkage so mm_kernels_cuda() matches */
#ifdef __cplusplus
extern "C" {
#endif
#include "kernels.h"
#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
void cuda_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
void cuda_linear_fwd(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int in,
                     int out, int acc);
void cuda_linear_bwd(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x,
                     int ldx, const float *W, int N, int in, int out, int acc_dx);
void cuda_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                        int N, int C, float eps);
void cuda_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                        const float *mean, const float *rstd, int N, int C);
void cuda_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps);
void cuda_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                      int N, int C);
void cuda_rope(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N, const float *cos_t,
               const float *sin_t, int inverse);
void cuda_swiglu_fwd(float *act, const float *gate, const float *up, size_t n);
void cuda_swiglu_bwd(float *dgate, float *dup, const float *dact, const float *gate, const float *up, size_t n);
void cuda_gelu_tanh_fwd(float *y, const float *x, size_t n);
void cuda_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n);
void cuda_embedding_fwd(float *y, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                        int N, int C);
void cuda_embedding_bwd(float *dwte, float *dwpe, const float *dy, const int32_t *ids, const int32_t *pos,
                        int N, int C);
void cuda_dropout_fwd(float *y, const float *x, size_t n, mm_dropout d, uint64_t first);
void cuda_dropout_bits(uint64_t *bits, size_t n, mm_dropout d, uint64_t first);
void cuda_dropout_apply_bits(float *y, const float *x, size_t n, const uint64_t *bits, float p);
void cuda_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T, int H,
                        int Hkv, int D, mm_dropout attn_drop);
void cuda_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                        const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout attn_drop);
void cuda_attention_rows(float *out, int ldout, const float *q, int ldq, const float *kcache, const float *vcache,
                         const int32_t *seq, const int32_t *pos, int R, int max_len, int H, int Hkv, int D);
double cuda_xent_fwd_bwd(float *logits, const int32_t *targets, const float *weights, int N, int V, float scale);
void cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                float eps, float wd, int t);
/* rows.cu: memory and the small row ops */
void *cuda_alloc(size_t bytes);
void cuda_free(void *p);
void cuda_upload(void *dst, const void *src, size_t bytes);
void cuda_download(void *dst, const void *src, size_t bytes);
void cuda_zero(void *p, size_t bytes);
void cuda_add(float *y, const float *a, const float *b, size_t n);
void cuda_scale(float *x, float s, size_t n);  /* optim.cu */
double cuda_sumsq(const float *x, size_t n);
void cuda_gather_rows(float *dst, const float *src, const int32_t *rows, int R, int C);
void cuda_scatter_rows(float *dst, const float *src, const int32_t *rows, int R, int C);
void cuda_positions(int32_t *pos, int B, int T);
void cuda_copy_rows(float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
                    const int32_t *src_rows, int R, int C); /* decode.cu */
void cuda_argmax_rows(int32_t *out, const float *x, int ldx, int R, int V);
/* expert.cu: the unfused path (dropout_apply_bits into scratch + cuBLAS) behind the fused-op interface */
void cuda_expert_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A, int N, int in,
                      int r);
void cuda_expert_down_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits, float p, int N,
                            int in, int r);
void cuda_expert_down_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p, const float *A, int N,
                            int in, int r);
void cuda_row_scale(float *y, int ldy, const float *x, int ldx, const float *g, int g_stride, int group, float s,
                    int N, int C);
void cuda_row_dot(float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s, int N, int C);
void cuda_group_sum_rows(float *out, int ld_out, const float *x, int ldx, int N, int E, int group);
void cuda_softmax_topk_rows(float *probs, float *gates, int N, int E, int top_k);
void cuda_softmax_topk_bwd_rows(float *dlogits, const float *probs, const float *gates, const float *dgates,
                                int ld_dgates, int N, int E);
#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
/* out[c] += Σ_n f(n, c) for c < C, deterministic (fixed chunking, double partials, fixed summation order).
 * Declared here, defined in norm.cu; `kind` selects f (see enum). */
/* y[n, :] = b (acc 0) or += b (acc 1), rows of stride ldy (gemm.cu) */
void cuda_bias_rows(float *y, int ldy, const float *b, int N, int out, int acc);
enum { COLSUM_PLAIN = 0, COLSUM_LN_DW = 1, COLSUM_RMS_DW = 2 };
void cuda_colsum(float *out, int kind, const float *dy, int lddy, const float *x, const float *mean,
                 const float *rstd, int N, int C);
#endif
#endif
