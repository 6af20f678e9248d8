/* Engine benchmark: tokens/s and model FLOP utilization of a LoRA step and a full fine-tuning step on a
 * small GPTBigCode (n_embd 256, 6 layers, seq 256, batch 8), against the OpenBLAS sgemm FLOP/s measured
 * in the same run (the physical limit of this machine).  Not a test: prints a table. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/engine.h"
#include "peft/adapter.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "train/trainer.h"
#include "util/philox.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double sgemm_peak(void) {
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n); /* warm-up */
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double f = 2.0 * n * n * n / (now() - t);
        if (f > best) best = f;
    }
    free(a); free(b); free(c);
    return best;
}

static int batches(void *ctx, uint64_t micro, int32_t *tok, float *w, int32_t *langs, int B, int *Tp) {
    const int T = *Tp;
    for (int b = 0; b < B; b++) langs[b] = b % 6;
    int V = *(int *)ctx;
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)(mm_rng_u32(1, (uint32_t)micro, 3, (uint64_t)i) % (uint32_t)V);
        w[i] = 1.0f; /* loss on every token: the most expensive case (pretraining-like) */
    }
    return B;
}

/* model FLOPs per token of forward+backward (6·N_params + attention), the usual MFU convention */
static double flops_per_token(const mm_model_config *c, long long n_matmul_params, int T, int lora) {
    double attn = 2.0 * 2.0 * c->n_layer * (double)T / 2.0 * c->d_model; /* causal: half the T×T scores */
    /* forward 2·N; backward 4·N for full FT, 2·N (activation grads only) + adapter terms for LoRA */
    return (lora ? 4.0 : 6.0) * n_matmul_params + 3.0 * attn;
}

static void bench_config(const mm_model_config *c, double peak, int B, int T, int steps) {
    for (int lora = 1; lora >= 0; lora--) {
        mm_model m;
        mm_model_init(&m, c);
        mm_model_init_random(&m, 1);
        mm_adapters ad;
        if (lora) mm_adapters_init_lora(&ad, &m, 32, 64.0f, 0.1f, (1u << m.n_targets) - 1, 2);
        mm_engine e;
        mm_engine_init(&e, &mm_kernels_cpu, &m, lora ? &ad : NULL, !lora, B, T);
        mm_train_config tc;
        mm_train_config_defaults(&tc);
        mm_trainer tr;
        mm_trainer_init(&tr, &e, &tc);
        int V = c->vocab_size;
        mm_trainer_step(&tr, batches, &V); /* warm-up */
        double t0 = now();
        for (int s = 0; s < steps; s++) mm_trainer_step(&tr, batches, &V);
        double dt = (now() - t0) / steps;
        long long matmul = (long long)c->vocab_size * c->d_model;
        for (int t = 0; t < m.n_targets; t++) matmul += (long long)c->n_layer * m.targets[t].in * m.targets[t].out;
        double fl = flops_per_token(c, matmul, T, lora) * B * T / dt;
        printf("| %s | %s | %.0f | %.1f | %.1f | %.1f%% |\n", c->family == MM_FAMILY_LLAMA ? "llama" : "gpt_bigcode",
               lora ? "LoRA r32 (frozen base)" : "full fine-tuning", B * T / dt, dt * 1e3, fl / 1e9, 100.0 * fl / peak);
        mm_trainer_free(&tr);
        mm_engine_free(&e);
        if (lora) mm_adapters_free(&ad);
        mm_model_free(&m);
    }
}

/* step time of each method relative to LoRA-Mix on the same model and batch (issue: MMLoRA <= 1.15x,
 * MoLA <= 1.3x) */
static void bench_methods(const mm_model_config *c, int B, int T, int steps) {
    const char *names[] = {"lora-mix", "mmlora", "mola", "fpft-mix"};
    double base = 0;
    printf("\n| method | ms/step | relative to LoRA-Mix |\n|---|---|---|\n");
    for (int k = 0; k < 4; k++) {
        mm_model m;
        mm_model_init(&m, c);
        mm_model_init_random(&m, 1);
        mm_method_spec spec;
        mm_method_from_name(names[k], &spec);
        mm_adapters ad;
        mm_method_build(&spec, &m, 6, 2, &ad);
        mm_mmlora mm;
        mm_mmlora_init(&mm, &spec, &ad, 6, B, 3);
        const int fpft = spec.kind == MM_METHOD_FPFT_MIX;
        mm_engine e;
        mm_engine_init(&e, &mm_kernels_cpu, &m, fpft ? NULL : &ad, fpft, B, T);
        mm_train_config tc;
        mm_train_config_defaults(&tc);
        mm_trainer tr;
        mm_trainer_init(&tr, &e, &tc);
        mm_mmlora_hooks(&mm, &tr.hooks);
        int V = c->vocab_size;
        mm_trainer_step(&tr, batches, &V);
        double t0 = now();
        for (int s = 0; s < steps; s++) mm_trainer_step(&tr, batches, &V);
        double dt = (now() - t0) / steps;
        if (k == 0) base = dt;
        printf("| %s | %.1f | %.2fx |\n", names[k], dt * 1e3, dt / base);
        mm_trainer_free(&tr);
        mm_engine_free(&e);
        mm_mmlora_free(&mm);
        if (!fpft) mm_adapters_free(&ad);
        mm_model_free(&m);
    }
}

int main(void) {
    mm_model_config c = {0};
    c.family = MM_FAMILY_GPT_BIGCODE;
    c.n_layer = 6; c.d_model = 256; c.n_head = 8; c.n_kv_head = 1; c.head_dim = 32; c.d_ff = 1024;
    c.vocab_size = 8192; c.max_pos = 512; c.norm_eps = 1e-5f; c.tie_embeddings = 1;
    c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.1f;
    /* the LLaMA configuration of the same size: MHA with 8 kv heads, SwiGLU d_ff 688 (~ 2/3 of 4·256·... as
     * DeepSeek-Coder's 5504/2048 ratio), RoPE, untied head, no dropout */
    mm_model_config l = c;
    l.family = MM_FAMILY_LLAMA; l.n_kv_head = 8; l.d_ff = 688; l.tie_embeddings = 0; l.rope_theta = 100000.0f;
    l.rope_scale = 4.0f; l.norm_eps = 1e-6f; l.embd_pdrop = l.attn_pdrop = l.resid_pdrop = 0.0f;
    const int B = 8, T = 256, steps = 3;
    double peak = sgemm_peak();
    printf("engine benchmark: n_embd %d, %d layers, vocab %d, batch %d x seq %d, %s\n", c.d_model, c.n_layer,
           c.vocab_size, B, T, mm_kernels_cpu.name);
    printf("OpenBLAS sgemm peak (2048^3, same process): %.1f GFLOP/s\n\n", peak / 1e9);
    printf("| family | step | tokens/s | ms/step | model GFLOP/s | MFU vs sgemm peak |\n|---|---|---|---|---|---|\n");
    bench_config(&c, peak, B, T, steps);
    bench_config(&l, peak, B, T, steps);
    bench_methods(&c, B, T, steps);
    return 0;
}
