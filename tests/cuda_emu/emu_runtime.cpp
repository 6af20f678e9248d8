/* The CPU emulator of the CUDA runtime (tests/cuda_emu/README.md): kernel launches, the threads of a block as
 * fibers, block barriers and warp shuffles with their rules checked, device memory between guard pages, the
 * runtime API with its argument checks.  Single-threaded: a launch runs its blocks one after another on the
 * calling thread and returns when they are done (as if every launch were followed by a device sync).
 *
 * Environment: MMLORA_EMU_ORDER = forward (default) | reverse | shuffle — the order in which blocks, and the
 * threads of a block between two synchronisation points, run (a kernel whose result depends on it has a race);
 * MMLORA_EMU_SEED (shuffle's seed); MMLORA_EMU_MEMORY_MB (the device's size, default 8192: larger allocations
 * fail with cudaErrorMemoryAllocation, as on a GPU).
 *
 * Built with -DMM_EMU_TSAN=1 and linked into a ThreadSanitizer program (the kernels instrumented, this file not:
 * the scheduler's own bookkeeping stays invisible), every fiber is a TSan fiber and the switches carry no
 * ordering; the only happens-before edges are CUDA's: the host's work before a launch -> every thread of it, a
 * __syncthreads (or __syncwarp) -> the threads after it, one block -> the next, the launch -> the host after it.
 * Two threads of a block touching the same memory, one of them writing, with no barrier between, is then
 * reported as a data race (as compute-sanitizer's racecheck does for shared memory; here global memory too,
 * within a block).  Warp shuffles exchange their values but order nothing else. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <map>
#include <vector>
#include "emu_internal.h"
#include "cuda_runtime.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MM_EMU_ASAN 1
#endif
#if MM_EMU_TSAN
#include <sanitizer/tsan_interface.h>
#endif
/* The racecheck's happens-before edges (no-ops outside it; the addresses are TSan sync objects): the host -> a
 * block's threads (released before each block), a block's threads -> the host (after the block), and the barriers;
 * two of each barrier, alternating, so that a fast thread releasing at the next barrier cannot hand its newer writes
 * to a slow thread still acquiring the previous one. */
static char g_hb_block_start, g_hb_block_end, g_hb_barrier[2], g_hb_warp[32][2];
static void *g_tsan_host; /* the host's own TSan fiber (the scheduler runs on it) */
static inline void hb_release(void *sync) {
#if MM_EMU_TSAN
    __tsan_release(sync);
#else
    (void)sync;
#endif
}
static inline void hb_acquire(void *sync) {
#if MM_EMU_TSAN
    __tsan_acquire(sync);
#else
    (void)sync;
#endif
}
/* tells TSan which fiber runs next; the switch itself orders nothing */
static inline void tsan_switch_to(void *tsan_fiber) {
#if MM_EMU_TSAN
    __tsan_switch_to_fiber(tsan_fiber, __tsan_switch_to_fiber_no_sync);
#else
    (void)tsan_fiber;
#endif
}

uint3 mm_emu_thread_idx, mm_emu_block_idx;
dim3 mm_emu_block_dim, mm_emu_grid_dim;

static cudaError_t g_last_error = cudaSuccess;
static cudaError_t set_error(cudaError_t e) {
    if (e != cudaSuccess) g_last_error = e;
    return e;
}

/* ------------------------------------------------------------------------------------------------ memory */
struct allocation {
    char *map;        /* the mapping: guard page, data pages, guard page */
    size_t map_bytes;
    size_t bytes;     /* what cudaMalloc was asked for */
};
static std::map<uintptr_t, allocation> g_allocs; /* by the pointer handed out */
static size_t g_allocated;

static size_t page_bytes(void) {
    static size_t p = 0;
    if (!p) p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
}
static size_t device_bytes(void) {
    static size_t total = 0;
    if (!total) {
        const char *e = getenv("MMLORA_EMU_MEMORY_MB");
        total = (size_t)((e && *e) ? atof(e) : 8192.0) << 20;
    }
    return total;
}

/* the allocation holding [p, p + n), else NULL; *past says by how many bytes the range leaves the allocation
 * that holds p (0 when p is in none) */
