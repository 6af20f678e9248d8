/* Decoding ops (kernels.h: copy_rows, argmax_rows), the CUDA side of kernels/cpu/decode.c.  Both are exact:
 * copy_rows moves floats, argmax_rows compares them (ties: lowest index; NaN never chosen), so they are
 * bit-identical to the CPU. */
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"

#define RT 256
#define GRID_STRIDE(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void copy_rows_kernel(float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
                                 const int32_t *src_rows, int R, int C) {
    GRID_STRIDE(i, (size_t)R * C) {
        const size_t r = i / C, c = i % C;
        const size_t d = dst_rows ? (size_t)dst_rows[r] : r, s = src_rows ? (size_t)src_rows[r] : r;
        dst[d * lddst + c] = src[s * ldsrc + c];
    }
}
extern "C" void cuda_copy_rows(float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
                               const int32_t *src_rows, int R, int C) {
    if (R <= 0 || C <= 0) return;
    copy_rows_kernel<<<mm_grid((size_t)R * C, RT), RT>>>(dst, lddst, dst_rows, src, ldsrc, src_rows, R, C);
    CU_LAUNCHED("copy_rows");
}

/* (value, index) b beats a: a valid b that is larger, or equal with a lower index */
__device__ __forceinline__ bool beats(float bv, int bi, float av, int ai) {
    return bi >= 0 && (ai < 0 || bv > av || (bv == av && bi < ai));
}

/* one block per row */
__global__ void argmax_rows_kernel(int32_t *out, const float *x, int ldx, int V) {
    __shared__ float sv[RT];
    __shared__ int si[RT];
    const float *v = x + (size_t)blockIdx.x * ldx;
    float bv = 0.0f;
    int bi = -1;
    for (int i = threadIdx.x; i < V; i += RT) {
        const float f = v[i];
        if (f == f && (bi < 0 || f > bv)) { bv = f; bi = i; } /* i ascending: a tie keeps the first */
    }
    sv[threadIdx.x] = bv;
    si[threadIdx.x] = bi;
    __syncthreads();
    for (int s = RT / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s && beats(sv[threadIdx.x + s], si[threadIdx.x + s], sv[threadIdx.x], si[threadIdx.x])) {
            sv[threadIdx.x] = sv[threadIdx.x + s];
            si[threadIdx.x] = si[threadIdx.x + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = si[0] < 0 ? 0 : si[0];
}
extern "C" void cuda_argmax_rows(int32_t *out, const float *x, int ldx, int R, int V) {
    if (R <= 0) return;
    argmax_rows_kernel<<<R, RT>>>(out, x, ldx, V);
    CU_LAUNCHED("argmax_rows");
}
