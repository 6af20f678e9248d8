/* The trainer on a device table, run on the CPU through the stand-in (kernels/cpu/standin.c: the CPU ops
 * behind device memory, NaN-filled allocations, real copies).  Every trainer update is then an op on
 * device memory (zero, scale, sumsq, adamw) and MMLoRA's Global Language Router is the host-owned tail;
 * a few optimizer steps of each method (gradient accumulation, dropout, weight decay, clipping active) on
 * both tiny fixture models must give bit-identical losses, gradient norms, parameters and checkpoint
 * files to the CPU table, and checkpoints must move between the tables (save on one, resume on the other). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/safetensors.h"
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "train/trainer.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"

enum { B = 3, T = 17, N_LANG = 6, STEPS = 4 };

static size_t live;
static void *count_alloc(size_t bytes) { live++; return mm_kernels_cpu_standin()->alloc(bytes); }
static void count_free(void *p) { if (p) { live--; free(p); } }
static mm_kernels standin(void) {
    mm_kernels k = *mm_kernels_cpu_standin();
    k.alloc = count_alloc;
    k.free = count_free;
    return k;
}

static int batches(void *ctx, uint64_t micro, int32_t *tok, float *w, int32_t *langs, int Bn, int *Tp) {
    const int vocab = *(const int *)ctx, Tn = *Tp;
    for (int b = 0; b < Bn; b++) {
        langs[b] = (int32_t)((micro * 5 + (uint64_t)b * 2 + 1) % N_LANG);
        for (int t = 0; t < Tn; t++) {
            tok[b * Tn + t] = (int32_t)(mm_rng_u32(3, (uint32_t)micro, 2, (uint64_t)b * Tn + t) % (uint32_t)vocab);
            w[b * Tn + t] = t < Tn - 3 * b ? 1.0f : 0.0f;
        }
    }
    return Bn;
}

typedef struct {
    mm_model m;
    mm_adapters ad;
    mm_mmlora mm;
    mm_engine e;
    mm_trainer tr;
    int fpft;
    double loss[STEPS], aux[STEPS], norm[STEPS];
} rig;

static void rig_init(rig *r, const mm_kernels *k, const char *dir, const char *method) {
    memset(r, 0, sizeof *r);
    cr_assert_eq(mm_model_load(&r->m, dir), 0, "%s", mm_last_error());
    r->m.cfg.embd_pdrop = r->m.cfg.attn_pdrop = r->m.cfg.resid_pdrop = 0.1f;
    mm_method_spec spec;
    cr_assert_eq(mm_method_from_name(method, &spec), 0);
    r->fpft = spec.kind == MM_METHOD_FPFT_MIX;
    if (!r->fpft) {
        cr_assert_eq(mm_method_build(&spec, &r->m, N_LANG, 1, &r->ad), 0, "%s", mm_last_error());
        cr_assert_eq(mm_mmlora_init(&r->mm, &spec, &r->ad, N_LANG, B, 1), 0, "%s", mm_last_error());
    }
    cr_assert_eq(mm_engine_init(&r->e, k, &r->m, r->fpft ? NULL : &r->ad, r->fpft, B, T), 0, "%s", mm_last_error());
    mm_train_config tc;
    mm_train_config_defaults(&tc);
    tc.lr = r->fpft ? 3e-3f : 1e-2f;
    tc.warmup_steps = 1;
    tc.total_steps = 8;
    tc.accum = 2;
    tc.weight_decay = 0.01f;
    tc.clip_norm = 0.05f; /* small enough that clipping acts */
    tc.seed = 77;
    cr_assert_eq(mm_trainer_init(&r->tr, &r->e, &tc), 0, "%s", mm_last_error());
    if (r->mm.gates) mm_mmlora_hooks(&r->mm, &r->tr.hooks);
}

static void rig_steps(rig *r, int from, int to) {
    for (int s = from; s < to; s++) {
        cr_assert_eq(mm_trainer_step(&r->tr, batches, &r->m.cfg.vocab_size), 1, "%s", mm_last_error());
        r->loss[s] = r->tr.last_loss, r->aux[s] = r->tr.last_aux_loss, r->norm[s] = r->tr.last_grad_norm;
    }
}

/* the trained parameters on the host (downloaded from a device table) */
static float *rig_params(rig *r, size_t *n) {
    if (r->fpft) {
        mm_engine_download(&r->e, NULL);
        *n = r->m.n_params;
        return r->m.params;
    }
    mm_adapters_download(&r->ad);
    *n = r->ad.n_params;
    return r->ad.params;
}

static void rig_free(rig *r) {
    mm_trainer_free(&r->tr);
    mm_engine_free(&r->e);
    if (!r->fpft) {
        mm_mmlora_free(&r->mm);
        mm_adapters_free(&r->ad);
    }
    mm_model_free(&r->m);
}

static void expect_same_run(rig *c, rig *d, const char *what) {
    for (int s = 0; s < STEPS; s++) {
        cr_expect_eq(memcmp(&c->loss[s], &d->loss[s], sizeof(double)), 0, "%s step %d: loss %.17g vs %.17g", what,
                     s, c->loss[s], d->loss[s]);
        cr_expect_eq(memcmp(&c->aux[s], &d->aux[s], sizeof(double)), 0, "%s step %d: aux loss", what, s);
        cr_expect_eq(memcmp(&c->norm[s], &d->norm[s], sizeof(double)), 0, "%s step %d: norm %.17g vs %.17g", what,
                     s, c->norm[s], d->norm[s]);
    }
    size_t nc, nd;
    const float *pc = rig_params(c, &nc), *pd = rig_params(d, &nd);
    cr_assert_eq(nc, nd);
    size_t diff = 0;
    for (size_t i = 0; i < nc; i++) diff += memcmp(&pc[i], &pd[i], sizeof(float)) != 0;
    cr_expect_eq(diff, 0, "%s: %zu of %zu parameters differ", what, diff, nc);
}

