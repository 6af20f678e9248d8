/* Which device a run uses: `--device cpu|cuda|auto`.  The NVIDIA driver is probed at run time through
 * dlopen("libcuda.so.1") (cuInit, cuDeviceGetCount, cuDeviceGetName, cuDeviceTotalMem), so the CPU build
 * needs no CUDA library to link or start. */
#ifndef MMLORA_DEVICE_H
#define MMLORA_DEVICE_H
#include <stddef.h>
#include "kernels.h"

typedef struct {
    int n_gpus;             /* 0: none usable */
    char name[128];         /* GPU 0 */
    size_t total_bytes;     /* GPU 0 memory */
    char why[256];          /* without a GPU: why (no driver library, cuInit error, no device) */
} mm_device_info;

/* 1 when name is cpu, cuda or auto */
int mm_device_name_ok(const char *name);

/* Probes once per process (cached); MMLORA_FAKE_GPU="name:GiB" pretends a GPU is there (tests). */
const mm_device_info *mm_device_probe(void);

/* Resolves cpu|cuda|auto to the op table a run trains on (*k, may be NULL) and the name run.json records
 * (out: "cpu", "cuda:<GPU name>", "cpu-standin" or "cpu-standin-guarded").  cuda needs a GPU (the driver probe above) and the CUDA
 * backend library (util/backend.h); without either it is an error naming what is missing.  auto is cuda
 * when that works, else cpu with the reason in *note (may be NULL).  MMLORA_DEVICE_STANDIN=1 (tests) makes
 * cuda and auto take the CPU stand-in for a device table (kernels.h: mm_kernels_cpu_standin), =guard the guarded
 * one (mm_kernels_cpu_standin_guarded: device memory the host cannot touch outside the ops). */
int mm_device_resolve(const char *asked, char *out, size_t n, char *note, size_t note_n, const mm_kernels **k);
#endif
