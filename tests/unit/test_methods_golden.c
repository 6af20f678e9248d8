/* MMLoRA and MoLA against a PyTorch implementation of the paper's equations
 * (fixtures: tests/reference/methods_ref.py; every dropout mask from the engine's Philox streams). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "test_util.h"

#define FIX "tests/fixtures/methods/"
#define TOL 1e-5
enum { SEED = 1234, STEP = 3, ELSTEP = 0 };

/* float pointer of a named parameter (or its gradient) in the adapters */
static float *named(mm_adapters *ad, const mm_mmlora *mm, const char *name, int grad) {
    float *base = grad ? ad->grads : ad->params;
    int l, t, e;
    char ab;
    if (sscanf(name, "l%d.t%d.e%d.%c", &l, &t, &e, &ab) == 4) {
        const mm_expert *ex = &mm_adapted_at(ad, l, t)->experts[e];
        return base + (ab == 'A' ? ex->a_off : ex->b_off);
    }
    if (sscanf(name, "l%d.t%d.rout%c", &l, &t, &ab) == 3) return base + mm_adapted_at(ad, l, t)->r_off;
    const mm_lang_router *r = &mm->router;
    size_t off = ad->extra_off;
    if (!strcmp(name, "router.emb")) return base + off + r->emb_off;
    if (!strcmp(name, "router.w1")) return base + off + r->w1_off;
    if (!strcmp(name, "router.b1")) return base + off + r->b1_off;
    if (!strcmp(name, "router.w2")) return base + off + r->w2_off;
    if (!strcmp(name, "router.b2")) return base + off + r->b2_off;
    return NULL;
}

static void run_case(const char *case_name, const char *method, const char *set) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, "tests/fixtures/engine/tiny"), 0, "%s", mm_last_error());
    char path[128];
    snprintf(path, sizeof path, FIX "case_%s.safetensors", case_name);
    mm_safetensors *st = mm_st_open(path);
    cr_assert(st, "%s", mm_last_error());
    const mm_st_tensor *ids = mm_st_find(st, "input_ids"), *lg = mm_st_find(st, "langs");
    const int B = (int)ids->shape[0], T = (int)ids->shape[1];
    float *w = malloc(sizeof(float) * B * T);
    memcpy(w, mm_st_find(st, "weights")->data, sizeof(float) * B * T);
    mm_method_spec spec;
    cr_assert_eq(mm_method_from_name(method, &spec), 0);
    if (set) cr_assert_eq(mm_method_set(&spec, set), 0, "%s", mm_last_error());
    mm_adapters ad;
    cr_assert_eq(mm_method_build(&spec, &m, 6, 1, &ad), 0, "%s", mm_last_error());
    mm_mmlora mm;
    cr_assert_eq(mm_mmlora_init(&mm, &spec, &ad, 6, B, 1), 0, "%s", mm_last_error());
    /* parameters from the fixture */
    int n_params = 0;
    for (int i = 0; i < mm_st_count(st); i++) {
        const mm_st_tensor *t = mm_st_at(st, i);
        if (strncmp(t->name, "param.", 6)) continue;
        float *dst = named(&ad, &mm, t->name + 6, 0);
        cr_assert(dst, "no parameter for %s", t->name);
        memcpy(dst, t->data, t->nbytes);
        n_params++;
    }
    mm_engine e;
    cr_assert_eq(mm_engine_init(&e, &mm_kernels_cpu, &m, &ad, 0, B, T), 0);
    e.seed = SEED;
    e.step = STEP;
    e.train = 1;
    cr_assert_eq(mm_mmlora_begin(&mm, lg->data, B, T, 1, SEED, STEP), 0, "%s", mm_last_error());
    mm_engine_forward(&e, ids->data, B, T);
    size_t NV = (size_t)B * T * m.cfg.vocab_size;
    float *logits = malloc(NV * sizeof(float));
    mm_engine_logits(&e, logits, B, T);
    EXPECT_CLOSE("logits", logits, (const float *)mm_st_find(st, "logits")->data, NV, TOL);
    double wsum = mm_batch_weight(w, B, T);
    double loss = mm_engine_head(&e, ids->data, w, B, T, (float)(1.0 / wsum), 1, NULL) / wsum;
    float want_loss = *(const float *)mm_st_find(st, "loss")->data;
    cr_expect(fabs(loss - want_loss) < TOL * fabs(want_loss), "LM loss %.8f vs torch %.8f", loss, want_loss);
    mm_engine_backward(&e, ids->data, B, T);
    mm_mmlora_end(&mm);
    if (mm_st_find(st, "ld")) {
        EXPECT_CLOSE("gates (router weights of the batch)", mm.w, (const float *)mm_st_find(st, "gates")->data,
                     (size_t)B * spec.experts, TOL);
        mm_mmlora_expert_loss(&mm, 1, SEED, ELSTEP);
        float ld = *(const float *)mm_st_find(st, "ld")->data, lb = *(const float *)mm_st_find(st, "lb")->data;
        cr_expect(fabs(mm.last_ld - ld) < TOL * fabs(ld), "L_d %.8f vs torch %.8f", mm.last_ld, ld);
        cr_expect(fabs(mm.last_lb - lb) < TOL * fabs(lb), "L_b %.8f vs torch %.8f", mm.last_lb, lb);
    }
    int n_grads = 0;
    for (int i = 0; i < mm_st_count(st); i++) {
        const mm_st_tensor *t = mm_st_at(st, i);
        if (strncmp(t->name, "grad.", 5)) continue;
        const float *got = named(&ad, &mm, t->name + 5, 1);
        cr_assert(got, "%s", t->name);
        EXPECT_CLOSE(t->name, got, (const float *)t->data, (size_t)t->numel, TOL);
        n_grads++;
    }
    cr_expect_eq(n_grads, n_params);
    cr_expect(n_grads > 0);
    free(logits);
    free(w);
    mm_engine_free(&e);
    mm_mmlora_free(&mm);
    mm_adapters_free(&ad);
    mm_st_close(st);
    mm_model_free(&m);
}

Test(methods_golden, mmlora_outputs_expert_loss_and_every_gradient) { run_case("mmlora", "mmlora", NULL); }
Test(methods_golden, mola_outputs_and_every_gradient) { run_case("mola", "mola", "mola_experts=2,4"); }
