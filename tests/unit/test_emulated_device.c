/* `build/mmlora --device cuda` on the CPU emulator of the CUDA backend (tests/cuda_emu): the real kernels/cuda code,
 * so what the stand-in cannot show shows here.  Out of device memory: the run stops (never hangs) with the size it
 * could not get, the device's free and total memory and the switches that shrink a run.  Needs `make emu`. */
#include "test_util.h"
#include "run_fixture.h"

static char g_dir[256];
static void world(void) { cr_assert_eq(rf_world_create(g_dir, sizeof g_dir, "mmlora-emudev"), 0, "%s", mm_last_error()); }
static void teardown(void) { rf_world_remove(g_dir); }

TestSuite(emulated_device, .init = world, .fini = teardown, .timeout = 120);

Test(emulated_device, out_of_device_memory_says_what_and_how_to_shrink) {
#ifdef MMLORA_SANITIZE
    cr_skip_test("runs build/mmlora (not sanitized): optimized suite only");
#endif
    char env[2048], cmd[8192];
    if (!rf_emu_env(env, sizeof env)) cr_skip_test("build/emu/libmmlora_cuda_emu.so not built (make emu)");
    /* the probe reports 8 GiB (the plan passes), the emulated device holds 3 MiB: cudaMalloc itself fails */
    snprintf(cmd, sizeof cmd,
             "%s MMLORA_EMU_MEMORY_MB=3 timeout 100 build/mmlora train --method mmlora --model %s/model --dataset csn "
             "--raw %s/raw --cache %s/cache --out %s/oom --set scale=smoke --set device=cuda > %s/oom.log 2>&1",
             env, g_dir, g_dir, g_dir, g_dir, g_dir);
    int rc = system(cmd);
    char path[512];
    snprintf(path, sizeof path, "%s/oom.log", g_dir);
    size_t n;
    char *log = mm_read_file(path, &n);
    cr_assert(log, "%s missing", path);
    cr_expect(rc != 0 && !(WIFEXITED(rc) && WEXITSTATUS(rc) == 124), "rc %d: expected a failure, not a timeout", rc);
    cr_expect(strstr(log, "on mmlora CUDA emulator (CPU)"), "not on the emulated GPU:\n%s", log);
    cr_expect(strstr(log, "could not allocate") && strstr(log, "cudaMalloc("), "no allocation failure named:\n%s", log);
    cr_expect(strstr(log, "GiB free of"), "no free/total memory:\n%s", log);
    cr_expect(strstr(log, "--recompute") && strstr(log, "micro_batch") && strstr(log, "info --memory"),
              "no switches to shrink the run:\n%s", log);
    free(log);
}
