/* Test of the emulated NCCL (tests/cuda_emu/emu_nccl.c): usage  nccl_emu_test path/to/libnccl_emu.so
 * The library is dlopened and called through dlsym'd pointers, as kernels/cuda/comm.cu does.  Checks: one rank in
 * process (identity, bit-exact, in place and out of place; argument errors); three forked ranks (rank 0 makes the
 * id and pipes it to the others) summing rank-dependent floats bit-exactly in rank order, counts 0, 1, 1000 and
 * more than the 4 MiB staging slot, then 50 small all-reduces back to back; a rank that dies after init (the others
 * fail within the timeout instead of hanging); two processes claiming one rank number, and disagreeing nranks
 * (errors, not hangs); nothing left in /dev/shm.  Prints PASS/FAIL per check; exits 0 only if all pass. */
#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef int ncclResult_t;
enum { ncclSum = 0, ncclFloat32 = 7, ncclFloat64 = 8, ncclProd = 1 };

static struct {
    ncclResult_t (*get_id)(ncclUniqueId *);
    ncclResult_t (*init_rank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*allreduce)(const void *, void *, size_t, int, int, ncclComm_t, void *);
    ncclResult_t (*destroy)(ncclComm_t);
    const char *(*errstr)(ncclResult_t);
    ncclResult_t (*version)(int *);
    ncclResult_t (*count)(ncclComm_t, int *);
    ncclResult_t (*user_rank)(ncclComm_t, int *);
} nc;

#define BIG (3u * 1024 * 1024 + 12345) /* floats: three full 4 MiB staging chunks and a partial one */
#define SHM_PREFIX "mmlora-nccl-emu-"
static int failures;
static pid_t pids[64];
static int npids;

/* one line per check, written with one write(2) so lines from forked ranks do not interleave */
static int check(int ok, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(line, sizeof line, "%s ", ok ? "PASS" : "FAIL");
    k += vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    if (k > (int)sizeof line - 2) k = (int)sizeof line - 2;
    line[k++] = '\n';
    if (write(1, line, (size_t)k) < 0) _exit(3);
    if (!ok) failures++;
    return ok;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* a finite float with a random sign and an exponent in 2^-12..2^12, so the order of the additions matters */
static float gen(uint32_t rank, uint32_t seed, size_t i) {
    uint64_t x = ((uint64_t)seed << 40) ^ ((uint64_t)rank << 32) ^ (uint64_t)i;
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    uint32_t bits = (uint32_t)(x >> 63) << 31 | (uint32_t)(127 - 12 + (x >> 32) % 25) << 23 | (uint32_t)(x & 0x7fffff);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* fills buf with this rank's values and exp with the rank-order float sum over all ranks */
static void fill(float *buf, float *exp, size_t n, int rank, int nranks, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        buf[i] = gen((uint32_t)rank, seed, i);
        float s = gen(0, seed, i);
        for (int k = 1; k < nranks; k++) s += gen((uint32_t)k, seed, i);
        exp[i] = s;
    }
}

static size_t first_diff(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof *a)) return i;
    return n;
}

/* ---------------------------------------------------------------- one rank, in this process */
static void test_one_rank(void) {
    ncclUniqueId id;
    ncclComm_t c = NULL;
    int v = 0, cnt = 0, rk = -1;
    ncclResult_t r = nc.version(&v);
    check(r == 0 && v >= 20000, "ncclGetVersion: %d", v);
    check(nc.get_id(&id) == 0, "ncclGetUniqueId");
    r = nc.init_rank(&c, 1, id, 0);
    if (!check(r == 0 && c, "1 rank: ncclCommInitRank (%s)", nc.errstr(r))) return;
    r = nc.count(c, &cnt) | nc.user_rank(c, &rk);
    check(r == 0 && cnt == 1 && rk == 0, "1 rank: ncclCommCount %d, ncclCommUserRank %d", cnt, rk);
    size_t n = BIG;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *o = malloc(n * sizeof *o);
    if (!a || !b || !o) abort();
    for (size_t i = 0; i < n; i++) a[i] = gen(0, 7, i);
    /* -0, a NaN with a payload, -inf, the smallest denormal, the largest float */
    uint32_t specials[] = {0x80000000u, 0x7fc01234u, 0xff800000u, 0x00000001u, 0x7f7fffffu};
    memcpy(a, specials, sizeof specials);
    memcpy(b, a, n * sizeof *a);
    memset(o, 0xab, n * sizeof *o);
    r = nc.allreduce(a, o, n, ncclFloat32, ncclSum, c, NULL);
    check(r == 0 && first_diff(o, b, n) == n && first_diff(a, b, n) == n,
          "1 rank: out of place is the identity (bit-exact, %zu floats)", n);
    r = nc.allreduce(a, a, n, ncclFloat32, ncclSum, c, NULL);
    check(r == 0 && first_diff(a, b, n) == n, "1 rank: in place is the identity (bit-exact)");
    check(nc.allreduce(a, a, 0, ncclFloat32, ncclSum, c, NULL) == 0, "1 rank: count 0");
    /* argument errors */
    r = nc.allreduce(a, a, 10, ncclFloat64, ncclSum, c, NULL);
    check(r != 0, "float64 rejected (%s)", nc.errstr(r));
    check(nc.allreduce(a, a, 10, ncclFloat32, ncclProd, c, NULL) != 0, "op prod rejected");
    check(nc.allreduce(a, a, 10, ncclFloat32, ncclSum, NULL, NULL) != 0, "all-reduce with a null comm rejected");
    check(nc.destroy(c) == 0, "1 rank: ncclCommDestroy");
    check(nc.destroy(NULL) != 0, "ncclCommDestroy(NULL) rejected");
    free(a), free(b), free(o);

    ncclComm_t d = (ncclComm_t)1;
    r = nc.init_rank(&d, 0, id, 0);
    check(r != 0 && d == NULL, "nranks 0 rejected (%s)", nc.errstr(r));
    check(nc.init_rank(&d, 3, id, 3) != 0, "rank 3 of 3 rejected");
    check(nc.init_rank(&d, 3, id, -1) != 0, "rank -1 rejected");
    check(nc.init_rank(NULL, 1, id, 0) != 0, "null comm pointer rejected");
    ncclUniqueId bad;
    memset(&bad, 0, sizeof bad);
    r = nc.init_rank(&d, 1, bad, 0);
    check(r != 0, "an id not from ncclGetUniqueId rejected (%s)", nc.errstr(r));
}

