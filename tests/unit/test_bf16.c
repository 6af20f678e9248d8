/* dtype bf16 (issue 7): bf16 storage of the frozen base's linear weights.
 *   bf16_ops:     the CPU ops linear_fwd_w16 / linear_bwd_dx_w16 are the fp32 CPU linear on the bf16-rounded
 *                activation and the widened weight, bit for bit (shapes, strides, bias, acc);
 *   engine_bf16:  the engine with dtype bf16: on the CPU stand-in for a device table (packed fp32 params,
 *                bf16 copies in "device" memory) bit-identical to the CPU table; with recomputation
 *                bit-identical to without; close to dtype fp32 but not equal (so bf16 is really used); full
 *                fine-tuning refused; the table memory it allocates is what the memory plan counts;
 *   run_bf16:     `mmlora run --set dtype=bf16` trains on the CPU and on the stand-in to the same adapter, is
 *                recorded in run.json, and a finished run is not reused with the other dtype; the same for
 *                act_dtype=bf16 (bf16 activations). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "io/safetensors.h"
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "train/memory_plan.h"
#include "train/run.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"
#include "counting_device.h"
#include "run_fixture.h"
#include "engine_step.h"

static float rnd(uint64_t stream, uint64_t i, float scale) {
    return scale * (2.0f * mm_u32_to_unit(mm_rng_u32(17, 0, (uint32_t)stream, i)) - 1.0f);
}
static float r16(float x) { return mm_bf16_to_f32(mm_f32_to_bf16(x)); }

/* ------------------------------------------------------------------ the ops */
typedef struct {
    int N, in, out, padx, pady;
} shape;
static const shape SHAPES[] = {{1, 1, 1, 0, 0},   {7, 33, 19, 0, 0},    {67, 160, 96, 3, 5},
                               {5, 64, 512, 0, 0}, {130, 17, 300, 2, 0}, {3, 200, 8, 0, 7}};

Test(bf16_ops, linear_fwd_w16_is_the_fp32_linear_on_rounded_inputs) {
    const mm_kernels *k = &mm_kernels_cpu;
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        const shape h = SHAPES[s];
        const int ldx = h.in + h.padx, ldy = h.out + h.pady;
        const size_t nx = (size_t)h.N * ldx, ny = (size_t)h.N * ldy, nw = (size_t)h.out * h.in;
        float *x = malloc(nx * 4), *xr = malloc(nx * 4), *Wf = malloc(nw * 4), *b = malloc((size_t)h.out * 4);
        float *y = malloc(ny * 4), *yref = malloc(ny * 4);
        uint16_t *W = malloc(nw * 2);
        for (size_t i = 0; i < nx; i++) xr[i] = r16(x[i] = rnd(s, i, i % 5 == 0 ? 40.0f : 1.0f));
        for (size_t i = 0; i < nw; i++) Wf[i] = mm_bf16_to_f32(W[i] = mm_f32_to_bf16(rnd(100 + s, i, 0.3f)));
        for (int o = 0; o < h.out; o++) b[o] = rnd(200 + s, (uint64_t)o, 1.0f);
        for (int mode = 0; mode < 4; mode++) { /* bias / no bias x overwrite / acc */
            const int acc = mode & 1;
            const float *bb = mode & 2 ? NULL : b;
            for (size_t i = 0; i < ny; i++) y[i] = yref[i] = rnd(300 + s, i, 2.0f); /* acc input and padding */
            k->linear_fwd_w16(y, h.pady ? ldy : 0, x, h.padx ? ldx : 0, W, bb, h.N, h.in, h.out, acc);
            k->linear_fwd(yref, h.pady ? ldy : 0, xr, h.padx ? ldx : 0, Wf, bb, h.N, h.in, h.out, acc);
            cr_expect_eq(memcmp(y, yref, ny * 4), 0, "shape %zu (N %d in %d out %d) mode %d: not bit-identical", s, h.N,
                         h.in, h.out, mode);
        }
        free(x), free(xr), free(Wf), free(b), free(y), free(yref), free(W);
    }
}

