/* The experts' fused-dropout down-projection ops (kernels.h: expert_down, expert_down_bwd_a, expert_down_bwd_x).
 *
 * Fused (default, for a dropout mask and ranks r <= 32): the dropped input h = x ⊙ keep / (1 − p) is formed in
 * registers and never written out, so each op reads x (or writes dx) once.  An expert's down-projection is a skinny
 * GEMM (r columns) bound by memory, and with several experts per module each drawing its own mask (MMLoRA: five)
 * the unfused passes (h written, read back; dh written, masked, added) would be most of a step's memory traffic.
 *   expert_down        one warp per two rows, lanes over the columns (coalesced), A staged in shared memory by
 *                      column chunks, r partial sums per row and lane, warp-reduced;
 *   expert_down_bwd_a  rows split into fixed chunks: one thread per column sums its chunk's rows (du staged in
 *                      shared memory), partials per chunk, then summed in chunk order into dA (deterministic);
 *   expert_down_bwd_x  one thread per column over a block of rows: A's column in registers, du's rows in shared
 *                      memory, the r-term dot product masked and added (dx read and written once).
 * Unfused (MMLORA_CUDA_EXPERT=unfused, ranks above 32, or no mask): dropout_apply_bits into scratch + cuBLAS.
 * Both are checked against the CPU (tests/gpu/parity_rows.c) and timed (tests/gpu/ops_bench.c). */
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
#include "cuda/reduce.cuh"

#define FUSED_MAX_R 32
#define DOWN_WARPS 16  /* warps per block of expert_down, two rows each */
#define DOWN_ROWS (2 * DOWN_WARPS)
#define DOWN_CHUNK 256 /* columns of A staged at a time */
#define BWDA_THREADS 128
#define BWDA_ROWS 256  /* rows per partial sum of expert_down_bwd_a (du staged: 32 KiB at rank 32) */
#define BWDX_THREADS 128
#define BWDX_ROWS 32   /* rows per block of expert_down_bwd_x */
/* grid.y of the two backward kernels (row chunks) is capped: the kernels loop over the chunks beyond it (a launch
 * with grid.y > 65535 is invalid: N > 2,097,120 rows for bwd_x).  The CPU emulator builds with a cap of 3, so
 * the loop runs at test sizes (tests/cuda_emu). */
#ifndef MM_CUDA_MAX_GRID_Y
#define MM_CUDA_MAX_GRID_Y 65535
#endif
static unsigned grid_y(int chunks) { return (unsigned)(chunks < MM_CUDA_MAX_GRID_Y ? chunks : MM_CUDA_MAX_GRID_Y); }

static int fused(const uint64_t *bits, int r) {
    if (!bits || r > FUSED_MAX_R) return 0;
    const char *e = getenv("MMLORA_CUDA_EXPERT");
    return !(e && !strcmp(e, "unfused"));
}

__device__ __forceinline__ float dropped(const float *x, const uint64_t *bits, size_t i, float scale) {
    return ((bits[i >> 6] >> (i & 63)) & 1) ? x[i] * scale : 0.0f;
}

/* rows n0 + 2·warp and the next one per warp (two rows share every staged chunk of A and halve its reloads) */
__global__ void expert_down_fused_kernel(float *u, int ldu, const float *x, const uint64_t *bits, float scale,
                                         const float *A, int N, int in, int r) {
    __shared__ float sA[FUSED_MAX_R * DOWN_CHUNK];
    const int lane = threadIdx.x & 31, n0 = blockIdx.x * DOWN_ROWS + 2 * (threadIdx.x >> 5);
    float acc[2][FUSED_MAX_R];
#pragma unroll
    for (int j = 0; j < FUSED_MAX_R; j++) acc[0][j] = acc[1][j] = 0.0f;
    for (int c0 = 0; c0 < in; c0 += DOWN_CHUNK) {
        const int cw = in - c0 < DOWN_CHUNK ? in - c0 : DOWN_CHUNK;
        __syncthreads(); /* the previous chunk is no longer read */
        for (int t = threadIdx.x; t < r * cw; t += blockDim.x)
            sA[(t / cw) * DOWN_CHUNK + t % cw] = A[(size_t)(t / cw) * in + c0 + t % cw];
        __syncthreads();
        for (int c = lane; c < cw; c += 32) {
            const float h0 = n0 < N ? dropped(x, bits, (size_t)n0 * in + c0 + c, scale) : 0.0f;
            const float h1 = n0 + 1 < N ? dropped(x, bits, (size_t)(n0 + 1) * in + c0 + c, scale) : 0.0f;
#pragma unroll
            for (int j = 0; j < FUSED_MAX_R; j++)
                if (j < r) {
                    const float a = sA[j * DOWN_CHUNK + c];
                    acc[0][j] += h0 * a;
                    acc[1][j] += h1 * a;
                }
        }
    }
#pragma unroll
    for (int j = 0; j < FUSED_MAX_R; j++)
        if (j < r) { /* r is the same for the whole warp: every lane takes part in the shuffles */
            const float v0 = warp_sum(acc[0][j]), v1 = warp_sum(acc[1][j]);
            if (lane == 0 && n0 < N) u[(size_t)n0 * ldu + j] = v0;
            if (lane == 0 && n0 + 1 < N) u[(size_t)(n0 + 1) * ldu + j] = v1;
        }
}

