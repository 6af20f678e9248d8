/* Device helpers: checked allocation/copies, the cuBLAS handle, grow-only scratch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_util.h"
extern "C" {
#include "util/log.h" /* no extern "C" guard of its own */
}

void mm_cuda_fatal(const char *call, const char *file, int line, const char *reason) {
    fprintf(stderr, "mmlora cuda: %s failed at %s:%d: %s\n", call, file, line, reason ? reason : "?");
    fflush(stderr);
    abort();
}

static int sync_each_launch(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("MMLORA_CUDA_SYNC");
        v = (e && *e && strcmp(e, "0") != 0) ? 1 : 0;
    }
    return v;
}

void mm_cuda_check_launch(const char *what, const char *file, int line) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) mm_cuda_fatal(what, file, line, cudaGetErrorString(e));
    if (sync_each_launch()) {
        e = cudaDeviceSynchronize();
        if (e != cudaSuccess) mm_cuda_fatal(what, file, line, cudaGetErrorString(e));
    }
}

extern "C" void *mm_cuda_malloc_at(size_t bytes, const char *file, int line) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        mm_fail("cudaMalloc(%zu bytes) failed at %s:%d: %s", bytes, file, line, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

extern "C" void mm_cuda_free_at(void *p, const char *file, int line) {
    if (!p) return;
    cudaError_t e = cudaFree(p);
    if (e != cudaSuccess) mm_warn("cudaFree(%p) failed at %s:%d: %s", p, file, line, cudaGetErrorString(e));
}

static int copy_at(const char *call, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                   const char *file, int line) {
    if (!bytes) return 0;
    cudaError_t e = cudaMemcpy(dst, src, bytes, kind);
    if (e != cudaSuccess)
        return mm_fail("%s(%zu bytes) failed at %s:%d: %s", call, bytes, file, line, cudaGetErrorString(e));
    return 0;
}
extern "C" int mm_cuda_h2d_at(void *dst, const void *src, size_t bytes, const char *file, int line) {
    return copy_at("cudaMemcpy HostToDevice", dst, src, bytes, cudaMemcpyHostToDevice, file, line);
}
extern "C" int mm_cuda_d2h_at(void *dst, const void *src, size_t bytes, const char *file, int line) {
    return copy_at("cudaMemcpy DeviceToHost", dst, src, bytes, cudaMemcpyDeviceToHost, file, line);
}
extern "C" int mm_cuda_d2d_at(void *dst, const void *src, size_t bytes, const char *file, int line) {
    return copy_at("cudaMemcpy DeviceToDevice", dst, src, bytes, cudaMemcpyDeviceToDevice, file, line);
}
extern "C" int mm_cuda_memset_at(void *p, int byte, size_t bytes, const char *file, int line) {
    if (!bytes) return 0;
    cudaError_t e = cudaMemset(p, byte, bytes);
    if (e != cudaSuccess)
        return mm_fail("cudaMemset(%zu bytes) failed at %s:%d: %s", bytes, file, line, cudaGetErrorString(e));
    return 0;
}
extern "C" int mm_cuda_sync_at(const char *file, int line) {
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        return mm_fail("cudaDeviceSynchronize failed at %s:%d: %s", file, line, cudaGetErrorString(e));
    return 0;
}

extern "C" int mm_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky-free error so later calls are not confused */
        return 0;
    }
    return n;
}

extern "C" const char *mm_cuda_device_name(char *buf, size_t n) {
    cudaDeviceProp p;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        snprintf(buf, n, "no CUDA device");
        return buf;
    }
    snprintf(buf, n, "%s, sm_%d%d, %.1f GiB", p.name, p.major, p.minor, (double)p.totalGlobalMem / (1u << 30));
    return buf;
}

cublasHandle_t mm_cublas(void) {
    static cublasHandle_t h = NULL;
    if (!h) {
        CUBLAS_CHECK(cublasCreate(&h));
        CUBLAS_CHECK(cublasSetStream(h, 0));
        /* default math = true fp32 sgemm (parity with the CPU table); MMLORA_CUDA_TF32=1 trades that for
         * TF32 tensor cores (10-bit mantissa products, fp32 accumulate) in the fp32 GEMMs */
        const char *tf = getenv("MMLORA_CUDA_TF32");
        const int tf32 = tf && *tf && strcmp(tf, "0") != 0;
        CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    }
    return h;
}

void *mm_cuda_scratch(size_t bytes) {
    static void *buf = NULL;
    static size_t cap = 0;
    if (bytes > cap) {
        if (buf) CU_CHECK(cudaFree(buf)); /* cudaFree synchronizes: no kernel still uses the old region */
        size_t want = bytes + bytes / 4;
        CU_CHECK(cudaMalloc(&buf, want));
        cap = want;
    }
    return buf;
}