static const allocation *find_alloc(const void *p, size_t n, size_t *past, uintptr_t *start) {
    *past = 0;
    const uintptr_t a = (uintptr_t)p;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return NULL;
    --it;
    if (a >= it->first + it->second.bytes && !(n == 0 && a == it->first + it->second.bytes)) return NULL;
    if (start) *start = it->first;
    if (a + n > it->first + it->second.bytes) {
        *past = a + n - (it->first + it->second.bytes);
        return NULL;
    }
    return &it->second;
}

int mm_emu_device_range(const void *p, size_t n, const char *what, const char *call) {
    size_t past;
    uintptr_t start = 0;
    if (find_alloc(p, n, &past, &start)) return 0;
    if (past)
        fprintf(stderr, "mmlora cuda-emu: %s: %s [%p, +%zu bytes) runs %zu bytes past the end of its device allocation "
                        "(%zu bytes at %p)\n", call, what, p, n, past, g_allocs[start].bytes, (void *)start);
    else
        fprintf(stderr, "mmlora cuda-emu: %s: %s %p is not in any device allocation\n", call, what, p);
    return -1;
}

static int is_device(const void *p) {
    size_t past;
    uintptr_t start;
    return find_alloc(p, 1, &past, &start) != NULL || past;
}

/* what an address is, for a fault report: "12 bytes past the end of a 4096-byte allocation at 0x..." */
static void describe_address(uintptr_t a, char *buf, size_t n) {
    for (auto &kv : g_allocs) {
        const allocation &al = kv.second;
        const uintptr_t lo = (uintptr_t)al.map, hi = lo + al.map_bytes;
        if (a < lo || a >= hi) continue;
        if (a >= kv.first + al.bytes)
            snprintf(buf, n, "byte %zu past the end (0: the first) of a %zu-byte device allocation at %p",
                     (size_t)(a - (kv.first + al.bytes)), al.bytes, (void *)kv.first);
        else if (a < kv.first)
            snprintf(buf, n, "%zu bytes before a %zu-byte device allocation at %p", (size_t)(kv.first - a), al.bytes,
                     (void *)kv.first);
        else
            snprintf(buf, n, "inside a %zu-byte device allocation at %p", al.bytes, (void *)kv.first);
        return;
    }
    snprintf(buf, n, "not near any device allocation (a freed buffer, a host pointer, or a wild index)");
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    if (!p) return set_error(cudaErrorInvalidValue);
    *p = NULL;
    if (bytes == 0) return cudaSuccess;
    if (bytes > device_bytes() || g_allocated + bytes > device_bytes()) return set_error(cudaErrorMemoryAllocation);
    const size_t pg = page_bytes(), used = (bytes + 15) & ~(size_t)15; /* 16-byte aligned, ends at the guard */
    const size_t data = (used + pg - 1) / pg * pg, map_bytes = data + 2 * pg;
    char *m = (char *)mmap(NULL, map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return set_error(cudaErrorMemoryAllocation);
    if (mprotect(m + pg, data, PROT_READ | PROT_WRITE)) {
        munmap(m, map_bytes);
        return set_error(cudaErrorMemoryAllocation);
    }
    char *user = m + pg + data - used;
    memset(user, 0xff, used); /* uninitialised device memory reads as NaN (0xffffffff) */
    g_allocs[(uintptr_t)user] = allocation{m, map_bytes, bytes};
    g_allocated += bytes;
    *p = user;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) {
        fprintf(stderr, "mmlora cuda-emu: cudaFree(%p): not a pointer cudaMalloc returned (or freed twice)\n", p);
        return set_error(cudaErrorInvalidValue);
    }
    g_allocated -= it->second.bytes;
    munmap(it->second.map, it->second.map_bytes); /* a later access faults: use after free */
    g_allocs.erase(it);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (!bytes) return cudaSuccess;
    const char *name = kind == cudaMemcpyHostToDevice   ? "cudaMemcpy HostToDevice"
                       : kind == cudaMemcpyDeviceToHost ? "cudaMemcpy DeviceToHost"
                       : kind == cudaMemcpyDeviceToDevice ? "cudaMemcpy DeviceToDevice"
                                                          : "cudaMemcpy";
    const int dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const int src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault || kind == cudaMemcpyHostToHost) {
        memmove(dst, src, bytes);
        return cudaSuccess;
    }
    if (dst_dev && mm_emu_device_range(dst, bytes, "the destination", name)) return set_error(cudaErrorInvalidValue);
    if (src_dev && mm_emu_device_range(src, bytes, "the source", name)) return set_error(cudaErrorInvalidValue);
    if (!dst_dev && is_device(dst)) {
        fprintf(stderr, "mmlora cuda-emu: %s: the host destination %p is device memory\n", name, dst);
        return set_error(cudaErrorInvalidValue);
    }
    if (!src_dev && is_device(src)) {
        fprintf(stderr, "mmlora cuda-emu: %s: the host source %p is device memory\n", name, src);
        return set_error(cudaErrorInvalidValue);
    }
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void *p, int byte, size_t bytes) {
    if (!bytes) return cudaSuccess;
    if (mm_emu_device_range(p, bytes, "the buffer", "cudaMemset")) return set_error(cudaErrorInvalidValue);
    memset(p, byte, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int byte, size_t bytes, cudaStream_t) { return cudaMemset(p, byte, bytes); }
cudaError_t cudaDeviceSynchronize(void) { return g_last_error; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return g_last_error; }
cudaError_t cudaGetLastError(void) {
    cudaError_t e = g_last_error;
    g_last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return g_last_error; }
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}
static int g_device = 0;
cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *d) {
    *d = g_device;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
    if (d != 0) return set_error(cudaErrorInvalidDevice);
    g_device = d;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d != 0) return set_error(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "mmlora CUDA emulator (CPU)");
    p->totalGlobalMem = device_bytes();
    p->major = 9, p->minor = 0, p->multiProcessorCount = 1;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
    *total_b = device_bytes();
    *free_b = device_bytes() - g_allocated;
    return cudaSuccess;
}

