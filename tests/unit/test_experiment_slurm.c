/* Cluster runs (core/experiments/slurm.c): the grid's "resources", the Slurm job array the driver writes
 * with --scheduler slurm, --only, --report-only, and one array task executed here with bash on the tiny
 * synthetic world (run_fixture.h): sbatch is not needed, #SBATCH lines are comments to bash. */
#include <stdio.h>
#include <sys/wait.h>
#include "experiments/experiment.h"
#include "experiments/slurm.h"
#include "run_fixture.h"
#include "train/run_dir.h"
#include "test_util.h"

static char g_root[256];

static void world(void) { cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-slurm"), 0, "%s", mm_last_error()); }
static void teardown(void) { rf_world_remove(g_root); }

TestSuite(experiment_slurm, .init = world, .fini = teardown, .timeout = 300);

/* a three-run grid (smoke-cheap methods) in the world; returns its path */
static const char *write_grid(const char *extra_run_c) {
    static char path[512];
    snprintf(path, sizeof path, "%s/grid.json", g_root);
    char txt[2048];
    int n = snprintf(txt, sizeof txt,
                     "{\"rq\": \"rqs\", \"set\": {\"seed\": 3},\n"
                     " \"resources\": {\"cpus\": 3, \"mem\": \"5G\", \"time\": \"01:30:00\", \"partition\": \"batch\",\n"
                     "               \"smoke\": {\"time\": \"00:20:00\"}},\n"
                     " \"runs\": [{\"name\": \"a\", \"method\": \"lora-mix\"},\n"
                     "          {\"name\": \"b\", \"method\": \"lora-mix\", \"set\": {\"rank\": 4}},\n"
                     "          {\"name\": \"c\", \"method\": \"lora-mix\", \"set\": {\"rank\": 2}%s}]}\n",
                     extra_run_c ? extra_run_c : "");
    cr_assert_eq(mm_write_file_atomic(path, txt, (size_t)n), 0, "%s", mm_last_error());
    return path;
}

typedef struct {
    char model[512], raw[512], cache[512], res[512], out[512], dir[600];
    mm_exp_opts x;
} world_opts;

static void opts(world_opts *w, const char *grid) {
    snprintf(w->model, sizeof w->model, "%s/model", g_root);
    snprintf(w->raw, sizeof w->raw, "%s/raw", g_root);
    snprintf(w->cache, sizeof w->cache, "%s/cache", g_root);
    snprintf(w->res, sizeof w->res, "%s/results", g_root);
    snprintf(w->out, sizeof w->out, "%s/tables", g_root);
    snprintf(w->dir, sizeof w->dir, "%s/rqs/csn/model/slurm", w->res);
    w->x = (mm_exp_opts){.grid = grid, .model_dir = w->model, .dataset = "csn", .scale = "smoke", .results = w->res,
                         .raw = w->raw, .cache = w->cache, .report_out = w->out, .scheduler = "slurm",
                         .mmlora = "build/mmlora"};
}

static char *slurp(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t n;
    char *t = mm_read_file(p, &n);
    cr_assert(t, "%s was not written: %s", p, mm_last_error());
    return t;
}

#define HAS(t, s) cr_expect(strstr((t), (s)), "lacks '%s':\n%s", (s), (t))
#define LACKS(t, s) cr_expect(!strstr((t), (s)), "has '%s':\n%s", (s), (t))

static int sh(const char *fmt, const char *a, const char *b) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void mark_done(const char *res, const char *run) {
    char p[1024];
    snprintf(p, sizeof p, "%s/rqs/csn/model/%s", res, run);
    cr_assert_eq(mm_mkdirs(p), 0);
    snprintf(p, sizeof p, "%s/rqs/csn/model/%s/DONE", res, run);
    cr_assert_eq(mm_write_file_atomic(p, "", 0), 0);
}

Test(experiment_slurm, array_spec_compresses_ranges) {
    char b[64];
    const int a[] = {0, 1, 2, 4, 6, 7};
    cr_assert_eq(mm_slurm_array_spec(a, 6, b, sizeof b), 0);
    cr_expect_str_eq(b, "0-2,4,6-7");
    cr_assert_eq(mm_slurm_array_spec(a + 3, 1, b, sizeof b), 0);
    cr_expect_str_eq(b, "4");
    cr_expect_eq(mm_slurm_array_spec(a, 6, b, 4), -1, "does not fit");
    char p[256], cwd[200];
    cr_assert(getcwd(cwd, sizeof cwd));
    cr_assert_eq(mm_abs_path("./models/tiny/", p, sizeof p), 0);
    char want[256];
    snprintf(want, sizeof want, "%s/models/tiny", cwd);
    cr_expect_str_eq(p, want);
    cr_assert_eq(mm_abs_path("/x/y", p, sizeof p), 0);
    cr_expect_str_eq(p, "/x/y");
}

Test(experiment_slurm, script_has_the_array_one_case_per_run_resources_and_absolute_paths) {
    world_opts w;
    opts(&w, write_grid(NULL));
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char *s = slurp(w.dir, "rqs.sbatch");
    HAS(s, "#!/bin/bash\n");
    HAS(s, "#SBATCH --array=0-2\n");
    HAS(s, "#SBATCH --job-name=mmlora-rqs-csn-model\n");
    HAS(s, "#SBATCH --ntasks=1\n");
    HAS(s, "#SBATCH --cpus-per-task=3\n");
    HAS(s, "#SBATCH --mem=5G\n");
    HAS(s, "#SBATCH --time=00:20:00\n"); /* the grid's smoke object overrides its 01:30:00 */
    HAS(s, "#SBATCH --partition=batch\n");
    LACKS(s, "--gpus");
    LACKS(s, "mpirun");
    HAS(s, "  0) RUN=a ;;\n");
    HAS(s, "  1) RUN=b ;;\n");
    HAS(s, "  2) RUN=c ;;\n");
    LACKS(s, "  3) RUN=");
    HAS(s, "--only \"$RUN\" --no-report");
    /* absolute paths: the binary and the paper tables were given relative */
    char cwd[300], want[700];
    cr_assert(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "MMLORA=\"${MMLORA:-%s/build/mmlora}\"", cwd);
    HAS(s, want);
    snprintf(want, sizeof want, "\ncd %s\n", cwd);
    HAS(s, want);
    snprintf(want, sizeof want, "--output=%s/logs/rqs-%%A_%%a.out", w.dir);
    HAS(s, want);
    const char *flags[] = {"--grid ", "--model ", "--results ", "--raw ", "--cache ", "--output="};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        const char *f = strstr(s, flags[i]);
        cr_expect(f && f[strlen(flags[i])] == '/', "%s is not followed by an absolute path:\n%s", flags[i], s);
    }
    char *a = slurp(w.dir, "rqs.aggregate.sh"), *sub = slurp(w.dir, "rqs.submit.sh");
    HAS(a, "--report-only");
    snprintf(want, sizeof want, "--paper %s/paper-tables/paper", cwd);
    HAS(a, want);
    HAS(a, "#SBATCH --partition=batch\n");
    HAS(sub, "--dependency=afterok$deps");
    HAS(sub, "rqs.sbatch");
    /* bash -n: every script parses */
    const char *names[] = {"rqs.sbatch", "rqs.aggregate.sh", "rqs.submit.sh"};
    for (int i = 0; i < 3; i++) cr_expect_eq(sh("bash -n '%s/%s'", w.dir, names[i]), 0, "%s does not parse", names[i]);
    snprintf(want, sizeof want, "%s/logs", w.dir);
    struct stat st;
    cr_expect(!stat(want, &st) && S_ISDIR(st.st_mode), "the log directory must exist before sbatch");
    /* nothing ran */
    snprintf(want, sizeof want, "%s/rqs/csn/model/a", w.res);
    cr_expect(stat(want, &st), "a run directory was created");
    free(s);
    free(a);
    free(sub);
}

