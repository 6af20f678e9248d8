/* Planned memory of a training run: weights, trainable parameters, gradients, optimizer state and
 * activations, for the CPU engine (fp32 everywhere: exactly what it allocates) or the CUDA engine's
 * layout (bf16 frozen weights and activations, fp32 master copies, gradients and AdamW state).
 * `mmlora info --memory`; mm_run checks the CPU plan against the machine's available memory. */
#ifndef MMLORA_MEMORY_PLAN_H
#define MMLORA_MEMORY_PLAN_H
#include <stddef.h>
#include <stdio.h>
#include "model/model.h"
#include "peft/method.h"

typedef struct {
    int cuda;                 /* 0: CPU engine (fp32), 1: CUDA engine layout */
    int micro, seq, recompute;
    long long base_params, trainable_params;
    size_t weights;           /* the base model as stored (fp32 CPU, bf16 CUDA) */
    size_t master;            /* fp32 master copy of trainable weights when storage is bf16 (CUDA full FT) */
    size_t trainable;         /* adapter parameters (fp32); 0 for full fine-tuning (they are the weights) */
    size_t grads;             /* fp32 gradients of every trainable parameter */
    size_t optimizer;         /* AdamW m and v, fp32 */
    size_t activations;       /* the engine's activation arena for one micro-batch */
    size_t adapter_buffers;   /* dropout masks and token-router state, per module */
    size_t runtime;           /* CUDA context + cuBLAS workspace (an allowance), 0 on the CPU */
    size_t total;
} mm_memory_plan;

/* m may be a layout-only model (mm_model_layout).  Builds the method's adapters to size them. */
int mm_memory_plan_make(const mm_model *m, const mm_method_spec *spec, int n_lang, int micro, int seq, int recompute,
                        int cuda, mm_memory_plan *out);
/* a table, one line per part, sizes in GiB, and the total */
void mm_memory_plan_print(const mm_memory_plan *p, FILE *f);
/* /proc/meminfo MemAvailable in bytes (0 if unknown); MMLORA_MEMORY_AVAILABLE=bytes overrides it (tests) */
size_t mm_memory_available(void);
#endif