Test(bf16_ops, linear_bwd_dx_w16_is_the_fp32_linear_on_rounded_dy) {
    const mm_kernels *k = &mm_kernels_cpu;
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        const shape h = SHAPES[s];
        const int lddx = h.in + h.padx, lddy = h.out + h.pady;
        const size_t ndx = (size_t)h.N * lddx, ndy = (size_t)h.N * lddy, nw = (size_t)h.out * h.in;
        float *dy = malloc(ndy * 4), *dyr = malloc(ndy * 4), *Wf = malloc(nw * 4);
        float *dx = malloc(ndx * 4), *dxref = malloc(ndx * 4);
        uint16_t *W = malloc(nw * 2);
        for (size_t i = 0; i < ndy; i++) dyr[i] = r16(dy[i] = rnd(400 + s, i, i % 7 == 0 ? 1e-3f : 1.0f));
        for (size_t i = 0; i < nw; i++) Wf[i] = mm_bf16_to_f32(W[i] = mm_f32_to_bf16(rnd(500 + s, i, 0.3f)));
        for (int acc = 0; acc < 2; acc++) {
            for (size_t i = 0; i < ndx; i++) dx[i] = dxref[i] = rnd(600 + s, i, 1.0f);
            k->linear_bwd_dx_w16(dx, h.padx ? lddx : 0, dy, h.pady ? lddy : 0, W, h.N, h.in, h.out, acc);
            k->linear_bwd(dxref, h.padx ? lddx : 0, NULL, NULL, dyr, h.pady ? lddy : 0, NULL, 0, Wf, h.N, h.in, h.out,
                          acc);
            cr_expect_eq(memcmp(dx, dxref, ndx * 4), 0, "shape %zu (N %d in %d out %d) acc %d: not bit-identical", s,
                         h.N, h.in, h.out, acc);
        }
        free(dy), free(dyr), free(Wf), free(dx), free(dxref), free(W);
    }
}

/* the activation is really rounded, to nearest even: 1 + 1/256 is a tie below an even neighbour (-> 1),
 * 1 + 3/256 a tie below an odd one (-> 1 + 4/256); 1 + 1/128 is a bf16 value and stays */
Test(bf16_ops, activations_are_rounded_to_nearest_even) {
    const mm_kernels *k = &mm_kernels_cpu;
    const uint16_t one = mm_f32_to_bf16(1.0f);
    const float in[] = {1.00390625f, 1.01171875f, 1.0078125f}, want[] = {1.0f, 1.015625f, 1.0078125f};
    for (int i = 0; i < 3; i++) {
        float y = -7.0f, dx = -7.0f;
        k->linear_fwd_w16(&y, 0, &in[i], 0, &one, NULL, 1, 1, 1, 0);
        k->linear_bwd_dx_w16(&dx, 0, &in[i], 0, &one, 1, 1, 1, 0);
        cr_expect_eq(y, want[i], "fwd %.9g -> %.9g, want %.9g", in[i], y, want[i]);
        cr_expect_eq(dx, want[i], "bwd %.9g -> %.9g, want %.9g", in[i], dx, want[i]);
    }
}

/* ------------------------------------------------------------------ the engine */

#define GPTBC "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"

static result step(const mm_kernels *k, const char *dir, const char *method, int dtype, int recompute) {
    const mm_engine_opts o = {.recompute = recompute, .dtype = dtype};
    return es_step(k, dir, method, &o);
}
static void bit_identical(const char *what, const result *a, const result *b) { es_bit_identical(what, a, b); }

static void standin_vs_cpu(const char *dir, const char *method) {
    const mm_kernels dev = counting_device();
    result c = step(&mm_kernels_cpu, dir, method, MM_DTYPE_BF16, 0);
    cd_live_allocs = 0;
    result d = step(&dev, dir, method, MM_DTYPE_BF16, 0);
    cr_expect_eq(cd_live_allocs, 0, "%s %s: %zu device allocations not freed", dir, method, cd_live_allocs);
    char what[256];
    snprintf(what, sizeof what, "%s %s bf16 stand-in vs CPU", dir, method);
    bit_identical(what, &c, &d);
    result_free(&c), result_free(&d);
}

