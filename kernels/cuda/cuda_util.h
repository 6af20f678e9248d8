/* Small device helpers for the CUDA backend and its tests.  The functions are C-callable (a C program such
 * as tests/gpu/parity.c uses them without CUDA headers); failures name the CUDA call, file and line.
 *
 *   mm_cuda_malloc / mm_cuda_free / mm_cuda_h2d / mm_cuda_d2h / mm_cuda_d2d / mm_cuda_memset / mm_cuda_sync
 *
 * Allocation and copies report failure through mm_fail() (util/log.h) and return NULL / -1.  Inside the
 * ops (which return void) a CUDA or cuBLAS error is fatal: CU_CHECK / CUBLAS_CHECK print the message and
 * abort.  With MMLORA_CUDA_SYNC=1 in the environment every launch is followed by cudaDeviceSynchronize,
 * so an asynchronous fault is reported at the op that caused it.  MMLORA_CUDA_TF32=1 lets the fp32 GEMMs use
 * TF32 tensor cores (faster, no longer within the parity tolerances). */
#ifndef MMLORA_CUDA_UTIL_H
#define MMLORA_CUDA_UTIL_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *mm_cuda_malloc_at(size_t bytes, const char *file, int line);
void mm_cuda_free_at(void *p, const char *file, int line);
int mm_cuda_h2d_at(void *dst, const void *src, size_t bytes, const char *file, int line);
int mm_cuda_d2h_at(void *dst, const void *src, size_t bytes, const char *file, int line);
int mm_cuda_d2d_at(void *dst, const void *src, size_t bytes, const char *file, int line);
int mm_cuda_memset_at(void *p, int byte, size_t bytes, const char *file, int line);
int mm_cuda_sync_at(const char *file, int line);
/* number of visible devices (0 when the driver/runtime is missing or reports none) */
int mm_cuda_device_count(void);
/* makes this process's GPU current (MMLORA_CUDA_DEVICE, else the launcher's local rank modulo the device
 * count, else 0; comm.cu) and returns it, -1 without a device; decided once */
int mm_cuda_select_device(void);
/* the NCCL collectives (kernels.h: mm_device_comm; NCCL loaded at run time) */
struct mm_device_comm;
const struct mm_device_comm *mm_cuda_comm(void);
/* "NVIDIA H200, sm_90, 139.8 GiB" into buf; returns buf */
const char *mm_cuda_device_name(char *buf, size_t n);

#define mm_cuda_malloc(bytes) mm_cuda_malloc_at((bytes), __FILE__, __LINE__)
#define mm_cuda_free(p) mm_cuda_free_at((p), __FILE__, __LINE__)
#define mm_cuda_h2d(dst, src, bytes) mm_cuda_h2d_at((dst), (src), (bytes), __FILE__, __LINE__)
#define mm_cuda_d2h(dst, src, bytes) mm_cuda_d2h_at((dst), (src), (bytes), __FILE__, __LINE__)
#define mm_cuda_d2d(dst, src, bytes) mm_cuda_d2d_at((dst), (src), (bytes), __FILE__, __LINE__)
#define mm_cuda_memset(p, byte, bytes) mm_cuda_memset_at((p), (byte), (bytes), __FILE__, __LINE__)
#define mm_cuda_sync() mm_cuda_sync_at(__FILE__, __LINE__)

#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#include <cuda_runtime.h>
#include <cublas_v2.h>

/* fatal error inside an op: prints "mmlora cuda: <call> failed at file:line: <reason>" and aborts */
[[noreturn]] void mm_cuda_fatal(const char *call, const char *file, int line, const char *reason);
void mm_cuda_check_launch(const char *what, const char *file, int line);

#define CU_CHECK(call)                                                                   \
    do {                                                                                 \
        cudaError_t e_ = (call);                                                         \
        if (e_ != cudaSuccess) mm_cuda_fatal(#call, __FILE__, __LINE__, cudaGetErrorString(e_)); \
    } while (0)
#define CUBLAS_CHECK(call)                                                                        \
    do {                                                                                          \
        cublasStatus_t s_ = (call);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS) mm_cuda_fatal(#call, __FILE__, __LINE__, cublasGetStatusString(s_)); \
    } while (0)
/* after a <<<>>> launch */
#define CU_LAUNCHED(name) mm_cuda_check_launch((name), __FILE__, __LINE__)

/* the backend's cuBLAS handle (created on first use, bound to the legacy default stream, pure fp32 math) */
cublasHandle_t mm_cublas(void);
/* grow-only device scratch of at least `bytes` (one region: an op asks once and carves it; the pointer
 * stays valid until the next mm_cuda_scratch call) */
void *mm_cuda_scratch(size_t bytes);

static inline unsigned mm_grid(size_t n, unsigned block) {
    size_t g = (n + block - 1) / block;
    return (unsigned)(g > 1048576 ? 1048576 : (g ? g : 1));
}
#endif
#endif
