/* NCCL collectives for data parallelism on GPUs (kernels.h: mm_device_comm), and the choice of this
 * process's GPU.  NCCL is loaded at run time (dlopen libnccl.so.2): the backend library links no NCCL, so it
 * loads on a host without it, and data parallelism then falls back to host staging over MPI
 * (core/train/dist.c).  The gradients are summed in place on the device with ncclAllReduce (fp32, sum) on the
 * legacy default stream the ops use; the call synchronizes so a failure is reported at the step. */
#include <dlfcn.h>
/* NCCL's header where the toolkit has it; else the few declarations used here (NCCL's stable C ABI: the 128-byte
 * id passed by value, int enums with ncclSuccess 0, ncclSum 0, ncclFloat32 7), so the backend builds on a host
 * whose CUDA install lacks NCCL (it then reports NCCL missing at run time and data parallelism stages) */
#if defined(__has_include) && !defined(MM_NO_NCCL_H) /* MM_NO_NCCL_H: build as if absent (checked in CI) */
#if __has_include(<nccl.h>)
#include <nccl.h>
#define MM_HAVE_NCCL_H 1
#endif
#endif
#ifndef MM_HAVE_NCCL_H
#include <cuda_runtime.h>
typedef struct { char internal[128]; } ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef enum { ncclSuccess = 0 } ncclResult_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
typedef enum { ncclFloat32 = 7 } ncclDataType_t;
extern "C" {
ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
const char *ncclGetErrorString(ncclResult_t result);
}
#else
static_assert(ncclSuccess == 0 && ncclSum == 0 && ncclFloat32 == 7, "NCCL's enum values as declared without nccl.h");
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"

/* ---------------------------------------------------------------- one GPU per process */
/* The first of these set decides the device: MMLORA_CUDA_DEVICE, else the launcher's local rank
 * (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, SLURM_LOCALID, LOCAL_RANK) modulo the visible devices;
 * none set: the current device (0).  Called once, before the process allocates anything on a device. */
extern "C" int mm_cuda_select_device(void) {
    static int chosen = -2;
    if (chosen != -2) return chosen;
    chosen = -1;
    const int count = mm_cuda_device_count();
    if (count <= 0) return chosen;
    const char *vars[] = {"MMLORA_CUDA_DEVICE", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                          "LOCAL_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v) continue;
        const int dev = atoi(v) % count;
        if (cudaSetDevice(dev) != cudaSuccess) {
            fprintf(stderr, "mmlora cuda: cudaSetDevice(%d) (from %s=%s) failed: %s\n", dev, vars[i], v,
                    cudaGetErrorString(cudaGetLastError()));
            return chosen;
        }
        chosen = dev;
        return chosen;
    }
    chosen = 0;
    return chosen;
}

/* ---------------------------------------------------------------- NCCL, loaded at run time */
static struct {
    void *lib;
    decltype(&ncclGetUniqueId) get_id;
    decltype(&ncclCommInitRank) init_rank;
    decltype(&ncclAllReduce) allreduce;
    decltype(&ncclCommDestroy) destroy;
    decltype(&ncclGetErrorString) errstr;
    ncclComm_t comm;
} nccl;

static int load_nccl(char *err, size_t n) {
    if (nccl.lib) return 0;
    const char *names[] = {getenv("MMLORA_NCCL_LIB"), "libnccl.so.2", "libnccl.so"};
    for (size_t i = 0; i < 3 && !nccl.lib; i++)
        if (names[i] && *names[i]) nccl.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!nccl.lib) {
        snprintf(err, n, "NCCL is not installed (libnccl.so.2 not loadable: %s)", dlerror());
        return -1;
    }
    nccl.get_id = (decltype(nccl.get_id))dlsym(nccl.lib, "ncclGetUniqueId");
    nccl.init_rank = (decltype(nccl.init_rank))dlsym(nccl.lib, "ncclCommInitRank");
    nccl.allreduce = (decltype(nccl.allreduce))dlsym(nccl.lib, "ncclAllReduce");
    nccl.destroy = (decltype(nccl.destroy))dlsym(nccl.lib, "ncclCommDestroy");
    nccl.errstr = (decltype(nccl.errstr))dlsym(nccl.lib, "ncclGetErrorString");
    if (!nccl.get_id || !nccl.init_rank || !nccl.allreduce || !nccl.destroy || !nccl.errstr) {
        snprintf(err, n, "the NCCL library lacks ncclGetUniqueId/ncclCommInitRank/ncclAllReduce");
        dlclose(nccl.lib);
        nccl.lib = NULL;
        return -1;
    }
    return 0;
}

static int nccl_fail(ncclResult_t r, const char *call, char *err, size_t n) {
    snprintf(err, n, "%s failed: %s", call, nccl.errstr ? nccl.errstr(r) : "?");
    return -1;
}

static int make_id(void *id, char *err, size_t n) {
    if (load_nccl(err, n)) return -1;
    ncclUniqueId u;
    ncclResult_t r = nccl.get_id(&u);
    if (r != ncclSuccess) return nccl_fail(r, "ncclGetUniqueId", err, n);
    memcpy(id, &u, sizeof u);
    return 0;
}

static int init(const void *id, int rank, int size, char *err, size_t n) {
    if (load_nccl(err, n)) return -1;
    if (mm_cuda_select_device() < 0) {
        snprintf(err, n, "no CUDA device for rank %d", rank);
        return -1;
    }
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclResult_t r = nccl.init_rank(&nccl.comm, size, u, rank);
    if (r != ncclSuccess) {
        nccl.comm = NULL;
        return nccl_fail(r, "ncclCommInitRank", err, n);
    }
    return 0;
}

static int allreduce_sum_f32(float *x, size_t count, char *err, size_t n) {
    if (!nccl.comm) {
        snprintf(err, n, "NCCL all-reduce before init");
        return -1;
    }
    ncclResult_t r = nccl.allreduce(x, x, count, ncclFloat32, ncclSum, nccl.comm, 0);
    if (r != ncclSuccess) return nccl_fail(r, "ncclAllReduce", err, n);
    cudaError_t e = cudaStreamSynchronize(0);
    if (e != cudaSuccess) {
        snprintf(err, n, "cudaStreamSynchronize after ncclAllReduce: %s", cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

static void destroy(void) {
    if (nccl.comm) nccl.destroy(nccl.comm);
    nccl.comm = NULL;
}

static_assert(sizeof(ncclUniqueId) == 128, "NCCL's unique id is 128 bytes");
static const mm_device_comm comm = {"nccl", sizeof(ncclUniqueId), make_id, init, allreduce_sum_f32, destroy};

extern "C" const mm_device_comm *mm_cuda_comm(void) { return &comm; }
