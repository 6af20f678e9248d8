/* The experts' fused-dropout down-projection ops (kernels.h: expert_down, expert_down_bwd_a, expert_down_bwd_x)
 * on the GPU as the unfused path: h = drop(x) into scratch with dropout_apply_bits, then cuBLAS.  (The fusion pays
 * on the CPU, where it saves OpenBLAS's packing of the N·in operand; here it is memory the GPU has.) */
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"

static const float *dropped(const float *x, const uint64_t *bits, float p, int N, int in, float *buf) {
    if (!bits) return x;
    cuda_dropout_apply_bits(buf, x, (size_t)N * in, bits, p);
    return buf;
}

extern "C" void cuda_expert_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A,
                                 int N, int in, int r) {
    if (N <= 0 || r <= 0) return;
    float *h = bits ? (float *)mm_cuda_scratch((size_t)N * in * sizeof(float)) : NULL;
    cuda_gemm(0, 1, N, r, in, 1.0f, dropped(x, bits, p, N, in, h), in, A, in, 0.0f, u, ldu);
}

extern "C" void cuda_expert_down_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits,
                                       float p, int N, int in, int r) {
    if (N <= 0 || r <= 0) return;
    float *h = bits ? (float *)mm_cuda_scratch((size_t)N * in * sizeof(float)) : NULL;
    cuda_gemm(1, 0, r, in, N, 1.0f, du, lddu, dropped(x, bits, p, N, in, h), in, 1.0f, dA, in);
}

extern "C" void cuda_expert_down_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p,
                                       const float *A, int N, int in, int r) {
    if (N <= 0 || r <= 0) return;
    if (!bits) {
        cuda_gemm(0, 0, N, in, r, 1.0f, du, lddu, A, in, 1.0f, dx, in);
        return;
    }
    float *dh = (float *)mm_cuda_scratch((size_t)N * in * sizeof(float));
    cuda_gemm(0, 0, N, in, r, 1.0f, du, lddu, A, in, 0.0f, dh, in);
    cuda_dropout_apply_bits(dh, dh, (size_t)N * in, bits, p);
    cuda_add(dx, dx, dh, (size_t)N * in);
}