Test(engine_bf16, standin_equals_cpu_bit_identical) {
    const char *methods[] = {"lora-mix", "mmlora", "mola"};
    for (int i = 0; i < 3; i++) {
        standin_vs_cpu(GPTBC, methods[i]);
        standin_vs_cpu(LLAMA, methods[i]);
    }
}

Test(engine_bf16, recomputation_bit_identical) {
    const char *dirs[] = {GPTBC, LLAMA};
    for (int i = 0; i < 2; i++) {
        result a = step(&mm_kernels_cpu, dirs[i], "mmlora", MM_DTYPE_BF16, 0);
        result b = step(&mm_kernels_cpu, dirs[i], "mmlora", MM_DTYPE_BF16, 1);
        char what[256];
        snprintf(what, sizeof what, "%s bf16 recompute vs stored", dirs[i]);
        bit_identical(what, &a, &b);
        result_free(&a), result_free(&b);
    }
}

/* bf16 vs fp32 on the fixture models (one step, dropouts on, adapters random in ±0.2): the mean loss agrees to
 * a relative REL_LOSS (the 1e-2), the adapter gradients to REL_GRAD of their largest magnitude, and
 * neither is identical (no gradient equal), so bf16 is really used.  Measured when written, over both families
 * and the three methods: loss 7e-6 .. 2.3e-4 relative, gradients 7.4e-3 .. 1.5e-2, logits 4.5e-3 .. 1.2e-2.
 * bf16 keeps 8 significant bits (a relative rounding error up to 2^-9 = 2e-3 per operand, activation and
 * weight), and two layers plus the LM head forward and backward add up to about 1e-2; REL_GRAD leaves 3x. */
#define REL_LOSS 1e-2
#define REL_GRAD 5e-2
Test(engine_bf16, close_to_fp32_and_not_equal) {
    const char *dirs[] = {GPTBC, LLAMA}, *methods[] = {"lora-mix", "mmlora", "mola"};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            result a = step(&mm_kernels_cpu, dirs[i], methods[j], MM_DTYPE_FP32, 0);
            result b = step(&mm_kernels_cpu, dirs[i], methods[j], MM_DTYPE_BF16, 0);
            const double dl = fabs(b.loss - a.loss) / fabs(a.loss);
            const double dg = rel_err(b.grads, a.grads, a.n), dz = rel_err(b.logits, a.logits, a.nlogits);
            size_t same = 0;
            for (size_t g = 0; g < a.n; g++) same += a.grads[g] == b.grads[g] && a.grads[g] != 0.0f;
            cr_log_info("bf16 vs fp32 %s %s: loss %.6f vs %.6f (rel %.2e), logits rel %.2e, grads rel %.2e, %zu of %zu "
                        "gradients equal",
                        dirs[i], methods[j], b.loss, a.loss, dl, dz, dg, same, a.n);
            cr_expect_lt(dl, REL_LOSS, "%s %s: loss rel %.3g", dirs[i], methods[j], dl);
            cr_expect_lt(dg, REL_GRAD, "%s %s: grads rel %.3g", dirs[i], methods[j], dg);
            cr_expect_neq(a.loss, b.loss, "%s %s: bf16 loss equals fp32: is bf16 used?", dirs[i], methods[j]);
            cr_expect_lt(same, a.n / 10, "%s %s: %zu of %zu gradients equal fp32", dirs[i], methods[j], same, a.n);
            result_free(&a), result_free(&b);
        }
}

Test(engine_bf16, full_fine_tuning_is_refused) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, GPTBC), 0, "%s", mm_last_error());
    mm_engine e;
    const mm_engine_opts o = {.dtype = MM_DTYPE_BF16};
    cr_expect_neq(mm_engine_init_with(&e, &mm_kernels_cpu, &m, NULL, 1, B, T, &o), 0);
    cr_expect(strstr(mm_last_error(), "full fine-tuning") && strstr(mm_last_error(), "fp32"), "%s", mm_last_error());
    const mm_engine_opts bad = {.dtype = 7};
    cr_expect_neq(mm_engine_init_with(&e, &mm_kernels_cpu, &m, NULL, 0, B, T, &bad), 0);
    mm_model_free(&m);
}

