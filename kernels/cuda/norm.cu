/* LayerNorm, RMSNorm and deterministic column sums.  One block per row; row statistics are accumulated in
 * double like the CPU backend, so results match it to a few ulp. */
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
#include "cuda/reduce.cuh"

#define ROW_THREADS 256
#define COLSUM_ROWS 64 /* rows per partial sum (more when N > 64·65535): a function of N only, so the
                        * summation order never depends on the device */

__global__ void layernorm_fwd_kernel(float *y, float *mean, float *rstd, const float *x, const float *w,
                                     const float *b, int C, float eps) {
    const size_t n = blockIdx.x;
    const float *xr = x + n * C;
    float *yr = y + n * C;
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += xr[c];
    s = block_sum(s);
    const float mu = (float)(s / C);
    double v = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        double d = (double)xr[c] - mu;
        v += d * d;
    }
    v = block_sum(v);
    const float rs = (float)(1.0 / sqrt(v / C + (double)eps));
    for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = (xr[c] - mu) * rs * w[c] + (b ? b[c] : 0.0f);
    if (threadIdx.x == 0) {
        if (mean) mean[n] = mu;
        if (rstd) rstd[n] = rs;
    }
}

__global__ void layernorm_bwd_dx_kernel(float *dx, const float *dy, const float *x, const float *w,
                                        const float *mean, const float *rstd, int C) {
    const size_t n = blockIdx.x;
    const float *xr = x + n * C, *dyr = dy + n * C;
    float *dxr = dx + n * C;
    const float mu = mean[n], rs = rstd[n];
    double s1 = 0.0, s2 = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float xh = (xr[c] - mu) * rs;
        float g = dyr[c] * w[c];
        s1 += g;
        s2 += (double)g * xh;
    }
    s1 = block_sum(s1);
    s2 = block_sum(s2);
    const float m1 = (float)(s1 / C), m2 = (float)(s2 / C);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float xh = (xr[c] - mu) * rs;
        dxr[c] += (dyr[c] * w[c] - m1 - xh * m2) * rs;
    }
}

__global__ void rmsnorm_fwd_kernel(float *y, float *rstd, const float *x, const float *w, int C, float eps) {
    const size_t n = blockIdx.x;
    const float *xr = x + n * C;
    float *yr = y + n * C;
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += (double)xr[c] * xr[c];
    s = block_sum(s);
    const float rs = (float)(1.0 / sqrt(s / C + (double)eps));
    for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = w[c] * (xr[c] * rs);
    if (threadIdx.x == 0 && rstd) rstd[n] = rs;
}

/* x̂ = x·r, y = w ⊙ x̂:  dx = r·(g − x̂·mean(g ⊙ x̂)) with g = dy ⊙ w */
__global__ void rmsnorm_bwd_dx_kernel(float *dx, const float *dy, const float *x, const float *w,
                                      const float *rstd, int C) {
    const size_t n = blockIdx.x;
    const float *xr = x + n * C, *dyr = dy + n * C;
    float *dxr = dx + n * C;
    const float rs = rstd[n];
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += (double)(dyr[c] * w[c]) * (xr[c] * rs);
    s = block_sum(s);
    const float m = (float)(s / C);
    for (int c = threadIdx.x; c < C; c += blockDim.x) dxr[c] += (dyr[c] * w[c] - (xr[c] * rs) * m) * rs;
}

/* partial[chunk, c] = Σ_{n in chunk} f(n, c) */
__global__ void colsum_partial_kernel(double *partial, int kind, const float *dy, int lddy, const float *x,
                                      const float *mean, const float *rstd, int N, int C, int rows) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const int n0 = blockIdx.y * rows, n1 = min(N, n0 + rows);
    double s = 0.0;
    for (int n = n0; n < n1; n++) {
        float g = dy[(size_t)n * lddy + c];
        if (kind == COLSUM_PLAIN) s += g;
        else if (kind == COLSUM_LN_DW) s += (double)g * ((x[(size_t)n * C + c] - mean[n]) * rstd[n]);
        else s += (double)g * (x[(size_t)n * C + c] * rstd[n]);
    }
    partial[(size_t)blockIdx.y * C + c] = s;
}

__global__ void colsum_final_kernel(float *out, const double *partial, int chunks, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s += partial[(size_t)k * C + c];
    out[c] += (float)s;
}

void cuda_colsum(float *out, int kind, const float *dy, int lddy, const float *x, const float *mean,
                 const float *rstd, int N, int C) {
    if (N <= 0 || C <= 0) return;
    int rows = COLSUM_ROWS;
    while ((N + rows - 1) / rows > 65535) rows *= 2; /* gridDim.y limit */
    const int chunks = (N + rows - 1) / rows;
    double *partial = (double *)mm_cuda_scratch((size_t)chunks * C * sizeof(double));
    dim3 grid((unsigned)((C + 127) / 128), (unsigned)chunks);
    colsum_partial_kernel<<<grid, 128>>>(partial, kind, dy, lddy, x, mean, rstd, N, C, rows);
    CU_LAUNCHED("colsum_partial_kernel");
    colsum_final_kernel<<<(unsigned)((C + 127) / 128), 128>>>(out, partial, chunks, C);
    CU_LAUNCHED("colsum_final_kernel");
}

extern "C" void cuda_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w,
                                   const float *b, int N, int C, float eps) {
    if (N <= 0) return;
    layernorm_fwd_kernel<<<(unsigned)N, ROW_THREADS>>>(y, mean, rstd, x, w, b, C, eps);
    CU_LAUNCHED("layernorm_fwd_kernel");
}

extern "C" void cuda_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                   const float *mean, const float *rstd, int N, int C) {
    if (N <= 0) return;
    layernorm_bwd_dx_kernel<<<(unsigned)N, ROW_THREADS>>>(dx, dy, x, w, mean, rstd, C);
    CU_LAUNCHED("layernorm_bwd_dx_kernel");
    if (dw) cuda_colsum(dw, COLSUM_LN_DW, dy, C, x, mean, rstd, N, C);
    if (db) cuda_colsum(db, COLSUM_PLAIN, dy, C, NULL, NULL, NULL, N, C);
}

extern "C" void cuda_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps) {
    if (N <= 0) return;
    rmsnorm_fwd_kernel<<<(unsigned)N, ROW_THREADS>>>(y, rstd, x, w, C, eps);
    CU_LAUNCHED("rmsnorm_fwd_kernel");
}

extern "C" void cuda_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w,
                                 const float *rstd, int N, int C) {
    if (N <= 0) return;
    rmsnorm_bwd_dx_kernel<<<(unsigned)N, ROW_THREADS>>>(dx, dy, x, w, rstd, C);
    CU_LAUNCHED("rmsnorm_bwd_dx_kernel");
    if (dw) cuda_colsum(dw, COLSUM_RMS_DW, dy, C, x, NULL, rstd, N, C);
}