/* part[s][j][c] = Σ_{n in chunk s} du[n, j]·h[n, c]; chunks s = blockIdx.y, + gridDim.y, ... (grid.y is capped) */
__global__ void expert_bwd_a_partial_kernel(float *part, const float *du, int lddu, const float *x, const uint64_t *bits,
                                            float scale, int N, int in, int r) {
    __shared__ float sdu[BWDA_ROWS * FUSED_MAX_R];
    const int c = blockIdx.x * BWDA_THREADS + threadIdx.x, chunks = (N + BWDA_ROWS - 1) / BWDA_ROWS;
    for (int s = blockIdx.y; s < chunks; s += gridDim.y) {
        const int n0 = s * BWDA_ROWS, rows = N - n0 < BWDA_ROWS ? N - n0 : BWDA_ROWS;
        __syncthreads(); /* the previous chunk's du is no longer read */
        for (int t = threadIdx.x; t < rows * r; t += blockDim.x) sdu[t] = du[(size_t)(n0 + t / r) * lddu + t % r];
        __syncthreads();
        if (c >= in) continue; /* every thread stays for the barriers */
        float acc[FUSED_MAX_R];
#pragma unroll
        for (int j = 0; j < FUSED_MAX_R; j++) acc[j] = 0.0f;
        for (int k = 0; k < rows; k++) {
            const float h = dropped(x, bits, (size_t)(n0 + k) * in + c, scale);
#pragma unroll
            for (int j = 0; j < FUSED_MAX_R; j++)
                if (j < r) acc[j] += sdu[k * r + j] * h;
        }
        float *p = part + (size_t)s * r * in;
#pragma unroll
        for (int j = 0; j < FUSED_MAX_R; j++)
            if (j < r) p[(size_t)j * in + c] = acc[j];
    }
}

/* dA[i] += Σ_s part[s][i] for i < r·in, s in order */
__global__ void expert_bwd_a_sum_kernel(float *dA, const float *part, size_t n, int chunks) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int k = 0; k < chunks; k++) s += part[(size_t)k * n + i];
        dA[i] += s;
    }
}

/* one thread per column c over BWDX_ROWS rows: A's column in registers, du's rows in shared memory; row blocks
 * blockIdx.y, + gridDim.y, ... (grid.y is capped) */
__global__ void expert_bwd_x_fused_kernel(float *dx, const float *du, int lddu, const uint64_t *bits, float scale,
                                          const float *A, int N, int in, int r) {
    __shared__ float sdu[BWDX_ROWS * FUSED_MAX_R];
    const int c = blockIdx.x * BWDX_THREADS + threadIdx.x, blocks = (N + BWDX_ROWS - 1) / BWDX_ROWS;
    float a[FUSED_MAX_R];
#pragma unroll
    for (int j = 0; j < FUSED_MAX_R; j++) a[j] = j < r && c < in ? A[(size_t)j * in + c] : 0.0f;
    for (int b = blockIdx.y; b < blocks; b += gridDim.y) {
        const int n0 = b * BWDX_ROWS, rows = N - n0 < BWDX_ROWS ? N - n0 : BWDX_ROWS;
        __syncthreads(); /* the previous rows' du is no longer read */
        for (int t = threadIdx.x; t < rows * r; t += blockDim.x) sdu[t] = du[(size_t)(n0 + t / r) * lddu + t % r];
        __syncthreads();
        if (c >= in) continue; /* every thread stays for the barriers */
        for (int k = 0; k < rows; k++) {
            const size_t i = (size_t)(n0 + k) * in + c;
            if (!((bits[i >> 6] >> (i & 63)) & 1)) continue; /* dropped: no gradient reaches x */
            float s = 0.0f;
#pragma unroll
            for (int j = 0; j < FUSED_MAX_R; j++)
                if (j < r) s += sdu[k * r + j] * a[j];
            dx[i] += s * scale;
        }
    }
}

