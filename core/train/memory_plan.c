/* Planned memory of a training run (train/memory_plan.h). */
#include "train/memory_plan.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/adapter.h"
#include "util/log.h"

/* CUDA context and cuBLAS(Lt) workspace: an allowance measured on typical drivers (~0.5 GiB) */
#define CUDA_RUNTIME_ALLOWANCE ((size_t)512 << 20)

int mm_memory_plan_of(const mm_model *m, const mm_adapters *ad, int micro, int seq, int recompute, int layout,
                      mm_memory_plan *p) {
    memset(p, 0, sizeof *p);
    if (micro < 1 || seq < 2) return mm_fail("memory plan: batch %d and sequence %d must be >= 1 and >= 2", micro, seq);
    if (seq > m->cfg.max_pos && m->cfg.family == MM_FAMILY_GPT_BIGCODE)
        return mm_fail("memory plan: sequence %d exceeds the model's n_positions %d", seq, m->cfg.max_pos);
    if (layout < MM_PLAN_CPU || layout > MM_PLAN_CUDA_BF16) return mm_fail("memory plan: unknown layout %d", layout);
    p->layout = layout;
    p->cuda = layout != MM_PLAN_CPU;
    const int bf16 = layout == MM_PLAN_CUDA_BF16;
    p->micro = micro;
    p->seq = seq;
    p->recompute = recompute != 0;
    p->base_params = (long long)m->n_params;
    p->weights = (size_t)m->n_params * (bf16 ? 2 : 4);
    if (!ad) { /* full fine-tuning: the weights are the trainable parameters */
        p->trainable_params = (long long)m->n_params;
        p->master = bf16 ? (size_t)m->n_params * 4 : 0;
        p->grads = (size_t)m->n_params * 4;
        p->optimizer = (size_t)m->n_params * 8;
    } else {
        p->trainable_params = (long long)ad->n_params;
        p->trainable = ad->n_params * 4;
        p->grads = ad->n_params * 4;
        p->optimizer = ad->n_params * 8;
        p->adapter_buffers = mm_adapters_reserve_bytes(ad, micro * seq);
    }
    /* the arena in fp32 (CPU and CUDA as built); in the bf16 layout the stored activations are half */
    size_t arena = mm_engine_arena_bytes(m, ad, micro, seq, recompute);
    p->activations = bf16 ? arena / 2 : arena;
    p->runtime = p->cuda ? CUDA_RUNTIME_ALLOWANCE : 0;
    p->total = p->weights + p->master + p->trainable + p->grads + p->optimizer + p->activations + p->adapter_buffers +
               p->runtime;
    return 0;
}

int mm_memory_plan_make(const mm_model *m, const mm_method_spec *spec, int n_lang, int micro, int seq, int recompute,
                        int layout, mm_memory_plan *p) {
    if (spec->kind == MM_METHOD_FPFT_MIX) return mm_memory_plan_of(m, NULL, micro, seq, recompute, layout, p);
    mm_adapters ad;
    memset(&ad, 0, sizeof ad);
    memset(p, 0, sizeof *p);
    if (mm_method_build(spec, m, n_lang, 1, &ad)) return -1;
    int rc = mm_memory_plan_of(m, &ad, micro, seq, recompute, layout, p);
    mm_adapters_free(&ad);
    return rc;
}

static double gib(size_t b) { return b / 1073741824.0; }

void mm_memory_plan_print(const mm_memory_plan *p, FILE *f) {
    static const char *const what[] = {
        "CPU engine: fp32",
        "CUDA engine as built: fp32 weights, activations, gradients and AdamW in device memory",
        "CUDA bf16 layout (target, not implemented yet): bf16 weights and activations, fp32 master/gradients/AdamW"};
    fprintf(f, "memory plan (%s), micro-batch %d x sequence %d, recomputation %s:\n", what[p->layout], p->micro,
            p->seq, p->recompute ? "on" : "off");
    fprintf(f, "  weights (base model)      %8.3f GiB\n", gib(p->weights));
    if (p->master) fprintf(f, "  fp32 master weights       %8.3f GiB\n", gib(p->master));
    if (p->trainable) fprintf(f, "  trainable (adapters)      %8.3f GiB\n", gib(p->trainable));
    fprintf(f, "  gradients                 %8.3f GiB\n", gib(p->grads));
    fprintf(f, "  optimizer (AdamW m, v)    %8.3f GiB\n", gib(p->optimizer));
    fprintf(f, "  activations               %8.3f GiB\n", gib(p->activations));
    if (p->adapter_buffers) fprintf(f, "  adapter buffers           %8.3f GiB\n", gib(p->adapter_buffers));
    if (p->runtime) fprintf(f, "  CUDA context + workspace  %8.3f GiB (allowance)\n", gib(p->runtime));
    fprintf(f, "  total                     %8.3f GiB\n", gib(p->total));
}

size_t mm_memory_available(void) {
    const char *fake = getenv("MMLORA_MEMORY_AVAILABLE"); /* tests: pretend this many bytes are free */
    if (fake && *fake) return (size_t)strtoull(fake, NULL, 10);
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}
