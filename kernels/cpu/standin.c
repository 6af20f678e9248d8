/* A stand-in for the CUDA table on a machine without a GPU (kernels.h: mm_kernels_cpu_standin): the CPU
 * table declaring device memory.  Allocations are separate buffers filled with NaN bytes (a value the
 * device path forgot to upload or zero shows up as NaN), upload/download are real copies, every op is the
 * CPU's.  The engine, the adapters and the trainer on this table take their device paths (staging,
 * host-owned blocks, checkpoints through download/upload) with the CPU's arithmetic, so a run on it must be
 * bit-identical to the CPU table (tests/unit/test_engine_device.c, test_run_device.c; `mmlora run
 * --device cuda` with MMLORA_DEVICE_STANDIN=1; tests/gpu/cpu_as_device.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cpu/cpu_ops.h"
#include "cpu/op_hooks.h"
#include "util/log.h"

static void *nan_alloc(size_t bytes) {
    void *p = mm_xmalloc_aligned(bytes ? bytes : 1);
    memset(p, 0xff, bytes);
    return p;
}
static void copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}

/* the CPU table declaring device memory: its own allocator, real copies up and down */
static mm_kernels device_table(const char *name, void *(*alloc)(size_t), void (*free_fn)(void *)) {
    mm_kernels k = mm_kernels_cpu;
    k.name = name;
    k.device_memory = 1;
    k.alloc = alloc;
    if (free_fn) k.free = free_fn;
    k.upload = copy;
    k.download = copy;
    return k;
}

const mm_kernels *mm_kernels_cpu_standin(void) {
    static mm_kernels k;
    static int init;
    if (!init) {
        k = device_table("cpu-standin", nan_alloc, NULL);
        init = 1;
    }
    return &k;
}

/* ---- the guarded stand-in (mm_kernels_cpu_standin_guarded): every allocation its own pages, inaccessible
 * (PROT_NONE) except while one of the table's ops runs, as device memory is to the host.  A host read or write of
 * device memory outside the ops (a missing download, a pointer confused between host and device) is a SIGSEGV
 * at the faulting instruction instead of a silent success. */
typedef struct {
    void *p;
    size_t len;
} region;
static region *g_reg;
static size_t g_nreg, g_capreg;
static size_t g_page;

static void guard_fatal(const char *what) {
    fprintf(stderr, "mmlora: guarded stand-in: %s\n", what);
    abort();
}
static void protect_all(int prot) {
    for (size_t i = 0; i < g_nreg; i++)
        if (mprotect(g_reg[i].p, g_reg[i].len, prot)) guard_fatal("mprotect failed");
}
static void open_all(void) { protect_all(PROT_READ | PROT_WRITE); }
static void close_all(int op) {
    (void)op;
    protect_all(PROT_NONE);
}

static void *guard_alloc(size_t bytes) {
    if (!g_page) g_page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t len = ((bytes ? bytes : 1) + g_page - 1) / g_page * g_page;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) guard_fatal("out of memory");
    memset(p, 0xff, len); /* NaN bytes, as the plain stand-in */
    if (g_nreg == g_capreg) {
        g_capreg = g_capreg ? 2 * g_capreg : 64;
        g_reg = realloc(g_reg, g_capreg * sizeof *g_reg);
        if (!g_reg) guard_fatal("out of memory");
    }
    g_reg[g_nreg++] = (region){p, len};
    if (mprotect(p, len, PROT_NONE)) guard_fatal("mprotect failed");
    return p;
}
static void guard_free(void *p) {
    if (!p) return;
    for (size_t i = 0; i < g_nreg; i++)
        if (g_reg[i].p == p) {
            munmap(p, g_reg[i].len);
            g_reg[i] = g_reg[--g_nreg];
            return;
        }
    guard_fatal("free of memory it did not allocate");
}

const mm_kernels *mm_kernels_cpu_standin_guarded(void) {
    static mm_kernels k;
    static int init;
    if (!init) {
        static mm_kernels inner; /* the hooked table calls it for the process's life */
        inner = device_table("cpu-standin-guarded", guard_alloc, guard_free);
        const mm_op_hooks hooks = {open_all, close_all};
        mm_op_hooks_table(&k, &inner, &hooks);
        init = 1;
    }
    return &k;
}
