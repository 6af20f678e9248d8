/* The trainer's reductions over the trainable buffer (kernels.h: scale, sumsq).  scale is elementwise
 * (__fmul_rn: bit-identical to the CPU).  sumsq is deterministic but not the CPU's order: a fixed grid of
 * SQ_BLOCKS blocks, each thread summing squares in double over a fixed stride, a fixed block tree, then one
 * block summing the partials in a fixed tree; the result is the same on every run and every GPU, and
 * within a few ulp (double) of the CPU's in-order sum.  sumsq returns to the host and so synchronizes. */
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
#include "cuda/reduce.cuh"

#define SQ_THREADS 256
#define SQ_BLOCKS 256

__global__ void scale_kernel(float *x, float s, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fmul_rn(x[i], s);
}
extern "C" void cuda_scale(float *x, float s, size_t n) {
    if (!n) return;
    scale_kernel<<<mm_grid(n, SQ_THREADS), SQ_THREADS>>>(x, s, n);
    CU_LAUNCHED("scale_kernel");
}

/* partial[b] = Σ over i ≡ (b·SQ_THREADS + t) mod (SQ_BLOCKS·SQ_THREADS) of x[i]², fixed tree per block */
__global__ void sumsq_partial_kernel(double *partial, const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)SQ_THREADS + threadIdx.x; i < n; i += (size_t)SQ_BLOCKS * SQ_THREADS)
        s += (double)x[i] * (double)x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}
__global__ void sumsq_final_kernel(double *out, const double *partial) {
    double s = block_sum(partial[threadIdx.x]);
    if (threadIdx.x == 0) *out = s;
}
static_assert(SQ_BLOCKS == SQ_THREADS, "the final kernel reads one partial per thread");

extern "C" double cuda_sumsq(const float *x, size_t n) {
    if (!n) return 0.0;
    double *partial = (double *)mm_cuda_scratch((SQ_BLOCKS + 1) * sizeof(double));
    sumsq_partial_kernel<<<SQ_BLOCKS, SQ_THREADS>>>(partial, x, n);
    CU_LAUNCHED("sumsq_partial_kernel");
    sumsq_final_kernel<<<1, SQ_THREADS>>>(partial + SQ_BLOCKS, partial);
    CU_LAUNCHED("sumsq_final_kernel");
    double r = 0.0;
    CU_CHECK(cudaMemcpy(&r, partial + SQ_BLOCKS, sizeof r, cudaMemcpyDeviceToHost));
    return r;
}
