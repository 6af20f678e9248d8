/* dlopen of build/libmmlora_cuda.so (util/backend.h). */
#include "util/backend.h"
#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *mm_backend_cuda_path(char *buf, size_t n) {
    const char *env = getenv("MMLORA_CUDA_LIB");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return buf;
    }
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(buf, n, "libmmlora_cuda.so");
        return buf;
    }
    exe[len] = 0;
    snprintf(buf, n, "%s/libmmlora_cuda.so", dirname(exe));
    return buf;
}

typedef const mm_kernels *(*table_fn)(void);

static void *g_lib; /* the loaded backend (kept for the process once its table is in use) */

const mm_kernels *mm_backend_cuda(char *why, size_t n) {
    static const mm_kernels *table;
    static char reason[2048];
    static int done;
    if (!done) {
        done = 1;
        char path[1024];
        mm_backend_cuda_path(path, sizeof path);
        if (access(path, F_OK)) {
            snprintf(reason, sizeof reason, "the CUDA backend %s is not built (run `make cuda` where nvcc is installed, "
                     "or point MMLORA_CUDA_LIB at libmmlora_cuda.so)", path);
        } else {
            void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            table_fn fn = lib ? (table_fn)dlsym(lib, "mm_kernels_cuda") : NULL;
            if (!lib) {
                snprintf(reason, sizeof reason, "the CUDA backend %s cannot be loaded: %.900s", path, dlerror());
            } else if (!fn) {
                snprintf(reason, sizeof reason, "%s has no mm_kernels_cuda()", path);
            } else if (!(table = fn())) {
                snprintf(reason, sizeof reason, "the CUDA runtime (through %s) sees no usable GPU", path);
            }
            if (!table && lib) dlclose(lib); /* a loaded table keeps its library for the whole process */
            if (table) g_lib = lib;
        }
    }
    if (!table && why && n) snprintf(why, n, "%s", reason);
    return table;
}

typedef const mm_device_comm *(*comm_fn)(void);

const mm_device_comm *mm_backend_cuda_comm(void) {
    if (!g_lib) return NULL;
    comm_fn fn = (comm_fn)dlsym(g_lib, "mm_cuda_comm");
    return fn ? fn() : NULL;
}
