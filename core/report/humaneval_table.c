/* Table VI beside the paper's numbers, for `mmlora humaneval aggregate` and `mmlora report` (humaneval.h).
 * Columns: Method, Source, the four criterion means, Avg. (mean of the four), the four sample standard
 * deviations and n (ratings per criterion; "a/b/c/d" when they differ). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "report/csvtab.h"
#include "report/humaneval_internal.h"
#include "report/report_internal.h"
#include "util/fileio.h"
#include "util/log.h"

static const char *const KEYS[MM_HE_NCRIT] = {"similarity", "naturalness", "informativeness", "relevance"};
enum { C_MEAN = 2, C_AVG = C_MEAN + MM_HE_NCRIT, C_SD = C_AVG + 1, C_N = C_SD + MM_HE_NCRIT };

static double num(const char *s) {
    if (!s || !*s || !strcmp(s, "-") || !strcmp(s, MM_RT_MISSING)) return NAN;
    char *e;
    double v = strtod(s, &e);
    return e == s || *e ? NAN : v;
}

static const mm_he_method_stats *find_ours(const mm_he_stats *ours, const char *label) {
    for (int i = 0; ours && i < ours->n; i++)
        if (!strcasecmp(ours->m[i].label, label)) return &ours->m[i];
    return NULL;
}

static void set_ours(mm_rt_row *r, const mm_he_method_stats *x) {
    for (int c = 0; c < MM_HE_NCRIT; c++) {
        mm_rt_setv(r, C_MEAN + c, x ? x->mean[c] : NAN, false);
        mm_rt_setv(r, C_SD + c, x ? x->sd[c] : NAN, false);
    }
    mm_rt_setv(r, C_AVG, x ? x->avg : NAN, false);
    char b[96] = MM_RT_MISSING;
    if (x) {
        int same = 1;
        for (int c = 1; c < MM_HE_NCRIT; c++) same &= x->n[c] == x->n[0];
        if (same) snprintf(b, sizeof b, "%ld", x->n[0]);
        else snprintf(b, sizeof b, "%ld/%ld/%ld/%ld", x->n[0], x->n[1], x->n[2], x->n[3]);
    }
    mm_rt_set(r, C_N, b);
}

int mm_he_table6(const char *paper_csv, const mm_he_stats *ours, const char *stem, const char *title, mm_rtable *t) {
    mm_csvtab p;
    if (mm_csvtab_read(paper_csv, &p)) return -1;
    int cm = mm_csvtab_col(&p, "method"), ca = mm_csvtab_col(&p, "avg"), cc[MM_HE_NCRIT];
    int bad = cm < 0 || ca < 0;
    for (int c = 0; c < MM_HE_NCRIT; c++) bad |= (cc[c] = mm_csvtab_col(&p, KEYS[c])) < 0;
    if (bad) {
        mm_csvtab_free(&p);
        return mm_fail("%s: expected method,similarity,naturalness,informativeness,relevance,avg", paper_csv);
    }
    mm_rt_init(t, stem, title);
    mm_rt_col(t, "Method", "method", false);
    mm_rt_col(t, "Source", "source", false);
    t->nlabel = 2;
    for (int c = 0; c < MM_HE_NCRIT; c++) mm_rt_col(t, MM_HE_CRITERIA[c], KEYS[c], true);
    mm_rt_col(t, "Avg.", "avg", true);
    char h[64], key[64];
    for (int c = 0; c < MM_HE_NCRIT; c++) {
        snprintf(h, sizeof h, "sd %s", MM_HE_CRITERIA[c]);
        snprintf(key, sizeof key, "%s_sd", KEYS[c]);
        mm_rt_col(t, h, key, false);
    }
    mm_rt_col(t, "n", "n", false);
    int *used = mm_xcalloc((size_t)(ours && ours->n ? ours->n : 1), sizeof(int));
    for (int i = 0; i < p.nrow; i++) {
        const char *m = p.cell[i][cm];
        int group = mm_he_is_llm(m) ? 0 : 1;
        mm_rt_row *r = mm_rt_add(t, MM_RT_PAPER, 0, group);
        mm_rt_set(r, 0, mm_he_display(m));
        mm_rt_set(r, 1, "paper");
        double pv[MM_HE_NCRIT + 1];
        for (int c = 0; c < MM_HE_NCRIT; c++) {
            pv[c] = num(p.cell[i][cc[c]]);
            mm_rt_setv(r, C_MEAN + c, pv[c], false);
            mm_rt_set(r, C_SD + c, MM_RT_MISSING);
        }
        pv[MM_HE_NCRIT] = num(p.cell[i][ca]);
        mm_rt_setv(r, C_AVG, pv[MM_HE_NCRIT], false);
        mm_rt_set(r, C_N, MM_RT_MISSING);
        const mm_he_method_stats *x = find_ours(ours, m);
        if (x) used[x - ours->m] = 1;
        r = mm_rt_add(t, MM_RT_OURS, 0, group);
        mm_rt_set(r, 0, mm_he_display(m));
        mm_rt_set(r, 1, "ours");
        set_ours(r, x);
        if (!x) continue;
        r = mm_rt_add(t, MM_RT_DELTA, 0, 0);
        mm_rt_set(r, 0, mm_he_display(m));
        mm_rt_set(r, 1, "Δ (ours − paper)");
        for (int c = 0; c <= MM_HE_NCRIT; c++) {
            double o = c < MM_HE_NCRIT ? x->mean[c] : x->avg;
            mm_rt_setv(r, c < MM_HE_NCRIT ? C_MEAN + c : C_AVG, o - pv[c], true);
        }
        for (int c = C_SD; c <= C_N; c++) mm_rt_set(r, c, MM_RT_MISSING);
    }
    for (int i = 0; ours && i < ours->n; i++) { /* methods the paper did not rate */
        if (used[i]) continue;
        mm_rt_row *r = mm_rt_add(t, MM_RT_OURS, 0, mm_he_is_llm(ours->m[i].label) ? 0 : 1);
        mm_rt_set(r, 0, mm_he_display(ours->m[i].label));
        mm_rt_set(r, 1, "ours");
        set_ours(r, &ours->m[i]);
    }
    free(used);
    mm_csvtab_free(&p);
    return 0;
}