/* on a device table the engine allocates the arena, the tokens, the packed fp32 params and the bf16 copies:
 * exactly the bytes mm_engine_weight_bytes (and so the memory plan) counts; download gives the host its fp32
 * tensors back and leaves the bf16-only matrices alone */
Test(engine_bf16, device_memory_is_what_the_plan_counts) {
    const char *dirs[] = {GPTBC, LLAMA};
    const mm_kernels dev = counting_device();
    for (int i = 0; i < 2; i++) {
        mm_model m;
        cr_assert_eq(mm_model_load(&m, dirs[i]), 0, "%s", mm_last_error());
        size_t f32, b16, f32_full;
        mm_engine_weight_bytes(&m, 1, MM_DTYPE_BF16, &f32, &b16);
        mm_engine_weight_bytes(&m, 1, MM_DTYPE_FP32, &f32_full, NULL);
        size_t mats = 0;
        for (int t = 0; t < m.n_targets; t++) mats += (size_t)m.targets[t].in * m.targets[t].out;
        mats *= (size_t)m.cfg.n_layer;
        const size_t head = (size_t)m.cfg.vocab_size * m.cfg.d_model, untied = m.lm_head != m.wte;
        cr_expect_eq(f32_full, m.n_params * 4);
        cr_expect_eq(f32, (m.n_params - mats - (untied ? head : 0)) * 4, "%s: fp32 part %zu", dirs[i], f32);
        cr_expect_geq(b16, (mats + head) * 2, "%s", dirs[i]);
        cr_expect_lt(b16, (mats + head) * 2 + (size_t)(m.n_targets * m.cfg.n_layer + 1) * 128, "%s: alignment only",
                     dirs[i]);
        cd_alloc_bytes = cd_live_allocs = 0;
        mm_engine e;
        const mm_engine_opts o = {.dtype = MM_DTYPE_BF16};
        cr_assert_eq(mm_engine_init_with(&e, &dev, &m, NULL, 0, B, T, &o), 0, "%s", mm_last_error());
        cr_expect_eq(cd_alloc_bytes, e.arena_bytes + (size_t)B * T * sizeof(int32_t) + f32 + b16,
                     "%s: allocated %zu, counted %zu", dirs[i], cd_alloc_bytes,
                     e.arena_bytes + (size_t)B * T * sizeof(int32_t) + f32 + b16);
        cr_expect_eq(e.gaps.kept * 4, f32);
        cr_expect_eq(e.gaps.n, m.n_targets * m.cfg.n_layer + (int)untied);
        /* the plan of an adapter run counts the same weights */
        mm_method_spec s;
        mm_adapters ad;
        mm_memory_plan p;
        cr_assert_eq(mm_method_from_name("lora-mix", &s), 0);
        cr_assert_eq(mm_method_build(&s, &m, N_LANG, 1, &ad), 0, "%s", mm_last_error());
        cr_assert_eq(mm_memory_plan_of(&m, &ad, B, T, 0, MM_PLAN_CUDA_BF16, &p), 0, "%s", mm_last_error());
        cr_expect_eq(p.weights, f32);
        cr_expect_eq(p.weights16, b16);
        cr_expect_eq(p.activations, mm_engine_arena_bytes(&m, &ad, B, T, 0));
        mm_adapters_free(&ad);
        /* download: fp32 tensors back, the bf16-only matrices untouched on the host */
        float *orig = malloc(m.n_params * 4);
        memcpy(orig, m.params, m.n_params * 4);
        memset(m.params, 0, m.n_params * 4);
        mm_engine_download(&e, NULL);
        size_t g = 0, bad = 0;
        for (size_t j = 0; j < m.n_params; j++) {
            while (g < (size_t)e.gaps.n && j >= e.gaps.off[g] + e.gaps.len[g]) g++;
            const int in_gap = g < (size_t)e.gaps.n && j >= e.gaps.off[g];
            bad += in_gap ? m.params[j] != 0.0f : memcmp(&m.params[j], &orig[j], 4) != 0;
        }
        cr_expect_eq(bad, 0, "%s: %zu floats wrong after download", dirs[i], bad);
        mm_engine_free(&e);
        cr_expect_eq(cd_live_allocs, 0);
        free(orig);
        mm_model_free(&m);
    }
}

