/* The CUDA backend, loaded at run time.  build/mmlora links no CUDA library: the CUDA op table lives in
 * build/libmmlora_cuda.so (`make cuda`, links cudart and cuBLAS), which is dlopen'ed from next to the
 * executable ($(dirname /proc/self/exe)/libmmlora_cuda.so) or from $MMLORA_CUDA_LIB. */
#ifndef MMLORA_BACKEND_H
#define MMLORA_BACKEND_H
#include <stddef.h>
#include "kernels.h"

/* path of the CUDA backend library this process would load (into buf; returns buf) */
const char *mm_backend_cuda_path(char *buf, size_t n);
/* The CUDA table from the library (loaded once per process, kept loaded), or NULL with the reason in
 * why: library not built / not loadable (dlerror: e.g. libcudart missing) / no mm_kernels_cuda symbol /
 * the CUDA runtime sees no device. */
const mm_kernels *mm_backend_cuda(char *why, size_t n);
/* the loaded backend's device collectives (NCCL, loaded by the backend at run time), or NULL when no CUDA
 * table was loaded or the library has none */
const mm_device_comm *mm_backend_cuda_comm(void);
#endif
