/* The experiment driver: plan line, checks, the runs with progress and ETA, then the report
 * (experiments/experiment.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "data/corpus.h"
#include "experiments/experiment.h"
#include "util/device.h"
#include "experiments/slurm.h"
#include "report/report.h"
#include "train/dist.h"
#include "train/run_dir.h"
#include "util/fileio.h"
#include "util/log.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void hms(char *b, size_t n, double s) {
    if (s < 0) s = 0;
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(b, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, n, "%02d:%02d", t / 60, t % 60);
}

static int is_dir(const char *p) {
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* the model directory must hold config.json, tokenizer.json and weights */
static int check_model(const char *dir) {
    char p[2048];
    const char *missing[3];
    int n = 0;
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!mm_file_exists(p)) missing[n++] = "config.json";
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    char q[2048];
    snprintf(q, sizeof q, "%s/model.safetensors.index.json", dir);
    if (!mm_file_exists(p) && !mm_file_exists(q)) missing[n++] = "model.safetensors";
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    if (!mm_file_exists(p)) missing[n++] = "tokenizer.json";
    if (!n) return 0;
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, missing[i]);
    }
    if (strstr(dir, "tiny"))
        return mm_fail("%s lacks %s: rebuild the embedded tiny model with `make tiny` (or `git checkout %s`)", dir, list, dir);
    const char *repo = strstr(dir, "starcoder") ? "bigcode/starcoderbase-1b (gated: accept the license first)"
                       : strstr(dir, "deepseek") ? "deepseek-ai/deepseek-coder-1.3b-base"
                                                 : "<the model's Hugging Face repo>";
    return mm_fail("%s lacks %s: download them from Hugging Face %s into %s/ as models/README.md shows "
                   "(`huggingface-cli download <repo> config.json model.safetensors tokenizer.json --local-dir %s`); "
                   "or run the embedded model: make rq1 MODEL=tiny DATASET=local",
                   dir, list, repo, dir, dir);
}

/* the local corpus is built on demand */
static int ensure_data(const mm_exp_opts *x) {
    if (strcmp(x->dataset, "local")) return 0; /* csn / xlcost: mm_run's dataset check explains what to download */
    char dir[1024], p[1200];
    snprintf(dir, sizeof dir, "%s/local", x->raw ? x->raw : "data/raw");
    snprintf(p, sizeof p, "%s/python/train.jsonl", dir);
    if (mm_file_exists(p)) return 0;
    mm_info("experiment: %s is missing; building the local corpus from installed Debian sources (~10 s)", dir);
    mm_corpus_opts co = {0};
    co.out = dir;
    co.seed = 1;
    co.progress = isatty(2) ? 1 : 2;
    mm_corpus_stats st;
    if (mm_corpus_build(&co, &st) < 0) {
        char m[1024];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("building %s: %s (did `make deps` install the source packages?)", dir, m);
    }
    return 0;
}

static void print_plan(const mm_grid *g, const mm_exp_opts *x, const char *model, int only, const char *dev_asked) {
    char key[160];
    snprintf(key, sizeof key, "%.63s/%.63s", model, x->scale);
    double exp = -1;
    for (int i = 0; i < g->n_expect; i++)
        if (!strcmp(g->expect_key[i], key)) exp = g->expect_min[i];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    /* where the runs will train: the device they resolve to (their --set device, or --device) */
    char dev[192] = "cpu", where[640];
    const mm_kernels *k = NULL;
    if (mm_device_resolve(dev_asked, dev, sizeof dev, NULL, 0, &k)) snprintf(dev, sizeof dev, "%s (unavailable)", dev_asked);
    if (!strcmp(dev, "cpu")) snprintf(where, sizeof where, "device cpu (%ld cores)", cpus);
    else snprintf(where, sizeof where, "device %s", dev);
    if (mm_dist_size() > 1) {
        size_t w = strlen(where);
        snprintf(where + w, sizeof where - w, ", data parallel over %d processes", mm_dist_size());
    }
    for (int i = 0; i < x->n_sets; i++) { /* the --set every run gets */
        size_t w = strlen(where);
        snprintf(where + w, sizeof where - w, "%s%s", i ? " " : ", --set ", x->sets[i]);
    }
    char e[1400];
    if (exp >= 0) snprintf(e, sizeof e, "expected ~%.0f min (measured on 2 CPU cores; scales with cores)", exp < 1 ? 1 : exp);
    else snprintf(e, sizeof e, "no measured time for %s in %s (the ETA appears after the first run)", key, g->path);
    if (only >= 0)
        printf("%s: model %s (%s), dataset %s, %s, scale %s, run %d of %d only (--only %s)\n", g->rq,
               model, x->model_dir, x->dataset, where, x->scale, only + 1, g->n_runs, g->runs[only].name);
    else
        printf("%s: model %s (%s), dataset %s, %s, scale %s, %d runs; %s\n", g->rq, model,
               x->model_dir, x->dataset, where, x->scale, g->n_runs, e);
    fflush(stdout);
}