/* ------------------------------------------------------------------ runs */
static char g_root[256];
static void world(void) {
    cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-bf16"), 0, "%s", mm_last_error());
}
static void teardown(void) {
    unsetenv("MMLORA_DEVICE_STANDIN");
    rf_world_remove(g_root);
}

/* a run on device with key=value (value NULL: no key) */
static void opts_with(mm_run_opts *o, const char *method, const char *out, const char *device, const char *key,
                      const char *value) {
    char d[64], t[64];
    snprintf(d, sizeof d, "device=%s", device);
    snprintf(t, sizeof t, "%s=%s", key, value ? value : "");
    const char *sets[2] = {d, t};
    cr_assert_eq(rf_opts(o, g_root, method, out, sets, value ? 2 : 1), 0, "%s", mm_last_error());
}
static void opts_for(mm_run_opts *o, const char *method, const char *out, const char *device, const char *dtype) {
    opts_with(o, method, out, device, "dtype", dtype);
}

static char *read_rel(const char *dir, const char *rel, size_t *n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/%s", g_root, dir, rel);
    char *s = mm_read_file(p, n);
    cr_assert(s, "%s missing", p);
    return s;
}
static int same_file(const char *a_dir, const char *b_dir, const char *rel) {
    size_t la, lb;
    char *x = read_rel(a_dir, rel, &la), *y = read_rel(b_dir, rel, &lb);
    const int same = la == lb && !memcmp(x, y, la);
    free(x), free(y);
    return same;
}

TestSuite(run_bf16, .init = world, .fini = teardown, .timeout = 400);

/* training only: generation runs on the CPU table in fp32 for every dtype (train/run.c), so equal adapters give
 * equal predictions (the run_device suite checks that path) */
/* training and generation (bf16 decoding too) */
Test(run_bf16, trains_on_cpu_and_standin_identically_and_differs_from_fp32) {
    const char *method = "mmlora";
    mm_run_opts o;
    unsetenv("MMLORA_DEVICE_STANDIN");
    opts_for(&o, method, "bf16-cpu", "cpu", "bf16");
    cr_assert_eq(o.dtype, MM_DTYPE_BF16);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    setenv("MMLORA_DEVICE_STANDIN", "1", 1);
    opts_for(&o, method, "bf16-dev", "cuda", "bf16");
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    const char *langs[6] = {"go", "java", "javascript", "php", "python", "ruby"};
    for (int l = 0; l < 6; l++) {
        char rel[64];
        snprintf(rel, sizeof rel, "predictions/%s.txt", langs[l]);
        cr_expect(same_file("bf16-cpu", "bf16-dev", rel), "bf16: the stand-in's %s differs from the CPU's", rel);
    }
    unsetenv("MMLORA_DEVICE_STANDIN");
    opts_for(&o, method, "fp32-cpu", "cpu", NULL);
    cr_assert_eq(mm_run(&o, MM_PHASE_TRAIN), 0, "%s", mm_last_error());
    const char *adapter = "adapter/adapter_model.safetensors";
    cr_expect(same_file("bf16-cpu", "bf16-dev", adapter), "bf16: the stand-in's adapter differs from the CPU's");
    cr_expect(same_file("bf16-cpu", "bf16-dev", "checkpoint/all.safetensors"), "bf16: checkpoints differ");
    cr_expect(!same_file("bf16-cpu", "fp32-cpu", adapter), "the bf16 run's adapter equals the fp32 run's");
    /* run.json: the configuration's "set" records dtype bf16, and only for the bf16 runs */
    size_t n;
    char *j = read_rel("bf16-dev", "run.json", &n);
    cr_expect(strstr(j, "\"dtype\":\t\"bf16\"") != NULL, "%s", j);
    free(j);
    j = read_rel("fp32-cpu", "run.json", &n);
    cr_expect(strstr(j, "\"dtype\"") == NULL, "%s", j);
    free(j);
}

