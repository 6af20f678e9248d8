/* Greedy decoding on a device table, run on the CPU: a copy of the CPU table that declares device memory
 * (allocations filled with NaN bytes, real copies for upload/download, counted).  The decoder must reach its
 * weights, adapters, KV cache and activations only through the table, so its tokens equal the plain CPU
 * table's bit for bit: both fixture models, without adapters and with LoRA-Mix, MoLA and MMLoRA adapters
 * (random, so they change the output), prompts of different lengths, a prefill in chunks, an eos stop; and
 * every allocation is returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infer/generate.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"
#include "counting_device.h"

enum { NP = 4, MAX_NEW = 9, N_LANG = 6 };
static const int plen[NP] = {5, 11, 3, 8};

/* tokens of NP prompts; eos < 0: never stop */
static void generate_dtype(const mm_kernels *k, mm_model *m, mm_adapters *ad, int max_rows, int eos, int dtype,
                           int32_t out[NP][MAX_NEW], int out_len[NP]) {
    int32_t pbuf[NP][16];
    const int32_t *prompts[NP];
    int32_t *outs[NP];
    for (int i = 0; i < NP; i++) {
        for (int t = 0; t < plen[i]; t++)
            pbuf[i][t] = (int32_t)(mm_rng_u32(3, (uint32_t)i, 7, (uint64_t)t) % (uint32_t)m->cfg.vocab_size);
        prompts[i] = pbuf[i];
        outs[i] = out[i];
    }
    mm_generator g;
    cd_alloc_bytes = 0;
    cr_assert_eq(mm_generator_init_dtype(&g, k, m, ad, NP, 16 + MAX_NEW, max_rows, dtype), 0, "%s", mm_last_error());
    cr_assert_eq(g.w16 != NULL, dtype == MM_DTYPE_BF16);
    if (k->device_memory && k->alloc == cd_alloc) { /* the plan the run checks against the GPU is what init allocates */
        const size_t plan = mm_generator_bytes(m, ad, 1, NP, 16 + MAX_NEW, max_rows, dtype);
        cr_expect(cd_alloc_bytes <= plan && plan - cd_alloc_bytes < 64, "generator: %zu bytes allocated, %zu planned",
                  cd_alloc_bytes, plan);
    }
    cr_assert_eq(mm_generate_greedy(&g, prompts, plen, NP, MAX_NEW, eos, outs, out_len), 0, "%s", mm_last_error());
    mm_generator_free(&g);
}

static void generate(const mm_kernels *k, mm_model *m, mm_adapters *ad, int max_rows, int eos,
                     int32_t out[NP][MAX_NEW], int out_len[NP]) {
    generate_dtype(k, m, ad, max_rows, eos, MM_DTYPE_FP32, out, out_len);
}

static void check(const char *dir, const char *method) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, dir), 0, "%s", mm_last_error());
    mm_adapters ad;
    mm_mmlora mm;
    memset(&mm, 0, sizeof mm);
    mm_adapters *pad = NULL;
    if (method) {
        mm_method_spec spec;
        cr_assert_eq(mm_method_from_name(method, &spec), 0);
        cr_assert_eq(mm_method_build(&spec, &m, N_LANG, 1, &ad), 0, "%s", mm_last_error());
        cr_assert_eq(mm_mmlora_init(&mm, &spec, &ad, N_LANG, NP, 1), 0, "%s", mm_last_error());
        for (size_t i = 0; i < ad.n_params; i++) /* B = 0 at init: random, so the adapters change the tokens */
            ad.params[i] = 0.5f * (2.0f * mm_u32_to_unit(mm_rng_u32(5, 0, 1, i)) - 1.0f);
        if (mm.gates) { /* one language for every row, as the run's generation sets it */
            int32_t lang = 2;
            cr_assert_eq(mm_mmlora_begin(&mm, &lang, 1, 1, 0, 0, 0), 0, "%s", mm_last_error());
            ad.gate_group = 0;
            ad.dgates = NULL;
        }
        pad = &ad;
    }
    const mm_kernels dev = counting_device();
    int32_t cpu[NP][MAX_NEW], gpu[NP][MAX_NEW], base[NP][MAX_NEW];
    int cpu_n[NP], gpu_n[NP], base_n[NP];
    for (int pass = 0; pass < 2; pass++) {
        const int max_rows = pass ? 7 : 64; /* 7: the prefill runs in chunks smaller than one prompt */
        generate(&mm_kernels_cpu, &m, pad, max_rows, -1, cpu, cpu_n);
        cd_live_allocs = 0;
        generate(&dev, &m, pad, max_rows, -1, gpu, gpu_n);
        cr_expect_eq(cd_live_allocs, 0, "%s %s: %zu device allocations not freed", dir, method, cd_live_allocs);
        for (int i = 0; i < NP; i++) {
            cr_expect_eq(cpu_n[i], MAX_NEW);
            cr_expect_eq(gpu_n[i], cpu_n[i], "%s %s prompt %d: %d tokens, CPU %d", dir, method, i, gpu_n[i], cpu_n[i]);
            cr_expect_eq(memcmp(gpu[i], cpu[i], sizeof(int32_t) * (size_t)cpu_n[i]), 0,
                         "%s %s max_rows %d prompt %d: device tokens differ from the CPU's", dir, method, max_rows, i);
        }
    }
    /* the stop at eos: prompt 1's third token ends it early on both tables */
    const int eos = cpu[1][2];
    generate(&mm_kernels_cpu, &m, pad, 64, eos, cpu, cpu_n);
    generate(&dev, &m, pad, 64, eos, gpu, gpu_n);
    cr_expect(cpu_n[1] <= 2);
    for (int i = 0; i < NP; i++) {
        cr_expect_eq(gpu_n[i], cpu_n[i]);
        cr_expect_eq(memcmp(gpu[i], cpu[i], sizeof(int32_t) * (size_t)cpu_n[i]), 0);
    }
    if (pad) { /* the adapters matter: without them the tokens differ */
        generate(&mm_kernels_cpu, &m, NULL, 64, -1, base, base_n);
        generate(&mm_kernels_cpu, &m, pad, 64, -1, gpu, gpu_n);
        int differ = 0;
        for (int i = 0; i < NP; i++) differ |= memcmp(base[i], gpu[i], sizeof(int32_t) * MAX_NEW) != 0;
        cr_expect(differ, "%s %s: the random adapters left every token unchanged (test would prove nothing)", dir,
                  method);
        mm_mmlora_free(&mm);
        mm_adapters_free(&ad);
    }
    mm_model_free(&m);
}