static int print_file(const char *path) {
    size_t len;
    char *t = mm_read_file(path, &len);
    if (!t) return -1;
    printf("\n<!-- %s -->\n", path);
    fwrite(t, 1, len, stdout);
    free(t);
    return 0;
}

/* the tables (or figure data) this rq produces for the dataset */
static void print_tables(const mm_grid *g, const mm_exp_opts *x, const char *out, const char *model) {
    const char *stems[4] = {NULL};
    if (!strcmp(g->rq, "rq1")) stems[0] = !strcmp(x->dataset, "xlcost") ? "table3" : "table2";
    else if (!strcmp(g->rq, "rq2")) { stems[0] = "table4"; stems[1] = "figures/fig4_cb"; }
    else if (!strcmp(g->rq, "rq3")) { stems[0] = "table5"; stems[1] = "figures/fig5_sle"; }
    else if (!strcmp(g->rq, "rq4")) stems[0] = "figures/fig6_scale";
    int shown = 0;
    for (int i = 0; stems[i]; i++) {
        char p[2048];
        if (!strncmp(stems[i], "figures/", 8)) snprintf(p, sizeof p, "%s/%s_%s_%s.dat", out, stems[i], x->dataset, model);
        else snprintf(p, sizeof p, "%s/%s_%s.md", out, stems[i], x->dataset);
        if (mm_file_exists(p) && !print_file(p)) shown++;
    }
    if (!shown) printf("\n(no table for %s in %s yet: see the report's notes above)\n", g->rq, out);
    printf("\nAll tables and figures: %s/REPORT.md\n", out);
}

/* --report-only: every run must be DONE (the aggregate step after the cluster's array tasks) */
static int check_all_done(const mm_grid *g, const mm_run_opts *runs) {
    char list[2048] = "";
    size_t w = 0;
    int missing = 0;
    for (int i = 0; i < g->n_runs; i++) {
        char p[2100];
        snprintf(p, sizeof p, "%s/DONE", runs[i].out_dir);
        if (mm_file_exists(p)) continue;
        missing++;
        if (w < sizeof list - 1) w += (size_t)snprintf(list + w, sizeof list - w, "%s%s", w ? ", " : "", g->runs[i].name);
    }
    if (!missing) return 0;
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", runs[0].out_dir);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    return mm_fail("%s: --report-only: %d of %d runs are not DONE (%s) under %s: their tasks failed or have not "
                   "finished (task logs: %s/slurm/logs/); resubmit the array (re-emit first: DONE runs are left out), "
                   "then report", g->path, missing, g->n_runs, list, parent, parent);
}

static int render_report(const mm_grid *g, const mm_exp_opts *x, const char *model) {
    char out[1200];
    if (x->report_out) snprintf(out, sizeof out, "%s", x->report_out);
    else snprintf(out, sizeof out, "%s/tables/%s-%s", x->results, x->dataset, model);
    mm_report_opts ro = {.results = x->results, .out = out, .paper = x->paper ? x->paper : "paper-tables/paper",
                         .model = model, .dataset = x->dataset, .render = 1};
    if (!is_dir(ro.paper)) ro.paper = "paper-tables/paper";
    if (mm_report_run(&ro)) return -1;
    print_tables(g, x, out, model);
    return 0;
}

