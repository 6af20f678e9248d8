/* The engine's device-memory path, run on the CPU: a copy of the CPU table that declares device memory
 * (device_memory = 1; alloc returns separate memory filled with NaN bytes, upload/download really copy).
 * Every buffer the engine and the adapters use must then be allocated, uploaded and downloaded through
 * the table: a missing upload leaves NaNs or stale values, a missing download leaves the host side
 * unchanged.  One training step of each method on both tiny fixture models must give bit-identical loss,
 * logits and gradients to the plain CPU table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"
#include "counting_device.h"

enum { B = 3, T = 17, N_LANG = 6, SEED = 99, STEP = 4 };
typedef struct {
    double loss, wsum;
    float *grads, *logits;
    size_t n, nlogits;
} result;

static result run(const mm_kernels *k, const char *dir, const char *method) {
    result r = {0};
    mm_model m;
    cr_assert_eq(mm_model_load(&m, dir), 0, "%s", mm_last_error());
    m.cfg.embd_pdrop = m.cfg.attn_pdrop = m.cfg.resid_pdrop = 0.1f;
    mm_method_spec spec;
    cr_assert_eq(mm_method_from_name(method, &spec), 0);
    const int fpft = spec.kind == MM_METHOD_FPFT_MIX;
    mm_adapters ad;
    mm_mmlora mm;
    memset(&mm, 0, sizeof mm);
    if (!fpft) {
        cr_assert_eq(mm_method_build(&spec, &m, N_LANG, 1, &ad), 0, "%s", mm_last_error());
        cr_assert_eq(mm_mmlora_init(&mm, &spec, &ad, N_LANG, B, 1), 0, "%s", mm_last_error());
        cd_random_params(ad.params, ad.n_params);
    }
    int32_t tokens[B * T], langs[B];
    float w[B * T];
    cd_step_inputs(tokens, w, langs, B, T, m.cfg.vocab_size, N_LANG);
    mm_engine e;
    cr_assert_eq(mm_engine_init(&e, k, &m, fpft ? NULL : &ad, fpft, B, T), 0, "%s", mm_last_error());
    e.seed = SEED;
    e.step = STEP;
    e.train = 1;
    if (!fpft) cr_assert_eq(mm_mmlora_begin(&mm, langs, B, T, 1, SEED, STEP), 0, "%s", mm_last_error());
    r.wsum = mm_batch_weight(w, B, T);
    mm_engine_forward(&e, tokens, B, T);
    r.nlogits = (size_t)B * T * m.cfg.vocab_size;
    r.logits = malloc(r.nlogits * sizeof(float));
    mm_engine_logits(&e, r.logits, B, T);
    r.loss = mm_engine_head(&e, tokens, w, B, T, (float)(1.0 / r.wsum), 1, NULL);
    mm_engine_backward(&e, tokens, B, T);
    if (fpft) {
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
    if (!fpft) {
        cr_expect_null(ad.mem, "mm_engine_free detaches the adapters");
        mm_mmlora_free(&mm);
        mm_adapters_free(&ad);
    }
    mm_model_free(&m);
    return r;
}

static void same(const char *dir, const char *method) {
    const mm_kernels dev = counting_device();
    result c = run(&mm_kernels_cpu, dir, method);
    cd_live_allocs = 0;
    result d = run(&dev, dir, method);
    cr_expect_eq(cd_live_allocs, 0, "%s %s: %zu device allocations not freed", dir, method, cd_live_allocs);
    cr_expect_eq(memcmp(&c.loss, &d.loss, sizeof c.loss), 0, "%s %s: loss %.9g vs %.9g", dir, method, c.loss, d.loss);
    cr_expect_eq(memcmp(c.logits, d.logits, c.nlogits * sizeof(float)), 0, "%s %s: logits differ", dir, method);
    cr_assert_eq(c.n, d.n);
    size_t diff = 0, nz = 0;
    for (size_t i = 0; i < c.n; i++) {
        diff += memcmp(&c.grads[i], &d.grads[i], sizeof(float)) != 0;
        nz += c.grads[i] != 0.0f;
    }
    cr_expect_eq(diff, 0, "%s %s: %zu of %zu gradients differ", dir, method, diff, c.n);
    cr_expect_gt(nz, c.n / 2, "%s %s: only %zu of %zu gradients non-zero", dir, method, nz, c.n);
    free(c.grads), free(d.grads), free(c.logits), free(d.logits);
}

#define GPTBC "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"
Test(engine_device, full_fine_tuning_bit_identical) { same(GPTBC, "fpft-mix"); same(LLAMA, "fpft-mix"); }
Test(engine_device, lora_mix_bit_identical) { same(GPTBC, "lora-mix"); same(LLAMA, "lora-mix"); }
Test(engine_device, mmlora_bit_identical) { same(GPTBC, "mmlora"); same(LLAMA, "mmlora"); }
Test(engine_device, mola_bit_identical) { same(GPTBC, "mola"); same(LLAMA, "mola"); }
/* the trainer on a device table: tests/unit/test_trainer_device.c */
