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
 * the method plus the variant, made path-safe). */
#ifndef MMLORA_EXPERIMENT_H
#define MMLORA_EXPERIMENT_H
#include "train/run.h"

#define MM_GRID_MAX_SETS 32

typedef struct {
    char name[96], method[32], variant[128];
    int n_sets;
    char sets[MM_GRID_MAX_SETS][96];
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
} mm_grid;

/* Parses and validates a grid (every method and key is checked against mm_run_set at every scale).
 * 0, or -1 + mm_fail naming the file (and the run). */
int mm_grid_load(const char *path, mm_grid *g);
/* the same from text (path only names it in messages) */
int mm_grid_parse(const char *path, const char *text, mm_grid *g);
void mm_grid_free(mm_grid *g);

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
} mm_exp_opts;

/* Run i of the grid as mm_run_opts (scale preset, then shared sets, then the run's). 0 or -1. */
int mm_grid_expand(const mm_grid *g, int i, const mm_exp_opts *x, mm_run_opts *o);
/* The whole program: plan line, model/data checks, runs, report.  0 or -1 (mm_fail). */
int mm_experiment_run(const mm_exp_opts *x);
#endif
