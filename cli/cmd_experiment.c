/* mmlora experiment: run an experiment program (experiments/<rq>/grid.json) end to end. */
#include <stdio.h>
#include <string.h>
#include "experiments/experiment.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f, "usage: mmlora experiment --grid experiments/rq1/grid.json --model DIR --dataset csn|xlcost|local\n"
               "                         [--scale smoke|default|full] [--results DIR] [--raw DIR] [--cache DIR]\n"
               "                         [--report-out DIR] [--paper DIR] [--plan] [--no-report] [--device cpu|cuda|auto]\n"
               "                         [--set key=value ...]\n"
               "                         [--only RUN | --report-only | --scheduler local|slurm [--script-dir DIR]]\n\n"
               "Expands the grid (every method and --set key is checked first), runs each run with `mmlora run`'s\n"
               "machinery into RESULTS/<rq>/<dataset>/<model>/<run>/ (a DONE run is skipped, an interrupted one\n"
               "resumes), prints progress with an ETA, then renders the report for that model/dataset (default\n"
               "RESULTS/tables/<dataset>-<model>/) and prints this rq's table.  --plan: only the plan and run list.\n"
               "--only RUN: only the run of that name (the grid's \"name\").  --report-only: run nothing; every run must\n"
               "be DONE; render the report.  --scheduler slurm: run nothing; write a Slurm job array (one task per run,\n"
               "resources from the grid's \"resources\"), the aggregate step and a submit script into --script-dir\n"
               "(default RESULTS/<rq>/<dataset>/<model>/slurm/) and print how to submit (experiments/README.md).\n"
               "--device: where every run trains and generates (default auto: a GPU when one is usable).  Under\n"
               "`mpirun -np N mmlora experiment ...` every run is data parallel over the N processes.\n"
               "--set key=value (up to 8): for every run, after the grid's own settings: what fits a model on a GPU\n"
               "(recompute=on, micro_batch=N, dtype=bf16, act_dtype=bf16; see `mmlora run --help`).  dtype, act_dtype\n"
               "and the training keys change the runs: a finished run made without them is not reused (an error).\n");
}

int cmd_experiment(int argc, char **argv) {
    mm_exp_opts x = {.scale = "default", .results = "results"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--plan")) x.plan_only = 1;
        else if (!strcmp(a, "--no-report")) x.no_report = 1;
        else if (!strcmp(a, "--report-only")) x.report_only = 1;
        else if (!strcmp(a, "--only") && has) x.only = argv[++i];
        else if (!strcmp(a, "--scheduler") && has) x.scheduler = argv[++i];
        else if (!strcmp(a, "--script-dir") && has) x.script_dir = argv[++i];
        else if (!strcmp(a, "--grid") && has) x.grid = argv[++i];
        else if (!strcmp(a, "--model") && has) x.model_dir = argv[++i];
        else if (!strcmp(a, "--dataset") && has) x.dataset = argv[++i];
        else if (!strcmp(a, "--scale") && has) x.scale = argv[++i];
        else if (!strcmp(a, "--results") && has) x.results = argv[++i];
        else if (!strcmp(a, "--raw") && has) x.raw = argv[++i];
        else if (!strcmp(a, "--cache") && has) x.cache = argv[++i];
        else if (!strcmp(a, "--report-out") && has) x.report_out = argv[++i];
        else if (!strcmp(a, "--paper") && has) x.paper = argv[++i];
        else if (!strcmp(a, "--device") && has) x.device = argv[++i];
        else if (!strcmp(a, "--set") && has) {
            if (x.n_sets == MM_EXP_MAX_SETS) {
                fprintf(stderr, "mmlora: error: experiment: at most %d --set\n", MM_EXP_MAX_SETS);
                return 2;
            }
            x.sets[x.n_sets++] = argv[++i];
        }
        else {
            fprintf(stderr, "mmlora: error: experiment: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!x.grid || !x.model_dir || !x.dataset) {
        usage(stderr);
        fprintf(stderr, "mmlora: error: experiment: --grid, --model and --dataset are required\n");
        return 2;
    }
    mm_clear_error();
    if (mm_experiment_run(&x)) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        return 1;
    }
    return 0;
}
