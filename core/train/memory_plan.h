/* Planned memory of a training run: weights, trainable parameters, gradients, optimizer state and
 * activations, for one of four layouts, each what the engine builds (model/engine.h):
 *   MM_PLAN_CPU        the CPU engine, fp32 everywhere: exactly what it allocates (tested);
 *   MM_PLAN_CUDA_FP32  the CUDA engine with dtype fp32: the same fp32 arena and a fp32 copy of the weights in
 *                      device memory, plus a runtime allowance;
 *   MM_PLAN_CUDA_BF16  the CUDA engine with dtype bf16 (--set dtype=bf16): bf16 copies of the frozen linears'
 *                      weights and of the LM head, the other weights (embeddings, norms, biases) fp32, the fp32
 *                      arena, adapters, gradients and AdamW state, and the bf16 rounding scratch of the linears;
 *   MM_PLAN_CPU_BF16   the CPU engine with dtype bf16: the fp32 model (zero-copy) plus the bf16 copies, and the
 *                      CPU op's per-call temporaries (a rounded activation and a widened weight).
 * dtype bf16 keeps the base frozen: a plan of full fine-tuning in a bf16 layout is an error, as the run is.
 * `mmlora info --memory [--dtype bf16]`; mm_run checks its plan against the available host or GPU memory. */
#ifndef MMLORA_MEMORY_PLAN_H
#define MMLORA_MEMORY_PLAN_H
#include <stddef.h>
#include <stdio.h>
#include "model/model.h"
#include "peft/adapter.h"
#include "peft/method.h"

enum { MM_PLAN_CPU = 0, MM_PLAN_CUDA_FP32 = 1, MM_PLAN_CUDA_BF16 = 2, MM_PLAN_CPU_BF16 = 3 };
/* the layout of a run: on a GPU or not, dtype MM_DTYPE_* */
int mm_memory_plan_layout(int cuda, int dtype);

typedef struct {
    int cuda;                 /* 0: CPU engine, 1: a CUDA layout */
    int layout;               /* MM_PLAN_* */
    int bf16;                 /* dtype bf16 */
    int micro, seq, recompute;
    int act16;                /* act_dtype bf16 (the arena's bf16 stash) */
    long long base_params, trainable_params;
    size_t weights;           /* the base's fp32 tensors (CPU: the whole model, which the engine uses in place; CUDA
                               * dtype bf16: all but the matrices stored in bf16) */
    size_t weights16;         /* dtype bf16: the bf16 copies (every layer's adapted linears and the LM head) */
    size_t trainable;         /* adapter parameters (fp32); 0 for full fine-tuning (they are the weights) */
    size_t grads;             /* fp32 gradients of every trainable parameter */
    size_t optimizer;         /* AdamW m and v, fp32 */
    size_t activations;       /* the engine's activation arena for one micro-batch (fp32, and the bf16 stash with
                               * act_dtype bf16) */
    size_t scratch16;         /* CPU engine, dtype bf16: an upper bound of the bf16 linears' per-call temporaries
                               * (the rounded activation and the widened weight) */
    size_t scratch_dev;       /* CUDA: the backend's one grow-only scratch, shared by the ops in turn, so the largest
                               * of: the bf16 linears' rounded activation (dtype bf16), the experts' scratch (the dropped
                               * input for ranks above 32, else dA's partial sums), the attention's chunk
                               * (kernels/cuda/attention.cu); plus the quarter mm_cuda_scratch allocates beyond a
                               * request */
    size_t adapter_buffers;   /* dropout masks and token-router state, per module */
    size_t runtime;           /* CUDA context + cuBLAS workspace (an allowance), 0 on the CPU */
    size_t total;
} mm_memory_plan;

/* The plan for adapters already built (ad; NULL = full fine-tuning).  act: MM_ACT_* flags (model/engine.h): 1 =
 * recomputation, | MM_ACT_BF16 for act_dtype bf16. */
int mm_memory_plan_of(const mm_model *m, const mm_adapters *ad, int micro, int seq, int act, int layout,
                      mm_memory_plan *out);
/* m may be a layout-only model (mm_model_layout).  Builds the method's adapters to size them. */
int mm_memory_plan_make(const mm_model *m, const mm_method_spec *spec, int n_lang, int micro, int seq, int act,
                        int layout, mm_memory_plan *out);
/* a table, one line per part, sizes in GiB, and the total */
void mm_memory_plan_print(const mm_memory_plan *p, FILE *f);
/* /proc/meminfo MemAvailable in bytes (0 if unknown); MMLORA_MEMORY_AVAILABLE=bytes overrides it (tests) */
size_t mm_memory_available(void);
#endif