void mm_he_note_stats(mm_rtable *t) {
    mm_rt_note(t, "ours: mean and sample standard deviation (n − 1) of all ratings of a method and criterion (every "
                  "rater × every item, 0-4); Avg. = mean of the four criterion means; n = ratings per criterion");
    mm_rt_note(t, "paper: DeepSeekCoder on CodeSearchNet, 10 raters, 20 samples per language (120 summaries per "
                  "method); its standard deviations are not published (\"all below 0.6\")");
    mm_rt_note(t, "Bold = best, underlined = second best among the fine-tuning methods, separately for the paper's "
                  "rows and ours");
}

/* "MMLoRA" -> "mmlora"; other labels unchanged */
static void label_of(const char *cell, char *out, size_t cap) {
    for (int i = 0; MM_HE_PAPER_ORDER[i]; i++)
        if (!strcasecmp(mm_he_display(MM_HE_PAPER_ORDER[i]), cell)) { snprintf(out, cap, "%s", MM_HE_PAPER_ORDER[i]); return; }
    for (int i = 0; MM_REP_METHODS[i]; i++)
        if (!strcasecmp(mm_report_display(MM_REP_METHODS[i]), cell)) { snprintf(out, cap, "%s", MM_REP_METHODS[i]); return; }
    snprintf(out, cap, "%s", cell);
}

int mm_he_stats_read(const char *path, mm_he_stats *out) {
    memset(out, 0, sizeof *out);
    mm_csvtab p;
    if (mm_csvtab_read(path, &p)) return -1;
    int cm = mm_csvtab_col(&p, "method"), cs = mm_csvtab_col(&p, "source"), ca = mm_csvtab_col(&p, "avg"),
        cn = mm_csvtab_col(&p, "n"), cc[MM_HE_NCRIT], cd[MM_HE_NCRIT];
    int bad = cm < 0 || cs < 0 || ca < 0 || cn < 0;
    char key[64];
    for (int c = 0; c < MM_HE_NCRIT; c++) {
        snprintf(key, sizeof key, "%s_sd", KEYS[c]);
        bad |= (cc[c] = mm_csvtab_col(&p, KEYS[c])) < 0;
        bad |= (cd[c] = mm_csvtab_col(&p, key)) < 0;
    }
    int rc = 0;
    if (bad) rc = mm_fail("%s: not a table6.csv of `mmlora humaneval aggregate` (columns method, source, similarity, ..., "
                          "similarity_sd, ..., avg, n)", path);
    for (int i = 0; i < p.nrow && !rc; i++) {
        char **c = p.cell[i];
        if (strcmp(c[cs], "ours") || !c[cn][0]) continue;
        out->m = mm_xrealloc(out->m, sizeof *out->m * (size_t)(out->n + 1));
        mm_he_method_stats *x = &out->m[out->n++];
        memset(x, 0, sizeof *x);
        label_of(c[cm], x->label, sizeof x->label);
        for (int k = 0; k < MM_HE_NCRIT; k++) {
            x->mean[k] = num(c[cc[k]]);
            x->sd[k] = num(c[cd[k]]);
        }
        x->avg = num(c[ca]);
        long n[4];
        int got = sscanf(c[cn], "%ld/%ld/%ld/%ld", &n[0], &n[1], &n[2], &n[3]);
        if (got == 1) n[1] = n[2] = n[3] = n[0];
        else if (got != 4) rc = mm_fail("%s: row %d: n \"%s\" is not a count (or a/b/c/d)", path, i + 2, c[cn]);
        for (int k = 0; k < MM_HE_NCRIT; k++) x->n[k] = n[k];
    }
    mm_csvtab_free(&p);
    if (rc) mm_he_stats_free(out);
    return rc;
}

