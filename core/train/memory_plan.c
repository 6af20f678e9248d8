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

int mm_memory_plan_layout(int cuda, int dtype) {
    const int bf16 = dtype == MM_DTYPE_BF16;
    return cuda ? (bf16 ? MM_PLAN_CUDA_BF16 : MM_PLAN_CUDA_FP32) : (bf16 ? MM_PLAN_CPU_BF16 : MM_PLAN_CPU);
}

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }
static size_t zmin(size_t a, size_t b) { return a < b ? a : b; }

/* a bound of kernels/cuda/attention.cu's scratch for a micro-batch: its chunks of sequences fill at most
 * MMLORA_CUDA_ATTN_SCRATCH_MB (default 128) MiB, or one sequence when that is more, and never more than B sequences;
 * pp, the backward with dropout, is the largest per-sequence size (forward or no dropout fit more sequences into the
 * same cap, never more bytes); +256: the pointer region's rounding */
static size_t cuda_attention_scratch(const mm_model *m, int B, int T) {
    const size_t H = (size_t)m->cfg.n_head, tt = (size_t)T * T, td = (size_t)T * m->cfg.head_dim;
    const size_t pp = (2 * H * tt + 3 * H * td) * sizeof(float) + H * 12 * sizeof(void *);
    const char *e = getenv("MMLORA_CUDA_ATTN_SCRATCH_MB");
    const size_t cap = (size_t)((e && atof(e) > 0 ? atof(e) : 128.0) * 1048576.0);
    return zmin((size_t)B * pp, zmax(cap, pp)) + 256;
}

/* kernels/cuda/expert.cu's scratch for N rows: an expert with dropout and a rank above 32 takes the unfused path,
 * its dropped input [N, in] in scratch; the fused kernels (ranks <= 32) need only dA's partial sums, one [r, in] per
 * 256 rows */
static size_t cuda_expert_scratch(const mm_adapters *ad, size_t N) {
    const char *e = getenv("MMLORA_CUDA_EXPERT"); /* unfused everywhere (tests/gpu/run.sh's fallback) */
    const int max_fused = e && !strcmp(e, "unfused") ? 0 : 32;
    size_t b = 0;
    for (int l = 0; ad && l < ad->n_layers; l++)
        for (int t = 0; t < ad->n_targets; t++) {
            const mm_adapted *md = mm_adapted_at(ad, l, t);
            for (int e = 0; e < md->n_experts; e++) {
                const mm_expert *x = &md->experts[e];
                if (x->dropout <= 0.0f) continue;
                b = zmax(b, (x->r > max_fused ? N : (N + 255) / 256 * (size_t)x->r) * (size_t)md->in * sizeof(float));
            }
        }
    return b;
}

/* dtype bf16: the largest rounded activation of one linear (elements), the largest weight matrix (elements) */
static void bf16_sizes(const mm_model *m, size_t N, size_t *act, size_t *wmax) {
    const mm_model_config *c = &m->cfg;
    size_t wide = zmax(zmax((size_t)c->d_model, (size_t)c->d_ff), (size_t)m->qkv_width), w = 0;
    for (int t = 0; t < m->n_targets; t++) {
        wide = zmax(wide, zmax((size_t)m->targets[t].in, (size_t)m->targets[t].out));
        w = zmax(w, (size_t)m->targets[t].in * m->targets[t].out);
    }
    const size_t V = (size_t)c->vocab_size, R = N < MM_ENGINE_LOGIT_ROWS ? N : MM_ENGINE_LOGIT_ROWS;
    *act = zmax(N * wide, R * V); /* the LM head's backward rounds its logit gradients [R, V] */
    *wmax = zmax(w, V * (size_t)c->d_model);
}

