/* Emulated NCCL for the CPU emulator of CUDA (tests/cuda_emu): a shared library with NCCL's C ABI (the subset
 * kernels/cuda/comm.cu dlopens through MMLORA_NCCL_LIB: ncclGetUniqueId, ncclCommInitRank, ncclAllReduce,
 * ncclCommDestroy, ncclGetErrorString, plus ncclGetVersion, ncclCommCount, ncclCommUserRank, ncclGetLastError).
 * In the emulator "device memory" is host memory, so the buffers are read and written directly; the stream is
 * ignored (the emulator's streams are synchronous) and every call completes before it returns.
 *
 * Ranks are processes on one machine (or nranks == 1 in one process).  They meet in a POSIX shared-memory segment
 * named from the unique id (magic tag, creator pid, random bytes): a header (state word, join counter, per-rank
 * claim flags, barrier counters) and one staging slot of SLOT_BYTES per rank.  The name is unlinked as soon as all
 * ranks have joined (or by any rank whose init fails), so nothing stays in /dev/shm; the mappings stay valid.
 * Synchronisation is atomics in the segment plus shared futex waits in short slices (no busy spinning), each wait
 * bounded by env MMLORA_EMU_NCCL_TIMEOUT_S (seconds, fractional allowed, default 120): a rank that died or stopped
 * calling makes the others fail with ncclRemoteError (and one line on stderr) instead of hanging.  After such a
 * failure the communicator is broken: later collectives on it fail at once; ncclCommDestroy still works.
 *
 * ncclAllReduce (float32, sum): each rank copies a chunk of its send buffer into its slot, barrier, every rank
 * computes recv[i] = ((slot0[i] + slot1[i]) + slot2[i]) + ... in rank order in float, barrier (slots reusable);
 * so the result is bit-identical on every rank and equals the rank-order float sum done on one host. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* ---------------------------------------------------------------- NCCL's C ABI (as comm.cu declares it) */
typedef struct { char internal[128]; } ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef enum {
    ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
    ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6
} ncclResult_t;
enum { ncclSum = 0, ncclFloat32 = 7 };

/* ---------------------------------------------------------------- the id and the shared segment */
#define ID_MAGIC "mmlora-nccl-emu1"   /* 16 bytes, no NUL stored */
#define SHM_PREFIX "/mmlora-nccl-emu-" /* segment name: SHM_PREFIX<creator pid>-<32 hex digits> */
#define MAX_RANKS 1024
#define HDR_BYTES 8192                 /* page-aligned; holds struct shm_hdr */
#define SLOT_BYTES (4u << 20)          /* staging per rank: 4 MiB = 1 Mi floats */
#define WAIT_SLICE_NS 200000000L       /* longest single futex sleep; deadlines are checked between */

struct id_layout { char magic[16]; int32_t pid; uint8_t rnd[16]; }; /* in the 128 bytes of ncclUniqueId */
_Static_assert(sizeof(struct id_layout) <= sizeof(ncclUniqueId), "id layout fits");

struct shm_hdr {
    _Atomic uint32_t state;   /* 0 fresh (zero-filled), 1 being initialized, 2 ready */
    uint32_t nranks;          /* set by the initializer before state 2 */
    _Atomic uint32_t joined;  /* ranks that claimed their number */
    _Atomic uint32_t arrived; /* barrier: ranks arrived in the current generation */
    _Atomic uint32_t gen;     /* barrier: generation, bumped by the last to arrive */
    _Atomic uint32_t claimed[MAX_RANKS];
};
_Static_assert(sizeof(struct shm_hdr) <= HDR_BYTES, "header fits");

struct ncclComm {
    struct shm_hdr *hdr;
    unsigned char *base; /* the mapping: header then nranks slots */
    size_t bytes;
    int nranks, rank, broken;
    double timeout_s;
    char last[256];      /* last error on this communicator (ncclGetLastError) */
};