Test(experiment_slurm, done_runs_are_left_out_of_the_array) {
    world_opts w;
    opts(&w, write_grid(NULL));
    mark_done(w.res, "b");
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char *s = slurp(w.dir, "rqs.sbatch");
    HAS(s, "#SBATCH --array=0,2\n");
    HAS(s, "  1) RUN=b ;;  # DONE when this script was written: not in --array\n");
    HAS(s, "  0) RUN=a ;;\n");
    free(s);
    /* every run DONE: the array lists them all (each task would only skip) and submit.sh submits no array */
    mark_done(w.res, "a");
    mark_done(w.res, "c");
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    s = slurp(w.dir, "rqs.sbatch");
    HAS(s, "#SBATCH --array=0-2\n");
    char *sub = slurp(w.dir, "rqs.submit.sh");
    LACKS(sub, "rqs.sbatch");
    HAS(sub, "rqs.aggregate.sh");
    free(s);
    free(sub);
}

Test(experiment_slurm, per_run_resources_make_their_own_array) {
    world_opts w;
    opts(&w, write_grid(", \"resources\": {\"nproc\": 2, \"gpus\": 1, \"smoke\": {\"mem\": \"9G\"}}"));
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char *s1 = slurp(w.dir, "rqs.sbatch"), *s2 = slurp(w.dir, "rqs.2.sbatch"), *sub = slurp(w.dir, "rqs.submit.sh");
    HAS(s1, "#SBATCH --array=0-1\n");
    HAS(s1, "#SBATCH --mem=5G\n");
    LACKS(s1, "  2) RUN=");
    HAS(s2, "#SBATCH --array=2\n");
    HAS(s2, "  2) RUN=c ;;\n");
    LACKS(s2, "  0) RUN=");
    HAS(s2, "#SBATCH --mem=9G\n");
    HAS(s2, "#SBATCH --ntasks=2\n");
    HAS(s2, "#SBATCH --gpus=1\n");
    HAS(s2, "#SBATCH --cpus-per-task=3\n");
    HAS(s2, "${MMLORA_MPIRUN:-mpirun -np 2 --bind-to none} \"$MMLORA\"");
    HAS(sub, "rqs.sbatch");
    HAS(sub, "rqs.2.sbatch");
    cr_expect_eq(sh("bash -n '%s/%s'", w.dir, "rqs.2.sbatch"), 0);
    free(s1);
    free(s2);
    free(sub);
    /* the same grid without the override: one array again, and the stale second one is removed */
    opts(&w, write_grid(NULL));
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char p[1024];
    snprintf(p, sizeof p, "%s/rqs.2.sbatch", w.dir);
    cr_expect(!mm_file_exists(p), "stale %s", p);
}

