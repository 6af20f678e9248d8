/* `info --memory` plans, --device resolution and the out-of-memory message of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/method.h"
#include "train/memory_plan.h"
#include "train/run.h"
#include "util/device.h"
#include "util/log.h"
#include "run_fixture.h"
#include "test_util.h"

#define GIB 1073741824.0

static void starcoder(mm_model *m) {
    mm_model_config c;
    cr_assert_eq(mm_config_load("models/starcoderbase-1b", &c), 0, "%s", mm_last_error());
    cr_assert_eq(mm_model_layout(m, &c), 0, "%s", mm_last_error());
}

static mm_memory_plan plan(const mm_model *m, const char *method, int B, int T, int recompute, int layout) {
    mm_method_spec s;
    cr_assert_eq(mm_method_from_name(method, &s), 0);
    mm_memory_plan p;
    cr_assert_eq(mm_memory_plan_make(m, &s, 6, B, T, recompute, layout, &p), 0, "%s", mm_last_error());
    /* the adapters that were built hold exactly the count method.c derives from the paper's formulas */
    cr_expect_eq(p.trainable_params, mm_method_trainable(m, &s, 6), "%s: built %lld, formula %lld", method,
                 p.trainable_params, mm_method_trainable(m, &s, 6));
    return p;
}

/* the requirement: StarCoderBase-1B LoRA-Mix, batch 24 x seq 288, fits a 24 GB GPU, with activation
 * recomputation where needed.  The CUDA engine keeps fp32 activations in both dtypes: it needs --recompute;
 * dtype bf16 shrinks the weights (bf16 linears and LM head, the rest fp32) but not the arena. */
Test(memory_plan, starcoderbase_lora_mix_24x288_fits_24_gib_on_cuda) {
    mm_model m;
    starcoder(&m);
    mm_memory_plan f32 = plan(&m, "lora-mix", 24, 288, 0, MM_PLAN_CUDA_FP32);
    cr_expect_eq(f32.weights, (size_t)m.n_params * 4, "fp32 weights on the device as built");
    cr_expect_eq(f32.weights16, 0);
    cr_expect_gt(f32.total / GIB, 24.0, "fp32 without recomputation: %.2f GiB", f32.total / GIB);
    mm_memory_plan f32r = plan(&m, "lora-mix", 24, 288, 1, MM_PLAN_CUDA_FP32);
    cr_expect_lt(f32r.total / GIB, 24.0, "fp32 with recomputation: %.2f GiB", f32r.total / GIB);
    mm_memory_plan p = plan(&m, "lora-mix", 24, 288, 0, MM_PLAN_CUDA_BF16);
    /* StarCoderBase-1B: per layer c_attn 2048x2304, c_proj 2048x2048, c_fc 8192x2048, mlp c_proj 2048x8192 in
     * bf16; the LM head is tied to wte (fp32 for the embedding) and gets a bf16 copy beside it */
    const size_t per_layer = 2304 * 2048 + 2048 * 2048 + 2 * 8192 * 2048, head = (size_t)49152 * 2048;
    cr_expect_eq(p.weights16, (24 * per_layer + head) * 2, "bf16 copies %zu", p.weights16);
    cr_expect_eq(p.weights, ((size_t)m.n_params - 24 * per_layer) * 4, "fp32 rest %zu", p.weights);
    cr_expect_lt(p.weights + p.weights16, f32.weights * 6 / 10, "bf16 weights %.2f GiB vs fp32 %.2f GiB",
                 (p.weights + p.weights16) / GIB, f32.weights / GIB);
    cr_expect_eq(p.trainable, (size_t)22216704 * 4);
    cr_expect_eq(p.optimizer, (size_t)22216704 * 8);
    cr_expect_eq(p.activations, f32.activations, "the arena stays fp32");
    /* the device scratch: the largest of the bf16 rounding (the widest activation, 24·288·8192 bf16: 113 MB), the
     * experts' (LoRA-Mix r 32 is fused: dA's partial sums only) and the attention's chunks (the 128 MiB cap, 24
     * sequences being more: the largest here), plus a quarter of slack */
    cr_expect_eq(p.scratch16, 0);
    cr_expect_eq(p.scratch_dev, ((size_t)128 * 1048576 + 256) * 5 / 4, "device scratch %zu", p.scratch_dev);
    cr_expect_eq(f32.scratch_dev, p.scratch_dev, "the same experts' scratch with fp32 weights");
    cr_expect_gt(p.total / GIB, 24.0, "bf16 without recomputation: %.2f GiB", p.total / GIB);
    mm_memory_plan r = plan(&m, "lora-mix", 24, 288, 1, MM_PLAN_CUDA_BF16);
    cr_expect_lt(r.activations * 4, p.activations, "recomputation keeps one layer of 24: %zu vs %zu", r.activations,
                 p.activations);
    cr_expect_lt(r.total / GIB, f32r.total / GIB - 1.5, "bf16 + recomputation %.2f GiB", r.total / GIB);
    /* dtype bf16 keeps the base frozen: no plan for full fine-tuning (the run refuses it too) */
    mm_method_spec s;
    cr_assert_eq(mm_method_from_name("fpft-mix", &s), 0);
    mm_memory_plan f;
    cr_expect_neq(mm_memory_plan_make(&m, &s, 6, 24, 288, 0, MM_PLAN_CUDA_BF16, &f), 0);
    cr_expect(strstr(mm_last_error(), "full fine-tuning") != NULL, "%s", mm_last_error());
    free(m.tensors);
}