/* ---------------------------------------------------------------- forked ranks */
typedef int (*rank_fn)(int idx, ncclUniqueId id, int arg);

/* runs fn in nproc forked processes; process 0 makes the id and pipes it to the others; returns how many failed */
static int run_ranks(int nproc, rank_fn fn, int arg) {
    int fds[16][2];
    pid_t kids[16];
    fflush(NULL);
    for (int k = 1; k < nproc; k++)
        if (pipe(fds[k])) abort();
    for (int k = 0; k < nproc; k++) {
        pid_t p = fork();
        if (p < 0) abort();
        if (p == 0) {
            alarm(90); /* a hang kills the rank (reported below) rather than the whole run */
            ncclUniqueId id;
            if (k == 0) {
                if (nc.get_id(&id)) _exit(2);
                for (int j = 1; j < nproc; j++)
                    if (write(fds[j][1], &id, sizeof id) != (ssize_t)sizeof id) _exit(2);
            } else if (read(fds[k][0], &id, sizeof id) != (ssize_t)sizeof id) {
                _exit(2);
            }
            failures = 0;
            int rc = fn(k, id, arg);
            _exit(rc || failures ? 1 : 0);
        }
        kids[k] = pids[npids++] = p;
    }
    for (int k = 1; k < nproc; k++) close(fds[k][0]), close(fds[k][1]);
    int bad = 0;
    for (int k = 0; k < nproc; k++) {
        int st;
        if (waitpid(kids[k], &st, 0) != kids[k] || !WIFEXITED(st) || WEXITSTATUS(st)) {
            bad++;
            if (WIFSIGNALED(st)) check(0, "process %d killed by signal %d", k, WTERMSIG(st));
        }
    }
    return bad;
}

static int shm_entries(pid_t pid) {
    char pre[64];
    snprintf(pre, sizeof pre, SHM_PREFIX "%d-", (int)pid);
    DIR *d = opendir("/dev/shm");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, pre, strlen(pre));
    if (d) closedir(d);
    return n;
}

/* three ranks: several sizes, then many small all-reduces back to back */
static int sums(int rank, ncclUniqueId id, int nranks) {
    ncclComm_t c;
    ncclResult_t r = nc.init_rank(&c, nranks, id, rank);
    if (!check(r == 0, "rank %d: ncclCommInitRank (%s)", rank, nc.errstr(r))) return 1;
    if (rank == 0) check(shm_entries(getpid()) == 0, "rank 0: shared-memory name unlinked once all ranks joined");
    float *buf = malloc(BIG * sizeof(float)), *exp = malloc(BIG * sizeof(float)), *out = malloc(BIG * sizeof(float));
    if (!buf || !exp || !out) abort();
    size_t counts[] = {0, 1, 1000, BIG};
    for (int t = 0; t < 8; t++) { /* each count in place, then out of place */
        size_t n = counts[t / 2];
        int inplace = t % 2 == 0;
        fill(buf, exp, n, rank, nranks, (uint32_t)t + 1);
        double t0 = now_s();
        r = nc.allreduce(buf, inplace ? buf : out, n, ncclFloat32, ncclSum, c, NULL);
        double el = now_s() - t0;
        size_t d = first_diff(inplace ? buf : out, exp, n);
        int send_kept = inplace || (n == 0 || buf[n - 1] == gen((uint32_t)rank, (uint32_t)t + 1, n - 1));
        check(r == 0 && d == n && send_kept, "rank %d: %d ranks, count %zu, %s: bit-exact rank-order sum (%.3f s)%s",
              rank, nranks, n, inplace ? "in place" : "out of place", el, d < n ? " MISMATCH" : "");
    }
    int bad = 0;
    double t0 = now_s();
    for (int it = 0; it < 50; it++) {
        size_t n = 1 + (size_t)(it * 37 % 500);
        fill(buf, exp, n, rank, nranks, 1000u + (uint32_t)it);
        r = nc.allreduce(buf, it % 2 ? out : buf, n, ncclFloat32, ncclSum, c, NULL);
        bad += r != 0 || first_diff(it % 2 ? out : buf, exp, n) != n;
    }
    check(!bad, "rank %d: 50 small all-reduces back to back bit-exact (%d wrong, %.3f s)", rank, bad, now_s() - t0);
    check(nc.destroy(c) == 0, "rank %d: ncclCommDestroy", rank);
    free(buf), free(exp), free(out);
    return 0;
}

