/* Slurm job arrays for an experiment grid (experiments/slurm.h). */
#include "experiments/slurm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "report/sbuf.h"
#include "train/run_dir.h"
#include "util/fileio.h"
#include "util/log.h"

int mm_abs_path(const char *p, char *out, size_t cap) {
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/') p++;
    }
    int w;
    if (p[0] == '/') {
        w = snprintf(out, cap, "%s", p);
    } else {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd)) return mm_fail("cannot read the working directory");
        if (!p[0] || !strcmp(p, ".")) w = snprintf(out, cap, "%s", cwd);
        else w = snprintf(out, cap, "%s/%s", cwd, p);
    }
    if (w < 0 || (size_t)w >= cap) return mm_fail("%s: path too long once made absolute", p);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--) out[n - 1] = 0;
    return 0;
}

int mm_slurm_array_spec(const int *idx, int n, char *buf, size_t cap) {
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && idx[j + 1] == idx[j] + 1) j++;
        int k = j > i ? snprintf(buf + w, cap - w, "%s%d-%d", w ? "," : "", idx[i], idx[j])
                      : snprintf(buf + w, cap - w, "%s%d", w ? "," : "", idx[i]);
        if (k < 0 || (size_t)k >= cap - w) return -1;
        w += (size_t)k;
        i = j + 1;
    }
    return 0;
}

