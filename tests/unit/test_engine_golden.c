/* The engine against PyTorch + transformers + peft (fixtures: tests/reference/engine_ref.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "model/engine.h"
#include "peft/peft_io.h"
#include "util/log.h"
#include "test_util.h"

#define FIX "tests/fixtures/engine/"
#define TOL 1e-5

typedef struct {
    mm_model m;
    mm_adapters ad;
    int has_ad;
    mm_safetensors *st;
    int32_t *ids;
    float *w;
    int B, T;
} golden;

static void load_case_in(golden *g, const char *fix, const char *case_name, const char *adapter, float pdrop) {
    memset(g, 0, sizeof *g);
    char path[256];
    snprintf(path, sizeof path, "%stiny", fix);
    cr_assert_eq(mm_model_load(&g->m, path), 0, "%s", mm_last_error());
    if (g->m.cfg.family == MM_FAMILY_GPT_BIGCODE) g->m.cfg.embd_pdrop = g->m.cfg.attn_pdrop = g->m.cfg.resid_pdrop = pdrop;
    if (adapter) {
        snprintf(path, sizeof path, "%s%s", fix, adapter);
        cr_assert_eq(mm_adapters_load_peft(&g->ad, &g->m, path), 0, "%s", mm_last_error());
        g->has_ad = 1;
    }
    snprintf(path, sizeof path, "%scase_%s.safetensors", fix, case_name);
    g->st = mm_st_open(path);
    cr_assert(g->st, "%s", mm_last_error());
    const mm_st_tensor *ids = mm_st_find(g->st, "input_ids");
    cr_assert(ids && ids->dtype == MM_DT_I32 && ids->ndim == 2);
    g->B = (int)ids->shape[0];
    g->T = (int)ids->shape[1];
    g->ids = malloc(ids->nbytes);
    memcpy(g->ids, ids->data, ids->nbytes);
    g->w = malloc(sizeof(float) * g->B * g->T);
    int64_t ws[2] = {g->B, g->T};
    cr_assert_eq(mm_st_read_f32(g->st, "weights", g->w, 2, ws), 0, "%s", mm_last_error());
}

static void load_case(golden *g, const char *case_name, const char *adapter, float pdrop) {
    load_case_in(g, FIX, case_name, adapter, pdrop);
}

static void free_case(golden *g) {
    if (g->has_ad) mm_adapters_free(&g->ad);
    mm_model_free(&g->m);
    mm_st_close(g->st);
    free(g->ids);
    free(g->w);
}

static float *expected(golden *g, const char *name, size_t n) {
    const mm_st_tensor *t = mm_st_find(g->st, name);
    cr_assert(t, "fixture has no tensor %s", name);
    cr_assert_eq((size_t)t->numel, n, "%s: %zu elements, expected %zu", name, (size_t)t->numel, n);
    float *buf = malloc(n * sizeof(float));
    int64_t shape[1] = {(int64_t)n};
    (void)shape;
    memcpy(buf, t->data, n * sizeof(float));
    return buf;
}

static void run_and_compare(golden *g, int base_trainable) {
    mm_engine e;
    cr_assert_eq(mm_engine_init(&e, &mm_kernels_cpu, &g->m, g->has_ad ? &g->ad : NULL, base_trainable, g->B, g->T), 0);
    const int64_t *ss = (const int64_t *)mm_st_find(g->st, "seed_step")->data;
    e.seed = (uint64_t)ss[0];
    e.step = (uint32_t)ss[1];
    e.train = 1;
    mm_engine_forward(&e, g->ids, g->B, g->T);
    const size_t NV = (size_t)g->B * g->T * g->m.cfg.vocab_size;
    float *logits = malloc(NV * sizeof(float));
    mm_engine_logits(&e, logits, g->B, g->T);
    float *want = expected(g, "logits", NV);
    EXPECT_CLOSE("logits", logits, want, NV, TOL);
    free(want);
    free(logits);
    double wsum = mm_batch_weight(g->w, g->B, g->T);
    double loss = mm_engine_head(&e, g->ids, g->w, g->B, g->T, (float)(1.0 / wsum), 1, NULL) / wsum;
    float *wl = expected(g, "loss", 1);
    cr_expect(fabs(loss - wl[0]) / fabs(wl[0]) < TOL, "loss %.8f vs torch %.8f", loss, wl[0]);
    free(wl);
    mm_engine_backward(&e, g->ids, g->B, g->T);
    int compared = 0;
    for (int i = 0; i < mm_st_count(g->st); i++) {
        const mm_st_tensor *t = mm_st_at(g->st, i);
        if (strncmp(t->name, "grad.", 5)) continue;
        const char *pname = t->name + 5;
        const float *got = NULL;
        if (base_trainable) {
            const mm_tensor_view *v = mm_model_find(&g->m, pname);
            cr_assert(v, "no parameter %s", pname);
            got = e.dparams + v->offset;
        } else {
            /* base_model.model.{transformer.h|model.layers}.L.<target>.lora_X.weight */
            int l;
            char rest[128];
            int ok = sscanf(pname, "base_model.model.transformer.h.%d.%127s", &l, rest) == 2 ||
                     sscanf(pname, "base_model.model.model.layers.%d.%127s", &l, rest) == 2;
            cr_assert(ok, "%s", pname);
            char *dot = strstr(rest, ".lora_");
            cr_assert(dot);
            char ab = dot[6];
            *dot = 0;
            int tgt = -1;
            for (int k = 0; k < g->m.n_targets; k++)
                if (!strcmp(g->m.targets[k].name, rest)) tgt = k;
            cr_assert(tgt >= 0, "%s", pname);
            const mm_expert *ex = &mm_adapted_at(&g->ad, l, tgt)->experts[0];
            got = g->ad.grads + (ab == 'A' ? ex->a_off : ex->b_off);
        }
        float *w = expected(g, t->name, (size_t)t->numel);
        EXPECT_CLOSE(t->name, got, w, (size_t)t->numel, TOL);
        free(w);
        compared++;
    }
    int expect = base_trainable ? g->m.n_tensors - (g->m.cfg.tie_embeddings ? 0 : 0) : 2 * g->m.n_targets * g->m.cfg.n_layer;
    cr_expect(compared == expect, "compared %d gradients, expected %d", compared, expect);
    mm_engine_free(&e);
}