/* ------------------------------------------------------------------------------------------------ contexts */
/* A fiber switch: on x86-64 the callee-saved registers pushed on the old stack and popped from the new one (no
 * system call; glibc's swapcontext also saves the signal mask, a system call per switch, which made the emulator
 * several times slower; MXCSR and the x87 control word are not switched: nothing here changes them); elsewhere
 * ucontext. */
#if defined(__x86_64__)
struct context {
    void *sp;
};
extern "C" void mm_emu_switch(void **save_sp, void *to_sp);
asm(".text\n"
    ".globl mm_emu_switch\n"
    ".type mm_emu_switch,@function\n"
    "mm_emu_switch:\n"
    "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n    pushq %r13\n    pushq %r14\n    pushq %r15\n"
    "    movq %rsp, (%rdi)\n    movq %rsi, %rsp\n"
    "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %rbx\n    popq %rbp\n"
    "    ret\n"
    ".size mm_emu_switch, .-mm_emu_switch\n");
/* a stack whose first switch "returns" into entry (which must never return) */
static void ctx_init(context *c, char *stack, size_t size, void (*entry)(void), context *) {
    uint64_t *top = (uint64_t *)(((uintptr_t)(stack + size)) & ~(uintptr_t)15);
#if MM_EMU_ASAN /* a previous fiber's frames never returned here: their redzones are still poisoned (instrumented
                 * frames set their own shadow on entry; these first words are written by no instrumented frame) */
    __asan_unpoison_memory_region(stack + size - 4096, 4096);
#endif
    top[-1] = 0;                     /* entry's return address: none */
    top[-2] = (uint64_t)(uintptr_t)entry;
    for (int i = 3; i <= 8; i++) top[-i] = 0; /* rbp rbx r12 r13 r14 r15 */
    c->sp = top - 8;
}
static inline void ctx_switch(context *from, context *to) { mm_emu_switch(&from->sp, to->sp); }
#else
struct context {
    ucontext_t uc;
};
static void ctx_init(context *c, char *stack, size_t size, void (*entry)(void), context *link) {
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = &link->uc;
    makecontext(&c->uc, entry, 0);
}
static inline void ctx_switch(context *from, context *to) { swapcontext(&from->uc, &to->uc); }
#endif

/* ------------------------------------------------------------------------------------------------ fibers */
enum fiber_state { READY, AT_BARRIER, AT_WARP, DONE };
struct fiber {
    context ctx;
    char *stack;
    fiber_state state;
    const char *file; /* the barrier or collective it waits at */
    int line;
    unsigned mask;
    uint64_t xval[2]; /* a warp exchange's value, double-buffered by the collective's parity */
    unsigned wseq;    /* warp collectives passed */
    uint3 tid;        /* its threadIdx */
    void *tsan;       /* its TSan fiber (racecheck builds) */
    unsigned nbar;    /* __syncthreads passed in this block */
    unsigned nwsync;  /* __syncwarp passed in this block */
};