static void expect_error(const char *txt, const char *a, const char *b) {
    mm_grid g;
    cr_assert_eq(mm_grid_parse("experiments/bad/grid.json", txt, &g), -1, "accepted: %s", txt);
    const char *e = mm_last_error();
    cr_expect(strstr(e, "experiments/bad/grid.json"), "error does not name the file: %s", e);
    cr_expect(strstr(e, a), "error lacks '%s': %s", a, e);
    if (b) cr_expect(strstr(e, b), "error lacks '%s': %s", b, e);
}

#define GRID(res, runres) "{\"rq\": \"rq1\", \"resources\": " res ", \"runs\": [{\"method\": \"mmlora\"" runres "}]}"
Test(experiment_slurm, bad_resources_name_the_grid_file_and_the_run) {
    expect_error(GRID("{\"gpu\": 1}", ""), "unknown key 'gpu'", "resources");
    expect_error(GRID("{\"gpus\": -1}", ""), "\"gpus\" must be an integer", "got -1");
    expect_error(GRID("{\"gpus\": 1.5}", ""), "\"gpus\"", NULL);
    expect_error(GRID("{\"cpus\": 0}", ""), "\"cpus\"", NULL);
    expect_error(GRID("{\"nproc\": \"2\"}", ""), "\"nproc\"", NULL);
    expect_error(GRID("{\"time\": \"2h\"}", ""), "\"time\" must be", "2h");
    expect_error(GRID("{\"time\": \"25:00\"}", ""), "\"time\"", NULL);
    expect_error(GRID("{\"time\": \"01:60:00\"}", ""), "\"time\"", NULL);
    expect_error(GRID("{\"time\": \"1-24:00:00\"}", ""), "\"time\"", NULL);
    expect_error(GRID("{\"time\": \"00:00:00\"}", ""), "\"time\"", NULL);
    expect_error(GRID("{\"mem\": \"lots\"}", ""), "\"mem\"", NULL);
    expect_error(GRID("{\"mem\": \"16GB\"}", ""), "\"mem\"", NULL);
    expect_error(GRID("{\"partition\": \"a b\"}", ""), "\"partition\"", NULL);
    expect_error(GRID("{\"full\": {\"smoke\": {}}}", ""), "unknown key 'smoke'", NULL);
    expect_error(GRID("{\"full\": 3}", ""), "\"full\" must be an object", NULL);
    expect_error(GRID("[1]", ""), "\"resources\" must be an object", NULL);
    expect_error(GRID("{}", ", \"resources\": {\"gpus\": -2}"), "run 1 ('mmlora')", "\"gpus\"");
    expect_error(GRID("{}", ", \"resources\": {\"walltime\": \"01:00:00\"}"), "run 1 ('mmlora')", "unknown key 'walltime'");
    expect_error("{\"rq\": \"rq1\", \"runs\": [{\"name\": \"slurm\", \"method\": \"mmlora\"}]}", "reserved", NULL);
    /* good ones, and the precedence of defaults, grid, grid scale object, run, run scale object */
    mm_grid g;
    cr_assert_eq(mm_grid_parse("g.json", GRID("{\"mem\": 2048, \"time\": \"1-02:03:04\", \"full\": {\"gpus\": 2}}",
                                              ", \"resources\": {\"account\": \"acc\", \"full\": {\"cpus\": 7}}"),
                               &g),
                 0, "%s", mm_last_error());
    mm_grid_res r;
    mm_grid_resources(&g, 0, "full", &r);
    cr_expect_str_eq(r.mem, "2048M");
    cr_expect_str_eq(r.time, "1-02:03:04");
    cr_expect_eq(r.gpus, 2);
    cr_expect_eq(r.cpus, 7);
    cr_expect_str_eq(r.account, "acc");
    cr_expect_eq(r.nproc, 1);
    mm_grid_resources(&g, 0, "smoke", &r);
    cr_expect_eq(r.gpus, 0);
    cr_expect_eq(r.cpus, 2, "the smoke default");
    mm_grid_free(&g);
}

