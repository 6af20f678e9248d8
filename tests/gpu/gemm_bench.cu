/* cuBLAS GEMM throughput on the device: fp32 (true fp32, what the fp32 op table uses), TF32, and bf16
 * inputs/outputs with fp32 accumulation (the planned bf16 storage path), for square sizes and the
 * model's shapes (tokens × out × in of StarCoderBase-1B / DeepSeek-Coder-1.3B layers).
 * Prints one line per (shape, type): "gemm <M>x<N>x<K> <type> <ms> ms <TFLOP/s>". */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x)                                                                                   \
    do {                                                                                        \
        cudaError_t e_ = (x);                                                                   \
        if (e_ != cudaSuccess) {                                                                \
            fprintf(stderr, "%s failed at %s:%d: %s\n", #x, __FILE__, __LINE__, cudaGetErrorString(e_)); \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)
#define CB(x)                                                                                   \
    do {                                                                                        \
        cublasStatus_t s_ = (x);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                      \
            fprintf(stderr, "%s failed at %s:%d: %s\n", #x, __FILE__, __LINE__, cublasGetStatusString(s_)); \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

__global__ void fill_kernel(float *f, __nv_bfloat16 *b, size_t n, unsigned seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 16, h *= 0x7feb352du, h ^= h >> 15;
        float v = (float)(h & 0xffff) / 32768.0f - 1.0f;
        if (f) f[i] = v;
        if (b) b[i] = __float2bfloat16(v);
    }
}

enum { T_FP32, T_TF32, T_BF16 };
static const char *tname[] = {"fp32", "tf32", "bf16"};

/* row-major C[M,N] = A[M,K]·B[N,K]ᵀ (a linear layer: x·Wᵀ), as column-major Cᵀ = B·Aᵀ */
static double run(cublasHandle_t h, int type, int M, int N, int K, void *A, void *B, void *C, int iters) {
    const float alpha = 1.0f, beta = 0.0f;
    cudaDataType dt = type == T_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasComputeType_t ct = type == T_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int it = -3; it < iters; it++) {
        if (it == 0) CK(cudaEventRecord(e0));
        CB(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, B, dt, K, A, dt, K, &beta, C, dt, N, ct,
                        CUBLAS_GEMM_DEFAULT));
    }
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms = 0.0f;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    return ms / iters;
}

int main(void) {
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("gemm_bench: no CUDA device\n");
        return 2;
    }
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("gemm_bench: %s (sm_%d%d, %d SMs)\n", p.name, p.major, p.minor, p.multiProcessorCount);
    const int shapes[][3] = {
        {4096, 4096, 4096}, {8192, 8192, 8192}, /* square */
        {8192, 2048, 2048},                     /* StarCoderBase-1B attn proj / DeepSeek q,o (tokens x out x in) */
        {8192, 8192, 2048}, {8192, 2048, 8192}, /* StarCoderBase-1B MLP up / down */
        {8192, 5504, 2048}, {8192, 2048, 5504}, /* DeepSeek-Coder-1.3B MLP gate,up / down */
        {8192, 49152, 2048},                    /* StarCoderBase-1B lm_head */
        {8192, 32, 2048},   {8192, 2048, 32},   /* LoRA r=32 A / B */
    };
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    size_t maxa = 0, maxb = 0, maxc = 0;
    for (int s = 0; s < nshapes; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        if (M * K > maxa) maxa = M * K;
        if (N * K > maxb) maxb = N * K;
        if (M * N > maxc) maxc = M * N;
    }
    float *fA = NULL, *fB = NULL, *fC = NULL;
    __nv_bfloat16 *bA = NULL, *bB = NULL, *bC = NULL;
    CK(cudaMalloc(&fA, maxa * 4));
    CK(cudaMalloc(&fB, maxb * 4));
    CK(cudaMalloc(&fC, maxc * 4));
    CK(cudaMalloc(&bA, maxa * 2));
    CK(cudaMalloc(&bB, maxb * 2));
    CK(cudaMalloc(&bC, maxc * 2));
    fill_kernel<<<4096, 256>>>(fA, bA, maxa, 1u);
    fill_kernel<<<4096, 256>>>(fB, bB, maxb, 2u);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    cublasHandle_t h;
    CB(cublasCreate(&h));
    size_t ws = 64u << 20;
    void *wsp = NULL;
    CK(cudaMalloc(&wsp, ws));
    CB(cublasSetWorkspace(h, wsp, ws));
    for (int s = 0; s < nshapes; s++)
        for (int t = 0; t < 3; t++) {
            const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            double flop = 2.0 * M * N * K;
            int iters = flop > 1e12 ? 5 : 20;
            double ms = t == T_BF16 ? run(h, t, M, N, K, bA, bB, bC, iters) : run(h, t, M, N, K, fA, fB, fC, iters);
            char shape[48];
            snprintf(shape, sizeof shape, "%dx%dx%d", M, N, K);
            printf("gemm %-17s %-4s %9.3f ms %7.1f TFLOP/s\n", shape, tname[t], ms, flop / (ms * 1e-3) / 1e12);
            fflush(stdout);
        }
    CB(cublasDestroy(h));
    return 0;
}
