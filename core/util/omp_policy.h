/* OpenMP wait policy.  libgomp's default lets idle threads spin for ~300k iterations between parallel
 * regions; on a machine where other processes compete for the cores (a shared server, a CI runner, two
 * runs at once) the spinning thread burns the time slice its partner needs, and a tiny-model training
 * step became 20-40x slower (measured: 40 MMLoRA smoke steps took 109-189 s instead of 2.5-5 s with
 * OMP_WAIT_POLICY=passive, load average ~9 on 2 cores).  libgomp reads its environment when it is loaded,
 * before main, so the program sets OMP_WAIT_POLICY=passive and re-executes itself once, unless the user
 * chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set: kept as given). */
#ifndef MMLORA_OMP_POLICY_H
#define MMLORA_OMP_POLICY_H
/* Call first thing in main.  Returns only when no re-exec was needed (or it failed: then it warns). */
void mm_omp_policy_reexec(char **argv);
#endif