Test(experiment_slurm, rq_grids_carry_resources) {
    const char *rq[] = {"rq1", "rq2", "rq3", "rq4"};
    for (int i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof p, "experiments/%s/grid.json", rq[i]);
        mm_grid g;
        cr_assert_eq(mm_grid_load(p, &g), 0, "%s", mm_last_error());
        cr_expect(g.res[0].set & MM_RES_TIME, "%s has no resources.time", p);
        cr_expect(g.res[3].set & MM_RES_CPUS, "%s has no resources.full.cpus", p);
        mm_grid_res a, b;
        mm_grid_resources(&g, 0, "default", &a);
        mm_grid_resources(&g, 0, "full", &b);
        cr_expect(b.cpus > a.cpus, "%s: full scale asks for more cores than default", p);
        mm_grid_free(&g);
    }
}

Test(experiment_slurm, only_runs_exactly_that_run_and_unknown_names_are_listed) {
    world_opts w;
    opts(&w, write_grid(NULL));
    w.x.scheduler = "local";
    w.x.only = "nope";
    cr_expect_eq(mm_experiment_run(&w.x), -1);
    const char *e = mm_last_error();
    cr_expect(strstr(e, "grid.json") && strstr(e, "'nope'") && strstr(e, "a, b, c"), "%s", e);
    w.x.only = "b";
    w.x.no_report = 1;
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/rqs/csn/model/b/DONE", w.res);
    cr_expect(mm_file_exists(p), "%s missing", p);
    snprintf(p, sizeof p, "%s/rqs/csn/model/a", w.res);
    cr_expect(stat(p, &st), "run a was touched");
    snprintf(p, sizeof p, "%s/rqs/csn/model/c", w.res);
    cr_expect(stat(p, &st), "run c was touched");
    cr_expect(stat(w.out, &st), "--no-report rendered a report");
    /* --report-only while a and c are missing: fails naming them */
    w.x.only = NULL;
    w.x.report_only = 1;
    cr_expect_eq(mm_experiment_run(&w.x), -1);
    e = mm_last_error();
    cr_expect(strstr(e, "2 of 3 runs are not DONE") && strstr(e, "a, c"), "%s", e);
    /* option conflicts and a bad scheduler */
    w.x.report_only = 0;
    w.x.scheduler = "pbs";
    cr_expect_eq(mm_experiment_run(&w.x), -1);
    cr_expect(strstr(mm_last_error(), "--scheduler pbs"), "%s", mm_last_error());
    w.x.scheduler = "slurm";
    w.x.only = "a";
    cr_expect_eq(mm_experiment_run(&w.x), -1);
}

/* The cluster flow, here: write the array, run each task's body with bash and SLURM_ARRAY_TASK_ID, then the
 * aggregate step, which renders the report. */
