/* The device path under the guarded stand-in (kernels.h: mm_kernels_cpu_standin_guarded): device memory is
 * PROT_NONE outside the table's ops, so a host read or write of it anywhere in the engine, the adapters, the
 * trainer, the decoder or a run is a crash here (as it would be a fault on a GPU), not a silent success.  The
 * results must still equal the CPU table's bit for bit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "infer/generate.h"
#include "model/engine.h"
#include "peft/method.h"
#include "util/log.h"
#include "test_util.h"
#include "engine_step.h"
#include "run_fixture.h"

#define GPTBC "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"

/* the guard guards: a host read of its memory outside an op is a SIGSEGV (under AddressSanitizer, which reports the
 * SEGV itself, an exit with its error code 1) */
#ifdef MMLORA_SANITIZE
#define FAULTS .exit_code = 1
#else
#define FAULTS .signal = SIGSEGV
#endif
Test(device_guard, host_access_outside_an_op_faults, FAULTS) {
    const mm_kernels *k = mm_kernels_cpu_standin_guarded();
    float *p = k->alloc(64 * sizeof(float));
    k->zero(p, 64 * sizeof(float)); /* inside an op: allowed */
    volatile float x = p[3];        /* outside: faults */
    (void)x;
}

Test(device_guard, one_step_of_every_method_equals_cpu) {
    const char *dirs[] = {GPTBC, LLAMA}, *methods[] = {"fpft-mix", "lora-mix", "mmlora", "mola"};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int v = 0; v < 2; v++) { /* fp32, then bf16 activations (and bf16 weights for the adapters) */
                mm_engine_opts o = {0};
                if (v) o.act_dtype = MM_DTYPE_BF16, o.dtype = j ? MM_DTYPE_BF16 : MM_DTYPE_FP32;
                result c = es_step(&mm_kernels_cpu, dirs[i], methods[j], &o);
                result g = es_step(mm_kernels_cpu_standin_guarded(), dirs[i], methods[j], &o);
                char what[256];
                snprintf(what, sizeof what, "%s %s%s: guarded stand-in vs CPU", dirs[i], methods[j], v ? " bf16" : "");
                es_bit_identical(what, &c, &g);
                result_free(&c), result_free(&g);
            }
}

/* greedy decoding (LLaMA too, with adapters and bf16 weights): the same tokens */
Test(device_guard, greedy_decoding_equals_cpu) {
    const char *dirs[] = {GPTBC, LLAMA};
    for (int i = 0; i < 2; i++)
        for (int dt = 0; dt < 2; dt++) {
            mm_model m;
            cr_assert_eq(mm_model_load(&m, dirs[i]), 0, "%s", mm_last_error());
            mm_method_spec spec;
            cr_assert_eq(mm_method_from_name("lora-mix", &spec), 0);
            mm_adapters ad;
            cr_assert_eq(mm_method_build(&spec, &m, 6, 1, &ad), 0, "%s", mm_last_error());
            cd_random_params(ad.params, ad.n_params);
            const int32_t p0[5] = {3, 9, 1, 4, 7}, p1[3] = {11, 2, 5};
            const int32_t *prompts[2] = {p0, p1};
            const int plen[2] = {5, 3};
            int32_t out[2][2][8];
            int olen[2][2];
            for (int t = 0; t < 2; t++) {
                mm_generator g;
                const mm_kernels *k = t ? mm_kernels_cpu_standin_guarded() : &mm_kernels_cpu;
                cr_assert_eq(mm_generator_init_dtype(&g, k, &m, &ad, 2, 16, 8, dt ? MM_DTYPE_BF16 : MM_DTYPE_FP32), 0,
                             "%s", mm_last_error());
                int32_t *outs[2] = {out[t][0], out[t][1]};
                cr_assert_eq(mm_generate_greedy(&g, prompts, plen, 2, 8, -1, outs, olen[t]), 0, "%s", mm_last_error());
                mm_generator_free(&g);
            }
            for (int s = 0; s < 2; s++) {
                cr_expect_eq(olen[1][s], olen[0][s]);
                cr_expect_eq(memcmp(out[1][s], out[0][s], sizeof(int32_t) * (size_t)olen[0][s]), 0,
                             "%s dtype %d prompt %d: guarded tokens differ", dirs[i], dt, s);
            }
            mm_adapters_free(&ad);
            mm_model_free(&m);
        }
}

/* a whole `mmlora run --device cuda` (training with checkpoints, generation, scoring) on the guarded stand-in */
static char g_root[256];
static void world(void) { cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-guard"), 0, "%s", mm_last_error()); }
static void teardown(void) {
    unsetenv("MMLORA_DEVICE_STANDIN");
    rf_world_remove(g_root);
}
TestSuite(device_guard_run, .init = world, .fini = teardown, .timeout = 300);

Test(device_guard_run, mmlora_run_equals_cpu) {
    const char *methods[] = {"mmlora", "fpft-mix"};
    for (int i = 0; i < 2; i++) {
        char cpu[64], dev[64];
        snprintf(cpu, sizeof cpu, "%s-cpu", methods[i]);
        snprintf(dev, sizeof dev, "%s-guard", methods[i]);
        mm_run_opts o;
        const char *set_cpu[1] = {"device=cpu"}, *set_dev[2] = {"device=cuda", "act_dtype=bf16"};
        const char *set_cpu16[2] = {"device=cpu", "act_dtype=bf16"};
        unsetenv("MMLORA_DEVICE_STANDIN");
        cr_assert_eq(rf_opts(&o, g_root, methods[i], cpu, i ? set_cpu16 : set_cpu, i ? 2 : 1), 0, "%s", mm_last_error());
        cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
        setenv("MMLORA_DEVICE_STANDIN", "guard", 1);
        cr_assert_eq(rf_opts(&o, g_root, methods[i], dev, set_dev, i ? 2 : 1), 0, "%s", mm_last_error());
        cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
        char a[1024], b[1024];
        const char *file = i ? "adapter/model.safetensors" : "adapter/adapter_model.safetensors";
        snprintf(a, sizeof a, "%s/%s/%s", g_root, cpu, file);
        snprintf(b, sizeof b, "%s/%s/%s", g_root, dev, file);
        size_t la, lb;
        char *x = mm_read_file(a, &la), *y = mm_read_file(b, &lb);
        cr_assert(x && y, "%s or %s missing", a, b);
        cr_expect(la == lb && !memcmp(x, y, la), "%s: the guarded run's weights differ from the CPU run's", methods[i]);
        free(x), free(y);
    }
}
