/* util/omp_policy.h */
#include "util/omp_policy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mm_omp_policy_reexec(char **argv) {
#ifdef MMLORA_OPENMP
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("MMLORA_OMP_REEXEC")) return;
    const char *pre = getenv("LD_PRELOAD"); /* under valgrind /proc/self/exe is not this program: leave it */
    if (pre && strstr(pre, "vgpreload")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("MMLORA_OMP_REEXEC", "1", 1); /* never loop */
    execv("/proc/self/exe", argv);
    fprintf(stderr, "mmlora: warning: could not re-execute with OMP_WAIT_POLICY=passive; set it yourself on a "
                    "busy machine\n");
#else
    (void)argv;
#endif
}
