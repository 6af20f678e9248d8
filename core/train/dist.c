#include "train/dist.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "util/backend.h"
#include "util/log.h"
#ifdef MMLORA_MPI
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#endif

static int g_rank = 0, g_size = 1, g_mpi = 0;

#ifdef MMLORA_MPI
/* Watchdog: MPI collectives have no timeout, so a rank that stops responding (hung, stopped, or lost
 * without mpirun noticing) would leave the others waiting forever.  Each collective records when it
 * started; a thread aborts the job when one has waited longer than MMLORA_DIST_TIMEOUT seconds. */
static _Atomic long long g_wait_since_ms; /* 0: not inside a collective */
static const char *_Atomic g_wait_what;
static double g_timeout_s = 600.0;
static pthread_t g_watchdog;
static _Atomic int g_watchdog_stop;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg) {
    (void)arg;
    while (!atomic_load(&g_watchdog_stop)) {
        long long since = atomic_load(&g_wait_since_ms);
        if (since && (now_ms() - since) / 1000.0 > g_timeout_s) {
            fprintf(stderr,
                    "mmlora: error: rank %d of %d waited %.0f s in %s without the other ranks: one of them died or "
                    "hangs (see its log); aborting every rank (MMLORA_DIST_TIMEOUT=%g s sets the limit)\n",
                    g_rank, g_size, (now_ms() - since) / 1000.0, atomic_load(&g_wait_what), g_timeout_s);
            fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        usleep(200 * 1000);
    }
    return NULL;
}

static void enter(const char *what) {
    atomic_store(&g_wait_what, what);
    atomic_store(&g_wait_since_ms, now_ms());
}
static void leave(void) { atomic_store(&g_wait_since_ms, 0); }
#endif

void mm_dist_init(int *argc, char ***argv) {
#ifdef MMLORA_MPI
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE")) return;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_mpi = 1;
    const char *t = getenv("MMLORA_DIST_TIMEOUT");
    if (t && atof(t) > 0) g_timeout_s = atof(t);
    if (g_size > 1 && pthread_create(&g_watchdog, NULL, watchdog, NULL) == 0) g_watchdog_stop = 0;
    else g_watchdog_stop = 1;
#else
    (void)argc;
    (void)argv;
#endif
}

static void comm_release(void);
void mm_dist_finalize(void) {
    comm_release();
#ifdef MMLORA_MPI
    if (g_mpi && g_size > 1 && !atomic_exchange(&g_watchdog_stop, 1)) pthread_join(g_watchdog, NULL);
    if (g_mpi) MPI_Finalize();
#endif
    g_mpi = 0;
}

void mm_dist_abort(int rc) {
#ifdef MMLORA_MPI
    if (g_mpi && g_size > 1) {
        fprintf(stderr, "mmlora: rank %d of %d failed (exit %d); aborting every rank\n", g_rank, g_size, rc);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc ? rc : 1);
    }
#endif
    (void)rc;
}

int mm_dist_rank(void) { return g_rank; }
int mm_dist_size(void) { return g_size; }

