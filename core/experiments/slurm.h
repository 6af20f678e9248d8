/* Cluster runs of an experiment grid as Slurm job arrays (experiments/README.md "Clusters (Slurm)").
 *
 * mm_slurm_emit writes, under the script directory (default <results>/<rq>/<dataset>/<model>/slurm/):
 *   <rq>.sbatch            one job array, one array task per run: task i runs run i of the grid (0-based,
 *                          grid order) with `mmlora experiment ... --only <name> --no-report`; --array lists
 *                          the runs not DONE when the script was written.  Runs whose resources differ from
 *                          run 0's go to further arrays <rq>.2.sbatch, <rq>.3.sbatch, ... (one per distinct
 *                          resource set; Slurm gives every task of an array the same resources).
 *   <rq>.aggregate.sh      the report after every task has finished (`mmlora experiment ... --report-only`,
 *                          the report the local driver renders at its end); sbatch-able and bash-able.
 *   <rq>.submit.sh         submits the arrays that have work and the aggregate with --dependency=afterok.
 *   logs/                  per-task logs (<rq>-<jobid>_<task>.out), created here since Slurm does not.
 * Every path in the scripts is absolute; the scripts cd to the directory the emitter ran in (git
 * describe in run.json).  Nothing is run.  Prints, first, a line saying so, then how to submit. */
#ifndef MMLORA_SLURM_H
#define MMLORA_SLURM_H
#include <stddef.h>
#include "experiments/experiment.h"

/* x: the driver's options (relative paths are made absolute against the working directory);
 * runs: the grid's runs expanded with x.  0, or -1 + mm_fail naming the file at fault. */
int mm_slurm_emit(const mm_exp_opts *x, const mm_grid *g, const mm_run_opts *runs);

/* Slurm --array value of ascending indices: {0,1,2,4} -> "0-2,4".  0, or -1 when it does not fit. */
int mm_slurm_array_spec(const int *idx, int n, char *buf, size_t cap);

/* p made absolute against the working directory ("./" prefixes and trailing '/' dropped). 0 or -1. */
int mm_abs_path(const char *p, char *out, size_t cap);
#endif
