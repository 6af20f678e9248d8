/* Device probing and --device resolution (util/device.h). */
#include "util/device.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/backend.h"
#include "util/log.h"

typedef int (*cu_init_fn)(unsigned);
typedef int (*cu_count_fn)(int *);
typedef int (*cu_get_fn)(int *, int);
typedef int (*cu_name_fn)(char *, int, int);
typedef int (*cu_mem_fn)(size_t *, int);

static void probe(mm_device_info *d) {
    memset(d, 0, sizeof *d);
    const char *fake = getenv("MMLORA_FAKE_GPU");
    if (fake && *fake) {
        const char *colon = strrchr(fake, ':');
        snprintf(d->name, sizeof d->name, "%.*s", colon ? (int)(colon - fake) : (int)strlen(fake), fake);
        d->total_bytes = (size_t)((colon ? atof(colon + 1) : 24.0) * 1073741824.0);
        d->n_gpus = 1;
        return;
    }
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(d->why, sizeof d->why, "no NVIDIA driver: libcuda.so.1 cannot be loaded");
        return;
    }
    cu_init_fn cu_init = (cu_init_fn)dlsym(lib, "cuInit");
    cu_count_fn cu_count = (cu_count_fn)dlsym(lib, "cuDeviceGetCount");
    cu_get_fn cu_get = (cu_get_fn)dlsym(lib, "cuDeviceGet");
    cu_name_fn cu_name = (cu_name_fn)dlsym(lib, "cuDeviceGetName");
    cu_mem_fn cu_mem = (cu_mem_fn)dlsym(lib, "cuDeviceTotalMem_v2");
    if (!cu_mem) cu_mem = (cu_mem_fn)dlsym(lib, "cuDeviceTotalMem");
    int rc, n = 0, dev = 0;
    if (!cu_init || !cu_count || !cu_get || !cu_name || !cu_mem) {
        snprintf(d->why, sizeof d->why, "libcuda.so.1 lacks the driver API entry points");
    } else if ((rc = cu_init(0)) != 0) {
        snprintf(d->why, sizeof d->why, "the NVIDIA driver is installed but cuInit failed (CUresult %d)", rc);
    } else if ((rc = cu_count(&n)) != 0 || n < 1) {
        snprintf(d->why, sizeof d->why, "the NVIDIA driver sees no GPU");
    } else if (cu_get(&dev, 0) == 0 && cu_name(d->name, (int)sizeof d->name, dev) == 0 &&
               cu_mem(&d->total_bytes, dev) == 0) {
        d->n_gpus = n;
    } else {
        snprintf(d->why, sizeof d->why, "the NVIDIA driver could not describe GPU 0");
    }
    /* not dlclose'd: after cuInit the driver library keeps threads and state that cudart (loaded later, same
     * libcuda.so.1) goes on using; unloading it under them may crash.  One handle, held for the process's life. */
    (void)lib;
}

const mm_device_info *mm_device_probe(void) {
    static mm_device_info info;
    static int done;
    if (!done) { probe(&info); done = 1; }
    return &info;
}

int mm_device_name_ok(const char *name) {
    return name && (!strcmp(name, "cpu") || !strcmp(name, "cuda") || !strcmp(name, "auto"));
}

int mm_device_resolve(const char *asked, char *out, size_t n, char *note, size_t note_n, const mm_kernels **k) {
    if (note && note_n) note[0] = 0;
    if (k) *k = &mm_kernels_cpu;
    if (!asked || !*asked) asked = "auto";
    if (!mm_device_name_ok(asked))
        return mm_fail("--device %s: expected cpu, cuda or auto", asked);
    if (!strcmp(asked, "cpu")) { snprintf(out, n, "cpu"); return 0; }
    const char *standin = getenv("MMLORA_DEVICE_STANDIN");
    if (standin && (!strcmp(standin, "1") || !strcmp(standin, "guard"))) {
        const int guard = !strcmp(standin, "guard"); /* device memory the host cannot touch outside the ops */
        if (k) *k = guard ? mm_kernels_cpu_standin_guarded() : mm_kernels_cpu_standin();
        snprintf(out, n, guard ? "cpu-standin-guarded" : "cpu-standin");
        if (note && note_n)
            snprintf(note, note_n, "device %s: MMLORA_DEVICE_STANDIN=%s: the CPU stand-in for a device table (CPU ops "
                     "behind device memory%s; a test hook, not a GPU)", asked, standin,
                     guard ? " the host cannot touch outside the ops" : "");
        return 0;
    }
    const mm_device_info *d = mm_device_probe();
    char why[2400];
    const mm_kernels *cuda = NULL;
    if (d->n_gpus) cuda = mm_backend_cuda(why, sizeof why);
    else {
        char path[1024];
        mm_backend_cuda_path(path, sizeof path);
        snprintf(why, sizeof why, "%s (the CUDA backend %s: %s)", d->why, path,
                 access(path, F_OK) ? "not built either, `make cuda`" : "built");
    }
    if (cuda) {
        if (k) *k = cuda;
        snprintf(out, n, "cuda:%s", d->name);
        if (note && note_n && !strcmp(asked, "auto")) snprintf(note, note_n, "device auto: CUDA on %s", d->name);
        return 0;
    }
    if (!strcmp(asked, "cuda")) {
        if (!d->n_gpus) return mm_fail("--device cuda: %s; use --device cpu (or auto)", why);
        return mm_fail("--device cuda: found %s (%.0f GiB), but %s; use --device cpu (or auto)", d->name,
                       d->total_bytes / 1073741824.0, why);
    }
    snprintf(out, n, "cpu");
    if (note && note_n) snprintf(note, note_n, "device auto: CPU (%s)", why);
    return 0;
}
