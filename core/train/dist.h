/* Data parallelism across processes (one per device or CPU socket): MPI when the program was started by
 * mpirun, a single process otherwise.  Ranks take disjoint micro-batches of every global batch (micro-batch
 * u goes to rank u mod world), all-reduce the trainable gradients, loss and token counts, and so make the
 * same update as one process (to fp32 rounding of the sums).  Only rank 0 writes files. */
#ifndef MMLORA_DIST_H
#define MMLORA_DIST_H
#include <stddef.h>

/* Initializes MPI when launched by mpirun (OMPI_COMM_WORLD_SIZE / PMI_SIZE set) and built with MPI. */
void mm_dist_init(int *argc, char ***argv);
void mm_dist_finalize(void);
/* A failed rank stops every rank (MPI_Abort) instead of leaving them in a collective; no-op alone.
 * A collective that waits longer than MMLORA_DIST_TIMEOUT seconds (default 600) aborts the job too. */
void mm_dist_abort(int rc);
int mm_dist_rank(void);
int mm_dist_size(void);
void mm_dist_allreduce_f32(float *x, size_t n); /* in-place sum over ranks */
void mm_dist_allreduce_f64(double *x, size_t n);
struct mm_kernels;
/* In-place sum over ranks of n floats in table k's memory.  A host table: MPI.  A device table: its device
 * collectives when every rank can use them (NCCL for CUDA, bootstrapped once through MPI: rank 0's id is
 * broadcast, every rank initializes, the ranks agree), else host staging (download, MPI, upload); the
 * first call says which on rank 0 (and why staging).  MMLORA_DEVICE_COMM=off forces staging. */
void mm_dist_allreduce_table(const struct mm_kernels *k, float *x, size_t n);
void mm_dist_barrier(void);
#endif
