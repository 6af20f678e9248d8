/* act_dtype bf16 (issue 7: bf16 storage of activations): the large activations backward reads are rounded to bf16
 * where they are produced and kept per layer as bf16 (model/engine.h mm_engine_opts.act_dtype).
 *   act16_engine: on the CPU stand-in for a device table bit-identical to the CPU table (every method, both
 *                 families, with fp32 and bf16 weights, full fine-tuning too); the stash (unstash + recomputed
 *                 attention probabilities) bit-identical to recomputing each block's forward; close to fp32
 *                 activations but not equal (so the rounding is real); the arena is what mm_engine_arena_bytes
 *                 says and smaller than fp32's;
 *   act16_ops:    to_bf16 / from_bf16 are mm_f32_to_bf16 / mm_bf16_to_f32 element by element. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "util/halffloat.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"
#include "counting_device.h"
#include "engine_step.h"

#define GPTBC "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"
static const char *const DIRS[] = {GPTBC, LLAMA};
static const char *const METHODS[] = {"lora-mix", "mmlora", "mola", "fpft-mix"};
enum { N_METHODS = 4 };

static result run(const mm_kernels *k, const char *dir, const char *method, int dtype, int act, int recompute) {
    const mm_engine_opts o = {.recompute = recompute, .dtype = dtype, .act_dtype = act};
    return es_step(k, dir, method, &o);
}

Test(act16_ops, conversions_are_the_host_ones) {
    enum { N = 4099 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint16_t *h = malloc(N * sizeof(uint16_t));
    for (int i = 0; i < N; i++) x[i] = 1e3f * (2.0f * mm_u32_to_unit(mm_rng_u32(1, 2, 3, (uint64_t)i)) - 1.0f);
    x[0] = NAN, x[1] = INFINITY, x[2] = -0.0f, x[3] = 1.00390625f; /* 1 + 2^-8: a tie, to even (1.0) */
    mm_kernels_cpu.to_bf16(h, x, N);
    mm_kernels_cpu.from_bf16(y, h, N);
    size_t bad = 0;
    for (int i = 0; i < N; i++) {
        const float want = mm_bf16_to_f32(mm_f32_to_bf16(x[i]));
        bad += h[i] != mm_f32_to_bf16(x[i]) || (memcmp(&y[i], &want, 4) != 0 && !(isnan(y[i]) && isnan(want)));
    }
    cr_expect_eq(bad, 0, "%zu of %d conversions differ", bad, N);
    cr_expect(isnan(y[0]) && isinf(y[1]) && signbit(y[2]) && y[3] == 1.0f);
    free(x), free(y), free(h);
}

Test(act16_engine, standin_equals_cpu_bit_identical) {
    const mm_kernels dev = counting_device();
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < N_METHODS; j++)
            for (int dt = 0; dt < 2; dt++) {
                const int dtype = dt ? MM_DTYPE_BF16 : MM_DTYPE_FP32;
                if (dtype == MM_DTYPE_BF16 && !strcmp(METHODS[j], "fpft-mix")) continue; /* refused */
                result c = run(&mm_kernels_cpu, DIRS[i], METHODS[j], dtype, MM_DTYPE_BF16, 0);
                cd_live_allocs = 0;
                result d = run(&dev, DIRS[i], METHODS[j], dtype, MM_DTYPE_BF16, 0);
                cr_expect_eq(cd_live_allocs, 0, "%zu device allocations not freed", cd_live_allocs);
                char what[256];
                snprintf(what, sizeof what, "%s %s dtype %s act bf16: stand-in vs CPU", DIRS[i], METHODS[j],
                         mm_engine_dtype_name(dtype));
                es_bit_identical(what, &c, &d);
                result_free(&c), result_free(&d);
            }
}

/* the stash path (layer slots from bf16, probabilities recomputed by attention_fwd) gives what recomputing the
 * whole block gives; both round the same values */
Test(act16_engine, stash_equals_recomputation) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < N_METHODS; j++) {
            result a = run(&mm_kernels_cpu, DIRS[i], METHODS[j], MM_DTYPE_FP32, MM_DTYPE_BF16, 0);
            result b = run(&mm_kernels_cpu, DIRS[i], METHODS[j], MM_DTYPE_FP32, MM_DTYPE_BF16, 1);
            char what[256];
            snprintf(what, sizeof what, "%s %s act bf16: stash vs recomputation", DIRS[i], METHODS[j]);
            es_bit_identical(what, &a, &b);
            result_free(&a), result_free(&b);
        }
}

