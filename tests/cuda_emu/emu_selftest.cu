/* Selftest of the CPU emulator of CUDA (tests/cuda_emu/README.md), compiled like the backend (launch.sed,
 * g++, the emulated runtime): the emulator must run correct kernels correctly and must stop the wrong ones with a
 * message that names the fault.  Each faulty case runs in a child process, whose exit and stderr are checked.
 * One line per check, "N passed, M failed" last; exit 1 on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include "emu_internal.h"

static int n_pass, n_fail;
static void report(const char *what, int ok, const char *detail) {
    printf("%s  %-58s %s\n", ok ? "PASS" : "FAIL", what, detail ? detail : "");
    ok ? n_pass++ : n_fail++;
}

/* runs fn in a child with stderr captured; passes when the child dies (signal or non-zero exit) and its stderr
 * contains `expect` */
static void expect_death(const char *what, void (*fn)(void), const char *expect) {
    char path[] = "/tmp/mmlora-emu-selftest-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 2);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    const int died = WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
    const int said = strstr(buf, expect) != NULL;
    char detail[600];
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    snprintf(detail, sizeof detail, "%s; stderr: %.400s", died ? "stopped" : "ran to the end", buf);
    report(what, died && said, detail);
}

/* ------------------------------------------------------------------------------------------------ kernels */
__device__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
/* block sum through shared memory and shuffles, as kernels/cuda/reduce.cuh */
__global__ void block_sum_kernel(float *out, const float *x, int n) {
    __shared__ float sh[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    float v = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += x[i];
    v = warp_sum(v);
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float r = lane < nw ? sh[lane] : 0.0f;
    r = warp_sum(r);
    if (threadIdx.x == 0) out[blockIdx.x] = r;
}
/* a race: each thread reads its neighbour's shared slot with no barrier between the write and the read */
__global__ void racy_kernel(int *out) {
    __shared__ int sh[64];
    sh[threadIdx.x] = (int)threadIdx.x + 1;
    out[threadIdx.x] = sh[(threadIdx.x + 1) % 64];
}
__global__ void fixed_kernel(int *out) {
    __shared__ int sh[64];
    sh[threadIdx.x] = (int)threadIdx.x + 1;
    __syncthreads();
    out[threadIdx.x] = sh[(threadIdx.x + 1) % 64];
}
__global__ void divergent_barrier_kernel(float *x) {
    if (threadIdx.x < 16) {
        x[threadIdx.x] = 1.0f;
        __syncthreads();
    } else {
        __syncthreads();
    }
}
__global__ void exit_before_barrier_kernel(float *x, int n) {
    if ((int)threadIdx.x >= n) return;
    __syncthreads();
    x[threadIdx.x] = 2.0f;
}
__global__ void partial_warp_shuffle_kernel(float *x) { x[threadIdx.x] = warp_sum(x[threadIdx.x]); }
__global__ void write_kernel(float *x, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = (float)i;
}
__global__ void fill_kernel(float *x, int n, float v) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) x[i] = v;
}
__global__ void index_kernel(int *out) {
    const int t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    const int b = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    out[b * (blockDim.x * blockDim.y * blockDim.z) + t] = b * 1000 + t;
}

/* ------------------------------------------------------------------------------------------------ faults */
static float *dev(size_t n) {
    float *p = NULL;
    if (cudaMalloc(&p, n * sizeof(float)) != cudaSuccess) abort();
    return p;
}
static void oob_write(void) {
    float *x = dev(100);
    write_kernel<<<1, 128>>>(x, 101); /* one element past the end */
    cudaDeviceSynchronize();
}
static void divergent_barrier(void) { divergent_barrier_kernel<<<1, 64>>>(dev(64)); }
static void exit_before_barrier(void) { exit_before_barrier_kernel<<<1, 64>>>(dev(64), 40); }
static void partial_warp_shuffle(void) {
    float *x = dev(48);
    cudaMemset(x, 0, 48 * sizeof(float));
    partial_warp_shuffle_kernel<<<1, 48>>>(x);
}
static void use_after_free(void) {
    float *x = dev(64);
    cudaFree(x);
    fill_kernel<<<1, 32>>>(x, 64, 1.0f);
}

/* ------------------------------------------------------------------------------------------------ checks */
static void t_block_sum(void) {
    const int n = 100003, blocks = 7;
    float *h = (float *)malloc(n * sizeof(float)), *x = dev(n), *o = dev(blocks), ho[blocks];
    double want = 0.0;
    for (int i = 0; i < n; i++) h[i] = (float)((i * 37) % 101) - 50.0f, want += h[i];
    cudaMemcpy(x, h, n * sizeof(float), cudaMemcpyHostToDevice);
    block_sum_kernel<<<blocks, 256>>>(o, x, n);
    cudaMemcpy(ho, o, sizeof ho, cudaMemcpyDeviceToHost);
    double got = 0.0;
    for (int b = 0; b < blocks; b++) got += ho[b];
    char d[128];
    snprintf(d, sizeof d, "sum %.1f, expected %.1f (integers: exact)", got, want);
    report("shuffles and a barrier: block sums", got == want, d);
    free(h), cudaFree(x), cudaFree(o);
}