/* rank 2 exits right after init; the others must fail within the timeout */
static int dying(int rank, ncclUniqueId id, int arg) {
    (void)arg;
    ncclComm_t c;
    ncclResult_t r = nc.init_rank(&c, 3, id, rank);
    if (!check(r == 0, "dying: rank %d: ncclCommInitRank (%s)", rank, nc.errstr(r))) return 1;
    if (rank == 2) _exit(0);
    float x[1000] = {0};
    double t0 = now_s();
    r = nc.allreduce(x, x, 1000, ncclFloat32, ncclSum, c, NULL);
    double el = now_s() - t0;
    check(r != 0 && el < 10 && el > 1.5, "dying: rank %d: all-reduce failed after %.2f s: %s", rank, el, nc.errstr(r));
    t0 = now_s();
    r = nc.allreduce(x, x, 1000, ncclFloat32, ncclSum, c, NULL);
    check(r != 0 && now_s() - t0 < 0.5, "dying: rank %d: a later all-reduce fails at once", rank);
    check(nc.destroy(c) == 0, "dying: rank %d: ncclCommDestroy after a rank died", rank);
    return 0;
}

/* arg 0: both processes claim rank 0 of 2; arg 1: they disagree on nranks (2 and 3) */
static int clash(int idx, ncclUniqueId id, int arg) {
    ncclComm_t c = NULL;
    double t0 = now_s();
    ncclResult_t r = arg == 0 ? nc.init_rank(&c, 2, id, 0) : nc.init_rank(&c, 2 + idx, id, idx);
    double el = now_s() - t0;
    check(r != 0 && c == NULL && el < 10, "%s: process %d: ncclCommInitRank failed after %.2f s: %s",
          arg == 0 ? "duplicate rank" : "nranks mismatch", idx, el, nc.errstr(r));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/libnccl_emu.so\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "FAIL dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    *(void **)&nc.get_id = dlsym(lib, "ncclGetUniqueId");
    *(void **)&nc.init_rank = dlsym(lib, "ncclCommInitRank");
    *(void **)&nc.allreduce = dlsym(lib, "ncclAllReduce");
    *(void **)&nc.destroy = dlsym(lib, "ncclCommDestroy");
    *(void **)&nc.errstr = dlsym(lib, "ncclGetErrorString");
    *(void **)&nc.version = dlsym(lib, "ncclGetVersion");
    *(void **)&nc.count = dlsym(lib, "ncclCommCount");
    *(void **)&nc.user_rank = dlsym(lib, "ncclCommUserRank");
    int all = nc.get_id && nc.init_rank && nc.allreduce && nc.destroy && nc.errstr;
    all = all && nc.version && nc.count && nc.user_rank;
    if (!check(all, "dlsym of the NCCL entry points"))
        return 1;
    pids[npids++] = getpid();

    double t0 = now_s();
    test_one_rank();
    setenv("MMLORA_EMU_NCCL_TIMEOUT_S", "30", 1);
    int bad = run_ranks(3, sums, 3);
    check(!bad, "3 ranks: all sums bit-exact (%d process(es) failed, %.2f s)", bad, now_s() - t0);
    t0 = now_s();
    bad = run_ranks(2, sums, 2);
    check(!bad, "2 ranks: all sums bit-exact (%d process(es) failed, %.2f s)", bad, now_s() - t0);

    setenv("MMLORA_EMU_NCCL_TIMEOUT_S", "2", 1);
    t0 = now_s();
    bad = run_ranks(3, dying, 0);
    check(!bad, "dying rank: survivors failed instead of hanging (%.2f s)", now_s() - t0);
    t0 = now_s();
    bad = run_ranks(2, clash, 0);
    check(!bad, "duplicate rank number: errors, not a hang (%.2f s)", now_s() - t0);
    t0 = now_s();
    bad = run_ranks(2, clash, 1);
    check(!bad, "nranks mismatch: errors, not a hang (%.2f s)", now_s() - t0);

    int left = 0;
    for (int k = 0; k < npids; k++) left += shm_entries(pids[k]);
    check(left == 0, "nothing left in /dev/shm (%d " SHM_PREFIX "* entries of this test)", left);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
