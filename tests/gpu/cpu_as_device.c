/* A stand-in for the CUDA table on a machine without a GPU: the library's mm_kernels_cpu_standin()
 * (kernels/cpu/standin.c: the CPU table declaring device memory, NaN-filled allocations, real copies).
 * Linked instead of libmmlora_cuda.a it makes build/gpu/engine_parity_cpu (`make
 * gpu-engine-parity-selftest`), which runs the parity program end to end here: it must pass (the engine's
 * device path is bit-identical to the CPU path), and with MMLORA_SELFTEST_PERTURB=1 (the stand-in's `add`
 * off by 1e-3 relative) it must fail. */
#include <stdlib.h>
#include "kernels.h"

static void add_perturbed(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (a[i] + b[i]) * 1.001f;
}

const mm_kernels *mm_kernels_cuda(void) {
    static mm_kernels k;
    static int init;
    if (!init) {
        k = *mm_kernels_cpu_standin();
        k.name = "cpu-as-device";
        const char *p = getenv("MMLORA_SELFTEST_PERTURB");
        if (p && *p == '1') k.add = add_perturbed;
        init = 1;
    }
    return &k;
}