/* block 0 writes the shared slot; every other block reads it without writing it first */
__global__ void stale_shared_kernel(float *out) {
    __shared__ float s[1];
    if (blockIdx.x == 0 && threadIdx.x == 0) s[0] = 1.0f;
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}
static void t_shared_poison(void) {
    float *o = dev(2), h[2];
    stale_shared_kernel<<<2, 32>>>(o);
    cudaMemcpy(h, o, sizeof h, cudaMemcpyDeviceToHost);
#ifdef __SANITIZE_ADDRESS__
    report("shared memory: not refilled under ASan (bounds checked instead)", h[0] == 1.0f, NULL);
#else
    char d[96];
    snprintf(d, sizeof d, "block 0 read %g (wrote 1), block 1 read %g (wrote nothing)", h[0], h[1]);
    report("each block starts with NaN-filled shared memory (not the last block's)", h[0] == 1.0f && h[1] != h[1], d);
#endif
    cudaFree(o);
}

static void run_racy(void (*k)(int *), const char *order, int *host) {
    int *o = NULL;
    cudaMalloc(&o, 64 * sizeof(int));
    mm_emu_set_order(order);
    k<<<1, 64>>>(o);
    cudaMemcpy(host, o, 64 * sizeof(int), cudaMemcpyDeviceToHost);
    mm_emu_set_order("forward");
    cudaFree(o);
}
static void t_orders(void) {
    int f[64], r[64];
    run_racy(racy_kernel, "forward", f);
    run_racy(racy_kernel, "reverse", r);
    report("a race shows as a difference between thread orders", memcmp(f, r, sizeof f) != 0,
           "racy kernel: forward and reverse results differ");
    run_racy(fixed_kernel, "forward", f);
    run_racy(fixed_kernel, "reverse", r);
    int ok = memcmp(f, r, sizeof f) == 0;
    for (int i = 0; i < 64; i++) ok &= f[i] == (i + 1) % 64 + 1;
    report("with the barrier: the same, correct result in both orders", ok, NULL);
}

static void t_indices(void) {
    const dim3 g(3, 2, 2), b(4, 3, 2);
    const int total = 12 * 24;
    int *o = NULL, h[12 * 24];
    cudaMalloc(&o, sizeof h);
    index_kernel<<<g, b>>>(o);
    cudaMemcpy(h, o, sizeof h, cudaMemcpyDeviceToHost);
    int ok = 1;
    for (int i = 0; i < total; i++) ok &= h[i] == (i / 24) * 1000 + i % 24;
    report("3-D grid and block indices", ok, "grid (3,2,2), block (4,3,2)");
    cudaFree(o);
}

static void t_launch_config(void) {
    (void)cudaGetLastError();
    float *x = dev(4);
    fill_kernel<<<1, 2048>>>(x, 4, 1.0f); /* more than 1024 threads per block */
    cudaError_t e = cudaGetLastError();
    report("an invalid launch configuration sets the launch error", e == cudaErrorInvalidConfiguration,
           cudaGetErrorString(e));
    report("the error is cleared once read", cudaGetLastError() == cudaSuccess, NULL);
    cudaFree(x);
}

static void t_memory(void) {
    float *x = dev(10), h[10];
    cudaMemcpy(h, x, sizeof h, cudaMemcpyDeviceToHost);
    int nan = 1;
    for (int i = 0; i < 10; i++) nan &= h[i] != h[i];
    report("fresh device memory reads as NaN", nan, NULL);
    cudaError_t e = cudaMemcpy(h, x, 11 * sizeof(float), cudaMemcpyDeviceToHost);
    report("a copy past the end of an allocation fails", e == cudaErrorInvalidValue, cudaGetErrorString(e));
    e = cudaMemcpy(x, h, sizeof h, cudaMemcpyDeviceToHost);
    report("a copy with the directions swapped fails", e == cudaErrorInvalidValue, cudaGetErrorString(e));
    size_t fr, tot;
    cudaMemGetInfo(&fr, &tot);
    void *big = NULL;
    e = cudaMalloc(&big, tot + 1);
    report("an allocation larger than the device fails", e == cudaErrorMemoryAllocation && !big,
           cudaGetErrorString(e));
    (void)cudaGetLastError();
    cudaFree(x);
}

