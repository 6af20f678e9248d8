/* Masked softmax cross-entropy, one block per row, logits overwritten by dlogits.  Formulas as in
 * cpu_xent_fwd_bwd: float max, double Σ exp, lse in double; dlogits = expf(l − max)·(1/Σ)·w·scale − onehot.
 * Per-row losses go to scratch and are summed by one block in a fixed order (deterministic); the call
 * returns after copying that one double back (it synchronizes the default stream). */
#include <math.h>
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
#include "cuda/reduce.cuh"

#define XENT_THREADS 1024

__global__ void xent_rows_kernel(float *logits, double *row_loss, const int32_t *targets, const float *weights,
                                 int V, float scale) {
    const size_t n = blockIdx.x;
    float *l = logits + n * V;
    const float w = weights ? weights[n] : 1.0f;
    if (w == 0.0f) {
        for (int v = threadIdx.x; v < V; v += blockDim.x) l[v] = 0.0f;
        if (threadIdx.x == 0) row_loss[n] = 0.0;
        return; /* uniform across the block: no barrier is skipped by only some threads */
    }
    const int tgt = targets[n];
    float mx = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, l[v]);
    mx = block_max(mx);
    double s = 0.0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) s += exp((double)(l[v] - mx));
    s = block_sum(s);
    const float lt = l[tgt]; /* read before anyone overwrites it: block_sum ended with a barrier */
    __syncthreads();
    if (threadIdx.x == 0) row_loss[n] = (double)w * (((double)mx + log(s)) - (double)lt);
    const float inv = (float)(1.0 / s), ws = w * scale;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float d = expf(l[v] - mx) * inv * ws;
        l[v] = v == tgt ? d - ws : d;
    }
}

__global__ void sum_rows_kernel(double *out, const double *row_loss, int N) {
    double s = 0.0;
    for (int n = threadIdx.x; n < N; n += blockDim.x) s += row_loss[n];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = s;
}

extern "C" double cuda_xent_fwd_bwd(float *logits, const int32_t *targets, const float *weights, int N, int V,
                                    float scale) {
    if (N <= 0) return 0.0;
    double *scr = (double *)mm_cuda_scratch(((size_t)N + 1) * sizeof(double));
    xent_rows_kernel<<<(unsigned)N, XENT_THREADS>>>(logits, scr + 1, targets, weights, V, scale);
    CU_LAUNCHED("xent_rows_kernel");
    sum_rows_kernel<<<1, 1024>>>(scr, scr + 1, N);
    CU_LAUNCHED("sum_rows_kernel");
    double total = 0.0;
    CU_CHECK(cudaMemcpy(&total, scr, sizeof(double), cudaMemcpyDeviceToHost));
    return total;
}