void mm_dist_allreduce_f32(float *x, size_t n) {
#ifdef MMLORA_MPI
    if (g_size < 2) return;
    for (size_t off = 0; off < n;) { /* MPI counts are int */
        int c = n - off > (size_t)1 << 30 ? 1 << 30 : (int)(n - off);
        enter("an all-reduce of gradients");
        MPI_Allreduce(MPI_IN_PLACE, x + off, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        leave();
        off += (size_t)c;
    }
#else
    (void)x;
    (void)n;
#endif
}

void mm_dist_allreduce_f64(double *x, size_t n) {
#ifdef MMLORA_MPI
    if (g_size < 2) return;
    enter("an all-reduce of losses");
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    leave();
#else
    (void)x;
    (void)n;
#endif
}

void mm_dist_barrier(void) {
#ifdef MMLORA_MPI
    if (g_size < 2) return;
    enter("a barrier");
    MPI_Barrier(MPI_COMM_WORLD);
    leave();
#endif
}

/* ---------------------------------------------------------------- gradients in a table's memory */

/* The CPU stand-in's device collectives (its memory is the host's, so MPI sums): the data-parallel device
 * path (bootstrap, agreement, fallback) runs on the CPU.  MMLORA_COMM_FAIL_RANK=r makes rank r's init fail
 * (test hook: every rank must then fall back to host staging). */
#ifdef MMLORA_MPI
static int standin_make_id(void *id, char *err, size_t n) {
    (void)err, (void)n;
    memset(id, 0, 16);
    snprintf((char *)id, 16, "standin-%d", g_rank);
    return 0;
}
static int standin_init(const void *id, int rank, int size, char *err, size_t n) {
    (void)size;
    const char *f = getenv("MMLORA_COMM_FAIL_RANK");
    if (f && *f && atoi(f) == rank) {
        snprintf(err, n, "init refused on rank %d (MMLORA_COMM_FAIL_RANK test hook)", rank);
        return -1;
    }
    if (strncmp((const char *)id, "standin-0", 16)) {
        snprintf(err, n, "rank %d got the id '%.16s', not rank 0's", rank, (const char *)id);
        return -1;
    }
    return 0;
}
static int standin_allreduce(float *x, size_t count, char *err, size_t n) {
    (void)err, (void)n;
    mm_dist_allreduce_f32(x, count);
    return 0;
}
static void standin_destroy(void) {}
static const mm_device_comm standin_comm = {"mpi (stand-in)", 16, standin_make_id, standin_init, standin_allreduce,
                                            standin_destroy};

#endif

static const mm_kernels *g_comm_table; /* the table the state below is for */
static const mm_device_comm *g_comm;  /* ready collectives, NULL: staging */
static float *g_stage;
static size_t g_stage_n;

#ifdef MMLORA_MPI
/* 1 when every rank passes ok != 0 */
static int all_agree(int ok) {
    int all = 0;
    enter("an agreement on the device collectives");
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    leave();
    return all;
}

/* collective: the device collectives for k on every rank, or NULL on every rank (then staging) */
static const mm_device_comm *comm_setup(const mm_kernels *k) {
    const char *env = getenv("MMLORA_DEVICE_COMM");
    const int off = env && (!strcmp(env, "off") || !strcmp(env, "0"));
    const mm_device_comm *c = off ? NULL
                              : k == mm_kernels_cpu_standin() ? &standin_comm
                                                               : k == mm_backend_cuda(NULL, 0) ? mm_backend_cuda_comm() : NULL;
    char err[512] = "";
    if (!c) snprintf(err, sizeof err, off ? "MMLORA_DEVICE_COMM=off" : "no device collectives for op table '%s'", k->name);
    unsigned char id[256] = {0};
    int ok = all_agree(c != NULL && c->id_bytes <= sizeof id);
    if (ok) {
        if (g_rank == 0) ok = c->make_id(id, err, sizeof err) == 0;
        enter("the broadcast of the device collectives' id");
        MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (ok) MPI_Bcast(id, (int)c->id_bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
        leave();
    }
    if (ok) {
        const int mine = c->init(id, g_rank, g_size, err, sizeof err) == 0;
        ok = all_agree(mine);
        if (!ok && mine) c->destroy();
    }
    if (err[0]) mm_warn("data parallel, rank %d: %s", g_rank, err);
    if (g_rank == 0) {
        if (ok) mm_info("data parallel: gradients are summed in device memory with %s (%d ranks)", c->name, g_size);
        else mm_info("data parallel: gradients go through host staging (download, MPI all-reduce, upload)%s",
                     err[0] ? "" : ": another rank could not set up the device collectives (see its warning)");
    }
    return ok ? c : NULL;
}
#endif

void mm_dist_allreduce_table(const mm_kernels *k, float *x, size_t n) {
    if (g_size < 2) return;
    if (!k->device_memory) {
        mm_dist_allreduce_f32(x, n);
        return;
    }
#ifdef MMLORA_MPI
    if (g_comm_table != k) {
        if (g_comm) g_comm->destroy();
        g_comm = comm_setup(k);
        g_comm_table = k;
    }
    if (g_comm) {
        char err[512] = "";
        enter("a device all-reduce of gradients");
        const int rc = g_comm->allreduce_sum_f32(x, n, err, sizeof err);
        leave();
        if (rc) {
            fprintf(stderr, "mmlora: error: rank %d: %s all-reduce of %zu gradients failed: %s\n", g_rank,
                    g_comm->name, n, err);
            mm_dist_abort(4);
        }
        return;
    }
#endif
    if (n > g_stage_n) {
        free(g_stage);
        g_stage = mm_xmalloc(n * sizeof(float));
        g_stage_n = n;
    }
    k->download(g_stage, x, n * sizeof(float));
    mm_dist_allreduce_f32(g_stage, n);
    k->upload(x, g_stage, n * sizeof(float));
}

static void comm_release(void) {
    if (g_comm) g_comm->destroy();
    g_comm = NULL;
    g_comm_table = NULL;
    free(g_stage);
    g_stage = NULL;
    g_stage_n = 0;
}