/* ---------------------------------------------------------------- error messages */
static _Thread_local int last_code = -1;
static _Thread_local char last_msg[256], str_buf[400];

static ncclResult_t fail(struct ncclComm *c, ncclResult_t r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_code = (int)r;
    if (c) snprintf(c->last, sizeof c->last, "%s", last_msg);
    return r;
}

static const char *generic(int r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    default: return "unknown result code";
    }
}

/* the generic text, followed by this thread's last detailed message when it was for the same code */
EXPORT const char *ncclGetErrorString(ncclResult_t r) {
    if ((int)r != last_code || !last_msg[0] || r == ncclSuccess) return generic((int)r);
    snprintf(str_buf, sizeof str_buf, "%s (nccl-emu: %s)", generic((int)r), last_msg);
    return str_buf;
}

EXPORT const char *ncclGetLastError(ncclComm_t comm) { return comm ? comm->last : last_msg; }

EXPORT ncclResult_t ncclGetVersion(int *version) {
    if (!version) return fail(NULL, ncclInvalidArgument, "ncclGetVersion: null pointer");
    *version = 22000; /* 2.20.0 */
    return ncclSuccess;
}

/* ---------------------------------------------------------------- waiting: shared futex, bounded by a deadline */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double timeout_from_env(void) {
    const char *s = getenv("MMLORA_EMU_NCCL_TIMEOUT_S");
    char *end;
    double v = s && *s ? strtod(s, &end) : 0;
    return s && *s && !*end && v > 0 && v < 1e7 ? v : 120.0;
}

/* sleeps while *w == seen (or until woken), at most until the deadline; no spinning */
static void futex_wait(_Atomic uint32_t *w, uint32_t seen, double deadline) {
    double left = deadline - now_s();
    if (left <= 0) return;
    long ns = left * 1e9 < WAIT_SLICE_NS ? (long)(left * 1e9) + 1 : WAIT_SLICE_NS;
    struct timespec t = {0, ns};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, seen, &t, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w) {
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static ncclResult_t timed_out(struct ncclComm *c, const char *what, unsigned arrived) {
    c->broken = 1;
    fprintf(stderr,
            "mmlora nccl-emu: rank %d: %s timed out after %g s (a rank died or stopped calling: %u of %d arrived)\n",
            c->rank, what, c->timeout_s, arrived, c->nranks);
    return fail(c, ncclRemoteError, "rank %d: %s timed out after %g s (%u of %d ranks arrived)", c->rank, what,
                c->timeout_s, arrived, c->nranks);
}

/* all ranks meet; the counter is reset before the generation moves, so the barrier is reusable at once */
static ncclResult_t barrier(struct ncclComm *c, const char *what) {
    struct shm_hdr *h = c->hdr;
    uint32_t g = atomic_load(&h->gen);
    if (atomic_fetch_add(&h->arrived, 1) + 1 == (uint32_t)c->nranks) {
        atomic_store(&h->arrived, 0);
        atomic_fetch_add(&h->gen, 1);
        futex_wake_all(&h->gen);
        return ncclSuccess;
    }
    double deadline = now_s() + c->timeout_s;
    while (atomic_load(&h->gen) == g) {
        if (now_s() >= deadline) return timed_out(c, what, atomic_load(&h->arrived));
        futex_wait(&h->gen, g, deadline);
    }
    return ncclSuccess;
}

/* ---------------------------------------------------------------- the communicator */
static void shm_name(const struct id_layout *id, char *name, size_t n) {
    int k = snprintf(name, n, SHM_PREFIX "%d-", (int)id->pid);
    for (int i = 0; i < 16 && k + 2 < (int)n; i++, k += 2) snprintf(name + k, n - (size_t)k, "%02x", id->rnd[i]);
}

EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId *out) {
    if (!out) return fail(NULL, ncclInvalidArgument, "ncclGetUniqueId: null pointer");
    static _Atomic unsigned counter;
    struct id_layout id;
    memset(out, 0, sizeof *out);
    memcpy(id.magic, ID_MAGIC, sizeof id.magic);
    id.pid = (int32_t)getpid();
    if (getrandom(id.rnd, sizeof id.rnd, 0) != (ssize_t)sizeof id.rnd) { /* fallback: time and a counter */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        uint64_t a = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30);
        uint64_t b = atomic_fetch_add(&counter, 1) + (uint64_t)id.pid;
        memcpy(id.rnd, &a, 8);
        memcpy(id.rnd + 8, &b, 8);
    }
    memcpy(out->internal, &id, sizeof id);
    return ncclSuccess;
}

EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *out, int nranks, ncclUniqueId commId, int rank) {
    if (!out) return fail(NULL, ncclInvalidArgument, "ncclCommInitRank: null comm pointer");
    *out = NULL;
    if (nranks < 1 || nranks > MAX_RANKS)
        return fail(NULL, ncclInvalidArgument, "ncclCommInitRank: nranks %d not in 1..%d", nranks, MAX_RANKS);
    if (rank < 0 || rank >= nranks)
        return fail(NULL, ncclInvalidArgument, "ncclCommInitRank: rank %d not in 0..%d", rank, nranks - 1);
    struct id_layout id;
    memcpy(&id, commId.internal, sizeof id);
    if (memcmp(id.magic, ID_MAGIC, sizeof id.magic))
        return fail(NULL, ncclInvalidArgument, "ncclCommInitRank: not an id from this library's ncclGetUniqueId");

    struct ncclComm *c = calloc(1, sizeof *c);
    if (!c) return fail(NULL, ncclSystemError, "ncclCommInitRank: out of memory");
    c->nranks = nranks;
    c->rank = rank;
    c->timeout_s = timeout_from_env();
    c->bytes = HDR_BYTES + (size_t)nranks * SLOT_BYTES;
    char name[96];
    shm_name(&id, name, sizeof name);
    ncclResult_t r = ncclSuccess;
    int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
    struct stat st;
    /* grow only: a rank that passes nranks differently never shrinks the segment under the others */
    if (fd < 0 || fstat(fd, &st) || ((size_t)st.st_size < c->bytes && ftruncate(fd, (off_t)c->bytes))) {
        r = fail(NULL, ncclSystemError, "ncclCommInitRank: shared memory %s: %s", name, strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    c->base = mmap(NULL, c->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (c->base == MAP_FAILED) {
        c->base = NULL;
        r = fail(NULL, ncclSystemError, "ncclCommInitRank: mmap %s: %s", name, strerror(errno));
        goto out;
    }
    struct shm_hdr *h = c->hdr = (struct shm_hdr *)c->base;
    double deadline = now_s() + c->timeout_s;
    uint32_t zero = 0, s;
    if (atomic_compare_exchange_strong(&h->state, &zero, 1)) { /* the initializer (the segment is zero-filled) */
        h->nranks = (uint32_t)nranks;
        atomic_store(&h->state, 2);
        futex_wake_all(&h->state);
    }
    while ((s = atomic_load(&h->state)) != 2) {
        if (now_s() >= deadline) {
            r = timed_out(c, "ncclCommInitRank (waiting for the segment's initializer)", atomic_load(&h->joined));
            goto out;
        }
        futex_wait(&h->state, s, deadline);
    }
    if (h->nranks != (uint32_t)nranks) {
        r = fail(NULL, ncclInvalidUsage, "ncclCommInitRank: rank %d says nranks %d, rank(s) before it said %u", rank,
                 nranks, h->nranks);
        goto out;
    }
    if (atomic_exchange(&h->claimed[rank], 1)) {
        r = fail(NULL, ncclInvalidUsage, "ncclCommInitRank: rank %d is claimed by two processes", rank);
        goto out;
    }
    uint32_t j = atomic_fetch_add(&h->joined, 1) + 1;
    if (j == (uint32_t)nranks) futex_wake_all(&h->joined);
    while ((j = atomic_load(&h->joined)) < (uint32_t)nranks) {
        if (now_s() >= deadline) {
            r = timed_out(c, "ncclCommInitRank (waiting for the other ranks to join)", j);
            goto out;
        }
        futex_wait(&h->joined, j, deadline);
    }
out:
    /* everyone has the segment open (or this init failed, and with it the communicator): drop the name.  All
     * ranks unlinking is harmless (ENOENT), and it leaves nothing behind whichever rank is the last to return. */
    shm_unlink(name);
    if (r != ncclSuccess) {
        if (c->base) munmap(c->base, c->bytes);
        free(c);
        return r;
    }
    *out = c;
    return ncclSuccess;
}

EXPORT ncclResult_t ncclCommDestroy(ncclComm_t c) {
    if (!c) return fail(NULL, ncclInvalidArgument, "ncclCommDestroy: null comm");
    munmap(c->base, c->bytes); /* purely local: works whatever became of the other ranks */
    free(c);
    return ncclSuccess;
}

EXPORT ncclResult_t ncclCommAbort(ncclComm_t c) { return ncclCommDestroy(c); }

EXPORT ncclResult_t ncclCommCount(const ncclComm_t c, int *count) {
    if (!c || !count) return fail(c, ncclInvalidArgument, "ncclCommCount: null argument");
    *count = c->nranks;
    return ncclSuccess;
}

EXPORT ncclResult_t ncclCommUserRank(const ncclComm_t c, int *rank) {
    if (!c || !rank) return fail(c, ncclInvalidArgument, "ncclCommUserRank: null argument");
    *rank = c->rank;
    return ncclSuccess;
}

/* ---------------------------------------------------------------- the collective */
EXPORT ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, int datatype, int op, ncclComm_t c,
                                  void *stream) {
    if (!c) return fail(NULL, ncclInvalidArgument, "ncclAllReduce: null comm");
    if (datatype != ncclFloat32)
        return fail(c, ncclInvalidArgument, "ncclAllReduce: datatype %d (emulated: float32 only)", datatype);
    if (op != ncclSum) return fail(c, ncclInvalidArgument, "ncclAllReduce: op %d (emulated: sum only)", op);
    if (count && (!send || !recv)) return fail(c, ncclInvalidArgument, "ncclAllReduce: null buffer");
    if (c->broken) return fail(c, ncclRemoteError, "ncclAllReduce: the communicator failed earlier (%s)", c->last);
    if (count == 0) return ncclSuccess;
    if (c->nranks == 1) {
        if (send != recv) memmove(recv, send, count * sizeof(float));
        return ncclSuccess;
    }
    const size_t chunk = SLOT_BYTES / sizeof(float);
    const float *in = send;
    float *res = recv, *mine = (float *)(c->base + HDR_BYTES + (size_t)c->rank * SLOT_BYTES);
    for (size_t off = 0; off < count; off += chunk) {
        size_t n = count - off < chunk ? count - off : chunk;
        memcpy(mine, in + off, n * sizeof(float));
        ncclResult_t r = barrier(c, "ncclAllReduce (slots filled)");
        if (r != ncclSuccess) return r;
        /* rank order, one float rounding per addition: res = ((slot0 + slot1) + slot2) + ... (this rank's send
         * chunk is already staged, so writing res in place is safe) */
        memcpy(res + off, c->base + HDR_BYTES, n * sizeof(float));
        for (int k = 1; k < c->nranks; k++) {
            const float *slot = (const float *)(c->base + HDR_BYTES + (size_t)k * SLOT_BYTES);
            for (size_t i = 0; i < n; i++) res[off + i] += slot[i];
        }
        if ((r = barrier(c, "ncclAllReduce (slots read)")) != ncclSuccess) return r;
    }
    return ncclSuccess;
}