/* s as one shell word: bare when every character is safe, else in single quotes */
static void sb_word(mm_sbuf *b, const char *s) {
    int safe = *s != 0;
    for (const char *p = s; *p && safe; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_./:=+,-@%", *p)))
            safe = 0;
    if (safe) { mm_sb_puts(b, s); return; }
    mm_sb_puts(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') mm_sb_puts(b, "'\\''");
        else mm_sb_printf(b, "%c", *p);
    }
    mm_sb_puts(b, "'");
}

static int same_res(const mm_grid_res *a, const mm_grid_res *b) {
    return a->gpus == b->gpus && a->cpus == b->cpus && a->nproc == b->nproc && !strcmp(a->mem, b->mem) &&
           !strcmp(a->time, b->time) && !strcmp(a->partition, b->partition) && !strcmp(a->account, b->account);
}

typedef struct {
    char grid[1100], model[1100], results[1100], raw[1100], cache[1100], paper[1100], report_out[1100];
    char dir[1100], logs[1200], bin[1100], cwd[1100];
    char model_name[64], job[160];
} paths;

static int resolve(const mm_exp_opts *x, const mm_grid *g, paths *p) {
    memset(p, 0, sizeof *p);
    mm_run_model_name(x->model_dir, p->model_name, sizeof p->model_name);
    if (mm_abs_path(x->grid, p->grid, sizeof p->grid) || mm_abs_path(x->model_dir, p->model, sizeof p->model) ||
        mm_abs_path(x->results ? x->results : "results", p->results, sizeof p->results) ||
        mm_abs_path(x->raw ? x->raw : "data/raw", p->raw, sizeof p->raw) ||
        mm_abs_path(x->cache ? x->cache : "data/cache", p->cache, sizeof p->cache) ||
        mm_abs_path(x->paper ? x->paper : "paper-tables/paper", p->paper, sizeof p->paper) ||
        (x->report_out && mm_abs_path(x->report_out, p->report_out, sizeof p->report_out)) ||
        mm_abs_path(".", p->cwd, sizeof p->cwd))
        return -1;
    if (x->script_dir) {
        if (mm_abs_path(x->script_dir, p->dir, sizeof p->dir)) return -1;
    } else {
        int w = snprintf(p->dir, sizeof p->dir, "%s/%s/%s/%s/slurm", p->results, g->rq, x->dataset, p->model_name);
        if (w >= (int)sizeof p->dir) return mm_fail("%s: script directory path too long", g->path);
    }
    snprintf(p->logs, sizeof p->logs, "%s/logs", p->dir);
    if (x->mmlora) {
        if (mm_abs_path(x->mmlora, p->bin, sizeof p->bin)) return -1;
    } else {
        ssize_t n = readlink("/proc/self/exe", p->bin, sizeof p->bin - 1);
        if (n <= 0) return mm_fail("cannot find this executable (/proc/self/exe) for the scripts");
        p->bin[n] = 0;
    }
    snprintf(p->job, sizeof p->job, "mmlora-%s-%s-%s", g->rq, x->dataset, p->model_name);
    return 0;
}

/* --grid ... --cache ...: what every invocation in the scripts shares */
static void sb_common(mm_sbuf *b, const mm_exp_opts *x, const paths *p) {
    mm_sb_puts(b, "experiment --grid ");
    sb_word(b, p->grid);
    mm_sb_puts(b, " \\\n    --model ");
    sb_word(b, p->model);
    mm_sb_puts(b, " --dataset ");
    sb_word(b, x->dataset);
    mm_sb_puts(b, " --scale ");
    sb_word(b, x->scale ? x->scale : "default");
    mm_sb_puts(b, " \\\n    --results ");
    sb_word(b, p->results);
    mm_sb_puts(b, " --raw ");
    sb_word(b, p->raw);
    mm_sb_puts(b, " --cache ");
    sb_word(b, p->cache);
    if (x->device) {
        mm_sb_puts(b, " --device ");
        sb_word(b, x->device);
    }
    for (int i = 0; i < x->n_sets; i++) {
        mm_sb_puts(b, " --set ");
        sb_word(b, x->sets[i]);
    }
}

static void sb_header(mm_sbuf *b, const mm_grid *g, const mm_exp_opts *x, const paths *p, const char *what) {
    char when[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    mm_sb_printf(b, "#!/bin/bash\n# mmlora experiment %s, %s.\n", g->rq, what);
    mm_sb_printf(b, "# Written by `mmlora experiment --scheduler slurm` at %s from %s\n", when, p->grid);
    mm_sb_printf(b, "# (model %s: %s, dataset %s, scale %s); experiments/README.md \"Clusters (Slurm)\".\n", p->model_name,
                 p->model, x->dataset, x->scale ? x->scale : "default");
}

static void sb_res(mm_sbuf *b, const mm_grid_res *r, int with_compute) {
    if (with_compute) {
        mm_sb_printf(b, "#SBATCH --nodes=1\n#SBATCH --ntasks=%d\n#SBATCH --cpus-per-task=%d\n", r->nproc, r->cpus);
        mm_sb_printf(b, "#SBATCH --mem=%s\n#SBATCH --time=%s\n", r->mem, r->time);
        if (r->gpus > 0) mm_sb_printf(b, "#SBATCH --gpus=%d\n", r->gpus);
    }
    if (r->partition[0]) mm_sb_printf(b, "#SBATCH --partition=%s\n", r->partition);
    if (r->account[0]) mm_sb_printf(b, "#SBATCH --account=%s\n", r->account);
}

static void sb_prologue(mm_sbuf *b, const paths *p) {
    mm_sb_puts(b, "set -euo pipefail\nMMLORA=\"${MMLORA:-");
    for (const char *c = p->bin; *c; c++) /* inside double quotes */
        mm_sb_printf(b, "%s%c", strchr("$`\"\\}", *c) ? "\\" : "", *c);
    mm_sb_puts(b, "}\"\ncd ");
    sb_word(b, p->cwd);
    mm_sb_puts(b, "\n");
}

static int write_script(mm_sbuf *b, const char *path) {
    if (mm_sb_write(b, path)) return -1;
    if (chmod(path, 0755)) return mm_fail("%s: cannot make it executable", path);
    return 0;
}

/* one job array: the runs with group id `grp` */
static int emit_array(const mm_exp_opts *x, const mm_grid *g, const paths *p, const int *grp, const int *done,
                      const mm_grid_res *r, int k, const char *path, const char *array, const char *agg) {
    mm_sbuf b = {0};
    sb_header(&b, g, x, p, "as a Slurm job array: one array task = one run of the grid");
    mm_sb_puts(&b, "# Array task i runs run i of the grid (0-based, grid order).  --array lists the runs that were not\n"
                   "# DONE when this was written; a task whose run is DONE by then only skips it, a half-written run\n"
                   "# resumes from its last checkpoint, so re-emitting and resubmitting never redoes finished work.\n");
    mm_sb_printf(&b, "# Submit: sbatch %s\n# then the report: sbatch --dependency=afterok:<jobid> %s\n", path, agg);
    mm_sb_printf(&b, "#SBATCH --job-name=%s\n#SBATCH --array=%s\n#SBATCH --output=%s/%s-%%A_%%a.out\n", p->job, array,
                 p->logs, g->rq);
    sb_res(&b, r, 1);
    sb_prologue(&b, p);
    mm_sb_puts(&b, "case \"${SLURM_ARRAY_TASK_ID:?submit with sbatch (or set SLURM_ARRAY_TASK_ID to a run index)}\" in\n");
    for (int i = 0; i < g->n_runs; i++) {
        if (grp[i] != k) continue;
        mm_sb_printf(&b, "  %d) RUN=", i);
        sb_word(&b, g->runs[i].name);
        mm_sb_printf(&b, " ;;%s\n", done[i] ? "  # DONE when this script was written: not in --array" : "");
    }
    mm_sb_printf(&b, "  *) echo \"mmlora %s: array task $SLURM_ARRAY_TASK_ID is not a run of this script\" >&2; exit 2 ;;\n"
                     "esac\n", g->rq);
    mm_sb_printf(&b, "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-%d}\"\n", r->cpus);
    mm_sb_printf(&b, "echo \"mmlora %s: array task $SLURM_ARRAY_TASK_ID = run $RUN on $(hostname)\"\n", g->rq);
    if (r->nproc > 1)
        mm_sb_printf(&b, "# %d processes of data parallelism; MMLORA_MPIRUN='srun --mpi=pmix' launches with srun instead\n"
                         "exec ${MMLORA_MPIRUN:-mpirun -np %d --bind-to none} \"$MMLORA\" ", r->nproc, r->nproc);
    else
        mm_sb_puts(&b, "exec \"$MMLORA\" ");
    sb_common(&b, x, p);
    mm_sb_puts(&b, " \\\n    --only \"$RUN\" --no-report\n");
    int rc = write_script(&b, path);
    mm_sb_free(&b);
    return rc;
}

static int emit_aggregate(const mm_exp_opts *x, const mm_grid *g, const paths *p, const mm_grid_res *r0,
                          const char *path, mm_sbuf *cmd) {
    mm_sbuf b = {0};
    sb_header(&b, g, x, p, "the aggregate step: the report once every array task has finished");
    mm_sb_puts(&b, "# The same report the local driver renders at its end.  Fails, naming them, while runs are not DONE.\n"
                   "# After the array: sbatch --dependency=afterok:<jobid> THIS; or by hand: bash THIS\n");
    mm_sb_printf(&b, "#SBATCH --job-name=%s-report\n#SBATCH --output=%s/%s-report-%%j.out\n", p->job, p->logs, g->rq);
    mm_sb_puts(&b, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n#SBATCH --mem=4G\n#SBATCH --time=00:30:00\n");
    sb_res(&b, r0, 0);
    sb_prologue(&b, p);
    sb_common(cmd, x, p);
    mm_sb_puts(cmd, " \\\n    --paper ");
    sb_word(cmd, p->paper);
    if (p->report_out[0]) {
        mm_sb_puts(cmd, " --report-out ");
        sb_word(cmd, p->report_out);
    }
    mm_sb_puts(cmd, " --report-only");
    mm_sb_printf(&b, "exec \"$MMLORA\" %s\n", cmd->s);
    int rc = write_script(&b, path);
    mm_sb_free(&b);
    return rc;
}

int mm_slurm_emit(const mm_exp_opts *x, const mm_grid *g, const mm_run_opts *runs) {
    paths p;
    if (resolve(x, g, &p)) return -1;
    if (mm_mkdirs(p.logs)) return -1;
    const int n = g->n_runs;
    int *grp = mm_xcalloc((size_t)n, sizeof *grp), *done = mm_xcalloc((size_t)n, sizeof *done);
    int *idx = mm_xcalloc((size_t)n, sizeof *idx);
    mm_grid_res *res = mm_xcalloc((size_t)n, sizeof *res);
    int n_grp = 0, n_done = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        char d[2100];
        snprintf(d, sizeof d, "%s/DONE", runs[i].out_dir);
        done[i] = mm_file_exists(d);
        n_done += done[i];
        mm_grid_resources(g, i, x->scale, &res[i]);
        grp[i] = 0;
        for (int j = 0; j < i && !grp[i]; j++)
            if (same_res(&res[i], &res[j])) grp[i] = grp[j];
        if (!grp[i]) grp[i] = ++n_grp;
    }
    char agg[1300], sub[1300];
    snprintf(agg, sizeof agg, "%s/%s.aggregate.sh", p.dir, g->rq);
    snprintf(sub, sizeof sub, "%s/%s.submit.sh", p.dir, g->rq);
    mm_sbuf out = {0}, submit = {0}, cmd = {0};
    mm_sb_printf(&submit, "#!/bin/bash\n# mmlora experiment %s: submits the job array(s) with work left and the aggregate\n"
                          "# step (the report) with --dependency=afterok on them.  Written with the arrays.\nset -euo pipefail\n"
                          "deps=\"\"\n", g->rq);
    char first[1300] = "";
    int n_written = 0, n_pending = n - n_done;
    for (int k = 1; k <= n_grp && !rc; k++) {
        char path[1300], array[4096];
        if (k == 1) snprintf(path, sizeof path, "%s/%s.sbatch", p.dir, g->rq);
        else snprintf(path, sizeof path, "%s/%s.%d.sbatch", p.dir, g->rq, k);
        int m = 0, rep = -1;
        for (int i = 0; i < n; i++)
            if (grp[i] == k) {
                if (rep < 0) rep = i;
                if (!done[i]) idx[m++] = i;
            }
        if (!m) /* every run of this array DONE: list them all (each task would only skip its run) */
            for (int i = 0; i < n; i++)
                if (grp[i] == k) idx[m++] = i;
        if (mm_slurm_array_spec(idx, m, array, sizeof array)) { rc = mm_fail("%s: --array too long", path); break; }
        rc = emit_array(x, g, &p, grp, done, &res[rep], k, path, array, agg);
        if (rc) break;
        if (!first[0]) snprintf(first, sizeof first, "%s", path);
        n_written++;
        const mm_grid_res *r = &res[rep];
        int pending = 0;
        for (int i = 0; i < n; i++) pending += grp[i] == k && !done[i];
        mm_sb_printf(&out, "  %s: --array=%s%s; each task %d process%s x %d CPUs, %d GPUs, mem %s, time %s%s%s\n", path,
                     array, pending ? "" : " (all DONE: nothing to submit)", r->nproc, r->nproc > 1 ? "es" : "", r->cpus,
                     r->gpus, r->mem, r->time, r->partition[0] ? ", partition " : "", r->partition);
        for (int i = 0; i < n; i++)
            if (grp[i] == k)
                mm_sb_printf(&out, "    task %d: %s%s\n", i, g->runs[i].name, done[i] ? " (DONE: left out)" : "");
        if (pending)
            mm_sb_printf(&submit, "j=$(sbatch --parsable %s); j=${j%%%%;*}; deps=\"$deps:$j\"\n"
                                  "echo \"%s: job array $j (%d task%s)\"\n", path, g->rq, pending, pending > 1 ? "s" : "");
    }
    /* stale arrays of an earlier emission with more resource groups */
    for (int k = n_grp + 1; !rc && k < n_grp + 64; k++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s.%d.sbatch", p.dir, g->rq, k);
        if (k > 1 && unlink(path)) break;
    }
    if (!rc) rc = emit_aggregate(x, g, &p, &res[0], agg, &cmd);
    if (!rc) {
        mm_sb_printf(&submit, "if [ -n \"$deps\" ]; then a=$(sbatch --parsable --dependency=afterok$deps %s)\n"
                              "else a=$(sbatch --parsable %s); fi\n"
                              "echo \"%s: aggregate (report) job ${a%%%%;*}, after: ${deps#:}\"\n", agg, agg, g->rq);
        rc = write_script(&submit, sub);
    }
    if (!rc) {
        if (n_written == 1)
            printf("%s: wrote the Slurm job array %s and ran nothing (%d of %d runs to submit, %d DONE)\n", g->rq, first,
                   n_pending, n, n_done);
        else
            printf("%s: wrote %d Slurm job arrays (one per resource set) and ran nothing (%d of %d runs to submit, %d DONE)\n",
                   g->rq, n_written, n_pending, n, n_done);
        printf("  model %s (%s), dataset %s, scale %s, results %s\n", p.model_name, p.model, x->dataset,
               x->scale ? x->scale : "default", p.results);
        fputs(out.s ? out.s : "", stdout);
        if (n_pending) {
            printf("Submit the array%s and the report that waits for %s:\n  bash %s\n", n_written > 1 ? "s" : "",
                   n_written > 1 ? "them" : "it", sub);
            if (n_written == 1) {
                printf("or by hand:\n  jid=$(sbatch --parsable %s); jid=${jid%%%%;*}\n", first);
                printf("  sbatch --dependency=afterok:$jid %s\n", agg);
            } else {
                printf("or by hand: sbatch each array above that has runs to submit, then\n"
                       "  sbatch --dependency=afterok:<jobid1>:<jobid2>... %s\n", agg);
            }
        } else {
            printf("Every run is DONE: nothing to submit.  The report: bash %s\n", agg);
        }
        printf("After all tasks, %s runs (the report the local driver renders at its end):\n  %s %s\n", agg, p.bin, cmd.s);
        printf("Task logs: %s/\n", p.logs);
        fflush(stdout);
    }
    mm_sb_free(&out);
    mm_sb_free(&submit);
    mm_sb_free(&cmd);
    free(grp);
    free(done);
    free(idx);
    free(res);
    return rc;
}
