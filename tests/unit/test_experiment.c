/* Experiment grids (core/experiments): parsing, errors naming the file, expansion of each rq grid. */
#include <stdio.h>
#include <string.h>
#include "experiments/experiment.h"
#include "model/engine.h"
#include "test_util.h"
#include "util/log.h"

static const mm_exp_opts X = {.model_dir = "models/tiny", .dataset = "local", .scale = "smoke", .results = "res"};

Test(experiment_grid, good_grid_parses_with_object_and_list_sets) {
    const char *txt = "{\"rq\": \"rq2\", \"set\": [\"seed=7\"], \"runs\": ["
                      "{\"method\": \"mmlora\", \"variant\": \"w/o L_b\", \"set\": {\"balance_loss\": \"off\", \"c_b\": 0.5}},"
                      "{\"name\": \"lm\", \"method\": \"lora-mix\", \"set\": [\"rank=8\"]}]}";
    mm_grid g;
    cr_assert_eq(mm_grid_parse("g.json", txt, &g), 0, "%s", mm_last_error());
    cr_expect_str_eq(g.rq, "rq2");
    cr_assert_eq(g.n_runs, 2);
    cr_expect_str_eq(g.runs[0].name, "mmlora_w_o_L_b");
    cr_expect_str_eq(g.runs[1].name, "lm");
    mm_run_opts o;
    cr_assert_eq(mm_grid_expand(&g, 0, &X, &o), 0, "%s", mm_last_error());
    cr_expect_eq(o.seed, 7);
    cr_expect_eq(o.method.balance_loss, 0);
    cr_expect_float_eq(o.method.c_b, 0.5f, 1e-6);
    cr_expect_str_eq(o.variant, "w/o L_b");
    cr_expect_str_eq(o.rq, "rq2");
    cr_expect_str_eq(o.out_dir, "res/rq2/local/tiny/mmlora_w_o_L_b");
    cr_expect_eq(o.train_per_lang, 24, "the smoke preset applies");
    cr_assert_eq(mm_grid_expand(&g, 1, &X, &o), 0, "%s", mm_last_error());
    cr_expect_eq(o.method.rank, 8);
    mm_grid_free(&g);
}

static void expect_error(const char *txt, const char *a, const char *b) {
    mm_grid g;
    cr_assert_eq(mm_grid_parse("experiments/bad/grid.json", txt, &g), -1, "accepted: %s", txt);
    const char *e = mm_last_error();
    cr_expect(strstr(e, "experiments/bad/grid.json"), "error does not name the file: %s", e);
    cr_expect(strstr(e, a), "error lacks '%s': %s", a, e);
    if (b) cr_expect(strstr(e, b), "error lacks '%s': %s", b, e);
}

Test(experiment_grid, errors_name_the_file_and_the_run) {
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"method\": \"lora-mix\"}, {\"method\": \"lora-max\"}]}", "run 2", "lora-max");
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"method\": \"mmlora\", \"set\": {\"expertz\": 4}}]}", "run 1", "expertz");
    expect_error("{\"rq\": \"rq1\", \"set\": {\"bogus\": 1}, \"runs\": [{\"method\": \"mmlora\"}]}", "shared", "bogus");
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"variant\": \"x\"}]}", "run 1", "missing field \"method\"");
    expect_error("{\"runs\": [{\"method\": \"mmlora\"}]}", "missing field \"rq\"", NULL);
    expect_error("{\"rq\": \"rq1\"}", "missing field \"runs\"", NULL);
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"method\": \"mmlora\", \"varient\": \"x\"}]}", "unknown field 'varient'", NULL);
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"method\": \"mmlora\"}, {\"method\": \"mmlora\"}]}", "same name", NULL);
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"method\": \"mmlora\", \"set\": {\"batch\": 7}}]}", "run 1", "multiple");
    expect_error("not json", "not a JSON object", NULL);
    mm_grid g;
    cr_expect_eq(mm_grid_load("experiments/none/grid.json", &g), -1);
    cr_expect(strstr(mm_last_error(), "experiments/none/grid.json"));
}

static mm_grid load(const char *rq, int n) {
    char p[256];
    snprintf(p, sizeof p, "experiments/%s/grid.json", rq);
    mm_grid g;
    cr_assert_eq(mm_grid_load(p, &g), 0, "%s", mm_last_error());
    cr_assert_eq(g.n_runs, n, "%s: %d runs", p, g.n_runs);
    cr_expect_str_eq(g.rq, rq);
    return g;
}

static void expand(const mm_grid *g, int i, mm_run_opts *o, const char *method, const char *variant) {
    cr_assert_eq(mm_grid_expand(g, i, &X, o), 0, "%s", mm_last_error());
    cr_expect_str_eq(o->method.name, method, "run %d", i + 1);
    cr_expect_str_eq(o->variant, variant, "run %d", i + 1);
}

Test(experiment_grid, rq1_expands_to_the_five_methods_and_the_prompted_baselines) {
    mm_grid g = load("rq1", 7);
    const char *m[] = {"fpft-mix", "lora-each", "lora-mix", "mola", "mmlora", "one-shot", "few-shot"};
    mm_run_opts o;
    for (int i = 0; i < 7; i++) {
        expand(&g, i, &o, m[i], "");
        char want[256];
        snprintf(want, sizeof want, "res/rq1/local/tiny/%s", m[i]);
        cr_expect_str_eq(o.out_dir, want);
    }
    expand(&g, 5, &o, "one-shot", "");
    cr_expect_eq(o.method.shots, 1);
    expand(&g, 6, &o, "few-shot", "");
    cr_expect_eq(o.method.shots, 4);
    mm_grid_free(&g);
}

