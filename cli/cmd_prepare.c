/* mmlora prepare: tokenize a dataset into memory-mapped training caches (data/prepare.h). */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "cli/commands.h"
#include "data/prepare.h"
#include "data/prepare_model.h"
#include "data/xlcost.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mmlora prepare --dataset csn|xlcost|local --model DIR [options]\n"
            "  --model DIR          model directory: tokenizer.json (and config.json for eos_token_id)\n"
            "  --max-source N       code tokens kept (default 256)\n"
            "  --max-target N       summary tokens kept (default 128)\n"
            "  --raw DIR            root of the raw files (default data/raw)\n"
            "  --cache DIR          root of the caches (default data/cache)\n"
            "  --splits LIST        comma list of train,valid,test (default all)\n"
            "  --fraction F         RQ4 subset of the train split (0.001, 0.005, 0.01), per-language shares kept\n"
            "  --seed S             subset seed (default 1)\n"
            "  --sep TEXT           separator text between code and summary, C escapes allowed (default \"\\n\")\n"
            "  --xlcost-level L     program (default; the paper's Table I) | snippet\n"
            "  --xlcost-python M    tokens (default: NEW_LINE/INDENT/DEDENT kept, as XLCoST's baseline) | restore\n"
            "  --strict             a malformed input line is an error (default: skipped and counted)\n"
            "  --force              rebuild even if a valid cache exists\n"
            "  --threads N          tokenizer threads (default: OpenMP's)\n"
            "  --langs LIST         only these languages (comma list; ids stay the fixed table's)\n"
            "Prints per language and split: examples, tokens, length percentiles, truncation rates, share of train.\n");
}

/* resolve \n \t \\ escapes */
static int fail(const char *msg) {
    fprintf(stderr, "mmlora: error: %s\n", msg);
    return 1;
}

int cmd_prepare(int argc, char **argv) {
    static const struct option LONG[] = {
        {"dataset", 1, 0, 'd'}, {"model", 1, 0, 'm'}, {"max-source", 1, 0, 'S'}, {"max-target", 1, 0, 'T'},
        {"raw", 1, 0, 'r'}, {"cache", 1, 0, 'c'}, {"splits", 1, 0, 'p'}, {"fraction", 1, 0, 'f'},
        {"seed", 1, 0, 's'}, {"sep", 1, 0, 'e'}, {"xlcost-level", 1, 0, 'L'}, {"xlcost-python", 1, 0, 'P'},
        {"strict", 0, 0, 'x'}, {"force", 0, 0, 'F'}, {"threads", 1, 0, 'j'}, {"langs", 1, 0, 'l'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *dataset = NULL, *model = NULL, *sep = "\\n", *langs = NULL;
    mm_prepare_opts o = {0};
    o.load.raw = "data/raw";
    o.cache_root = "data/cache";
    o.spec.max_source = 256;
    o.spec.max_target = 128;
    o.fraction = 1.0;
    o.seed = 1;
    o.progress = isatty(2) ? 1 : 2;   /* progress with ETA: redrawn line on a terminal, else a line per 10 s */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", LONG, NULL)) != -1) {
        switch (c) {
        case 'd': dataset = optarg; break;
        case 'm': model = optarg; break;
        case 'S': o.spec.max_source = atoi(optarg); break;
        case 'T': o.spec.max_target = atoi(optarg); break;
        case 'r': o.load.raw = optarg; break;
        case 'c': o.cache_root = optarg; break;
        case 'p':
            o.split_mask = (strstr(optarg, "train") ? 1 : 0) | (strstr(optarg, "valid") ? 2 : 0) |
                           (strstr(optarg, "test") ? 4 : 0);
            if (!o.split_mask) return fail("--splits: expected a comma list of train,valid,test");
            break;
        case 'f': o.fraction = atof(optarg); break;
        case 's': o.seed = strtoull(optarg, NULL, 10); break;
        case 'e': sep = optarg; break;
        case 'L':
            if (!strcmp(optarg, "program")) o.load.xlcost_level = MM_XLCOST_PROGRAM;
            else if (!strcmp(optarg, "snippet")) o.load.xlcost_level = MM_XLCOST_SNIPPET;
            else return fail("--xlcost-level: program or snippet");
            break;
        case 'P':
            if (!strcmp(optarg, "tokens")) o.load.py_layout = MM_XLCOST_PY_TOKENS;
            else if (!strcmp(optarg, "restore")) o.load.py_layout = MM_XLCOST_PY_RESTORE;
            else return fail("--xlcost-python: tokens or restore");
            break;
        case 'l': langs = optarg; break;
        case 'x': o.load.strict = 1; break;
        case 'F': o.force = 1; break;
        case 'j':
#ifdef _OPENMP
            omp_set_num_threads(atoi(optarg));
#endif
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dataset || !model) {
        usage(stderr);
        return fail("--dataset and --model are required");
    }
    int kind = mm_dataset_parse(dataset);
    if (kind < 0) return fail("--dataset: csn, xlcost or local");
    o.load.kind = (mm_dataset_kind)kind;
    if (langs) {   /* a subset of the languages; ids stay those of the fixed table */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", langs);
        for (char *sv, *tk = strtok_r(buf, ",", &sv); tk; tk = strtok_r(NULL, ",", &sv)) {
            int id = mm_lang_id(mm_lang_table_get(o.load.kind), tk);
            if (id < 0) return fail("--langs: unknown language for this dataset");
            o.load.lang_mask |= 1u << id;
        }
    }
    if (o.fraction <= 0 || o.fraction > 1) return fail("--fraction: a number in (0, 1]");
    if (o.spec.max_source < 1 || o.spec.max_target < 1) return fail("--max-source/--max-target must be >= 1");
    /* missing raw data first: a clear message even without a tokenizer */
    char msg[8192];
    if (mm_dataset_check(&o.load, o.split_mask ? o.split_mask : 7, msg, sizeof msg) < 0) return fail(msg);
    mm_tokenizer *tok = mm_tokenizer_load(model);
    if (!tok) return fail(mm_last_error());
    if (mm_prepare_bind_model(&o, model, tok, sep)) {
        mm_tokenizer_free(tok);
        return fail(mm_last_error());
    }
    mm_prepare_result r;
    int rc = mm_prepare_run(&o, &r);
    mm_tokenizer_free(tok);
    if (rc < 0) return fail(mm_last_error());
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (r.bad[s].n_bad) {
            char b[2048];
            mm_bad_format(&r.bad[s], b, sizeof b);
            fprintf(stderr, "mmlora: warning: %s: %s\n", mm_split_name(s), b);
        }
    }
    printf("cache: %s\n", r.dir);
    for (int s = 0; s < MM_N_SPLITS; s++)
        if ((o.split_mask ? o.split_mask : 7) & (1 << s))
            printf("  %s.bin: %s\n", mm_split_name(s), r.reused[s] ? "reused (valid)" : "built");
    if (mm_prepare_report(r.dir, o.split_mask, stdout) < 0) return fail(mm_last_error());
    if (r.examples)
        printf("throughput: %llu examples in %.2f s: %.0f examples/s, %.2f MB/s of raw input (%.1f MB), "
               "%.2f MB/s of code+summary text (%.1f MB)\n",
               (unsigned long long)r.examples, r.seconds, (double)r.examples / r.seconds,
               (double)r.raw_bytes / 1e6 / r.seconds, (double)r.raw_bytes / 1e6, (double)r.bytes_in / 1e6 / r.seconds,
               (double)r.bytes_in / 1e6);
    return 0;
}
