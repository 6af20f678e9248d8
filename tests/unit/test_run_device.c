/* `mmlora run --device cuda` on the CPU stand-in for a device table (MMLORA_DEVICE_STANDIN=1: the CPU ops
 * behind device memory): every method trains through the device path (weights, adapters, gradients and
 * AdamW state in "device" memory, checkpoints by download/upload, the parameters downloaded after
 * training) and must give the CPU run's adapter or model bit for bit, the same predictions and scores;
 * a kill -9 after a checkpoint resumes bit-identically; without the stand-in and without a GPU,
 * --device cuda fails naming what is missing. */
#include <signal.h>
#include <sys/wait.h>
#include "peft/method.h"
#include "train/run.h"
#include "util/device.h"
#include "test_util.h"
#include "run_fixture.h"

static char g_root[256];

static void world(void) {
    cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-rundev"), 0, "%s", mm_last_error());
}
static void teardown(void) {
    unsetenv("MMLORA_DEVICE_STANDIN");
    rf_world_remove(g_root);
}

static void opts_for(mm_run_opts *o, const char *method, const char *out, const char *device, const char **sets, int n) {
    char d[64];
    snprintf(d, sizeof d, "device=%s", device);
    const char *all[16] = {d};
    cr_assert(n < 16);
    for (int i = 0; i < n; i++) all[i + 1] = sets[i];
    cr_assert_eq(rf_opts(o, g_root, method, out, all, n + 1), 0, "%s", mm_last_error());
}

static void same_file(const char *a_dir, const char *b_dir, const char *rel) {
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/%s/%s", g_root, a_dir, rel);
    snprintf(b, sizeof b, "%s/%s/%s", g_root, b_dir, rel);
    size_t la, lb;
    char *x = mm_read_file(a, &la), *y = mm_read_file(b, &lb);
    cr_assert(x && y, "%s or %s missing", a, b);
    cr_expect(la == lb && !memcmp(x, y, la), "%s differs from %s", b, a);
    free(x);
    free(y);
}

/* train.jsonl without its timing field (tokens_per_s): step, losses, lr and gradient norm must agree */
static char *log_without_timing(const char *dir) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/train.jsonl", g_root, dir);
    size_t n;
    char *s = mm_read_file(p, &n);
    cr_assert(s, "%s missing", p);
    for (char *t; (t = strstr(s, "\"tokens_per_s\": "));) {
        char *e = strchr(t, ',');
        cr_assert(e);
        memmove(t, e + 2, strlen(e + 2) + 1);
    }
    return s;
}
static void same_log(const char *a_dir, const char *b_dir) {
    char *x = log_without_timing(a_dir), *y = log_without_timing(b_dir);
    cr_expect(strlen(x) > 0 && !strcmp(x, y), "%s/train.jsonl differs from %s/train.jsonl:\n%s\nvs\n%s", b_dir, a_dir, y, x);
    free(x);
    free(y);
}

/* the "device" string of a run.json (whitespace after the colon skipped) equals want */
static int run_json_device(const char *dir, const char *want) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/run.json", g_root, dir);
    size_t n;
    char *s = mm_read_file(p, &n);
    const char *d = s ? strstr(s, "\"device\":") : NULL;
    int r = 0;
    if (d) {
        d += 9;
        while (*d == ' ' || *d == '\t') d++;
        r = *d == '"' && !strncmp(d + 1, want, strlen(want)) && d[1 + strlen(want)] == '"';
    }
    free(s);
    return r;
}