#if MM_EMU_ASAN
enum { STACK_BYTES = 512 << 10 };
#else
enum { STACK_BYTES = 128 << 10 };
#endif
static std::vector<fiber> g_fibers;
static context g_sched;
static int g_cur = -1;          /* the running fiber, -1 outside a kernel */
static unsigned g_nthreads;
static void (*g_body)(void *);
static void *g_body_ctx;
static const char *g_kernel, *g_launch_file; /* for reports */
static int g_launch_line;
const char *mm_emu_current_call; /* a cuBLAS call in progress (emu_cublas.cpp), for fault reports */
#if MM_EMU_ASAN
static void *g_sched_fake;
static const void *g_sched_bottom;
static size_t g_sched_size;
#endif

static void where(char *buf, size_t n) {
    if (g_cur >= 0)
        snprintf(buf, n, "kernel %s (launched at %s:%d), block (%u,%u,%u), thread (%u,%u,%u)", g_kernel,
                 g_launch_file, g_launch_line, mm_emu_block_idx.x, mm_emu_block_idx.y, mm_emu_block_idx.z,
                 mm_emu_thread_idx.x, mm_emu_thread_idx.y, mm_emu_thread_idx.z);
    else if (g_kernel)
        snprintf(buf, n, "kernel %s (launched at %s:%d), block (%u,%u,%u)", g_kernel, g_launch_file, g_launch_line,
                 mm_emu_block_idx.x, mm_emu_block_idx.y, mm_emu_block_idx.z);
    else if (mm_emu_current_call)
        snprintf(buf, n, "%s", mm_emu_current_call);
    else
        snprintf(buf, n, "host code");
}

