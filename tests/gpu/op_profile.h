/* Where a training step's time goes, by op: a copy of an op table whose compute ops wait for the device before and
 * after the real op and add the wall time between to that op's total (tests/gpu/train_bench.c --profile).  The
 * wait is a one-float download through the inner table (the CUDA download is synchronous on the default stream;
 * on the CPU tables it is a memcpy), so queued work never blurs into the next op; its own cost, measured at
 * start, is subtracted.  Profiled steps are slower than unprofiled ones (no overlap of launches with work): the
 * shares are what to read, not the tokens/s. */
#ifndef MMLORA_GPU_OP_PROFILE_H
#define MMLORA_GPU_OP_PROFILE_H
#include <stdio.h>
#include "kernels.h"

/* the profiling table over inner (one at a time: the profile is process-wide) */
const mm_kernels *op_profile_table(const mm_kernels *inner);
/* forget what was timed so far (after the warm-up) */
void op_profile_reset(void);
/* one table line per op that ran ("| op | name | calls/step | ms/step | share |"), largest first, then the sum and
 * the share of the step it covers; steps = the steps timed since the reset, step_s = their mean wall time */
void op_profile_print(FILE *f, int steps, double step_s);
#endif
