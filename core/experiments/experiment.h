/* Experiment programs (DESIGN.md §6-7): a grid spec experiments/<rq>/grid.json lists runs (method,
 * variant, --set overrides) plus shared settings; the driver expands it into mm_run_opts, runs each
 * with mm_run (a DONE run is skipped, a half-written one resumes) under
 * <results>/<rq>/<dataset>/<model>/<run>/, prints progress with an ETA, and ends with the report's
 * tables for that rq/model/dataset.
 *
 * grid.json:
 *   {"rq": "rq1", "description": "...",
 *    "set": {"key": value, ...},                        shared overrides (after --scale's preset)
 *    "expected_minutes": {"tiny/default": 18, ...},     optional, for the plan line
 *    "runs": [{"name": "mmlora", "method": "mmlora", "variant": "", "set": {"key": value}}, ...]}
 * "set" may also be a list of "key=value" strings.  name and variant are optional (name defaults to
 * the method plus the variant, made path-safe).
 *
 * Optional "resources" (top level, and per run overriding key by key) describe one run for a cluster
 * scheduler (core/experiments/slurm.h): {"gpus": 0, "cpus": 4, "mem": "8G", "time": "02:00:00",
 * "partition": "p", "account": "a", "nproc": 1, "smoke"|"default"|"full": {the same keys, for that
 * scale only}}.  Precedence: the scale's defaults (mm_grid_res_defaults), the grid's keys, the grid's
 * scale object, the run's keys, the run's scale object. */
#ifndef MMLORA_EXPERIMENT_H
#define MMLORA_EXPERIMENT_H
#include "train/run.h"

#define MM_GRID_MAX_SETS 32

/* cluster resources of one run; `set` has a bit MM_RES_<KEY> for each key given */
enum { MM_RES_GPUS = 1, MM_RES_CPUS = 2, MM_RES_MEM = 4, MM_RES_TIME = 8, MM_RES_PARTITION = 16, MM_RES_ACCOUNT = 32,
       MM_RES_NPROC = 64 };
enum { MM_EXP_MAX_SETS = 8 };
typedef struct {
    int set;
    int gpus;           /* GPUs per run (all its processes together), >= 0 */
    int cpus;           /* CPU cores per process (--cpus-per-task), >= 1 */
    int nproc;          /* processes per run (MPI data parallelism), >= 1 */
    char mem[24];       /* memory per run (--mem): "<n>[K|M|G|T]" */
    char time[24];      /* wall-clock limit: "HH:MM:SS" or "D-HH:MM:SS" */
    char partition[64], account[64];
} mm_grid_res;
/* [0] every scale, [1] smoke, [2] default, [3] full */
#define MM_GRID_RES_LEVELS 4

typedef struct {
    char name[96], method[32], variant[128];
    int n_sets;
    char sets[MM_GRID_MAX_SETS][96];
    mm_grid_res res[MM_GRID_RES_LEVELS];
} mm_grid_run;

typedef struct {
    char path[1024];
    char rq[16];
    char description[512];
    int n_shared;
    char shared[MM_GRID_MAX_SETS][96];
    int n_expect;
    char expect_key[16][48];
    double expect_min[16];
    int n_runs;
    mm_grid_run *runs;
    mm_grid_res res[MM_GRID_RES_LEVELS];
} mm_grid;

/* Parses and validates a grid (every method and key is checked against mm_run_set at every scale).
 * 0, or -1 + mm_fail naming the file (and the run). */
int mm_grid_load(const char *path, mm_grid *g);
/* the same from text (path only names it in messages) */
int mm_grid_parse(const char *path, const char *text, mm_grid *g);
void mm_grid_free(mm_grid *g);
/* The scale's default resources (experiments/README.md "Clusters (Slurm)"); scale smoke|default|full. */
void mm_grid_res_defaults(const char *scale, mm_grid_res *r);
/* Run i's resources at that scale, every key filled (defaults, then the grid's and the run's keys). */
void mm_grid_resources(const mm_grid *g, int i, const char *scale, mm_grid_res *r);
/* Index of the run named `name`, or -1 + mm_fail naming the grid file and listing the names. */
int mm_grid_find(const mm_grid *g, const char *name);

typedef struct {
    const char *grid;       /* experiments/rq1/grid.json */
    const char *model_dir;  /* models/tiny */
    const char *dataset;    /* local, csn, xlcost */
    const char *scale;      /* smoke, default, full */
    const char *results;    /* results root (default "results") */
    const char *raw;        /* raw data root (default "data/raw") */
    const char *cache;      /* cache root (default "data/cache") */
    const char *report_out; /* report output (default "<results>/tables/<dataset>-<model>") */
    const char *paper;      /* the paper's numbers (default "paper-tables/paper") */
    int plan_only;          /* print the plan line and the runs, do nothing */
    int no_report;
    const char *only;       /* run only the run of this name (the others are neither run nor checked for DONE) */
    int report_only;        /* run nothing: every run must be DONE; render the report (the aggregate step) */
    const char *scheduler;  /* "local" (default: run here) or "slurm" (write a job array, run nothing) */
    const char *script_dir; /* slurm: where the scripts go (default <results>/<rq>/<dataset>/<model>/slurm) */
    const char *mmlora;     /* slurm: the mmlora binary the scripts call (default: this executable) */
    const char *device;     /* cpu|cuda|auto for every run (default: the runs' own, auto); an execution key */
    /* --set key=value for every run, after the grid's own (e.g. recompute=on, dtype=bf16, act_dtype=bf16 to fit a
     * GPU); configuration keys (dtype, act_dtype, lr, ...) make other runs: a finished run is not reused for them */
    const char *sets[MM_EXP_MAX_SETS];
    int n_sets;
} mm_exp_opts;

/* Run i of the grid as mm_run_opts (scale preset, then shared sets, then the run's). 0 or -1. */
int mm_grid_expand(const mm_grid *g, int i, const mm_exp_opts *x, mm_run_opts *o);
/* The whole program: plan line, model/data checks, runs, report.  0 or -1 (mm_fail). */
int mm_experiment_run(const mm_exp_opts *x);
#endif
