/* `mmlora experiment` end to end: the rq1 grid at smoke scale on the tiny test world (run_fixture.h),
 * then a second invocation that skips every run. */
#include <stdio.h>
#include "experiments/experiment.h"
#include "run_fixture.h"
#include "test_util.h"

static char g_root[256];

static void world(void) { cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-exp"), 0, "%s", mm_last_error()); }
static void teardown(void) { rf_world_remove(g_root); }

TestSuite(experiment_run, .init = world, .fini = teardown, .timeout = 300);

Test(experiment_run, rq1_smoke_runs_every_method_and_renders_table2) {
    char model[512], raw[512], cache[512], res[512], out[512], p[1024];
    snprintf(model, sizeof model, "%s/model", g_root);
    snprintf(raw, sizeof raw, "%s/raw", g_root);
    snprintf(cache, sizeof cache, "%s/cache", g_root);
    snprintf(res, sizeof res, "%s/results", g_root);
    snprintf(out, sizeof out, "%s/tables", g_root);
    mm_exp_opts x = {.grid = "experiments/rq1/grid.json", .model_dir = model, .dataset = "csn", .scale = "smoke",
                     .results = res, .raw = raw, .cache = cache, .report_out = out};
    cr_assert_eq(mm_experiment_run(&x), 0, "%s", mm_last_error());
    const char *m[] = {"fpft-mix", "lora-each", "lora-mix", "mola", "mmlora", "one-shot", "few-shot"};
    for (int i = 0; i < 7; i++) {
        snprintf(p, sizeof p, "%s/rq1/csn/model/%s/DONE", res, m[i]);
        cr_expect(mm_file_exists(p), "%s missing", p);
    }
    snprintf(p, sizeof p, "%s/table2_csn.md", out);
    size_t n;
    char *t = mm_read_file(p, &n);
    cr_assert(t, "%s missing", p);
    cr_expect(strstr(t, "MMLoRA") && strstr(t, "| ours |"), "table lacks our rows:\n%s", t);
    cr_expect(strstr(t, "| model | few-shot | paper (GPT-4) |") && strstr(t, "| model | few-shot | ours |"),
              "table lacks the prompted rows:\n%s", t);
    free(t);
    /* everything DONE: the second invocation only reports */
    cr_assert_eq(mm_experiment_run(&x), 0, "%s", mm_last_error());
    /* a missing model: a message naming the files, no crash */
    snprintf(p, sizeof p, "%s/nomodel", g_root);
    x.model_dir = p;
    cr_expect_eq(mm_experiment_run(&x), -1);
    cr_expect(strstr(mm_last_error(), "model.safetensors") && strstr(mm_last_error(), "models/README.md"), "%s",
              mm_last_error());
}

/* rq2-rq4 at smoke scale, end to end: every run of each grid completes (DONE) and the report renders */
static void smoke_grid(const char *rq, int expect_runs) {
#ifdef MMLORA_SANITIZE
    /* 32 runs take ~3.5 min under ASan; the same code paths run under it in the run suite and rq1 above */
    cr_skip_test("%s grid smoke: optimized pass only", rq);
#endif
    char model[512], raw[512], cache[512], res[512], out[512], grid[128], cmd[1024];
    snprintf(model, sizeof model, "%s/model", g_root);
    snprintf(raw, sizeof raw, "%s/raw", g_root);
    snprintf(cache, sizeof cache, "%s/cache", g_root);
    snprintf(res, sizeof res, "%s/results-%s", g_root, rq);
    snprintf(out, sizeof out, "%s/tables-%s", g_root, rq);
    snprintf(grid, sizeof grid, "experiments/%s/grid.json", rq);
    mm_exp_opts x = {.grid = grid, .model_dir = model, .dataset = "csn", .scale = "smoke", .results = res, .raw = raw,
                     .cache = cache, .report_out = out};
    cr_assert_eq(mm_experiment_run(&x), 0, "%s: %s", rq, mm_last_error());
    snprintf(cmd, sizeof cmd, "test $(find '%s' -name DONE | wc -l) -eq %d", res, expect_runs);
    cr_expect_eq(system(cmd), 0, "%s: not every run of the grid is DONE", rq);
}
Test(experiment_run, rq2_smoke) { smoke_grid("rq2", 17); }
Test(experiment_run, rq3_smoke) { smoke_grid("rq3", 9); }
Test(experiment_run, rq4_smoke) { smoke_grid("rq4", 6); }