Test(run_bf16, a_finished_run_is_not_reused_with_the_other_dtype) {
    mm_run_opts o;
    opts_for(&o, "lora-mix", "r", "cpu", NULL);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    /* dtype=fp32 is the default: the same run, skipped */
    opts_for(&o, "lora-mix", "r", "cpu", "fp32");
    cr_expect_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    opts_for(&o, "lora-mix", "r", "cpu", "bf16");
    cr_expect_neq(mm_run(&o, MM_PHASE_ALL), 0);
    cr_expect(strstr(mm_last_error(), "another configuration") && strstr(mm_last_error(), "'set'"), "%s",
              mm_last_error());
    size_t n;
    char *j = read_rel("r", "run.json", &n); /* the finished run's record: dtype fp32, no dtype key in "set" */
    cr_expect(strstr(j, "\"dtype\":\t\"fp32\"") != NULL && strstr(j, "\"dtype\":\t\"bf16\"") == NULL, "%s", j);
    free(j);
    /* full fine-tuning with bf16 storage is refused before any work; bad values are errors */
    opts_for(&o, "fpft-mix", "f", "cpu", "bf16");
    cr_expect_neq(mm_run_validate(&o), 0);
    cr_expect(strstr(mm_last_error(), "full fine-tuning") && strstr(mm_last_error(), "dtype=fp32"), "%s",
              mm_last_error());
    cr_expect_neq(mm_run_set(&o, "dtype=fp16"), 0);
    cr_expect(strstr(mm_last_error(), "expected fp32 or bf16"), "%s", mm_last_error());
}

/* act_dtype bf16 (bf16 activations, test_act16.c for the engine): `mmlora run --set act_dtype=bf16` trains and
 * generates on the CPU and on the stand-in to the same adapter and predictions, differs from fp32 activations, is
 * recorded in run.json's "set" (act_dtype=fp32 is the default run) */
Test(run_bf16, act_dtype_bf16_runs_on_cpu_and_standin_identically) {
    mm_run_opts o;
    unsetenv("MMLORA_DEVICE_STANDIN");
    opts_with(&o, "mmlora", "act-cpu", "cpu", "act_dtype", "bf16");
    cr_assert_eq(o.act_dtype, MM_DTYPE_BF16);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    setenv("MMLORA_DEVICE_STANDIN", "1", 1);
    opts_with(&o, "mmlora", "act-dev", "cuda", "act_dtype", "bf16");
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    unsetenv("MMLORA_DEVICE_STANDIN");
    opts_with(&o, "mmlora", "act-fp32", "cpu", "act_dtype", "fp32");
    cr_assert_eq(mm_run(&o, MM_PHASE_TRAIN), 0, "%s", mm_last_error());
    const char *adapter = "adapter/adapter_model.safetensors";
    cr_expect(same_file("act-cpu", "act-dev", adapter), "act bf16: the stand-in's adapter differs from the CPU's");
    cr_expect(same_file("act-cpu", "act-dev", "predictions/ruby.txt"), "act bf16: predictions differ");
    cr_expect(!same_file("act-cpu", "act-fp32", adapter), "the act bf16 run's adapter equals the fp32 run's");
    size_t n;
    char *j = read_rel("act-dev", "run.json", &n);
    cr_expect(strstr(j, "\"act_dtype\":\t\"bf16\"") != NULL, "%s", j);
    free(j);
    j = read_rel("act-fp32", "run.json", &n); /* act_dtype=fp32: the default run, no key in "set" */
    cJSON *root = cJSON_Parse(j);
    cr_assert(root, "run.json does not parse");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "config"), "set");
    cr_expect(cJSON_IsObject(set) && !cJSON_GetObjectItemCaseSensitive(set, "act_dtype"), "%s", j);
    cJSON_Delete(root);
    free(j);
    cr_expect_neq(mm_run_set(&o, "act_dtype=fp8"), 0);
    cr_expect(strstr(mm_last_error(), "act_dtype") && strstr(mm_last_error(), "expected fp32 or bf16"), "%s",
              mm_last_error());
}