#define GPT "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"
Test(generate_device, base_model_equals_cpu) { check(GPT, NULL); check(LLAMA, NULL); }
Test(generate_device, lora_mix_equals_cpu) { check(GPT, "lora-mix"); check(LLAMA, "lora-mix"); }
Test(generate_device, mola_equals_cpu) { check(GPT, "mola"); check(LLAMA, "mola"); }
Test(generate_device, mmlora_equals_cpu) { check(GPT, "mmlora"); check(LLAMA, "mmlora"); }
/* the stand-in the CLI uses (MMLORA_DEVICE_STANDIN=1) is such a table too */
Test(generate_device, standin_table_equals_cpu) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, GPT), 0, "%s", mm_last_error());
    int32_t a[NP][MAX_NEW], b[NP][MAX_NEW];
    int an[NP], bn[NP];
    generate(&mm_kernels_cpu, &m, NULL, 64, -1, a, an);
    generate(mm_kernels_cpu_standin(), &m, NULL, 64, -1, b, bn);
    for (int i = 0; i < NP; i++) cr_expect_eq(memcmp(a[i], b[i], sizeof a[i]), 0);
    mm_model_free(&m);
}

/* generation reserves no dropout masks (a 1B MMLoRA model's would be gigabytes for a 64-prompt prefill); a later
 * training reserve with fewer rows still gets them */
Test(generate_device, generation_reserves_no_masks_and_training_still_gets_them) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, GPT), 0, "%s", mm_last_error());
    mm_method_spec spec;
    cr_assert_eq(mm_method_from_name("mmlora", &spec), 0);
    mm_adapters ad;
    cr_assert_eq(mm_method_build(&spec, &m, N_LANG, 1, &ad), 0, "%s", mm_last_error());
    mm_adapters_reserve_eval(&ad, 64);
    const mm_adapted *md = mm_adapted_at(&ad, 0, 0);
    cr_assert(md->n_experts > 1 && md->experts[0].dropout > 0.0f);
    for (int e = 0; e < md->n_experts; e++) cr_expect_null(md->drop_bits[e], "expert %d has a mask buffer", e);
    cr_expect_eq(mm_adapters_reserve_eval_bytes(&ad, 64) < mm_adapters_reserve_bytes(&ad, 64), 1);
    mm_adapters_reserve(&ad, 16);
    for (int e = 0; e < md->n_experts; e++) cr_expect_not_null(md->drop_bits[e], "expert %d: no mask after training's reserve", e);
    cr_expect_eq(md->bits_rows, 16);
    mm_adapters_free(&ad);
    mm_model_free(&m);
}

/* dtype bf16: the decoder reads bf16 copies of the linears (linear_fwd_w16); on the device table the same tokens as
 * on the CPU table, the planned bytes allocated, and (the random adapters on) different logits from fp32 somewhere */
