/* One training micro-step of the engine on the tiny fixture models, for tests that compare engine options (dtype,
 * act_dtype, recomputation) or tables: every dropout on, adapters randomized so every gradient flows; loss,
 * logits and the trainable gradients come back on the host.  Used by test_engine_device.c, test_bf16.c and
 * test_act16.c. */
#ifndef MMLORA_TEST_ENGINE_STEP_H
#define MMLORA_TEST_ENGINE_STEP_H
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "test_util.h"
#include "counting_device.h"

enum { B = 3, T = 17, N_LANG = 6, SEED = 99, STEP = 4 };
typedef struct {
    double loss;
    float *grads, *logits; /* the adapters' gradients, or the base's (full fine-tuning) */
    size_t n, nlogits;
} result;

/* method "fpft-mix": full fine-tuning (no adapters, the base's gradients) */
static inline result es_step(const mm_kernels *k, const char *dir, const char *method, const mm_engine_opts *o) {
    result r = {0};
    mm_model m;
    cr_assert_eq(mm_model_load(&m, dir), 0, "%s", mm_last_error());
    m.cfg.embd_pdrop = m.cfg.attn_pdrop = m.cfg.resid_pdrop = 0.1f;
    const int ft = !strcmp(method, "fpft-mix");
    mm_method_spec spec;
    cr_assert_eq(mm_method_from_name(method, &spec), 0);
    if (!strcmp(method, "mola")) cr_assert_eq(mm_method_set(&spec, "mola_experts=2,4"), 0, "%s", mm_last_error());
    mm_adapters ad;
    mm_mmlora mm;
    memset(&ad, 0, sizeof ad);
    memset(&mm, 0, sizeof mm);
    if (!ft) {
        cr_assert_eq(mm_method_build(&spec, &m, N_LANG, 1, &ad), 0, "%s", mm_last_error());
        cr_assert_eq(mm_mmlora_init(&mm, &spec, &ad, N_LANG, B, 1), 0, "%s", mm_last_error());
        cd_random_params(ad.params, ad.n_params);
    }
    int32_t tokens[B * T], langs[B];
    float w[B * T];
    cd_step_inputs(tokens, w, langs, B, T, m.cfg.vocab_size, N_LANG);
    mm_engine e;
    cr_assert_eq(mm_engine_init_with(&e, k, &m, ft ? NULL : &ad, ft, B, T, o), 0, "%s", mm_last_error());
    cr_assert_eq(e.w16 != NULL, o->dtype == MM_DTYPE_BF16);
    e.seed = SEED;
    e.step = STEP;
    e.train = 1;
    if (!ft) cr_assert_eq(mm_mmlora_begin(&mm, langs, B, T, 1, SEED, STEP), 0, "%s", mm_last_error());
    const double wsum = mm_batch_weight(w, B, T);
    mm_engine_forward(&e, tokens, B, T);
    r.nlogits = (size_t)B * T * m.cfg.vocab_size;
    r.logits = malloc(r.nlogits * sizeof(float));
    mm_engine_logits(&e, r.logits, B, T);
    r.loss = mm_engine_head(&e, tokens, w, B, T, (float)(1.0 / wsum), 1, NULL) / wsum;
    mm_engine_backward(&e, tokens, B, T);
    if (ft) {
        r.n = m.n_params;
        r.grads = malloc(r.n * sizeof(float));
        mm_engine_download(&e, r.grads);
    } else {
        mm_adapters_download(&ad);
        mm_mmlora_end(&mm);
        r.n = ad.n_params;
        r.grads = malloc(r.n * sizeof(float));
        memcpy(r.grads, ad.grads, r.n * sizeof(float));
    }
    mm_engine_free(&e);
    if (!ft) {
        cr_expect_null(ad.mem, "mm_engine_free detaches the adapters");
        mm_mmlora_free(&mm);
        mm_adapters_free(&ad);
    }
    mm_model_free(&m);
    return r;
}
static inline void result_free(result *r) { free(r->grads), free(r->logits); }

/* loss, logits and gradients bit for bit, and most gradients non-zero (the comparison proves something) */
static inline void es_bit_identical(const char *what, const result *a, const result *b) {
    cr_expect_eq(memcmp(&a->loss, &b->loss, sizeof a->loss), 0, "%s: loss %.9g vs %.9g", what, a->loss, b->loss);
    cr_expect_eq(memcmp(a->logits, b->logits, a->nlogits * sizeof(float)), 0, "%s: logits differ", what);
    cr_assert_eq(a->n, b->n);
    size_t diff = 0, nz = 0;
    for (size_t i = 0; i < a->n; i++) {
        diff += memcmp(&a->grads[i], &b->grads[i], sizeof(float)) != 0;
        nz += a->grads[i] != 0.0f;
    }
    cr_expect_eq(diff, 0, "%s: %zu of %zu gradients differ", what, diff, a->n);
    cr_expect_gt(nz, a->n / 2, "%s: only %zu of %zu gradients non-zero", what, nz, a->n);
}
#endif
