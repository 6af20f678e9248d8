/* Paired tests against scipy 1.10.1 on tests/fixtures/metrics/stats.jsonl (400 random paired samples,
 * n = 1..300, with ties/zeros; written by tests/reference/metrics_ref.py):
 * t statistic bit-identical, t-test p within 1e-10 relative; Wilcoxon statistic bit-identical,
 * exact-distribution p bit-identical, normal-approximation p within 1e-13 relative (glibc erfc vs cephes). */
#include <criterion/criterion.h>
#include <math.h>
#include "metrics/stats.h"
#include "metrics_fixture_util.h"
#include "util/log.h"

static double *arr(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    double *x = malloc((*n + 1) * sizeof *x);
    for (size_t i = 0; i < *n; i++) x[i] = cJSON_GetArrayItem(a, (int)i)->valuedouble;
    return x;
}

static bool same(double a, double b) { return (isnan(a) && isnan(b)) || fx_bits(a) == fx_bits(b); }
static double rel(double a, double b) {
    if (same(a, b)) return 0.0;
    if (isnan(a) || isnan(b)) return INFINITY;
    return fabs(a - b) / fabs(b);
}

Test(stats, fixture_scipy_1_10_1) {
    char *buf = fx_slurp("tests/fixtures/metrics/stats.jsonl", NULL), *cur = buf, *line;
    cr_assert_not_null(buf);
    int cases = 0, wcases = 0;
    double worst_tp = 0, worst_wp = 0;
    while ((line = fx_next_line(&cur))) {
        cJSON *o = cJSON_Parse(line);
        size_t n, nb;
        double *a = arr(cJSON_GetObjectItem(o, "a"), &n), *b = arr(cJSON_GetObjectItem(o, "b"), &nb);
        mm_test_result r;
        mm_ttest_rel(a, b, n, &r);
        const cJSON *t = cJSON_GetObjectItem(o, "ttest");
        double te = strtod(cJSON_GetArrayItem(t, 0)->valuestring, NULL), pe = strtod(cJSON_GetArrayItem(t, 1)->valuestring, NULL);
        cr_expect(same(r.statistic, te), "case %d: t %.17g != %.17g", cases, r.statistic, te);
        double rp = rel(r.pvalue, pe);
        if (rp > worst_tp) worst_tp = rp;
        cr_expect(rp <= 1e-10, "case %d (n=%zu): p %.17g vs %.17g", cases, n, r.pvalue, pe);
        const cJSON *ws = cJSON_GetObjectItem(o, "wilcoxon"), *w;
        cJSON_ArrayForEach(w, ws) {
            const cJSON *kw = cJSON_GetObjectItem(w, "kw"), *v;
            mm_wilcoxon_opts op = {0};
            if ((v = cJSON_GetObjectItem(kw, "zero_method")))
                op.zero_method = !strcmp(v->valuestring, "pratt") ? MM_ZERO_PRATT : !strcmp(v->valuestring, "zsplit") ? MM_ZERO_ZSPLIT : MM_ZERO_WILCOX;
            if ((v = cJSON_GetObjectItem(kw, "correction"))) op.correction = cJSON_IsTrue(v);
            if ((v = cJSON_GetObjectItem(kw, "alternative")))
                op.alternative = !strcmp(v->valuestring, "greater") ? MM_ALT_GREATER : !strcmp(v->valuestring, "less") ? MM_ALT_LESS : MM_ALT_TWO_SIDED;
            if ((v = cJSON_GetObjectItem(kw, "method")))
                op.method = !strcmp(v->valuestring, "exact") ? MM_WILCOXON_EXACT : !strcmp(v->valuestring, "approx") ? MM_WILCOXON_APPROX : MM_WILCOXON_AUTO;
            int rc = mm_wilcoxon(a, b, n, &op, &r);
            char *kws = cJSON_PrintUnformatted(kw);
            if (cJSON_GetObjectItem(w, "error")) {
                cr_expect_eq(rc, -1, "case %d %s: scipy raised ValueError", cases, kws);
            } else {
                double se = fx_num(w, "stat"), pe2 = fx_num(w, "p");
                cr_expect_eq(rc, 0, "case %d %s: %s", cases, kws, mm_last_error());
                cr_expect(same(r.statistic, se), "case %d %s: W %.17g != %.17g", cases, kws, r.statistic, se);
                double rw = rel(r.pvalue, pe2);
                if (r.exact) cr_expect(same(r.pvalue, pe2), "case %d %s: exact p %.17g != %.17g", cases, kws, r.pvalue, pe2);
                else {
                    if (rw > worst_wp) worst_wp = rw;
                    cr_expect(rw <= 1e-13, "case %d %s: p %.17g vs %.17g", cases, kws, r.pvalue, pe2);
                }
                wcases++;
            }
            free(kws);
        }
        free(a); free(b);
        cJSON_Delete(o);
        cases++;
    }
    free(buf);
    cr_log_info("stats fixtures: %d t-tests (worst p rel %.3g), %d wilcoxon (worst approx p rel %.3g)", cases, worst_tp,
                wcases, worst_wp);
    cr_assert_geq(cases, 400);
}