int mm_experiment_run(const mm_exp_opts *x0) {
    mm_exp_opts x = *x0;
    if (!x.results) x.results = "results";
    if (!x.scale) x.scale = "default";
    if (!x.scheduler) x.scheduler = "local";
    const int slurm = !strcmp(x.scheduler, "slurm");
    if (!slurm && strcmp(x.scheduler, "local"))
        return mm_fail("--scheduler %s: expected local (run here) or slurm (write a Slurm job array)", x.scheduler);
    if ((slurm && (x.only || x.report_only)) || (x.only && x.report_only))
        return mm_fail("--scheduler slurm, --only and --report-only exclude one another");
    mm_grid g;
    if (mm_grid_load(x.grid, &g)) return -1;
    char model[64];
    mm_run_model_name(x.model_dir, model, sizeof model);
    /* every run expanded (and so validated) before any work */
    mm_run_opts *runs = mm_xcalloc((size_t)g.n_runs, sizeof *runs);
    int rc = 0, only = -1;
    for (int i = 0; i < g.n_runs && !rc; i++) rc = mm_grid_expand(&g, i, &x, &runs[i]);
    if (!rc && x.only && (only = mm_grid_find(&g, x.only)) < 0) rc = -1;
    if (!rc && (x.plan_only || !slurm) && mm_dist_rank() == 0) print_plan(&g, &x, model, only, runs[only >= 0 ? only : 0].device);
    if (!rc && x.plan_only) {
        for (int i = 0; i < g.n_runs && mm_dist_rank() == 0; i++)
            printf("  %2d. %-10s %-28s -> %s\n", i + 1, runs[i].method.name, g.runs[i].variant[0] ? g.runs[i].variant : "-",
                   runs[i].out_dir);
        goto out;
    }
    if (!rc && x.report_only) {
        rc = check_all_done(&g, runs);
        if (!rc) rc = render_report(&g, &x, model);
        goto out;
    }
    if (!rc) rc = check_model(x.model_dir);
    if (!rc && slurm) {
        rc = mm_slurm_emit(&x, &g, runs);
        goto out;
    }
    /* under mpirun, rank 0 builds missing data first (the other ranks then find it) */
    if (!rc && mm_dist_rank() == 0) rc = ensure_data(&x);
    if (mm_dist_size() > 1) mm_dist_barrier();
    if (!rc && mm_dist_rank() != 0) rc = ensure_data(&x);
    const int lo = only >= 0 ? only : 0, hi = only >= 0 ? only + 1 : g.n_runs, total = hi - lo;
    double t0 = now_s(), spent = 0;
    int done = 0, executed = 0;
    for (int i = lo; i < hi && !rc; i++) {
        char p[2100], el[32], per[32], eta[32];
        snprintf(p, sizeof p, "%s/DONE", runs[i].out_dir);
        int complete = mm_file_exists(p);
        hms(el, sizeof el, now_s() - t0);
        if (executed) {
            double avg = spent / executed;
            hms(per, sizeof per, avg);
            hms(eta, sizeof eta, avg * (hi - i));
        } else {
            snprintf(per, sizeof per, "-");
            snprintf(eta, sizeof eta, "unknown");
        }
        fprintf(stderr, "== experiment %s: run %d/%d %s (%s%s%s): %d done, elapsed %s, %s per run so far, ETA %s%s\n",
                g.rq, i + 1, g.n_runs, g.runs[i].name, runs[i].method.name, g.runs[i].variant[0] ? ", " : "",
                g.runs[i].variant, done, el, per, eta, complete ? " [already DONE: skipped]" : "");
        double ts = now_s();
        /* a DONE run returns at once from mm_run, after checking that its run.json holds this configuration */
        if (mm_run(&runs[i], MM_PHASE_ALL)) {
            char m[1024];
            snprintf(m, sizeof m, "%s", mm_last_error());
            rc = mm_fail("%s: run %d ('%s') in %s: %s (rerun the same command to resume)", g.path, i + 1, g.runs[i].name,
                         runs[i].out_dir, m);
            break;
        }
        done++;
        if (complete) continue;
        spent += now_s() - ts;
        executed++;
    }
    if (!rc) {
        char el[32];
        hms(el, sizeof el, now_s() - t0);
        fprintf(stderr, "== experiment %s: %d/%d runs complete in %s (%d executed now)\n", g.rq, done, total, el, executed);
    }
    if (!rc && !x.no_report && mm_dist_rank() == 0) rc = render_report(&g, &x, model);
out:
    free(runs);
    mm_grid_free(&g);
    return rc;
}