int mm_memory_plan_of(const mm_model *m, const mm_adapters *ad, int micro, int seq, int act, int layout,
                      mm_memory_plan *p) {
    memset(p, 0, sizeof *p);
    if (micro < 1 || seq < 2) return mm_fail("memory plan: batch %d and sequence %d must be >= 1 and >= 2", micro, seq);
    if (seq > m->cfg.max_pos && m->cfg.family == MM_FAMILY_GPT_BIGCODE)
        return mm_fail("memory plan: sequence %d exceeds the model's n_positions %d", seq, m->cfg.max_pos);
    if (layout < MM_PLAN_CPU || layout > MM_PLAN_CPU_BF16) return mm_fail("memory plan: unknown layout %d", layout);
    p->layout = layout;
    p->cuda = layout == MM_PLAN_CUDA_FP32 || layout == MM_PLAN_CUDA_BF16;
    p->bf16 = layout == MM_PLAN_CUDA_BF16 || layout == MM_PLAN_CPU_BF16;
    if (p->bf16 && !ad)
        return mm_fail("memory plan: dtype bf16 keeps the base frozen, but full fine-tuning trains it (fp32 master "
                       "weights, not implemented): plan it with dtype fp32");
    p->micro = micro;
    p->seq = seq;
    p->recompute = (act & MM_ACT_RECOMPUTE) != 0;
    p->act16 = (act & MM_ACT_BF16) != 0;
    p->base_params = (long long)m->n_params;
    /* what mm_engine_init_with allocates for the weights; on the CPU the model's own buffer is used in place */
    mm_engine_weight_bytes(m, p->cuda, p->bf16 ? MM_DTYPE_BF16 : MM_DTYPE_FP32, &p->weights, &p->weights16);
    if (!p->cuda) p->weights = (size_t)m->n_params * 4;
    if (!ad) { /* full fine-tuning: the weights are the trainable parameters */
        p->trainable_params = (long long)m->n_params;
        p->grads = (size_t)m->n_params * 4;
        p->optimizer = (size_t)m->n_params * 8;
    } else {
        p->trainable_params = (long long)ad->n_params;
        p->trainable = ad->n_params * 4;
        p->grads = ad->n_params * 4;
        p->optimizer = ad->n_params * 8;
        p->adapter_buffers = mm_adapters_reserve_bytes(ad, micro * seq);
    }
    p->activations = mm_engine_arena_bytes(m, ad, micro, seq, act); /* the same in every layout */
    size_t widest = 0, wmax = 0;
    if (p->bf16) bf16_sizes(m, (size_t)micro * seq, &widest, &wmax);
    if (p->bf16 && !p->cuda) p->scratch16 = (widest + wmax) * 4;
    if (p->cuda) { /* the largest request, and mm_cuda_scratch allocates a quarter more than the request that grows it */
        const size_t req = zmax(zmax(widest * 2, cuda_expert_scratch(ad, (size_t)micro * seq)),
                                cuda_attention_scratch(m, micro, seq));
        p->scratch_dev = req + req / 4;
    }
    p->runtime = p->cuda ? CUDA_RUNTIME_ALLOWANCE : 0;
    p->total = p->weights + p->weights16 + p->trainable + p->grads + p->optimizer + p->activations + p->scratch16 +
               p->scratch_dev + p->adapter_buffers + p->runtime;
    return 0;
}

int mm_memory_plan_make(const mm_model *m, const mm_method_spec *spec, int n_lang, int micro, int seq, int act,
                        int layout, mm_memory_plan *p) {
    if (spec->kind == MM_METHOD_FPFT_MIX) return mm_memory_plan_of(m, NULL, micro, seq, act, layout, p);
    mm_adapters ad;
    memset(&ad, 0, sizeof ad);
    memset(p, 0, sizeof *p);
    if (mm_method_build(spec, m, n_lang, 1, &ad)) return -1;
    int rc = mm_memory_plan_of(m, &ad, micro, seq, act, layout, p);
    mm_adapters_free(&ad);
    return rc;
}

static double gib(size_t b) { return b / 1073741824.0; }

void mm_memory_plan_print(const mm_memory_plan *p, FILE *f) {
    static const char *const what[] = {
        "CPU engine: fp32",
        "CUDA engine as built, dtype fp32: fp32 weights, gradients and AdamW, all in device memory",
        "CUDA engine, dtype bf16: bf16 frozen linears and LM head; fp32 embeddings, norms, biases, adapters, "
        "gradients and AdamW; all in device memory",
        "CPU engine, dtype bf16: the fp32 model plus bf16 copies of its linears and LM head"};
    fprintf(f, "memory plan (%s), micro-batch %d x sequence %d, recomputation %s, activations %s:\n", what[p->layout],
            p->micro, p->seq, p->recompute ? "on" : "off", p->act16 ? "bf16 (act_dtype)" : "fp32");
    const char *w = !p->bf16 ? "weights (base model)" : p->cuda ? "weights (fp32 part)" : "weights (fp32 model)";
    fprintf(f, "  %-26s%8.3f GiB\n", w, gib(p->weights));
    if (p->weights16) fprintf(f, "  weights (bf16 copies)     %8.3f GiB\n", gib(p->weights16));
    if (p->trainable) fprintf(f, "  trainable (adapters)      %8.3f GiB\n", gib(p->trainable));
    fprintf(f, "  gradients                 %8.3f GiB\n", gib(p->grads));
    fprintf(f, "  optimizer (AdamW m, v)    %8.3f GiB\n", gib(p->optimizer));
    fprintf(f, "  activations               %8.3f GiB\n", gib(p->activations));
    if (p->scratch16) fprintf(f, "  bf16 rounding scratch     %8.3f GiB (bound)\n", gib(p->scratch16));
    if (p->scratch_dev) fprintf(f, "  device scratch (shared)   %8.3f GiB\n", gib(p->scratch_dev));
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
