/* Planned memory of a training run: weights, trainable parameters, gradients, optimizer state and
 * activations, for one of three layouts:
 *   MM_PLAN_CPU        the CPU engine, fp32 everywhere: exactly what it allocates (tested);
 *   MM_PLAN_CUDA_FP32  the CUDA engine as built today: the same fp32 arena and a fp32 copy of the weights
 *                      in device memory, plus a runtime allowance;
 *   MM_PLAN_CUDA_BF16  the target layout of issue 7 (bf16 frozen weights and activations, fp32 master
 *                      copies, gradients and AdamW state): not implemented yet, a plan only.
 * `mmlora info --memory`; mm_run checks its plan against the available host or GPU memory. */
#ifndef MMLORA_MEMORY_PLAN_H
#define MMLORA_MEMORY_PLAN_H
#include <stddef.h>
#include <stdio.h>
#include "model/model.h"
#include "peft/adapter.h"
#include "peft/method.h"

enum { MM_PLAN_CPU = 0, MM_PLAN_CUDA_FP32 = 1, MM_PLAN_CUDA_BF16 = 2 };

typedef struct {
    int cuda;                 /* 0: CPU engine, 1: a CUDA layout */
    int layout;               /* MM_PLAN_* */
    int micro, seq, recompute;
    long long base_params, trainable_params;
    size_t weights;           /* the base model as stored (fp32; bf16 in MM_PLAN_CUDA_BF16) */
    size_t master;            /* fp32 master copy of trainable weights when storage is bf16 (CUDA full FT) */
    size_t trainable;         /* adapter parameters (fp32); 0 for full fine-tuning (they are the weights) */
    size_t grads;             /* fp32 gradients of every trainable parameter */
    size_t optimizer;         /* AdamW m and v, fp32 */
    size_t activations;       /* the engine's activation arena for one micro-batch */
    size_t adapter_buffers;   /* dropout masks and token-router state, per module */
    size_t runtime;           /* CUDA context + cuBLAS workspace (an allowance), 0 on the CPU */
    size_t total;
} mm_memory_plan;

/* The plan for adapters already built (ad; NULL = full fine-tuning). */
int mm_memory_plan_of(const mm_model *m, const mm_adapters *ad, int micro, int seq, int recompute, int layout,
                      mm_memory_plan *out);
/* m may be a layout-only model (mm_model_layout).  Builds the method's adapters to size them. */
int mm_memory_plan_make(const mm_model *m, const mm_method_spec *spec, int n_lang, int micro, int seq, int recompute,
                        int layout, mm_memory_plan *out);
/* a table, one line per part, sizes in GiB, and the total */
void mm_memory_plan_print(const mm_memory_plan *p, FILE *f);
/* /proc/meminfo MemAvailable in bytes (0 if unknown); MMLORA_MEMORY_AVAILABLE=bytes overrides it (tests) */
size_t mm_memory_available(void);
#endif
