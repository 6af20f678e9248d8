/* bf16 building blocks for the CUDA backend (DESIGN §3: bf16 storage for frozen weights, fp32
 * accumulation).  The two linears are the table's linear_fwd_w16 / linear_bwd_dx_w16 (table.cu; kernels.h
 * documents them); the conversions are outside the table.  C-callable, all pointers are device pointers, bf16
 * values are passed as uint16_t (the upper half of an IEEE float).  Rounding fp32 -> bf16 is
 * round-to-nearest-even (NaN stays NaN), as torch's .to(torch.bfloat16). */
#ifndef MMLORA_CUDA_BF16_H
#define MMLORA_CUDA_BF16_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
void mm_cuda_f32_to_bf16(uint16_t *dst, const float *src, size_t n);
/* gemm_lt.cu: MMLORA_CUDA_LT set (and not "0"): the linears' bf16 GEMM goes through cublasLtMatmul instead of
 * cublasGemmEx; row-major C[M,N] (fp32, ldc) = op(A)·op(B) + beta·C with A, B dense bf16; -1 (nothing done) when Lt
 * has no algorithm for the shape */
int mm_cuda_lt_enabled(void);
int mm_cuda_gemm_bf16_lt(int tA, int tB, int M, int N, int K, const void *A, int lda, const void *B, int ldb,
                          float beta, float *C, int ldc);
void mm_cuda_bf16_to_f32(float *dst, const uint16_t *src, size_t n);
/* linear with a frozen bf16 weight W[out, in]: y[N, out] (+)= bf16(x)·Wᵀ + b.  x fp32 (rounded to bf16 on the
 * fly), y and b fp32, fp32 accumulation (cuBLAS bf16 tensor cores).  ldx/ldy row strides, 0 = dense. */
void mm_cuda_linear_fwd_wbf16(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N,
                              int in, int out, int acc);
/* its input gradient (W frozen: no dW): dx[N, in] (+)= bf16(dy)·W */
void mm_cuda_linear_bwd_dx_wbf16(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in,
                                 int out, int acc_dx);
#ifdef __cplusplus
}
#endif
#endif