Test(engine_golden, full_finetune_no_dropout) {
    golden g;
    load_case(&g, "ft", NULL, 0.0f);
    run_and_compare(&g, 1);
    free_case(&g);
}

Test(engine_golden, full_finetune_philox_dropout) {
    golden g;
    load_case(&g, "ft_drop", NULL, 0.1f);
    run_and_compare(&g, 1);
    free_case(&g);
}

Test(engine_golden, peft_lora_r8_no_dropout) {
    golden g;
    load_case(&g, "lora", "lora", 0.0f);
    run_and_compare(&g, 0);
    free_case(&g);
}

Test(engine_golden, peft_lora_r8_philox_dropout) {
    golden g;
    load_case(&g, "lora_drop", "lora_drop", 0.1f);
    run_and_compare(&g, 0);
    free_case(&g);
}

/* Bad input: weights whose shapes do not match config.json name the file and the tensor. */
Test(engine_golden, shape_mismatch_names_file_and_tensor) {
    mm_model_config c;
    cr_assert_eq(mm_config_load(FIX "tiny", &c), 0);
    c.d_ff = 128; /* the file holds n_inner 256 */
    mm_model m;
    cr_assert_eq(mm_model_init(&m, &c), 0);
    cr_assert_eq(mm_model_load_weights(&m, FIX "tiny"), -1);
    cr_expect(strstr(mm_last_error(), "model.safetensors") && strstr(mm_last_error(), "transformer.h.0.mlp.c_fc.weight"),
              "%s", mm_last_error());
    mm_model_free(&m);
}

Test(engine_golden, missing_weights_file_is_a_clear_error) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, "models/starcoderbase-1b"), -1); /* config only, no weights */
    cr_expect(strstr(mm_last_error(), "starcoderbase-1b") != NULL, "%s", mm_last_error());
}

/* LLaMA family: grouped-query attention, RoPE with linear scaling, SwiGLU, untied head */
#define FIXL "tests/fixtures/engine_llama/"
Test(engine_golden, llama_full_finetune) {
    golden g;
    load_case_in(&g, FIXL, "ft", NULL, 0.0f);
    run_and_compare(&g, 1);
    free_case(&g);
}
Test(engine_golden, llama_peft_lora_all_projections) {
    golden g;
    load_case_in(&g, FIXL, "lora", "lora", 0.0f);
    run_and_compare(&g, 0);
    free_case(&g);
}
Test(engine_golden, llama_peft_lora_philox_dropout) {
    golden g;
    load_case_in(&g, FIXL, "lora_drop", "lora_drop", 0.0f);
    run_and_compare(&g, 0);
    free_case(&g);
}
