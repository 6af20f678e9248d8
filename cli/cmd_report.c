/* mmlora report: tables and figures beside the paper's numbers (docs/REPORTS.md). */
#include <stdio.h>
#include <string.h>
#include "report/report.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f, "usage: mmlora report [--results DIR] [--out DIR] [--paper DIR] [--model M] [--dataset D] [--no-render]\n\n"
               "Renders Tables I-VI (Markdown, LaTeX booktabs, CSV: paper, ours, difference) and Figs 4, 5, 6, 8 and\n"
               "training-loss curves (gnuplot data + script, PNG and SVG when gnuplot is installed) from the complete\n"
               "runs (those with a DONE file) under the results directory.\n"
               "  --results DIR  results tree results/<rq>/<dataset>/<model>/<run>/ (default results)\n"
               "  --out DIR      output directory (default paper-tables)\n"
               "  --paper DIR    the paper's numbers as CSV (default paper-tables/paper)\n"
               "  --model M      only model M (tiny, starcoderbase, deepseekcoder, ...)\n"
               "  --dataset D    only dataset D (csn, xlcost, local)\n"
               "  --no-render    write figure data and gnuplot scripts without running gnuplot\n");
}

int cmd_report(int argc, char **argv) {
    mm_report_opts o = {.results = "results", .out = "paper-tables", .paper = "paper-tables/paper", .render = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--results") && has) o.results = argv[++i];
        else if (!strcmp(a, "--out") && has) o.out = argv[++i];
        else if (!strcmp(a, "--paper") && has) o.paper = argv[++i];
        else if (!strcmp(a, "--model") && has) o.model = argv[++i];
        else if (!strcmp(a, "--dataset") && has) o.dataset = argv[++i];
        else if (!strcmp(a, "--no-render")) o.render = 0;
        else {
            fprintf(stderr, "mmlora: error: report: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    mm_clear_error();
    if (mm_report_run(&o)) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        return 1;
    }
    return 0;
}
