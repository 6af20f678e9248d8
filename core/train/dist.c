#include "train/dist.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

void mm_dist_finalize(void) {
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