static void t_cublas(void) {
    cublasHandle_t h;
    cublasCreate(&h);
    const int m = 5, n = 4, k = 3;
    float A[15], B[12], C[20], *dA = dev(15), *dB = dev(12), *dC = dev(20);
    for (int i = 0; i < 15; i++) A[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < 12; i++) B[i] = (float)(i % 5) - 2.0f;
    cudaMemcpy(dA, A, sizeof A, cudaMemcpyHostToDevice);
    cudaMemcpy(dB, B, sizeof B, cudaMemcpyHostToDevice);
    const float one = 1.0f, zero = 0.0f;
    /* C[m,n] = Aᵀ·B with A stored k x m (lda k), B k x n (ldb k), column-major */
    cublasStatus_t s = cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, dA, k, dB, k, &zero, dC, m);
    cudaMemcpy(C, dC, sizeof C, cudaMemcpyDeviceToHost);
    int ok = s == CUBLAS_STATUS_SUCCESS;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float want = 0.0f;
            for (int p = 0; p < k; p++) want += A[i * k + p] * B[j * k + p];
            ok &= C[j * m + i] == want;
        }
    report("cublasSgemm (T, N), beta 0 over NaN-filled C", ok, cublasGetStatusString(s));
    s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, dA, m - 1, dB, k, &zero, dC, m);
    report("cublasSgemm rejects lda < m", s == CUBLAS_STATUS_INVALID_VALUE, cublasGetStatusString(s));
    s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n + 1, k, &one, dA, m, dB, k, &zero, dC, m);
    report("cublasSgemm: an operand past its allocation fails", s != CUBLAS_STATUS_SUCCESS, cublasGetStatusString(s));

    cublasLtHandle_t lt;
    cublasLtCreate(&lt);
    cublasLtMatmulDesc_t d;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, 5, 3, 5);
    cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, 4, 4, 4); /* op(B) must be 3 x n: wrong */
    cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, 5, 4, 5);
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    s = cublasLtMatmulAlgoGetHeuristic(lt, d, la, lb, lc, lc, pref, 1, &res, &found);
    report("cublasLt: layouts that disagree are refused", s != CUBLAS_STATUS_SUCCESS && !found, cublasGetStatusString(s));
    cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(d), cublasLtMatmulPreferenceDestroy(pref), cublasLtDestroy(lt);
    cublasDestroy(h);
    cudaFree(dA), cudaFree(dB), cudaFree(dC);
}

#if MM_EMU_TSAN
/* ThreadSanitizer build (make emu-racecheck): races between the threads of a block are reported, CUDA's ordering
 * (barriers, block and launch boundaries) is not; run with TSAN_OPTIONS=halt_on_error=1 */
__global__ void global_race_kernel(int *out) { out[0] = (int)threadIdx.x; } /* every thread writes one word */
__global__ void barrier_pingpong_kernel(int *out) { /* write, barrier, read another thread's slot, barrier, write */
    __shared__ int sh[64];
    const int t = threadIdx.x;
    sh[t] = t;
    __syncthreads();
    const int v = sh[(t + 1) % 64];
    __syncthreads();
    sh[t] = v + 1;
    __syncthreads();
    out[t] = sh[(t + 63) % 64];
}
static void shared_race(void) {
    int *o = NULL;
    cudaMalloc(&o, 64 * sizeof(int));
    racy_kernel<<<1, 64>>>(o);
}
static void global_race(void) {
    int *o = NULL;
    cudaMalloc(&o, sizeof(int));
    global_race_kernel<<<1, 32>>>(o);
}
static void t_racecheck(void) {
    expect_death("racecheck: a shared-memory read of another thread's write without a barrier is reported",
                 shared_race, "data race");
    expect_death("racecheck: threads of a block writing one global word are reported", global_race, "data race");
    /* the rest runs here: a report would stop this process (halt_on_error) */
    int *o = NULL, h[64];
    cudaMalloc(&o, sizeof h);
    fixed_kernel<<<1, 64>>>(o);
    barrier_pingpong_kernel<<<2, 64>>>(o); /* two blocks: the same shared slots, one block after the other */
    cudaMemcpy(h, o, sizeof h, cudaMemcpyDeviceToHost);
    int ok = 1;
    for (int t = 0; t < 64; t++) ok &= h[t] == t + 1;
    report("racecheck: barriers, blocks and launches order the accesses (no report)", ok, NULL);
    cudaFree(o);
}
#endif

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
#if MM_EMU_TSAN
    t_block_sum(); /* shuffles and a barrier: no report */
    t_racecheck();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
#endif
    t_block_sum();
    t_orders();
    t_shared_poison();
    t_indices();
    t_launch_config();
    t_memory();
    t_cublas();
    expect_death("a write past the end of an allocation stops the run", oob_write,
                 "byte 0 past the end (0: the first) of a 400-byte device allocation");
    expect_death("... and names the kernel, block and thread", oob_write,
                 "kernel write_kernel (launched at tests/cuda_emu/emu_selftest.cu");
    expect_death("a use after cudaFree stops the run", use_after_free, "memory fault");
    expect_death("divergent __syncthreads are reported", divergent_barrier,
                 "kernel divergent_barrier_kernel (launched at tests/cuda_emu/emu_selftest.cu:117), block (0,0,0): "
                 "divergent __syncthreads");
    expect_death("a barrier after some threads returned is reported", exit_before_barrier, "already exited");
    expect_death("a full-mask shuffle in a 48-thread block is reported", partial_warp_shuffle,
                 "which this block (48 threads) does not have");
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