static void check_bf16(const char *dir, const char *method) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, dir), 0, "%s", mm_last_error());
    mm_method_spec spec;
    cr_assert_eq(mm_method_from_name(method, &spec), 0);
    mm_adapters ad;
    mm_mmlora mm;
    memset(&mm, 0, sizeof mm);
    cr_assert_eq(mm_method_build(&spec, &m, N_LANG, 1, &ad), 0, "%s", mm_last_error());
    cr_assert_eq(mm_mmlora_init(&mm, &spec, &ad, N_LANG, NP, 1), 0, "%s", mm_last_error());
    for (size_t i = 0; i < ad.n_params; i++) ad.params[i] = 0.5f * (2.0f * mm_u32_to_unit(mm_rng_u32(5, 0, 1, i)) - 1.0f);
    if (mm.gates) {
        int32_t lang = 2;
        cr_assert_eq(mm_mmlora_begin(&mm, &lang, 1, 1, 0, 0, 0), 0, "%s", mm_last_error());
        ad.gate_group = 0;
        ad.dgates = NULL;
    }
    const mm_kernels dev = counting_device();
    int32_t cpu[NP][MAX_NEW], gpu[NP][MAX_NEW];
    int cpu_n[NP], gpu_n[NP];
    generate_dtype(&mm_kernels_cpu, &m, &ad, 7, -1, MM_DTYPE_BF16, cpu, cpu_n);
    cd_live_allocs = 0;
    generate_dtype(&dev, &m, &ad, 7, -1, MM_DTYPE_BF16, gpu, gpu_n);
    cr_expect_eq(cd_live_allocs, 0);
    /* the device copy of the fp32 weights leaves out what is read in bf16: against fp32 decoding, the bf16 one
     * allocates the matrices' fp32 bytes less and their bf16 copies (with alignment padding) more */
    const size_t bytes_bf16 = cd_alloc_bytes;
    int32_t f32[NP][MAX_NEW];
    int f32_n[NP];
    generate_dtype(&dev, &m, &ad, 7, -1, MM_DTYPE_FP32, f32, f32_n);
    size_t mats = 0;
    for (int t = 0; t < m.n_targets; t++) mats += (size_t)m.targets[t].in * m.targets[t].out;
    mats *= (size_t)m.cfg.n_layer;
    const size_t head = (size_t)m.cfg.vocab_size * m.cfg.d_model, untied = m.lm_head != m.wte;
    size_t toff[MM_MAX_TARGETS], layer, head_off;
    const size_t w16 = mm_weights_w16_layout(&m, toff, &layer, &head_off) * 2;
    cr_expect(w16 >= (mats + head) * 2, "%s", dir);
    cr_expect_eq(bytes_bf16 + (mats + (untied ? head : 0)) * 4, cd_alloc_bytes + w16,
                 "%s %s: bf16 decoding allocated %zu bytes, fp32 %zu, bf16 copies %zu", dir, method, bytes_bf16,
                 cd_alloc_bytes, w16);
    for (int i = 0; i < NP; i++) {
        cr_expect_eq(gpu_n[i], cpu_n[i]);
        cr_expect_eq(memcmp(gpu[i], cpu[i], sizeof(int32_t) * (size_t)cpu_n[i]), 0, "%s %s bf16 prompt %d", dir, method, i);
    }
    mm_mmlora_free(&mm);
    mm_adapters_free(&ad);
    mm_model_free(&m);
}
Test(generate_device, bf16_weights_equal_cpu_bf16) {
    check_bf16(GPT, "lora-mix");
    check_bf16(LLAMA, "mmlora");
}

/* the bf16 decoder really reads bf16 weights: its logits after the prefill differ from the fp32 decoder's, and
 * by little (under 5 % of the largest logit: the rounding of weights and activations, not another model) */
Test(generate_device, bf16_decoder_reads_rounded_weights) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, GPT), 0, "%s", mm_last_error());
    const int32_t prompt[5] = {3, 9, 1, 4, 7};
    const int32_t *pp[1] = {prompt};
    const int plen[1] = {5};
    float logits[2][4096];
    const int V = m.cfg.vocab_size;
    cr_assert(V <= 4096);
    for (int d = 0; d < 2; d++) {
        mm_generator g;
        cr_assert_eq(mm_generator_init_dtype(&g, &mm_kernels_cpu, &m, NULL, 1, 16, 8, d ? MM_DTYPE_BF16 : MM_DTYPE_FP32), 0);
        int32_t out[4];
        int32_t *po[1] = {out};
        int on[1];
        cr_assert_eq(mm_generate_greedy(&g, pp, plen, 1, 1, -1, po, on), 0, "%s", mm_last_error());
        memcpy(logits[d], g.rowlogits, sizeof(float) * (size_t)V); /* the last prefill row's logits (CPU table) */
        mm_generator_free(&g);
    }
    double diff = 0, mag = 0;
    for (int v = 0; v < V; v++) {
        diff = fmax(diff, fabs((double)logits[1][v] - logits[0][v]));
        mag = fmax(mag, fabs((double)logits[0][v]));
    }
    cr_expect(diff > 0, "bf16 logits identical to fp32: the bf16 weights are not used");
    cr_expect(diff < 0.05 * mag, "bf16 logits far from fp32: %g vs magnitude %g", diff, mag);
    mm_model_free(&m);
}