[[noreturn]] void mm_emu_fatal(const char *fmt, ...) {
    char ctx[512], msg[1024];
    where(ctx, sizeof ctx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mmlora cuda-emu: %s: %s\n", ctx, msg);
    fflush(stderr);
    abort();
}

static void on_fault(int sig, siginfo_t *si, void *) {
    char ctx[512], what[256];
    where(ctx, sizeof ctx);
    describe_address((uintptr_t)si->si_addr, what, sizeof what);
    fprintf(stderr, "mmlora cuda-emu: %s at address %p in %s: %s\n", sig == SIGBUS ? "bus error" : "memory fault",
            si->si_addr, ctx, what);
    fflush(stderr);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_fault_handler(void) {
    static int done;
    if (done) return;
    done = 1;
    static char alt[1 << 16];
    stack_t ss;
    ss.ss_sp = alt, ss.ss_size = sizeof alt, ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

static void fiber_main(void) {
#if MM_EMU_ASAN
    __sanitizer_finish_switch_fiber(NULL, &g_sched_bottom, &g_sched_size);
#endif
    hb_acquire(&g_hb_block_start); /* after the host's work before this block (which follows the previous block) */
    g_body(g_body_ctx);
    hb_release(&g_hb_block_end); /* -> the host, after the block */
    tsan_switch_to(g_tsan_host);
    g_fibers[g_cur].state = DONE;
#if MM_EMU_ASAN
    __sanitizer_start_switch_fiber(NULL, g_sched_bottom, g_sched_size); /* this fiber ends */
#endif
    context dead;
    ctx_switch(&dead, &g_sched); /* never resumed */
    abort();
}

/* from a fiber back to the scheduler (at a barrier or collective) */
static void yield_to_scheduler(void) {
    fiber &f = g_fibers[g_cur];
    tsan_switch_to(g_tsan_host);
#if MM_EMU_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, g_sched_bottom, g_sched_size);
#endif
    ctx_switch(&f.ctx, &g_sched);
#if MM_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, &g_sched_bottom, &g_sched_size);
#endif
}

static void resume(unsigned t) {
    g_cur = (int)t;
    mm_emu_thread_idx = g_fibers[t].tid;
    tsan_switch_to(g_fibers[t].tsan);
#if MM_EMU_ASAN
    __sanitizer_start_switch_fiber(&g_sched_fake, g_fibers[t].stack, STACK_BYTES);
#endif
    ctx_switch(&g_sched, &g_fibers[t].ctx);
#if MM_EMU_ASAN
    __sanitizer_finish_switch_fiber(g_sched_fake, NULL, NULL);
#endif
    g_cur = -1;
}

void mm_emu_syncthreads_at(const char *file, int line) {
    if (g_cur < 0) mm_emu_fatal("__syncthreads outside a kernel (%s:%d)", file, line);
    fiber &f = g_fibers[g_cur];
    f.state = AT_BARRIER, f.file = file, f.line = line;
    char *sync = &g_hb_barrier[f.nbar++ & 1];
    hb_release(sync);
    yield_to_scheduler();
    hb_acquire(sync);
}

void mm_emu_syncwarp_at(const char *file, int line) {
    if (g_cur < 0) mm_emu_fatal("__syncwarp outside a kernel (%s:%d)", file, line);
    char *sync = &g_hb_warp[((unsigned)g_cur >> 5) & 31u][g_fibers[g_cur].nwsync++ & 1];
    hb_release(sync);
    (void)mm_emu_warp_exchange(0xffffffffu, 0, 0, file, line);
    hb_acquire(sync);
}

uint64_t mm_emu_warp_exchange(unsigned mask, uint64_t mine, int src_lane, const char *file, int line) {
    if (g_cur < 0) mm_emu_fatal("a warp shuffle outside a kernel (%s:%d)", file, line);
    const unsigned me = (unsigned)g_cur, base = me & ~31u, lane = me & 31u;
    if (!((mask >> lane) & 1u))
        mm_emu_fatal("the warp shuffle at %s:%d has mask 0x%08x without the calling lane %u", file, line, mask, lane);
    fiber &f = g_fibers[me];
    const unsigned slot = f.wseq & 1u;
    f.xval[slot] = mine;
    f.state = AT_WARP, f.file = file, f.line = line, f.mask = mask;
    yield_to_scheduler();
    g_fibers[me].wseq++;
    if (src_lane < 0 || src_lane > 31 || !((mask >> src_lane) & 1u)) return mine; /* no such lane: own value */
    return g_fibers[base + (unsigned)src_lane].xval[slot];
}

/* warp collectives in progress: per warp, how many lanes arrived and where the first one waits */
struct warp_wait {
    unsigned arrived, expected;
    unsigned mask;
    const char *file;
    int line;
};
static std::vector<warp_wait> g_warps;

/* lane t arrived at a warp collective: checked against the first arrival; the warp is released when every lane
 * of the mask is there (one scan of the warp per collective, at its first arrival) */
static void warp_arrive(unsigned t) {
    const fiber &f = g_fibers[t];
    const unsigned base = t & ~31u;
    warp_wait &w = g_warps[t >> 5];
    if (w.arrived == 0) {
        for (unsigned l = 0; l < 32; l++) {
            if (!((f.mask >> l) & 1u)) continue;
            if (base + l >= g_nthreads)
                mm_emu_fatal("the warp shuffle at %s:%d names lane %u, which this block (%u threads) does not have",
                             f.file, f.line, l, g_nthreads);
            if (g_fibers[base + l].state == DONE)
                mm_emu_fatal("the warp shuffle at %s:%d waits for lane %u, which has exited", f.file, f.line, l);
        }
        w.mask = f.mask, w.file = f.file, w.line = f.line;
        w.expected = 0;
        for (unsigned m = f.mask; m; m &= m - 1) w.expected++;
    } else if (f.file != w.file || f.line != w.line || f.mask != w.mask) {
        mm_emu_fatal("divergent warp collectives: lane %u at %s:%d (mask 0x%08x) while others wait at %s:%d (mask "
                     "0x%08x)", t & 31u, f.file, f.line, f.mask, w.file, w.line, w.mask);
    }
    if (++w.arrived < w.expected) return;
    w.arrived = 0;
    for (unsigned l = 0; l < 32; l++)
        if ((w.mask >> l) & 1u) g_fibers[base + l].state = READY;
}
/* lane t exited: an error if its warp waits for it */
static void warp_exit(unsigned t) {
    const warp_wait &w = g_warps[t >> 5];
    if (w.arrived && ((w.mask >> (t & 31u)) & 1u))
        mm_emu_fatal("the warp shuffle at %s:%d waits for lane %u, which has exited", w.file, w.line, t & 31u);
}

/* ------------------------------------------------------------------------------------------------ launches */
enum order_kind { ORDER_FORWARD, ORDER_REVERSE, ORDER_SHUFFLE };
static order_kind g_order;
static uint64_t g_rng;
static void read_order(void) {
    static int done;
    if (done) return;
    done = 1;
    const char *e = getenv("MMLORA_EMU_ORDER");
    g_order = !e || !*e || !strcmp(e, "forward") ? ORDER_FORWARD
              : !strcmp(e, "reverse")             ? ORDER_REVERSE
              : !strcmp(e, "shuffle")             ? ORDER_SHUFFLE
                                                  : (fprintf(stderr, "mmlora cuda-emu: MMLORA_EMU_ORDER=%s: expected "
                                                                     "forward, reverse or shuffle\n", e),
                                                     exit(2), ORDER_FORWARD);
    const char *s = getenv("MMLORA_EMU_SEED");
    g_rng = (s && *s) ? strtoull(s, NULL, 0) : 0x5DEECE66Dull;
}
void mm_emu_set_order(const char *order) { /* the selftest's switch (else the environment decides) */
    read_order();
    g_order = !strcmp(order, "reverse") ? ORDER_REVERSE : !strcmp(order, "shuffle") ? ORDER_SHUFFLE : ORDER_FORWARD;
}
static uint64_t next_rand(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return g_rng;
}
static void make_order(std::vector<unsigned> &o, unsigned n) {
    o.resize(n);
    for (unsigned i = 0; i < n; i++) o[i] = g_order == ORDER_REVERSE ? n - 1 - i : i;
    if (g_order == ORDER_SHUFFLE)
        for (unsigned i = n; i > 1; i--) std::swap(o[i - 1], o[next_rand() % i]);
}

static void ensure_fibers(unsigned n) {
    const size_t pg = page_bytes();
    while (g_fibers.size() < n) {
        fiber f;
        memset(&f, 0, sizeof f);
        char *m = (char *)mmap(NULL, STACK_BYTES + pg, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) mm_emu_fatal("cannot map a fiber stack");
        mprotect(m, pg, PROT_NONE); /* stack overflow faults */
        f.stack = m + pg;
#if MM_EMU_TSAN
        f.tsan = __tsan_create_fiber(0);
#endif
        g_fibers.push_back(f);
    }
}

/* Where fiber t's stack starts below the top of its mapping.  The mappings are page-aligned, so without an offset
 * every fiber's hot frames share the same few L1/L2 cache sets and thrash them at every switch; stepping 9 cache
 * lines per fiber (coprime to the 64 sets of a 4 KiB way) within 64 KiB spreads them over every set. */
static size_t stack_color(unsigned t) { return (size_t)t * 9 * 64 % (64 << 10); }

static void run_block(const std::vector<unsigned> &order) {
    for (unsigned t = 0; t < g_nthreads; t++) {
        fiber &f = g_fibers[t];
        ctx_init(&f.ctx, f.stack, STACK_BYTES - stack_color(t), fiber_main, &g_sched);
        f.state = READY, f.wseq = 0, f.file = NULL, f.line = 0, f.nbar = 0, f.nwsync = 0;
    }
    g_warps.assign((g_nthreads + 31) / 32, warp_wait{0, 0, 0, NULL, 0});
    unsigned done = 0, at_barrier = 0, first = 0;
    while (done < g_nthreads) {
        int progress = 0;
        for (unsigned i = 0; i < g_nthreads; i++) {
            const unsigned t = order[i];
            if (g_fibers[t].state != READY) continue;
            resume(t);
            progress = 1;
            const fiber &f = g_fibers[t];
            if (f.state == DONE) {
                done++;
                warp_exit(t);
            } else if (f.state == AT_WARP) {
                warp_arrive(t);
            } else if (f.state == AT_BARRIER) { /* every thread must wait at the same barrier */
                if (at_barrier++ == 0) first = t;
                else if (f.file != g_fibers[first].file || f.line != g_fibers[first].line)
                    mm_emu_fatal("divergent __syncthreads: thread %u waits at %s:%d, thread %u at %s:%d", first,
                                 g_fibers[first].file, g_fibers[first].line, t, f.file, f.line);
            }
        }
        if (done == g_nthreads) break;
        if (at_barrier && at_barrier + done == g_nthreads) { /* every live thread at the barrier */
            if (done)
                mm_emu_fatal("__syncthreads at %s:%d reached by %u threads while %u have already exited the block "
                             "(a barrier every thread must reach)", g_fibers[first].file, g_fibers[first].line,
                             at_barrier, done);
            for (unsigned t = 0; t < g_nthreads; t++) g_fibers[t].state = READY;
            at_barrier = 0;
            continue;
        }
        if (!progress) {
            char msg[1024];
            int len = snprintf(msg, sizeof msg, "deadlock: %u threads at __syncthreads, the others waiting at warp "
                                                "collectives or exited; e.g.", at_barrier);
            for (unsigned t = 0, shown = 0; t < g_nthreads && shown < 4; t++)
                if (g_fibers[t].state != DONE && len < (int)sizeof msg - 80) {
                    len += snprintf(msg + len, sizeof msg - len, " thread %u %s %s:%d;", t,
                                    g_fibers[t].state == AT_BARRIER ? "barrier" : "shuffle", g_fibers[t].file,
                                    g_fibers[t].line);
                    shown++;
                }
            mm_emu_fatal("%s", msg);
        }
    }
}


/* the __shared__ variables of every kernel linked into this module (include/cuda_runtime.h; none under ASan) */
extern "C" char __start_mm_emu_shared_cu[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_mm_emu_shared_cu[] __attribute__((weak, visibility("hidden")));
extern "C" char __start_mm_emu_shared_hdr[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_mm_emu_shared_hdr[] __attribute__((weak, visibility("hidden")));
static void poison_range(char *start, char *stop) {
    if (start && stop > start) memset(start, 0xff, (size_t)(stop - start));
}
static void poison_shared(void) {
    poison_range(__start_mm_emu_shared_cu, __stop_mm_emu_shared_cu);
    poison_range(__start_mm_emu_shared_hdr, __stop_mm_emu_shared_hdr);
}

void mm_emu_run(const char *kernel, const char *file, int line, mm_emu_config cfg, void (*body)(void *), void *ctx) {
    read_order();
    install_fault_handler();
    if (g_cur >= 0) mm_emu_fatal("a kernel launch (%s at %s:%d) from inside a kernel", kernel, file, line);
    const dim3 g = cfg.grid, b = cfg.block;
    const unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
    if (!threads || threads > 1024 || b.z > 64 || !g.x || !g.y || !g.z || g.x > 2147483647u || g.y > 65535 ||
        g.z > 65535 || cfg.shared_bytes > 48 * 1024) {
        fprintf(stderr, "mmlora cuda-emu: launch of %s at %s:%d: invalid configuration grid (%u,%u,%u) block "
                        "(%u,%u,%u), %zu bytes of dynamic shared memory\n", kernel, file, line, g.x, g.y, g.z, b.x, b.y,
                b.z, cfg.shared_bytes);
        set_error(cudaErrorInvalidConfiguration);
        return;
    }
    g_kernel = kernel, g_launch_file = file, g_launch_line = line;
#if MM_EMU_TSAN
    g_tsan_host = __tsan_get_current_fiber();
#endif
    g_body = body, g_body_ctx = ctx;
    g_nthreads = (unsigned)threads;
    mm_emu_block_dim = b, mm_emu_grid_dim = g;
    ensure_fibers(g_nthreads);
    for (unsigned t = 0; t < g_nthreads; t++) g_fibers[t].tid = uint3{t % b.x, (t / b.x) % b.y, t / (b.x * b.y)};
    std::vector<unsigned> blocks, threads_order;
    const unsigned long long nblocks = (unsigned long long)g.x * g.y * g.z;
    if (nblocks > 0xffffffffull) mm_emu_fatal("a grid of %llu blocks", nblocks);
    make_order(blocks, (unsigned)nblocks);
    make_order(threads_order, g_nthreads);
    for (unsigned i = 0; i < (unsigned)nblocks; i++) {
        const unsigned bi = blocks[i];
        mm_emu_block_idx = uint3{bi % g.x, (bi / g.x) % g.y, bi / (g.x * g.y)};
        if (g_order == ORDER_SHUFFLE && i) make_order(threads_order, g_nthreads); /* a new order per block */
        hb_acquire(&g_hb_block_end); /* the previous block -> the host, which refills shared memory -> this block */
        poison_shared(); /* a block starts with garbage in shared memory, as on the GPU */
        hb_release(&g_hb_block_start);
        run_block(threads_order);
    }
    hb_acquire(&g_hb_block_end); /* the launch -> the host after it */
    mm_emu_thread_idx = uint3{0, 0, 0};
    g_kernel = NULL;
}