void mm_he_stats_free(mm_he_stats *s) {
    free(s->m);
    s->m = NULL;
    s->n = 0;
}

/* ---------------------------------------------------------------- `mmlora report` */
static int report_one(mm_report_ctx *c, const char *paper, const char *ds, const char *model, const char *stem) {
    char path[4096], title[512];
    snprintf(path, sizeof path, "%s/humaneval/%s-%s/table6.csv", c->o->results, ds, model);
    int main_table = !strcmp(stem, "table6_human");
    int want = mm_report_want_dataset(c, ds) && mm_report_want_model(c, model);
    int have = want && mm_file_exists(path);
    if (!main_table && !have) return 0;
    mm_he_stats ours = {0};
    if (have && mm_he_stats_read(path, &ours)) return -1;
    if (main_table)
        snprintf(title, sizeof title, "Table VI. Human evaluation of code summarization (DeepSeekCoder, CodeSearchNet)");
    else
        snprintf(title, sizeof title, "Table VI. Human evaluation: ours (%s, %s) beside the paper's (DeepSeekCoder, "
                 "CodeSearchNet)", mm_report_display(model), mm_report_display(ds));
    mm_rtable t;
    int rc = mm_he_table6(paper, have ? &ours : NULL, stem, title, &t);
    if (!rc) {
        mm_he_note_stats(&t);
        if (have) mm_rt_note(&t, "ours: %s (mmlora humaneval aggregate)", path);
        else
            mm_rt_note(&t, "ours: not run (" MM_RT_MISSING "): human ratings are needed; `mmlora humaneval sample`, give "
                           "the sheet to raters, `mmlora humaneval aggregate --out %s/humaneval/csn-deepseekcoder` "
                           "(docs/REPORTS.md, Human evaluation)", c->o->results);
        if (!main_table)
            mm_rt_note(&t, "different model and data from the paper's: not comparable in absolute terms");
        rc = mm_rt_write(&t, c->o->out, &c->all_md);
        if (!rc) c->n_tables++;
        mm_rt_free(&t);
    }
    mm_he_stats_free(&ours);
    return rc;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int mm_report_table6(mm_report_ctx *c) {
    char paper[4096], dir[4096];
    snprintf(paper, sizeof paper, "%s/table6_human.csv", c->o->paper);
    if (report_one(c, paper, "csn", "deepseekcoder", "table6_human")) return -1;
    snprintf(dir, sizeof dir, "%s/humaneval", c->o->results);
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "csn-deepseekcoder")) continue;
        names = mm_xrealloc(names, sizeof(char *) * (size_t)(n + 1));
        names[n++] = mm_xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof(char *), cmp_name);
    for (int i = 0; i < n; i++) {
        char *dash = strchr(names[i], '-'), stem[512];
        int known = 0;
        if (dash) {
            *dash = 0;
            for (int k = 0; MM_REP_DATASETS[k]; k++) known |= !strcmp(MM_REP_DATASETS[k], names[i]);
        }
        if (!known || !dash[1]) {
            if (dash) *dash = '-';
            mm_warn("report: %s/%s: not <dataset>-<model> (dataset csn, xlcost or local): skipped", dir, names[i]);
            continue;
        }
        snprintf(stem, sizeof stem, "table6_human_%s_%s", names[i], dash + 1);
        if (!rc) rc = report_one(c, paper, names[i], dash + 1, stem);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}
