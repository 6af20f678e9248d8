/* CPU implementations of the ops in kernels/kernels.h (internal: use the mm_kernels_cpu table). */
#ifndef MMLORA_CPU_OPS_H
#define MMLORA_CPU_OPS_H
#include "kernels.h"

void cpu_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void cpu_linear_fwd(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int in,
                    int out, int acc);
void cpu_linear_bwd(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x,
                    int ldx, const float *W, int N, int in, int out, int acc_dx);
void cpu_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                       int N, int C, float eps);
void cpu_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                       const float *mean, const float *rstd, int N, int C);
void cpu_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps);
void cpu_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                     int N, int C);
void cpu_rope(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N, const float *cos_t,
              const float *sin_t, int inverse);
void cpu_swiglu_fwd(float *act, const float *gate, const float *up, size_t n);
void cpu_swiglu_bwd(float *dgate, float *dup, const float *dact, const float *gate, const float *up, size_t n);
/* tanh of the GELU kernels (exposed for its accuracy test) */
float mm_fast_tanhf(float x);
void cpu_gelu_tanh_fwd(float *y, const float *x, size_t n);
void cpu_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n);
void cpu_embedding_fwd(float *y, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                       int N, int C);
void cpu_embedding_bwd(float *dwte, float *dwpe, const float *dy, const int32_t *ids, const int32_t *pos,
                       int N, int C);
void cpu_dropout_fwd(float *y, const float *x, size_t n, mm_dropout d, uint64_t first);
void cpu_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T, int H,
                       int Hkv, int D, mm_dropout attn_drop);
void cpu_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                       const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout attn_drop);
void cpu_attention_rows(float *out, int ldout, const float *q, int ldq, const float *kcache, const float *vcache,
                        const int32_t *seq, const int32_t *pos, int R, int max_len, int H, int Hkv, int D);
void cpu_dropout_bits(uint64_t *bits, size_t n, mm_dropout d, uint64_t first);
void cpu_dropout_apply_bits(float *y, const float *x, size_t n, const uint64_t *bits, float p);
double cpu_xent_fwd_bwd(float *logits, const int32_t *targets, const float *weights, int N, int V, float scale);
void cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
               float eps, float wd, int t);
/* memory (memory.c) */
void *cpu_alloc(size_t bytes);
void cpu_free(void *p);
void cpu_copy(void *dst, const void *src, size_t bytes); /* upload and download */
void cpu_zero(void *p, size_t bytes);
/* expert.c */
void cpu_expert_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A, int N, int in,
                     int r);
void cpu_expert_down_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits, float p, int N,
                           int in, int r);
void cpu_expert_down_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p, const float *A, int N,
                           int in, int r);
/* decode.c */
void cpu_copy_rows(float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
                   const int32_t *src_rows, int R, int C);
void cpu_argmax_rows(int32_t *out, const float *x, int ldx, int R, int V);
/* rows.c */
void cpu_add(float *y, const float *a, const float *b, size_t n);
void cpu_scale(float *x, float s, size_t n);
double cpu_sumsq(const float *x, size_t n);
/* linear_bf16.c */
void cpu_to_bf16(uint16_t *dst, const float *src, size_t n);
void cpu_from_bf16(float *dst, const uint16_t *src, size_t n);
void cpu_linear_fwd_w16(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N, int in,
                        int out, int acc);
void cpu_linear_bwd_dx_w16(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in, int out,
                           int acc_dx);
void cpu_gather_rows(float *dst, const float *src, const int32_t *rows, int R, int C);
void cpu_scatter_rows(float *dst, const float *src, const int32_t *rows, int R, int C);
void cpu_positions(int32_t *pos, int B, int T);
void cpu_row_scale(float *y, int ldy, const float *x, int ldx, const float *g, int g_stride, int group, float s,
                   int N, int C);
void cpu_row_dot(float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s, int N, int C);
void cpu_group_sum_rows(float *out, int ld_out, const float *x, int ldx, int N, int E, int group);
void cpu_softmax_topk_rows(float *probs, float *gates, int N, int E, int top_k);
void cpu_softmax_topk_bwd_rows(float *dlogits, const float *probs, const float *gates, const float *dgates,
                               int ld_dgates, int N, int E);
#endif