Test(experiment_slurm, array_tasks_and_the_aggregate_run_locally_with_bash) {
    if (!mm_file_exists("build/mmlora")) cr_skip_test("build/mmlora is not built (make build/mmlora)");
    world_opts w;
    opts(&w, write_grid(NULL));
    char p[1024];
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    /* task 1 (run b), as Slurm would start it, from another directory */
    cr_expect_eq(sh("cd / && SLURM_ARRAY_TASK_ID=1 bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.sbatch"), 0);
    snprintf(p, sizeof p, "%s/rqs/csn/model/b/DONE", w.res);
    cr_expect(mm_file_exists(p), "task 1 did not finish run b");
    snprintf(p, sizeof p, "%s/rqs/csn/model/a", w.res);
    struct stat st;
    cr_expect(stat(p, &st), "task 1 touched run a");
    /* the aggregate fails while a and c are missing */
    cr_expect_neq(sh("cd / && bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.aggregate.sh"), 0);
    /* re-emitting after b finished leaves it out */
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char *s = slurp(w.dir, "rqs.sbatch");
    HAS(s, "#SBATCH --array=0,2\n");
    free(s);
    cr_expect_eq(sh("cd / && SLURM_ARRAY_TASK_ID=0 bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.sbatch"), 0);
    cr_expect_eq(sh("cd / && SLURM_ARRAY_TASK_ID=2 bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.sbatch"), 0);
    /* a task of a DONE run only skips; an index outside the grid fails */
    cr_expect_eq(sh("cd / && SLURM_ARRAY_TASK_ID=1 bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.sbatch"), 0);
    cr_expect_eq(sh("cd / && SLURM_ARRAY_TASK_ID=7 bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.sbatch"), 2);
    cr_expect_neq(sh("cd / && env -u SLURM_ARRAY_TASK_ID bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.sbatch"), 0);
    /* everything DONE: the aggregate renders the report */
    cr_expect_eq(sh("cd / && bash '%s/%s' > /dev/null 2>&1", w.dir, "rqs.aggregate.sh"), 0);
    snprintf(p, sizeof p, "%s/REPORT.md", w.out);
    cr_expect(mm_file_exists(p), "the aggregate wrote no %s", p);
    /* the report does not take the slurm directory for a run (no "incomplete" note naming it) */
    cr_expect_neq(sh("grep -rl 'model/slurm' '%s' %s", w.out, "> /dev/null 2>&1"), 0, "the report lists the slurm directory");
}

/* a run started here with a relative model path resumes in a cluster task that names it absolutely */
Test(experiment_slurm, run_json_takes_relative_and_absolute_model_dirs_as_one) {
    char cwd[300], rel[1024], abs[600], out[600];
    cr_assert(getcwd(cwd, sizeof cwd));
    size_t w = 0;
    for (const char *c = cwd; *c; c++)
        if (*c == '/') w += (size_t)snprintf(rel + w, sizeof rel - w, "../");
    snprintf(rel + w, sizeof rel - w, "%s/model", g_root + 1); /* g_root is /tmp/...: relative to the cwd */
    snprintf(abs, sizeof abs, "%s/model", g_root);
    snprintf(out, sizeof out, "%s/rundir", g_root);
    cr_assert_eq(mm_mkdirs(out), 0);
    cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject(), *c = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "model_dir", rel);
    cJSON_AddStringToObject(b, "model_dir", abs);
    cJSON_AddStringToObject(c, "model_dir", "models/tiny");
    cr_assert_eq(mm_run_json_check_or_write(out, a), 0, "%s", mm_last_error());
    cr_expect_eq(mm_run_json_check_or_write(out, b), 0, "%s", mm_last_error());
    cr_expect_eq(mm_run_json_check_or_write(out, c), -1, "another model directory must not match");
    cr_expect(strstr(mm_last_error(), "model_dir"), "%s", mm_last_error());
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* --device and --set reach every task's command line (each task runs `mmlora experiment --only RUN`) */
Test(experiment_slurm, device_and_sets_reach_the_tasks) {
    world_opts w;
    opts(&w, write_grid(NULL));
    w.x.device = "cpu";
    w.x.sets[0] = "recompute=on";
    w.x.sets[1] = "act_dtype=bf16";
    w.x.n_sets = 2;
    cr_assert_eq(mm_experiment_run(&w.x), 0, "%s", mm_last_error());
    char *s = slurp(w.dir, "rqs.sbatch");
    HAS(s, " --device cpu --set recompute=on --set act_dtype=bf16");
    free(s);
}