Test(experiment_grid, rq2_expands_to_table4_and_the_cb_sweep) {
    mm_grid g = load("rq2", 17);
    mm_run_opts o;
    expand(&g, 0, &o, "mmlora", "MMLoRA");
    cr_expect(o.method.universal && !o.method.router_token && o.method.diversity_loss && o.method.balance_loss);
    expand(&g, 1, &o, "mmlora", "w/o Universal Expert");
    cr_expect_eq(o.method.universal, 0);
    expand(&g, 2, &o, "mmlora", "w/o Global Language Router");
    cr_expect_eq(o.method.router_token, 1);
    expand(&g, 3, &o, "mmlora", "w/o L_d and L_b");
    cr_expect(!o.method.diversity_loss && !o.method.balance_loss);
    expand(&g, 4, &o, "mmlora", "w/o L_b");
    cr_expect(o.method.diversity_loss && !o.method.balance_loss);
    expand(&g, 5, &o, "mmlora", "w/o L_d");
    cr_expect(!o.method.diversity_loss && o.method.balance_loss);
    for (int k = 0; k <= 10; k++) {
        char v[32];
        snprintf(v, sizeof v, "c_b=%.1f", k / 10.0);
        expand(&g, 6 + k, &o, "mmlora", v);
        cr_expect_float_eq(o.method.c_b, k / 10.0f, 1e-6);
        cr_expect_float_eq(o.method.c_d, 1 - k / 10.0f, 1e-6);
    }
    mm_grid_free(&g);
}

Test(experiment_grid, rq3_expands_to_table5_and_fig5) {
    mm_grid g = load("rq3", 9);
    mm_run_opts o;
    const int E[] = {4, 4, 4, 6, 6, 6}, K[] = {1, 2, 4, 1, 3, 6};
    for (int i = 0; i < 6; i++) {
        char v[32];
        snprintf(v, sizeof v, "experts=%d,K=%d", E[i], K[i]);
        expand(&g, i, &o, "mmlora", v);
        cr_expect_eq(o.method.experts, E[i]);
        cr_expect_eq(o.method.top_k, K[i]);
        cr_expect_eq(o.method.universal, 1);
    }
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof v, "%dSLE", 4 + 2 * i);
        expand(&g, 6 + i, &o, "mmlora", v);
        cr_expect_eq(o.method.experts, 4 + 2 * i);
        cr_expect_eq(o.method.universal, 0);
    }
    mm_grid_free(&g);
}

Test(experiment_grid, rq4_expands_to_the_subsets) {
    mm_grid g = load("rq4", 6);
    mm_run_opts o;
    const double f[] = {0.001, 0.005, 0.01};
    for (int i = 0; i < 6; i++) {
        char v[32];
        snprintf(v, sizeof v, "fraction=%g", f[i / 2]);
        expand(&g, i, &o, i % 2 ? "mmlora" : "lora-mix", v);
        cr_expect_float_eq(o.fraction, f[i / 2], 1e-12);
    }
    mm_grid_free(&g);
}

/* --device reaches every run (an execution key: the run directory and its configuration are unchanged);
 * a bad name is an error naming --device */
Test(experiment_grid, device_option_reaches_every_run) {
    mm_grid g = load("rq1", 7);
    mm_exp_opts x = X;
    mm_run_opts o, plain;
    for (int i = 0; i < 7; i++) {
        x.device = "cpu";
        cr_assert_eq(mm_grid_expand(&g, i, &x, &o), 0, "%s", mm_last_error());
        cr_expect_str_eq(o.device, "cpu");
        cr_assert_eq(mm_grid_expand(&g, i, &X, &plain), 0, "%s", mm_last_error());
        cr_expect_str_eq(plain.device, "auto", "without --device a run keeps its default");
        cr_expect_str_eq(o.out_dir, plain.out_dir);
    }
    x.device = "gpu";
    cr_expect_neq(mm_grid_expand(&g, 0, &x, &o), 0);
    cr_expect(strstr(mm_last_error(), "--device") && strstr(mm_last_error(), "gpu"), "%s", mm_last_error());
    mm_grid_free(&g);
}

/* --set reaches every run after the grid's own settings; a configuration key is recorded (another run directory
 * content), an unknown key or a bad value is an error naming --set */
Test(experiment_grid, set_option_reaches_every_run) {
    mm_grid g = load("rq1", 7);
    mm_exp_opts x = X;
    x.sets[0] = "act_dtype=bf16";
    x.sets[1] = "recompute=on";
    x.n_sets = 2;
    mm_run_opts o, plain;
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(mm_grid_expand(&g, i, &x, &o), 0, "%s", mm_last_error());
        cr_assert_eq(mm_grid_expand(&g, i, &X, &plain), 0, "%s", mm_last_error());
        cr_expect_eq(o.act_dtype, MM_DTYPE_BF16);
        cr_expect_eq(plain.act_dtype, MM_DTYPE_FP32);
        cr_expect_eq(o.recompute, 1);
        cr_expect_str_eq(o.out_dir, plain.out_dir);
        cr_expect_eq(o.n_sets, plain.n_sets + 1, "act_dtype is recorded in the run's settings, recompute is not");
    }
    x.sets[1] = "warp_speed=9";
    cr_expect_neq(mm_grid_expand(&g, 0, &x, &o), 0);
    cr_expect(strstr(mm_last_error(), "--set") && strstr(mm_last_error(), "warp_speed"), "%s", mm_last_error());
    x.sets[1] = "act_dtype=fp8";
    cr_expect_neq(mm_grid_expand(&g, 0, &x, &o), 0);
    cr_expect(strstr(mm_last_error(), "--set") && strstr(mm_last_error(), "fp8"), "%s", mm_last_error());
    mm_grid_free(&g);
}
