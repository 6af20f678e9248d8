#include "train/dist.h"
#include <stdint.h>
#include <stdlib.h>
#ifdef MMLORA_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_mpi = 0;

void mm_dist_init(int *argc, char ***argv) {
#ifdef MMLORA_MPI
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE")) return;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_mpi = 1;
#else
    (void)argc;
    (void)argv;
#endif
}

void mm_dist_finalize(void) {
#ifdef MMLORA_MPI
    if (g_mpi) MPI_Finalize();
#endif
    g_mpi = 0;
}

int mm_dist_rank(void) { return g_rank; }
int mm_dist_size(void) { return g_size; }

void mm_dist_allreduce_f32(float *x, size_t n) {
#ifdef MMLORA_MPI
    if (g_size < 2) return;
    for (size_t off = 0; off < n;) { /* MPI counts are int */
        int c = n - off > (size_t)1 << 30 ? 1 << 30 : (int)(n - off);
        MPI_Allreduce(MPI_IN_PLACE, x + off, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        off += (size_t)c;
    }
#else
    (void)x;
    (void)n;
#endif
}

void mm_dist_allreduce_f64(double *x, size_t n) {
#ifdef MMLORA_MPI
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)x;
    (void)n;
#endif
}

void mm_dist_barrier(void) {
#ifdef MMLORA_MPI
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}
