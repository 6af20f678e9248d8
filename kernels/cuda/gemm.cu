/* GEMM and linear layers on cuBLAS (fp32).  Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ,
 * and a row-major matrix with leading dimension ld is its column-major transpose with the same ld, so every
 * call swaps the operands (and M/N) and keeps the transpose flags. */
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"

extern "C" void cuda_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    CUBLAS_CHECK(cublasSgemm(mm_cublas(), transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                             N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

/* y[n, o] = b[o] (acc = 0) or y[n, o] += b[o] (acc = 1) */
__global__ void bias_rows_kernel(float *y, int ldy, const float *b, int N, int out, int acc) {
    size_t total = (size_t)N * out;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / out, o = i % out;
        float *p = y + n * ldy + o;
        *p = acc ? *p + b[o] : b[o];
    }
}

void cuda_bias_rows(float *y, int ldy, const float *b, int N, int out, int acc) {
    bias_rows_kernel<<<mm_grid((size_t)N * out, 256), 256>>>(y, ldy, b, N, out, acc);
    CU_LAUNCHED("bias_rows_kernel");
}

extern "C" void cuda_linear_fwd(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N,
                                int in, int out, int acc) {
    if (N <= 0) return;
    if (!ldx) ldx = in;
    if (!ldy) ldy = out;
    float beta = acc ? 1.0f : 0.0f;
    if (b) {
        cuda_bias_rows(y, ldy, b, N, out, acc);
        beta = 1.0f;
    }
    cuda_gemm(0, 1, N, out, in, 1.0f, x, ldx, W, in, beta, y, ldy);
}

extern "C" void cuda_linear_bwd(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x,
                                int ldx, const float *W, int N, int in, int out, int acc_dx) {
    if (N <= 0) return;
    if (!lddx) lddx = in;
    if (!lddy) lddy = out;
    if (!ldx) ldx = in;
    if (dx) cuda_gemm(0, 0, N, in, out, 1.0f, dy, lddy, W, in, acc_dx ? 1.0f : 0.0f, dx, lddx);
    if (dW) cuda_gemm(1, 0, out, in, N, 1.0f, dy, lddy, x, ldx, 1.0f, dW, in);
    if (db) cuda_colsum(db, COLSUM_PLAIN, dy, lddy, NULL, NULL, NULL, N, out);
}
