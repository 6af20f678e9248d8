/* bf16 conversions and linear layers with frozen bf16 weights (see cuda_bf16.h; the linears are the table's
 * linear_fwd_w16 / linear_bwd_dx_w16).  Activations are rounded to bf16 into scratch (dense rows), then one
 * cublasGemmEx with bf16 A/B, fp32 C and fp32 compute (MMLORA_CUDA_LT=1: cublasLtMatmul, gemm_lt.cu). */
#include <cuda_bf16.h>
#include "cuda/cuda_bf16.h"
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"

#define GRID_STRIDE(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* rows [R, C] of stride ld -> dense bf16 [R, C] */
__global__ void f32_to_bf16_rows_kernel(__nv_bfloat16 *dst, const float *src, int ld, int R, int C) {
    const size_t total = (size_t)R * C;
    GRID_STRIDE(k, total) dst[k] = __float2bfloat16_rn(src[(k / C) * ld + k % C]);
}
__global__ void bf16_to_f32_kernel(float *dst, const __nv_bfloat16 *src, size_t n) {
    GRID_STRIDE(i, n) dst[i] = __bfloat162float(src[i]);
}

static void to_bf16_rows(__nv_bfloat16 *dst, const float *src, int ld, int R, int C) {
    f32_to_bf16_rows_kernel<<<mm_grid((size_t)R * C, 256), 256>>>(dst, src, ld, R, C);
    CU_LAUNCHED("f32_to_bf16_rows_kernel");
}

extern "C" void mm_cuda_f32_to_bf16(uint16_t *dst, const float *src, size_t n) {
    if (!n) return;
    /* one "row" per 2^30 elements keeps the int row count in range */
    const size_t chunk = (size_t)1 << 30;
    for (size_t o = 0; o < n; o += chunk) {
        int c = (int)(n - o < chunk ? n - o : chunk);
        to_bf16_rows((__nv_bfloat16 *)dst + o, src + o, c, 1, c);
    }
}

extern "C" void mm_cuda_bf16_to_f32(float *dst, const uint16_t *src, size_t n) {
    if (!n) return;
    bf16_to_f32_kernel<<<mm_grid(n, 256), 256>>>(dst, (const __nv_bfloat16 *)src, n);
    CU_LAUNCHED("bf16_to_f32_kernel");
}

/* row-major C[M,N] (fp32, ldc) = alpha·op(A)·op(B) + beta·C with A, B dense bf16 */
static void gemm_bf16(int tA, int tB, int M, int N, int K, const __nv_bfloat16 *A, int lda, const __nv_bfloat16 *B,
                      int ldb, float beta, float *C, int ldc) {
    /* the cuBLASLt variant (gemm_lt.cu), unless it has no algorithm for the shape */
    if (mm_cuda_lt_enabled() && mm_cuda_gemm_bf16_lt(tA, tB, M, N, K, A, lda, B, ldb, beta, C, ldc) == 0) return;
    const float alpha = 1.0f;
    CUBLAS_CHECK(cublasGemmEx(mm_cublas(), tB ? CUBLAS_OP_T : CUBLAS_OP_N, tA ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                              &alpha, B, CUDA_R_16BF, ldb, A, CUDA_R_16BF, lda, &beta, C, CUDA_R_32F, ldc,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

extern "C" void mm_cuda_linear_fwd_wbf16(float *y, int ldy, const float *x, int ldx, const uint16_t *W,
                                         const float *b, int N, int in, int out, int acc) {
    if (N <= 0) return;
    if (!ldx) ldx = in;
    if (!ldy) ldy = out;
    __nv_bfloat16 *xb = (__nv_bfloat16 *)mm_cuda_scratch((size_t)N * in * sizeof(__nv_bfloat16));
    to_bf16_rows(xb, x, ldx, N, in);
    float beta = acc ? 1.0f : 0.0f;
    if (b) {
        cuda_bias_rows(y, ldy, b, N, out, acc);
        beta = 1.0f;
    }
    gemm_bf16(0, 1, N, out, in, xb, in, (const __nv_bfloat16 *)W, in, beta, y, ldy);
}

extern "C" void mm_cuda_linear_bwd_dx_wbf16(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N,
                                            int in, int out, int acc_dx) {
    if (N <= 0 || !dx) return;
    if (!lddx) lddx = in;
    if (!lddy) lddy = out;
    __nv_bfloat16 *dyb = (__nv_bfloat16 *)mm_cuda_scratch((size_t)N * out * sizeof(__nv_bfloat16));
    to_bf16_rows(dyb, dy, lddy, N, out);
    gemm_bf16(0, 0, N, in, out, dyb, out, (const __nv_bfloat16 *)W, in, acc_dx ? 1.0f : 0.0f, dx, lddx);
}