/* against fp32 activations: loss and gradients close (bf16's 8 bits on every large activation, as for dtype bf16's
 * weights: test_bf16.c's tolerances), none of them identical.  MoLA's token routers pick their top-k experts from
 * the rounded input, and with these large random experts a flipped choice moves a token's logits by a lot
 * (measured when written: logits 9e-2 / 3.2e-1 relative, gradients 8e-2 / 3.8e-1, GPTBigCode / LLaMA; the loss
 * 6e-4 / 1.1e-3): for MoLA the loss is checked, not the gradients.  The others: loss 5e-6 .. 2e-4, logits 6e-3
 * .. 2.4e-2, gradients 4e-3 .. 2.3e-2. */
Test(act16_engine, close_to_fp32_and_not_equal) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < N_METHODS; j++) {
            result a = run(&mm_kernels_cpu, DIRS[i], METHODS[j], MM_DTYPE_FP32, MM_DTYPE_FP32, 0);
            result b = run(&mm_kernels_cpu, DIRS[i], METHODS[j], MM_DTYPE_FP32, MM_DTYPE_BF16, 0);
            const double dl = fabs(b.loss - a.loss) / fabs(a.loss);
            const double dg = rel_err(b.grads, a.grads, a.n), dz = rel_err(b.logits, a.logits, a.nlogits);
            size_t same = 0, nz = 0;
            for (size_t g = 0; g < a.n; g++) {
                same += a.grads[g] == b.grads[g] && a.grads[g] != 0.0f;
                nz += a.grads[g] != 0.0f;
            }
            cr_log_info("act bf16 vs fp32 %s %s: loss %.6f vs %.6f (rel %.2e), logits rel %.2e, grads rel %.2e, %zu of "
                        "%zu non-zero gradients equal",
                        DIRS[i], METHODS[j], b.loss, a.loss, dl, dz, dg, same, nz);
            cr_expect_lt(dl, 1e-2, "%s %s: loss rel %.3g", DIRS[i], METHODS[j], dl);
            if (strcmp(METHODS[j], "mola")) cr_expect_lt(dg, 5e-2, "%s %s: grads rel %.3g", DIRS[i], METHODS[j], dg);
            cr_expect_gt(dz, 0.0, "%s %s: logits equal fp32's: are activations rounded?", DIRS[i], METHODS[j]);
            cr_expect_lt(same, nz / 10 + 1, "%s %s: %zu of %zu gradients equal fp32", DIRS[i], METHODS[j], same, nz);
            result_free(&a), result_free(&b);
        }
}

/* the arena: as planned, smaller than fp32 activations, larger than recomputation; the stash holds a layer's
 * large buffers in half the bytes */
Test(act16_engine, arena_is_planned_and_smaller) {
    for (int i = 0; i < 2; i++) {
        mm_model m;
        cr_assert_eq(mm_model_load(&m, DIRS[i]), 0, "%s", mm_last_error());
        const int Bb = 4, Tt = 32;
        mm_engine e;
        const mm_engine_opts o = {.act_dtype = MM_DTYPE_BF16};
        cr_assert_eq(mm_engine_init_with(&e, &mm_kernels_cpu, &m, NULL, 0, Bb, Tt, &o), 0, "%s", mm_last_error());
        cr_expect_eq(e.arena_bytes, mm_engine_arena_bytes(&m, NULL, Bb, Tt, MM_ACT_BF16));
        const size_t N = (size_t)Bb * Tt, C = m.cfg.d_model, F = m.cfg.d_ff, Q = m.qkv_width;
        const size_t big = 3 * N * C + N * Q + (m.cfg.family == MM_FAMILY_LLAMA ? 3 : 2) * N * F;
        cr_expect(e.stash_layer >= big && e.stash_layer < big + 7 * 32, "%s: stash %zu elements, buffers %zu", DIRS[i],
                  e.stash_layer, big);
        mm_engine_free(&e);
        const size_t f32 = mm_engine_arena_bytes(&m, NULL, Bb, Tt, 0), b16 = mm_engine_arena_bytes(&m, NULL, Bb, Tt, MM_ACT_BF16);
        const size_t rec = mm_engine_arena_bytes(&m, NULL, Bb, Tt, MM_ACT_RECOMPUTE);
        const size_t rec16 = mm_engine_arena_bytes(&m, NULL, Bb, Tt, MM_ACT_RECOMPUTE | MM_ACT_BF16);
        cr_log_info("%s arena at %dx%d: fp32 %zu, act bf16 %zu, recompute %zu, both %zu bytes", DIRS[i], Bb, Tt, f32,
                    b16, rec, rec16);
        cr_expect_lt(b16, f32);
        cr_expect_gt(b16, rec);
        cr_expect_eq(rec16 - rec, (big * 2 + 63) / 64 * 64, "%s: recomputation's stash is one layer's", DIRS[i]);
        const mm_engine_opts bad = {.act_dtype = 5};
        cr_expect_neq(mm_engine_init_with(&e, &mm_kernels_cpu, &m, NULL, 0, Bb, Tt, &bad), 0);
        mm_model_free(&m);
    }
}
