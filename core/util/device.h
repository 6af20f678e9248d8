/* Which device a run uses: `--device cpu|cuda|auto`.  The NVIDIA driver is probed at run time through
 * dlopen("libcuda.so.1") (cuInit, cuDeviceGetCount, cuDeviceGetName, cuDeviceTotalMem), so the CPU build
 * needs no CUDA library to link or start. */
#ifndef MMLORA_DEVICE_H
#define MMLORA_DEVICE_H
#include <stddef.h>

typedef struct {
    int n_gpus;             /* 0: none usable */
    char name[128];         /* GPU 0 */
    size_t total_bytes;     /* GPU 0 memory */
    char why[256];          /* without a GPU: why (no driver library, cuInit error, no device) */
} mm_device_info;

/* Probes once per process (cached); MMLORA_FAKE_GPU="name:GiB" pretends a GPU is there (tests). */
const mm_device_info *mm_device_probe(void);

/* Resolves cpu|cuda|auto to the device the engine runs on ("cpu" is the only engine path so far).
 * cuda without a GPU, or with one while the device engine is not built, is an error saying so; auto
 * picks the CPU and, when a GPU is present, says why in *note (may be NULL). */
int mm_device_resolve(const char *asked, char *out, size_t n, char *note, size_t note_n);
#endif
