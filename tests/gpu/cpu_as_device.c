/* A stand-in for the CUDA table on a machine without a GPU: the CPU table declaring device memory
 * (separate allocations filled with NaN bytes, real copies for upload/download).  Linked instead of
 * libmmlora_cuda.a it makes build/gpu/engine_parity_cpu (`make gpu-engine-parity-selftest`), which runs the
 * parity program end to end here: it must pass (the engine's device path is bit-identical to the CPU path),
 * and with MMLORA_SELFTEST_PERTURB=1 (the stand-in's `add` off by 1e-3 relative) it must fail. */
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "util/log.h"

static void *nan_alloc(size_t bytes) {
    void *p = mm_xmalloc_aligned(bytes ? bytes : 1);
    memset(p, 0xff, bytes);
    return p;
}
static void copy(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }
static void add_perturbed(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (a[i] + b[i]) * 1.001f;
}

const mm_kernels *mm_kernels_cuda(void) {
    static mm_kernels k;
    static int init;
    if (!init) {
        k = mm_kernels_cpu;
        k.name = "cpu-as-device";
        k.device_memory = 1;
        k.alloc = nan_alloc;
        k.upload = copy;
        k.download = copy;
        const char *p = getenv("MMLORA_SELFTEST_PERTURB");
        if (p && *p == '1') k.add = add_perturbed;
        init = 1;
    }
    return &k;
}
