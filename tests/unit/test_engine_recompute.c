/* Activation recomputation: the same loss and bit-identical gradients as storing every layer, for both
 * families, full fine-tuning and every adapter kind, with every dropout active; and a smaller arena. */
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"

enum { B = 3, T = 12 };

typedef struct {
    double loss, wsum;
    float *dparams, *dad;
    size_t n_dparams, n_dad, arena;
} step_out;

/* one training micro-step (dropouts on) with or without recomputation; method NULL = full fine-tuning */
static step_out one_step(const char *model_dir, const char *method, int recompute) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, model_dir), 0, "%s", mm_last_error());
    if (m.cfg.family == MM_FAMILY_GPT_BIGCODE) m.cfg.attn_pdrop = m.cfg.resid_pdrop = m.cfg.embd_pdrop = 0.1f;
    int32_t ids[B * T], langs[B] = {0, 3, 5};
    float w[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = 1 + (int32_t)(mm_rng_u32(11, 0, 2, (uint64_t)i) % 400);
        w[i] = (i % T) > 2 ? 1.0f : 0.0f; /* the first tokens are "source": no loss */
    }
    mm_method_spec spec;
    mm_adapters ad;
    mm_mmlora mm;
    memset(&ad, 0, sizeof ad);
    memset(&mm, 0, sizeof mm);
    const int has_ad = method != NULL;
    if (has_ad) {
        cr_assert_eq(mm_method_from_name(method, &spec), 0);
        if (!strcmp(method, "mola")) cr_assert_eq(mm_method_set(&spec, "mola_experts=2,4"), 0, "%s", mm_last_error());
        cr_assert_eq(mm_method_build(&spec, &m, 6, 7, &ad), 0, "%s", mm_last_error());
        /* B starts at zero: give it values so that every adapter path carries gradient */
        for (size_t i = 0; i < ad.n_params; i++)
            if (ad.params[i] == 0.0f) ad.params[i] = 0.02f * (mm_u32_to_unit(mm_rng_u32(3, 1, 4, i)) - 0.5f);
        cr_assert_eq(mm_mmlora_init(&mm, &spec, &ad, 6, B, 7), 0, "%s", mm_last_error());
    }
    mm_engine e;
    cr_assert_eq(mm_engine_init_opts(&e, &mm_kernels_cpu, &m, has_ad ? &ad : NULL, !has_ad, B, T, recompute), 0, "%s",
                 mm_last_error());
    cr_assert_eq(e.arena_bytes, mm_engine_arena_bytes(&m, has_ad ? &ad : NULL, B, T, recompute));
    e.train = 1;
    e.seed = 99;
    e.step = 5;
    if (mm.gates) cr_assert_eq(mm_mmlora_begin(&mm, langs, B, T, 1, 99, 5), 0, "%s", mm_last_error());
    step_out o;
    memset(&o, 0, sizeof o);
    o.loss = mm_engine_step(&e, ids, w, B, T, 1.0f, &o.wsum);
    if (mm.gates) mm_mmlora_end(&mm);
    o.arena = e.arena_bytes;
    if (e.dparams) {
        o.n_dparams = m.n_params;
        o.dparams = malloc(sizeof(float) * o.n_dparams);
        memcpy(o.dparams, e.dparams, sizeof(float) * o.n_dparams);
    }
    if (has_ad) {
        o.n_dad = ad.n_params;
        o.dad = malloc(sizeof(float) * o.n_dad);
        memcpy(o.dad, ad.grads, sizeof(float) * o.n_dad);
    }
    mm_engine_free(&e);
    if (has_ad) { mm_mmlora_free(&mm); mm_adapters_free(&ad); }
    mm_model_free(&m);
    return o;
}

static void expect_identical(const char *model_dir, const char *method) {
    step_out a = one_step(model_dir, method, 0), b = one_step(model_dir, method, 1);
    const char *name = method ? method : "full fine-tuning";
    cr_assert(a.loss > 0.0 && a.wsum > 0.0);
    cr_expect_eq(a.loss, b.loss, "%s %s: loss %.17g vs %.17g", model_dir, name, a.loss, b.loss);
    cr_assert_eq(a.n_dparams, b.n_dparams);
    cr_assert_eq(a.n_dad, b.n_dad);
    double norm = 0.0;
    for (size_t i = 0; i < a.n_dparams; i++) norm += (double)a.dparams[i] * a.dparams[i];
    for (size_t i = 0; i < a.n_dad; i++) norm += (double)a.dad[i] * a.dad[i];
    cr_assert(norm > 0.0, "%s %s: no gradient at all", model_dir, name);
    if (a.n_dparams) cr_expect_eq(memcmp(a.dparams, b.dparams, sizeof(float) * a.n_dparams), 0, "%s %s: base gradients differ", model_dir, name);
    if (a.n_dad) cr_expect_eq(memcmp(a.dad, b.dad, sizeof(float) * a.n_dad), 0, "%s %s: adapter gradients differ", model_dir, name);
    cr_expect_lt(b.arena, a.arena, "%s %s: recomputation arena %zu not below %zu", model_dir, name, b.arena, a.arena);
    free(a.dparams); free(a.dad); free(b.dparams); free(b.dad);
}

#define GPT "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"
Test(engine_recompute, gpt_bigcode_full_finetuning) { expect_identical(GPT, NULL); }
Test(engine_recompute, gpt_bigcode_lora_mix) { expect_identical(GPT, "lora-mix"); }
Test(engine_recompute, gpt_bigcode_mola) { expect_identical(GPT, "mola"); }
Test(engine_recompute, gpt_bigcode_mmlora) { expect_identical(GPT, "mmlora"); }
Test(engine_recompute, llama_full_finetuning) { expect_identical(LLAMA, NULL); }
Test(engine_recompute, llama_lora_mix) { expect_identical(LLAMA, "lora-mix"); }
Test(engine_recompute, llama_mmlora) { expect_identical(LLAMA, "mmlora"); }

/* the arena shrinks from about L copies of a block's activations to one (plus the residual stream) */
Test(engine_recompute, arena_bytes_scale_with_layers_only_without_recompute) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, GPT), 0, "%s", mm_last_error());
    size_t full = mm_engine_arena_bytes(&m, NULL, 8, 64, 0), rec = mm_engine_arena_bytes(&m, NULL, 8, 64, 1);
    const int L = m.cfg.n_layer;
    m.cfg.n_layer = 2 * L; /* layout-only question: twice the layers */
    size_t full2 = mm_engine_arena_bytes(&m, NULL, 8, 64, 0), rec2 = mm_engine_arena_bytes(&m, NULL, 8, 64, 1);
    m.cfg.n_layer = L;
    /* doubling L adds L blocks' worth without recomputation, only L residual copies with it */
    const size_t resid = (size_t)8 * 64 * m.cfg.d_model * sizeof(float);
    cr_expect_eq(rec2 - rec, (size_t)L * resid, "recompute: %zu extra bytes for %d more layers", rec2 - rec, L);
    cr_expect_gt(full2 - full, 4 * (rec2 - rec));
    mm_model_free(&m);
}