static void same_file(const char *a, const char *b, const char *what) {
    size_t na, nb;
    char *x = mm_read_file(a, &na), *y = mm_read_file(b, &nb);
    cr_assert(x && y, "%s", mm_last_error());
    cr_expect(na == nb && !memcmp(x, y, na), "%s: checkpoints %s and %s differ", what, a, b);
    free(x), free(y);
}

static void case_(const char *dir, const char *method) {
    char what[256], pc[128], pd[128];
    snprintf(what, sizeof what, "%s %s", dir, method);
    snprintf(pc, sizeof pc, "/tmp/mmlora-trdev-%d-cpu.safetensors", (int)getpid());
    snprintf(pd, sizeof pd, "/tmp/mmlora-trdev-%d-dev.safetensors", (int)getpid());
    const mm_kernels dev = standin();
    rig c, d;
    rig_init(&c, &mm_kernels_cpu, dir, method);
    rig_steps(&c, 0, STEPS);
    cr_assert_eq(mm_trainer_save(&c.tr, pc, NULL), 0, "%s", mm_last_error());
    live = 0;
    rig_init(&d, &dev, dir, method);
    cr_expect_eq(d.tr.hn != 0, !strcmp(method, "mmlora"), "%s: host tail only for MMLoRA's router", what);
    rig_steps(&d, 0, STEPS);
    cr_assert_eq(mm_trainer_save(&d.tr, pd, NULL), 0, "%s", mm_last_error());
    same_file(pc, pd, what);
    expect_same_run(&c, &d, what);
    rig_free(&d);
    cr_expect_eq(live, 0, "%s: %zu device allocations not freed", what, live);

    /* checkpoints cross tables: half on the stand-in, the rest on the CPU table, and the other way round */
    rig h;
    rig_init(&h, &dev, dir, method);
    rig_steps(&h, 0, STEPS / 2);
    cr_assert_eq(mm_trainer_save(&h.tr, pd, NULL), 0, "%s", mm_last_error());
    rig_free(&h);
    rig_init(&h, &mm_kernels_cpu, dir, method);
    cr_assert_eq(mm_trainer_load(&h.tr, pd), 0, "%s", mm_last_error());
    rig_steps(&h, STEPS / 2, STEPS);
    memcpy(h.loss, c.loss, sizeof h.loss / 2), memcpy(h.aux, c.aux, sizeof h.aux / 2), memcpy(h.norm, c.norm, sizeof h.norm / 2);
    expect_same_run(&c, &h, "device checkpoint resumed on the CPU");
    rig_free(&h);
    rig_init(&h, &mm_kernels_cpu, dir, method);
    rig_steps(&h, 0, STEPS / 2);
    cr_assert_eq(mm_trainer_save(&h.tr, pc, NULL), 0, "%s", mm_last_error());
    rig_free(&h);
    rig_init(&h, &dev, dir, method);
    cr_assert_eq(mm_trainer_load(&h.tr, pc), 0, "%s", mm_last_error());
    cr_expect_eq(h.tr.step, STEPS / 2);
    rig_steps(&h, STEPS / 2, STEPS);
    memcpy(h.loss, c.loss, sizeof h.loss / 2), memcpy(h.aux, c.aux, sizeof h.aux / 2), memcpy(h.norm, c.norm, sizeof h.norm / 2);
    expect_same_run(&c, &h, "CPU checkpoint resumed on the device");
    rig_free(&h);
    rig_free(&c);
    unlink(pc);
    unlink(pd);
}

#define GPTBC "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"
Test(trainer_device, full_fine_tuning_bit_identical, .timeout = 300) { case_(GPTBC, "fpft-mix"); case_(LLAMA, "fpft-mix"); }
Test(trainer_device, lora_mix_bit_identical, .timeout = 300) { case_(GPTBC, "lora-mix"); case_(LLAMA, "lora-mix"); }
Test(trainer_device, mmlora_bit_identical, .timeout = 300) { case_(GPTBC, "mmlora"); case_(LLAMA, "mmlora"); }
Test(trainer_device, mola_bit_identical, .timeout = 300) { case_(GPTBC, "mola"); case_(LLAMA, "mola"); }

Test(trainer_device, ops_scale_and_sumsq) {
    float x[1000];
    double ref = 0.0;
    for (int i = 0; i < 1000; i++) x[i] = 0.01f * (float)(i % 37) - 0.15f;
    for (int i = 0; i < 1000; i++) { x[i] *= 0.5f; ref += (double)x[i] * x[i]; }
    float y[1000];
    for (int i = 0; i < 1000; i++) y[i] = 0.01f * (float)(i % 37) - 0.15f;
    mm_kernels_cpu.scale(y, 0.5f, 1000);
    cr_expect_eq(memcmp(x, y, sizeof x), 0);
    double s = mm_kernels_cpu.sumsq(y, 1000);
    cr_expect_eq(memcmp(&s, &ref, sizeof s), 0, "sumsq %.17g vs the in-order loop %.17g", s, ref);
    /* continued on the host over a following block: the same as one loop over both */
    double part = mm_kernels_cpu.sumsq(y, 600);
    for (int i = 600; i < 1000; i++) part += (double)y[i] * y[i];
    cr_expect_eq(memcmp(&part, &ref, sizeof s), 0);
    cr_expect_eq(mm_kernels_cpu.sumsq(y, 0), 0.0);
}
