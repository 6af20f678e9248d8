/* mmlora humaneval: the human-evaluation kit (Table VI): sample a blinded rating sheet, aggregate filled
 * sheets (docs/REPORTS.md, "Human evaluation"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/humaneval.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mmlora humaneval sample --dataset D --model M --out SHEET.csv [--results DIR] [--per-lang 20]\n"
            "                               [--seed 42] [--key KEY.csv] [--methods a,b,c] [--rq rq1] [--raw DIR]\n"
            "       mmlora humaneval aggregate --key KEY.csv FILLED.csv [FILLED2.csv ...] --out DIR\n"
            "                               [--paper DIR] [--allow-missing]\n\n"
            "sample: picks --per-lang test examples per language that every method predicted (complete runs of\n"
            "  results/<rq>/<dataset>/<model>/, the lowest seed; Philox-seeded, deterministic) and writes a blinded\n"
            "  sheet: one row per (example, summary), shuffled, with the code, the reference, the candidate and\n"
            "  empty columns Similarity, Naturalness, Informativeness, Relevance (0-4).  Method names go only to\n"
            "  the key (default: SHEET.key.csv); the raters' instructions go to SHEET.instructions.md.\n"
            "  --methods   default: Table VI's methods that have a run (fpft-mix, lora-each, lora-mix, mola,\n"
            "              mmlora of --model; one-shot, few-shot of gpt-4); model:method names another model's run\n"
            "  --raw DIR   raw dataset root for the code snippets (default data/raw)\n"
            "aggregate: joins the filled sheets (one per rater) with the key; every rating an integer 0-4 (an empty\n"
            "  cell is an error unless --allow-missing); writes DIR/table6.{md,tex,csv} (per method and criterion:\n"
            "  mean, sample sd over all ratings, n; beside the paper's) and DIR/ratings.csv.  Put DIR at\n"
            "  results/humaneval/<dataset>-<model> for `mmlora report` to show it.\n");
}

static int sample(int argc, char **argv) {
    mm_he_sample_opts o = {.per_lang = 20, .seed = 42};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--results") && has) o.results = argv[++i];
        else if (!strcmp(a, "--dataset") && has) o.dataset = argv[++i];
        else if (!strcmp(a, "--model") && has) o.model = argv[++i];
        else if (!strcmp(a, "--rq") && has) o.rq = argv[++i];
        else if (!strcmp(a, "--methods") && has) o.methods = argv[++i];
        else if (!strcmp(a, "--raw") && has) o.raw = argv[++i];
        else if (!strcmp(a, "--out") && has) o.out = argv[++i];
        else if (!strcmp(a, "--key") && has) o.key = argv[++i];
        else if ((!strcmp(a, "--per-lang") || !strcmp(a, "--seed")) && has) {
            char *e;
            unsigned long long v = strtoull(argv[++i], &e, 10);
            if (*e || !*argv[i] || argv[i][0] == '-') {
                fprintf(stderr, "mmlora: error: humaneval sample: %s needs a non-negative integer, got '%s'\n", a, argv[i]);
                return 2;
            }
            if (!strcmp(a, "--seed")) o.seed = v;
            else o.per_lang = v > 1000000 ? 1000000 : (int)v;
        } else {
            fprintf(stderr, "mmlora: error: humaneval sample: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.dataset || !o.model || !o.out) {
        fprintf(stderr, "mmlora: error: humaneval sample: --dataset, --model and --out are required\n");
        usage(stderr);
        return 2;
    }
    mm_he_sample_result r;
    mm_clear_error();
    if (mm_he_sample(&o, &r)) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        return 1;
    }
    printf("%s: %d examples x %d methods = %d rows (%d languages)%s\n%s: the key (method of every item): keep it "
           "from the raters\n%s: the raters' instructions (criteria, 0-4 scale)\n", o.out, r.n_examples, r.n_methods,
           r.n_rows, r.n_langs, r.n_no_code ? "; some without code, see the warning" : "", r.key_path,
           r.instructions_path);
    return 0;
}

static int aggregate(int argc, char **argv) {
    mm_he_aggregate_opts o = {0};
    const char **sheets = calloc((size_t)argc, sizeof(char *));
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); free(sheets); return 0; }
        else if (!strcmp(a, "--key") && has) o.key = argv[++i];
        else if (!strcmp(a, "--out") && has) o.out = argv[++i];
        else if (!strcmp(a, "--paper") && has) o.paper = argv[++i];
        else if (!strcmp(a, "--allow-missing")) o.allow_missing = 1;
        else if (a[0] != '-') sheets[n++] = a;
        else {
            fprintf(stderr, "mmlora: error: humaneval aggregate: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            free(sheets);
            return 2;
        }
    }
    if (!o.key || !o.out || !n) {
        fprintf(stderr, "mmlora: error: humaneval aggregate: --key, --out and at least one filled sheet are required\n");
        usage(stderr);
        free(sheets);
        return 2;
    }
    o.sheets = sheets;
    o.n_sheets = n;
    mm_he_aggregate_result r;
    mm_clear_error();
    int rc = mm_he_aggregate(&o, &r);
    free(sheets);
    if (rc) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        return 1;
    }
    printf("%s/table6.md: %d methods, %d items, %ld ratings from %d sheet(s), %ld empty cell(s) skipped\n", o.out,
           r.n_methods, r.n_items, r.n_ratings, n, r.n_missing);
    return 0;
}

int cmd_humaneval(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "sample")) return sample(argc - 1, argv + 1);
    if (!strcmp(argv[1], "aggregate")) return aggregate(argc - 1, argv + 1);
    fprintf(stderr, "mmlora: error: humaneval: unknown subcommand '%s' (sample or aggregate)\n", argv[1]);
    usage(stderr);
    return 2;
}
