/* GEMM and linear layers on OpenBLAS sgemm. */
#include <cblas.h>
#include <string.h>
#include "cpu/cpu_ops.h"

void cpu_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void cpu_linear_fwd(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int in,
                    int out, int acc) {
    if (N <= 0) return;
    if (!ldx) ldx = in;
    if (!ldy) ldy = out;
    float beta = acc ? 1.0f : 0.0f;
    if (b) {
        if (!acc) {
            for (int n = 0; n < N; n++) memcpy(y + (size_t)n * ldy, b, (size_t)out * sizeof(float));
        } else {
            for (int n = 0; n < N; n++) {
                float *yr = y + (size_t)n * ldy;
                for (int o = 0; o < out; o++) yr[o] += b[o];
            }
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, ldx, W, in, beta, y, ldy);
}

void cpu_linear_bwd(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x,
                    int ldx, const float *W, int N, int in, int out, int acc_dx) {
    if (N <= 0) return;
    if (!lddx) lddx = in;
    if (!lddy) lddy = out;
    if (!ldx) ldx = in;
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, lddy, W, in,
                    acc_dx ? 1.0f : 0.0f, dx, lddx);
    if (dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, lddy, x, ldx, 1.0f, dW, in);
    if (db) {
        for (int n = 0; n < N; n++) {
            const float *r = dy + (size_t)n * lddy;
            for (int o = 0; o < out; o++) db[o] += r[o];
        }
    }
}