static void pair(const char *method, const char **sets, int n) {
    char cpu[64], dev[64];
    snprintf(cpu, sizeof cpu, "%s-cpu", method);
    snprintf(dev, sizeof dev, "%s-dev", method);
    mm_run_opts o;
    unsetenv("MMLORA_DEVICE_STANDIN");
    opts_for(&o, method, cpu, "cpu", sets, n);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    setenv("MMLORA_DEVICE_STANDIN", "1", 1);
    opts_for(&o, method, dev, "cuda", sets, n);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    unsetenv("MMLORA_DEVICE_STANDIN");
    same_file(cpu, dev, !strcmp(method, "fpft-mix") ? "adapter/model.safetensors" : "adapter/adapter_model.safetensors");
    same_file(cpu, dev, "checkpoint/all.safetensors");
    same_log(cpu, dev);
    for (int l = 0; l < 6; l++) {
        char rel[128];
        snprintf(rel, sizeof rel, "predictions/%s.txt", RF_LANGS[l]);
        same_file(cpu, dev, rel);
        snprintf(rel, sizeof rel, "scores/%s.csv", RF_LANGS[l]);
        same_file(cpu, dev, rel);
    }
    same_file(cpu, dev, "scores.json");
    if (!strcmp(method, "mmlora")) same_file(cpu, dev, "experts.json");
    cr_expect(run_json_device(dev, "cpu-standin"), "run.json of the device run does not say cpu-standin");
    cr_expect(run_json_device(cpu, "cpu"), "run.json of the CPU run does not say cpu");
}

TestSuite(run_device, .init = world, .fini = teardown, .timeout = 400);

Test(run_device, lora_mix_bit_identical) { pair("lora-mix", NULL, 0); }
Test(run_device, mmlora_bit_identical) { pair("mmlora", NULL, 0); }
Test(run_device, mola_bit_identical) { const char *s[] = {"mola_experts=2,4"}; pair("mola", s, 1); }
Test(run_device, fpft_mix_bit_identical) { pair("fpft-mix", NULL, 0); }

/* build/mmlora on the stand-in is killed with SIGKILL right after its step-5 checkpoint; the same command
 * again (in-process, stand-in) must finish with the adapter of an uninterrupted CPU run */
Test(run_device, kill_9_on_the_device_and_rerun_gives_the_cpu_adapter) {
    setenv("MMLORA_DEVICE_STANDIN", "1", 1); /* the child inherits it */
    cr_assert(rf_train_killed_at(g_root, "mmlora", "killed", 5, "cuda"), "child was not killed");
    mm_run_opts k;
    const char *ck[] = {"ckpt_every=1"};
    setenv("MMLORA_DEVICE_STANDIN", "1", 1);
    opts_for(&k, "mmlora", "killed", "cuda", ck, 1);
    cr_assert_eq(mm_run(&k, MM_PHASE_TRAIN), 0, "%s", mm_last_error());
    unsetenv("MMLORA_DEVICE_STANDIN");
    mm_run_opts o;
    opts_for(&o, "mmlora", "straight", "cpu", NULL, 0);
    cr_assert_eq(mm_run(&o, MM_PHASE_TRAIN), 0, "%s", mm_last_error());
    same_file("straight", "killed", "adapter/adapter_model.safetensors");
}

Test(run_device, cuda_without_a_gpu_names_what_is_missing) {
    const mm_device_info *d = mm_device_probe();
    if (d->n_gpus) cr_skip_test("a GPU is present: nothing is missing");
    unsetenv("MMLORA_DEVICE_STANDIN");
    mm_run_opts o;
    opts_for(&o, "lora-mix", "nogpu", "cuda", NULL, 0);
    cr_expect_eq(mm_run(&o, MM_PHASE_ALL), -1);
    cr_expect(strstr(mm_last_error(), "--device cuda") && strstr(mm_last_error(), d->why) &&
                  strstr(mm_last_error(), "libmmlora_cuda.so"),
              "%s", mm_last_error());
    /* the CLI says the same and exits non-zero */
    char cmd[2048], buf[4096];
    snprintf(cmd, sizeof cmd,
             "build/mmlora run --method lora-mix --model %s/model --dataset csn --raw %s/raw --cache %s/cache --out "
             "%s/nogpu-cli --device cuda --set scale=smoke 2>&1; echo rc=$?",
             g_root, g_root, g_root, g_root);
    FILE *f = popen(cmd, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    pclose(f);
    cr_expect(strstr(buf, d->why) && !strstr(buf, "rc=0"), "%s", buf);
}