static const float *dropped_into(const float *x, const uint64_t *bits, float p, int N, int in, float *buf) {
    if (!bits) return x;
    cuda_dropout_apply_bits(buf, x, (size_t)N * in, bits, p);
    return buf;
}

extern "C" void cuda_expert_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A,
                                 int N, int in, int r) {
    if (N <= 0 || in <= 0 || r <= 0) return;
    if (fused(bits, r)) {
        expert_down_fused_kernel<<<(unsigned)((N + DOWN_ROWS - 1) / DOWN_ROWS), 32 * DOWN_WARPS>>>(
            u, ldu, x, bits, 1.0f / (1.0f - p), A, N, in, r);
        CU_LAUNCHED("expert_down_fused_kernel");
        return;
    }
    float *h = bits ? (float *)mm_cuda_scratch((size_t)N * in * sizeof(float)) : NULL;
    cuda_gemm(0, 1, N, r, in, 1.0f, dropped_into(x, bits, p, N, in, h), in, A, in, 0.0f, u, ldu);
}

extern "C" void cuda_expert_down_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits,
                                       float p, int N, int in, int r) {
    if (N <= 0 || in <= 0 || r <= 0) return;
    if (fused(bits, r)) {
        const int chunks = (N + BWDA_ROWS - 1) / BWDA_ROWS;
        float *part = (float *)mm_cuda_scratch((size_t)chunks * r * in * sizeof(float));
        const dim3 grid((unsigned)((in + BWDA_THREADS - 1) / BWDA_THREADS), grid_y(chunks));
        expert_bwd_a_partial_kernel<<<grid, BWDA_THREADS>>>(part, du, lddu, x, bits, 1.0f / (1.0f - p), N, in, r);
        CU_LAUNCHED("expert_bwd_a_partial_kernel");
        expert_bwd_a_sum_kernel<<<mm_grid((size_t)r * in, 256), 256>>>(dA, part, (size_t)r * in, chunks);
        CU_LAUNCHED("expert_bwd_a_sum_kernel");
        return;
    }
    float *h = bits ? (float *)mm_cuda_scratch((size_t)N * in * sizeof(float)) : NULL;
    cuda_gemm(1, 0, r, in, N, 1.0f, du, lddu, dropped_into(x, bits, p, N, in, h), in, 1.0f, dA, in);
}

extern "C" void cuda_expert_down_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p,
                                       const float *A, int N, int in, int r) {
    if (N <= 0 || in <= 0 || r <= 0) return;
    if (!bits) {
        cuda_gemm(0, 0, N, in, r, 1.0f, du, lddu, A, in, 1.0f, dx, in);
        return;
    }
    if (fused(bits, r)) {
        const dim3 grid((unsigned)((in + BWDX_THREADS - 1) / BWDX_THREADS), grid_y((N + BWDX_ROWS - 1) / BWDX_ROWS));
        expert_bwd_x_fused_kernel<<<grid, BWDX_THREADS>>>(dx, du, lddu, bits, 1.0f / (1.0f - p), A, N, in, r);
        CU_LAUNCHED("expert_bwd_x_fused_kernel");
        return;
    }
    float *dh = (float *)mm_cuda_scratch((size_t)N * in * sizeof(float));
    cuda_gemm(0, 0, N, in, r, 1.0f, du, lddu, A, in, 0.0f, dh, in);
    cuda_dropout_apply_bits(dh, dh, (size_t)N * in, bits, p);
    cuda_add(dx, dx, dh, (size_t)N * in);
}