Test(memory_plan, cpu_plan_is_fp32_and_matches_the_engine_arena) {
    mm_model m;
    cr_assert_eq(mm_model_load(&m, "tests/fixtures/engine/tiny"), 0, "%s", mm_last_error());
    mm_method_spec s;
    cr_assert_eq(mm_method_from_name("mmlora", &s), 0);
    mm_adapters ad;
    cr_assert_eq(mm_method_build(&s, &m, 6, 1, &ad), 0, "%s", mm_last_error());
    mm_engine e;
    cr_assert_eq(mm_engine_init_opts(&e, &mm_kernels_cpu, &m, &ad, 0, 4, 32, 0), 0);
    mm_memory_plan p = plan(&m, "mmlora", 4, 32, 0, 0);
    cr_expect_eq(p.activations, e.arena_bytes);
    cr_expect_eq(p.adapter_buffers, mm_adapters_reserve_bytes(&ad, 4 * 32));
    cr_expect_gt(p.adapter_buffers, 0); /* dropout masks of every expert */
    cr_expect_eq(p.weights, (size_t)m.n_params * 4);
    cr_expect_eq(p.runtime, 0);
    mm_engine_free(&e);
    mm_adapters_free(&ad);
    /* bad arguments are errors, not plans */
    cr_expect_neq(mm_memory_plan_make(&m, &s, 6, 0, 32, 0, 0, &p), 0);
    cr_expect_neq(mm_memory_plan_make(&m, &s, 6, 4, 100000, 0, 0, &p), 0);
    cr_expect(strstr(mm_last_error(), "n_positions") != NULL, "%s", mm_last_error());
    mm_model_free(&m);
}

