/* mmlora corpus build | check: the local CodeSearchNet-style corpus (data/corpus.h). */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "data/corpus.h"
#include "data/dataset.h"
#include "util/log.h"

static const char *LANG[MM_C_NLANGS] = {"go", "java", "javascript", "php", "python", "ruby"};

static void usage(FILE *f) {
    fprintf(f, "usage: mmlora corpus build --out DIR [--langs go,java,...] [--seed S] [--work DIR]\n"
               "       mmlora corpus check --in DIR [--per-lang N]\n"
               "build: extract documented functions from the Debian-installed sources (`make deps`) into\n"
               "       DIR/<lang>/{train,valid,test}.jsonl (CodeSearchNet records; split by source file)\n"
               "check: for a sample of N records per language (default 300): the code parses with the\n"
               "       language's tool, no docstring inside the code, no source file in two splits\n");
}

static int fail(const char *m) {
    fprintf(stderr, "mmlora: error: %s\n", m);
    return 1;
}

static unsigned parse_langs(const char *s) {
    unsigned m = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *sv, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
        for (int l = 0; l < MM_C_NLANGS; l++)
            if (!strcmp(t, LANG[l])) m |= 1u << l;
    return m;
}

static int do_build(int argc, char **argv) {
    static const struct option L[] = {{"out", 1, 0, 'o'}, {"langs", 1, 0, 'l'}, {"seed", 1, 0, 's'},
                                      {"work", 1, 0, 'w'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    mm_corpus_opts o = {0};
    o.seed = 1;
    o.progress = isatty(2) ? 1 : 2;   /* progress with ETA: redrawn line on a terminal, else a line per 10 s */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", L, NULL)) != -1) {
        if (c == 'o') o.out = optarg;
        else if (c == 'l') { o.lang_mask = parse_langs(optarg); if (!o.lang_mask) return fail("--langs: none known"); }
        else if (c == 's') o.seed = strtoull(optarg, NULL, 10);
        else if (c == 'w') o.work = optarg;
        else if (c == 'h') { usage(stdout); return 0; }
        else { usage(stderr); return 2; }
    }
    if (!o.out) return fail("corpus build: --out DIR is required");
    mm_corpus_stats st;
    if (mm_corpus_build(&o, &st) < 0) return fail(mm_last_error());
    printf("%-11s %7s %8s %9s %6s %8s %7s %7s %8s %7s\n", "language", "files", "functions", "filtered", "dups",
           "train", "valid", "test", "total", "seconds");
    size_t tot[4] = {0};
    double secs = 0;
    for (int l = 0; l < MM_C_NLANGS; l++) {
        if (o.lang_mask && !(o.lang_mask >> l & 1u)) continue;
        size_t t = st.split[l][0] + st.split[l][1] + st.split[l][2];
        printf("%-11s %7zu %8zu %9zu %6zu %8zu %7zu %7zu %8zu %7.1f\n", LANG[l], st.files[l], st.funcs[l],
               st.filtered[l], st.dups[l], st.split[l][0], st.split[l][1], st.split[l][2], t, st.seconds[l]);
        for (int s = 0; s < 3; s++) tot[s] += st.split[l][s];
        tot[3] += t;
        secs += st.seconds[l];
    }
    printf("%-11s %7s %8s %9s %6s %8zu %7zu %7zu %8zu %7.1f\n", "all", "", "", "", "", tot[0], tot[1], tot[2], tot[3],
           secs);
    printf("written to %s/<lang>/{train,valid,test}.jsonl\n", o.out);
    return 0;
}

/* ------------------------------------------------------------------ check */
typedef struct { char *path; int split; } seen;

static int do_check(int argc, char **argv) {
    static const struct option L[] = {{"in", 1, 0, 'i'}, {"per-lang", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *in = NULL;
    long per = 300;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", L, NULL)) != -1) {
        if (c == 'i') in = optarg;
        else if (c == 'n') per = atol(optarg);
        else if (c == 'h') { usage(stdout); return 0; }
        else { usage(stderr); return 2; }
    }
    if (!in) return fail("corpus check: --in DIR is required");
    int bad = 0;
    for (int l = 0; l < MM_C_NLANGS; l++) {
        /* all records: paths per split (file disjointness) and docstring-in-code; a sample for parsing */
        char **codes = NULL;
        size_t n_codes = 0, n_rec = 0, doc_in_code = 0, cross = 0;
        seen *paths = NULL;
        size_t n_paths = 0;
        int present = 0;
        for (int s = 0; s < 3; s++) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s/%s.jsonl", in, LANG[l], mm_split_name(s));
            FILE *f = fopen(p, "r");
            if (!f) continue;
            present = 1;
            char *line = NULL;
            size_t cap = 0;
            while (getline(&line, &cap, f) > 0) {
                cJSON *j = cJSON_Parse(line);
                if (!j) continue;
                const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(j, "code"));
                const char *doc = cJSON_GetStringValue(cJSON_GetObjectItem(j, "docstring"));
                const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(j, "path"));
                const char *part = cJSON_GetStringValue(cJSON_GetObjectItem(j, "partition"));
                if (code && doc && path && part) {
                    if (*doc && strstr(code, doc)) doc_in_code++;
                    if (strcmp(part, mm_split_name(s))) cross++;
                    paths = mm_xrealloc(paths, (n_paths + 1) * sizeof *paths);
                    paths[n_paths++] = (seen){mm_xstrdup(path), s};
                    codes = mm_xrealloc(codes, (n_codes + 1) * sizeof *codes);
                    codes[n_codes++] = mm_xstrdup(code);
                }
                n_rec++;
                cJSON_Delete(j);
            }
            free(line);
            fclose(f);
        }
        if (!present) continue;
        /* a path in two splits? (sort by path) */
        for (size_t a = 0; a < n_paths; a++)
            for (size_t b = a + 1; b < n_paths && b < a + 2000; b++)
                if (paths[a].split != paths[b].split && !strcmp(paths[a].path, paths[b].path)) { cross++; break; }
        size_t step = per > 0 && n_codes > (size_t)per ? n_codes / (size_t)per : 1;
        const char **sample = mm_xmalloc((n_codes + 1) * sizeof *sample);
        size_t ns = 0;
        for (size_t i = 0; i < n_codes && (per <= 0 || ns < (size_t)per); i += step) sample[ns++] = codes[i];
        char err[1024];
        long fails = mm_corpus_check(l, sample, ns, err, sizeof err);
        printf("%-11s records %7zu | parse check: ", LANG[l], n_rec);
        if (fails < 0) printf("no tool (skipped)");
        else printf("%ld/%zu fail", fails, ns);
        printf(" | docstring inside code: %zu | file in two splits: %zu\n", doc_in_code, cross);
        if (fails > 0) printf("  first failure: %.300s\n", err);
        bad |= fails > 0 || doc_in_code || cross;
        for (size_t i = 0; i < n_codes; i++) free(codes[i]);
        for (size_t i = 0; i < n_paths; i++) free(paths[i].path);
        free(codes);
        free(paths);
        free(sample);
    }
    return bad ? 1 : 0;
}

int cmd_corpus(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "build")) return do_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check")) return do_check(argc - 1, argv + 1);
    usage(stderr);
    return fail("corpus: expected `build` or `check`");
}
