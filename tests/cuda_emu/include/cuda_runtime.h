/* The CUDA runtime as the CPU emulator of the CUDA backend sees it (tests/cuda_emu/README.md).  Only what
 * kernels/cuda/ uses: kernel qualifiers, thread and block indices, __syncthreads and warp shuffles, the
 * float intrinsics, vector types, the runtime API (memory, copies, devices, errors).  A kernel launch
 * `k<<<grid, block>>>(args)` is rewritten by launch.sed into mm_emu_launch(...): every block runs on the calling
 * CPU thread, its threads as fibers that switch at __syncthreads and at the warp shuffles. */
#ifndef MM_CUDA_EMU_RUNTIME_H
#define MM_CUDA_EMU_RUNTIME_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- qualifiers */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
/* blocks run one after another on one host thread: one copy per kernel.  Outside ASan builds every __shared__
 * variable lives in a section of its own (below), which the runtime fills with 0xff bytes (NaN as float or double, -1
 * as an integer) before each block: shared memory that a block reads before writing shows, as garbage would on
 * the GPU, instead of the previous block's values.  ASan builds leave them in .bss, where ASan checks their bounds
 * (it does not instrument variables in named sections). */
#ifdef __SANITIZE_ADDRESS__
#define __shared__ static
#else
/* Two sections, because GCC refuses to mix a COMDAT variable (the static of an inline or template function: those
 * of the headers, kernels/cuda/reduce.cuh) with plain ones in one section: variables declared in a header go to
 * mm_emu_shared_hdr, those of a .cu file's own kernels to mm_emu_shared_cu (a template kernel or an inline function
 * with __shared__ in a .cu file would be refused at compile time: "section type conflict") */
#define MM_EMU_SHARED_SECTION_0 "mm_emu_shared_cu"
#define MM_EMU_SHARED_SECTION_1 "mm_emu_shared_hdr"
#define MM_EMU_SHARED_SECTION_2 "mm_emu_shared_hdr"
#define MM_EMU_SHARED_SECTION_3 "mm_emu_shared_hdr"
#define MM_EMU_SHARED_SECTION_(level) MM_EMU_SHARED_SECTION_##level
#define MM_EMU_SHARED_SECTION(level) MM_EMU_SHARED_SECTION_(level)
#define __shared__ static __attribute__((section(MM_EMU_SHARED_SECTION(__INCLUDE_LEVEL__))))
#endif
#define __launch_bounds__(...)
#define __CUDA_ARCH_EMULATED__ 1

/* ---------------------------------------------------------------- vector types */
struct uint3 { unsigned x, y, z; };
struct uint4 { unsigned x, y, z, w; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

/* the running thread's indices (the emulator is single-threaded: launches come from one host thread) */
extern uint3 mm_emu_thread_idx, mm_emu_block_idx;
extern dim3 mm_emu_block_dim, mm_emu_grid_dim;
#define threadIdx mm_emu_thread_idx
#define blockIdx mm_emu_block_idx
#define blockDim mm_emu_block_dim
#define gridDim mm_emu_grid_dim
#define warpSize 32

/* ---------------------------------------------------------------- intrinsics */
/* The backend is compiled here with FMA contraction on (-ffp-contract=fast, as nvcc's default --fmad=true), so
 * a*b+c may fuse as on the GPU; these intrinsics exist to forbid that, so their result passes through an empty asm
 * the compiler cannot see into (it must round the product or sum to float, as the GPU's _rn forms do). */
#if defined(__x86_64__)
#define MM_EMU_OPAQUE(r) __asm__("" : "+x"(r))
#else
#define MM_EMU_OPAQUE(r) __asm__("" : "+w"(r))
#endif
static inline float __fadd_rn(float a, float b) { float r = a + b; MM_EMU_OPAQUE(r); return r; }
static inline float __fsub_rn(float a, float b) { float r = a - b; MM_EMU_OPAQUE(r); return r; }
static inline float __fmul_rn(float a, float b) { float r = a * b; MM_EMU_OPAQUE(r); return r; }
static inline float __fdiv_rn(float a, float b) { float r = a / b; MM_EMU_OPAQUE(r); return r; }
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline size_t min(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t max(size_t a, size_t b) { return a > b ? a : b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

/* a block barrier / a warp collective: the calling fiber waits for the others (the emulator checks that they
 * all arrive at the same call, and that every lane the mask names takes part) */
void mm_emu_syncthreads_at(const char *file, int line);
uint64_t mm_emu_warp_exchange(unsigned mask, uint64_t mine, int src_lane, const char *file, int line);
#define __syncthreads() mm_emu_syncthreads_at(__FILE__, __LINE__)
void mm_emu_syncwarp_at(const char *file, int line); /* a full-warp barrier */
#define __syncwarp(...) mm_emu_syncwarp_at(__FILE__, __LINE__)
template <typename T> static inline T mm_emu_shfl_xor(unsigned mask, T v, int lane_mask, const char *file, int line) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t bits = 0, got;
    memcpy(&bits, &v, sizeof v);
    got = mm_emu_warp_exchange(mask, bits, (int)((mm_emu_thread_idx.x & 31u) ^ (unsigned)lane_mask), file, line);
    T r;
    memcpy(&r, &got, sizeof r);
    return r;
}
#define __shfl_xor_sync(mask, v, lm) mm_emu_shfl_xor((mask), (v), (lm), __FILE__, __LINE__)

/* ---------------------------------------------------------------- runtime API */
typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
} cudaError_t;
typedef enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
} cudaMemcpyKind;
typedef struct CUstream_st *cudaStream_t;
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor, multiProcessorCount;
};
typedef enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType_t;
typedef cudaDataType_t cudaDataType;

cudaError_t cudaMalloc(void **p, size_t bytes);
template <typename T> static inline cudaError_t cudaMalloc(T **p, size_t bytes) { return cudaMalloc((void **)p, bytes); }
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemset(void *p, int byte, size_t bytes);
cudaError_t cudaMemsetAsync(void *p, int byte, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDevice(int *d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b);

/* ---------------------------------------------------------------- launches (see launch.sed) */
struct mm_emu_config {
    dim3 grid, block;
    size_t shared_bytes;
};
static inline mm_emu_config mm_emu_cfg(dim3 g, dim3 b, size_t shared = 0, cudaStream_t s = 0) {
    (void)s;
    return mm_emu_config{g, b, shared};
}
void mm_emu_run(const char *kernel, const char *file, int line, mm_emu_config cfg, void (*body)(void *), void *ctx);
template <typename... P, typename... A>
static inline void mm_emu_launch(const char *kernel, const char *file, int line, mm_emu_config cfg, void (*k)(P...),
                                 A &&...args) {
    auto call = [&]() { k(args...); }; /* each thread gets its own copies of the parameters */
    mm_emu_run(kernel, file, line, cfg, [](void *c) { (*static_cast<decltype(call) *>(c))(); }, &call);
}
#endif
