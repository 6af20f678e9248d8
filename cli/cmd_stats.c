/* mmlora stats: paired significance tests on two per-sample CSVs written by `mmlora score`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/samples_csv.h"
#include "metrics/score.h"
#include "metrics/stats.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mmlora stats --a A.csv --b B.csv --column bleu|meteor\n"
            "                    --test wilcoxon|ttest|bootstrap|permutation [--seed S] [--resamples N]\n"
            "                    [--zero-method wilcox|pratt|zsplit] [--correction]\n"
            "                    [--alternative two-sided|greater|less] [--method auto|exact|approx]\n\n"
            "A and B are per-sample CSVs (mmlora score --per-sample) listing the same ids in the same order.\n"
            "Prints 'statistic: <v>' and 'p: <v>'.\n"
            "  ttest        scipy.stats.ttest_rel(a, b): t and two-sided p\n"
            "  wilcoxon     scipy.stats.wilcoxon(a, b) with scipy 1.10.1 semantics; defaults zero_method=wilcox,\n"
            "               no correction, two-sided, method=auto (exact if n <= 50 and no zero difference)\n"
            "  bootstrap    paired bootstrap (sacreBLEU --paired-bs): statistic = mean(a) - mean(b),\n"
            "               p = (c+1)/(N+1); --resamples N (default 1000)\n"
            "  permutation  approximate randomization: statistic = mean(a) - mean(b), p = (c+1)/(N+1),\n"
            "               --resamples N trials (default 10000)\n"
            "  --seed S     PRNG seed for bootstrap/permutation (default 12345; xoshiro256**)\n");
}

static int bad(const char *what, const char *v) {
    fprintf(stderr, "mmlora: error: stats: invalid %s '%s'\n", what, v);
    return 2;
}

int cmd_stats(int argc, char **argv) {
    const char *fa = NULL, *fb = NULL, *col = NULL, *test = NULL;
    unsigned long long seed = 12345;
    long resamples = -1;
    mm_wilcoxon_opts wo = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--a") && has) fa = argv[++i];
        else if (!strcmp(a, "--b") && has) fb = argv[++i];
        else if (!strcmp(a, "--column") && has) col = argv[++i];
        else if (!strcmp(a, "--test") && has) test = argv[++i];
        else if (!strcmp(a, "--seed") && has) {
            char *e; seed = strtoull(argv[++i], &e, 10);
            if (*e || !*argv[i]) return bad("--seed", argv[i]);
        } else if (!strcmp(a, "--resamples") && has) {
            char *e; resamples = strtol(argv[++i], &e, 10);
            if (*e || resamples <= 0) return bad("--resamples", argv[i]);
        } else if (!strcmp(a, "--zero-method") && has) {
            const char *v = argv[++i];
            if (!strcmp(v, "wilcox")) wo.zero_method = MM_ZERO_WILCOX;
            else if (!strcmp(v, "pratt")) wo.zero_method = MM_ZERO_PRATT;
            else if (!strcmp(v, "zsplit")) wo.zero_method = MM_ZERO_ZSPLIT;
            else return bad("--zero-method", v);
        } else if (!strcmp(a, "--alternative") && has) {
            const char *v = argv[++i];
            if (!strcmp(v, "two-sided")) wo.alternative = MM_ALT_TWO_SIDED;
            else if (!strcmp(v, "greater")) wo.alternative = MM_ALT_GREATER;
            else if (!strcmp(v, "less")) wo.alternative = MM_ALT_LESS;
            else return bad("--alternative", v);
        } else if (!strcmp(a, "--method") && has) {
            const char *v = argv[++i];
            if (!strcmp(v, "auto")) wo.method = MM_WILCOXON_AUTO;
            else if (!strcmp(v, "exact")) wo.method = MM_WILCOXON_EXACT;
            else if (!strcmp(v, "approx")) wo.method = MM_WILCOXON_APPROX;
            else return bad("--method", v);
        } else if (!strcmp(a, "--correction")) wo.correction = true;
        else {
            fprintf(stderr, "mmlora: error: stats: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!fa || !fb || !col || !test) {
        fprintf(stderr, "mmlora: error: stats: --a, --b, --column and --test are required\n");
        usage(stderr);
        return 2;
    }
    if (strcmp(col, "bleu") && strcmp(col, "meteor")) return bad("--column (bleu or meteor)", col);
    int t = !strcmp(test, "wilcoxon") ? 0 : !strcmp(test, "ttest") ? 1 : !strcmp(test, "bootstrap") ? 2
          : !strcmp(test, "permutation") ? 3 : -1;
    if (t < 0) return bad("--test", test);
    mm_samples A, B;
    mm_clear_error();
    if (mm_samples_read(fa, col, &A)) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); return 1; }
    if (mm_samples_read(fb, col, &B)) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        mm_samples_free(&A);
        return 1;
    }
    int rc = 0;
    if (A.n != B.n) {
        fprintf(stderr, "mmlora: error: %s has %zu rows but %s has %zu: the files must list the same ids\n", fa, A.n,
                fb, B.n);
        rc = 1;
    }
    for (size_t i = 0; !rc && i < A.n; i++)
        if (strcmp(A.ids[i], B.ids[i])) {
            fprintf(stderr, "mmlora: error: %s:%zu: id '%s' but %s:%zu has id '%s' (same ids in the same order needed)\n",
                    fa, i + 2, A.ids[i], fb, i + 2, B.ids[i]);
            rc = 1;
        }
    mm_test_result r;
    if (!rc) {
        int e = 0;
        if (t == 0) e = mm_wilcoxon(A.vals, B.vals, A.n, &wo, &r);
        else if (t == 1) e = mm_ttest_rel(A.vals, B.vals, A.n, &r);
        else if (t == 2) e = mm_paired_bootstrap(A.vals, B.vals, A.n, resamples > 0 ? resamples : 1000, seed, &r);
        else e = mm_paired_permutation(A.vals, B.vals, A.n, resamples > 0 ? resamples : 10000, seed, &r);
        if (e) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); rc = 1; }
    }
    if (!rc) {
        char s1[32], s2[32];
        printf("statistic: %s\np: %s\n", mm_fmt_repr(r.statistic, s1), mm_fmt_repr(r.pvalue, s2));
    }
    mm_samples_free(&A);
    mm_samples_free(&B);
    return rc;
}