Test(memory_plan, cli_prints_the_plan_and_the_budget_verdict) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "build/mmlora info --model models/starcoderbase-1b --method lora-mix --memory --device cuda --batch 24 "
             "--seq 288 2>&1");
    FILE *f = popen(cmd, "r");
    cr_assert(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    cr_assert_eq(pclose(f), 0, "%s", buf);
    cr_expect(strstr(buf, "activations") && strstr(buf, "optimizer (AdamW m, v)"), "%s", buf);
    cr_expect(strstr(buf, "CUDA engine as built") && strstr(buf, "does NOT fit"), "%s", buf);
    cr_expect(strstr(buf, "with --recompute:") && strstr(buf, "GiB): fits"), "%s", buf);
    f = popen("build/mmlora info --model models/starcoderbase-1b --method fpft-mix --memory --device cuda 2>&1", "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    pclose(f);
    cr_expect(strstr(buf, "does NOT fit") && strstr(buf, "micro_batch=12"), "%s", buf);
    f = popen("build/mmlora info --model models/starcoderbase-1b --method lora-mix --memory --device cuda --dtype bf16 "
              "2>&1", "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    pclose(f);
    cr_expect(strstr(buf, "CUDA engine, dtype bf16") && strstr(buf, "weights (bf16 copies)") &&
                  strstr(buf, "24.00 GiB") && strstr(buf, "GiB): fits\n"),
              "%s", buf);
    f = popen("build/mmlora info --model models/starcoderbase-1b --memory --dtype bf16 --device cpu 2>&1", "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    cr_expect_eq(pclose(f), 0, "%s", buf);
    cr_expect(strstr(buf, "CPU engine, dtype bf16") && strstr(buf, "weights (fp32 model)"), "%s", buf);
    f = popen("build/mmlora info --model models/starcoderbase-1b --method fpft-mix --memory --dtype bf16 --device cuda "
              "2>&1", "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    cr_expect_neq(pclose(f), 0);
    cr_expect(strstr(buf, "full fine-tuning"), "%s", buf);
}

Test(device, resolve_cpu_auto_and_cuda) {
    char out[160], note[1024];
    const mm_kernels *k = NULL;
    unsetenv("MMLORA_DEVICE_STANDIN");
    cr_assert_eq(mm_device_resolve("cpu", out, sizeof out, note, sizeof note, &k), 0);
    cr_expect_str_eq(out, "cpu");
    cr_expect_eq(k, &mm_kernels_cpu);
    cr_expect_neq(mm_device_resolve("tpu", out, sizeof out, note, sizeof note, &k), 0);
    cr_expect(strstr(mm_last_error(), "cpu, cuda or auto") != NULL, "%s", mm_last_error());
    const mm_device_info *d = mm_device_probe();
    cr_assert_eq(mm_device_resolve("auto", out, sizeof out, note, sizeof note, &k), 0);
    cr_expect(strstr(note, "device auto") != NULL, "%s", note);
    if (!d->n_gpus) { /* no GPU: the CPU, and cuda is an error naming what is missing */
        cr_expect_str_eq(out, "cpu");
        cr_expect_eq(k, &mm_kernels_cpu);
        cr_assert_neq(mm_device_resolve("cuda", out, sizeof out, note, sizeof note, &k), 0);
        cr_expect(strstr(mm_last_error(), d->why) && strstr(mm_last_error(), "libmmlora_cuda.so"), "%s",
                  mm_last_error());
    }
    /* the test hook: the CPU stand-in for a device table */
    setenv("MMLORA_DEVICE_STANDIN", "1", 1);
    cr_assert_eq(mm_device_resolve("cuda", out, sizeof out, note, sizeof note, &k), 0);
    cr_expect_str_eq(out, "cpu-standin");
    cr_expect_eq(k, mm_kernels_cpu_standin());
    cr_expect(k->device_memory);
    unsetenv("MMLORA_DEVICE_STANDIN");
}

Test(device, fake_gpu_is_named_in_the_messages) {
    char cmd[512], buf[4096];
    snprintf(cmd, sizeof cmd,
             "MMLORA_FAKE_GPU='NVIDIA H200:139' build/mmlora info --model models/starcoderbase-1b --method lora-mix "
             "--memory 2>&1");
    FILE *f = popen(cmd, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    pclose(f);
    /* auto plans for the GPU it found, with its memory as the budget */
    cr_expect(strstr(buf, "CUDA engine") && strstr(buf, "139.00 GiB (NVIDIA H200)"), "%s", buf);
}

static char g_root[512];
Test(run_memory, out_of_memory_is_a_message_with_sizes_and_switches) {
    cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-oom"), 0, "%s", mm_last_error());
    char cmd[4096], buf[8192];
    snprintf(cmd, sizeof cmd,
             "MMLORA_MEMORY_AVAILABLE=1000 build/mmlora run --method lora-mix --model %s/model --dataset csn --raw %s/raw "
             "--cache %s/cache --out %s/oom --set scale=smoke 2>&1",
             g_root, g_root, g_root, g_root);
    FILE *f = popen(cmd, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    int rc = pclose(f);
    cr_expect_neq(rc, 0, "%s", buf);
    cr_expect(strstr(buf, "not enough memory") && strstr(buf, "micro_batch=2") && strstr(buf, "--recompute") &&
                  strstr(buf, "activations"),
              "%s", buf);
    /* the same run with room trains (and --recompute is accepted, and not part of the run's identity) */
    snprintf(cmd, sizeof cmd,
             "build/mmlora train --method lora-mix --model %s/model --dataset csn --raw %s/raw --cache %s/cache --out "
             "%s/oom --set scale=smoke --recompute --device cpu > /dev/null 2>&1",
             g_root, g_root, g_root, g_root);
    cr_expect_eq(system(cmd), 0);
    rf_world_remove(g_root);
}
