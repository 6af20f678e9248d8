/* A stand-in for the CUDA table on a machine without a GPU (kernels.h: mm_kernels_cpu_standin): the CPU
 * table declaring device memory.  Allocations are separate buffers filled with NaN bytes (a value the
 * device path forgot to upload or zero shows up as NaN), upload/download are real copies, every op is the
 * CPU's.  The engine, the adapters and the trainer on this table take their device paths (staging,
 * host-owned blocks, checkpoints through download/upload) with the CPU's arithmetic, so a run on it must be
 * bit-identical to the CPU table (tests/unit/test_engine_device.c, test_run_device.c; `mmlora run
 * --device cuda` with MMLORA_DEVICE_STANDIN=1; tests/gpu/cpu_as_device.c). */
#include <string.h>
#include "cpu/cpu_ops.h"
#include "util/log.h"

static void *nan_alloc(size_t bytes) {
    void *p = mm_xmalloc_aligned(bytes ? bytes : 1);
    memset(p, 0xff, bytes);
    return p;
}
static void copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}

const mm_kernels *mm_kernels_cpu_standin(void) {
    static mm_kernels k;
    static int init;
    if (!init) {
        k = mm_kernels_cpu;
        k.name = "cpu-standin";
        k.device_memory = 1;
        k.alloc = nan_alloc;
        k.upload = copy;
        k.download = copy;
        init = 1;
    }
    return &k;
}
