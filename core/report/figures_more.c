/* Fig. 6 (data scale, LoRA-Mix vs MMLoRA with delta bars), Fig. 8 (expert allocation heatmaps from
 * experts.json) and training-loss curves (train.jsonl). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "report/figures_internal.h"
#include "util/fileio.h"
#include "util/log.h"

/* ---------------------------------------------------------------- Fig. 6 */
static int is_frac(const mm_rep_run *r) { return !strcmp(r->rq, "rq4") && !strncasecmp(r->variant, "fraction=", 9); }

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int runs_at(const mm_report_ctx *c, const mm_fig_group *g, const char *method, double f, const mm_rep_run **o) {
    int n = 0;
    for (int i = 0; i < c->res.n && n < 64; i++) {
        const mm_rep_run *r = &c->res.run[i];
        if (is_frac(r) && !strcmp(r->dataset, g->dataset) && !strcmp(r->model, g->model) && !strcmp(r->method, method) &&
            strtod(r->variant + 9, NULL) == f)
            o[n++] = r;
    }
    return n;
}

int mm_fig6(mm_report_ctx *c) {
    mm_fig_group g[32];
    int ng = mm_fig_groups(c, is_frac, g, 32);
    if (!ng) { c->n_figure_skipped++; mm_info("report: Fig. 6 not drawn: no complete rq4 run with variant fraction=<f> yet"); }
    static const char *const PANEL[] = {NULL, "ruby", "python", "java"}; /* NULL = overall */
    for (int k = 0; k < ng; k++) {
        double fr[32];
        int nf = 0;
        for (int i = 0; i < c->res.n && nf < 32; i++) {
            const mm_rep_run *r = &c->res.run[i];
            if (!is_frac(r) || strcmp(r->dataset, g[k].dataset) || strcmp(r->model, g[k].model)) continue;
            double v = strtod(r->variant + 9, NULL);
            int seen = 0;
            for (int j = 0; j < nf; j++) seen |= fr[j] == v;
            if (!seen) fr[nf++] = v;
        }
        qsort(fr, (size_t)nf, sizeof(double), cmp_d);
        mm_sbuf d = {0};
        mm_sb_printf(&d, "# Fig. 6: data scale (fraction of the training set), LoRA-Mix vs MMLoRA; %s, %s; mean over "
                         "seeds; delta = MMLoRA - LoRA-Mix\n",
                     g[k].dataset, g[k].model);
        for (int p = 0; p < 4; p++) {
            mm_sb_printf(&d, "%s# panel %s\n# label fraction loramix_bleu loramix_meteor mmlora_bleu mmlora_meteor "
                             "delta_bleu delta_meteor\n",
                         p ? "\n\n" : "", PANEL[p] ? mm_report_display(PANEL[p]) : "Overall");
            for (int j = 0; j < nf; j++) {
                const mm_rep_run *a[64], *b[64];
                int na = runs_at(c, &g[k], "lora-mix", fr[j], a), nb = runs_at(c, &g[k], "mmlora", fr[j], b);
                double v[4] = {NAN, NAN, NAN, NAN};
                for (int m = 0; m < 2; m++) {
                    mm_rep_mean(a, na, PANEL[p], m, &v[m]);
                    mm_rep_mean(b, nb, PANEL[p], m, &v[2 + m]);
                }
                mm_sb_printf(&d, "%g%% %g", fr[j] * 100, fr[j]);
                for (int m = 0; m < 4; m++) mm_fig_num(&d, v[m]);
                mm_fig_num(&d, v[2] - v[0]);
                mm_fig_num(&d, v[3] - v[1]);
                mm_sb_puts(&d, "\n");
            }
        }
        char stem[256], body[8192];
        snprintf(stem, sizeof stem, "fig6_scale_%s_%s", g[k].dataset, g[k].model);
        /* one shared legend row below the panels (screen coordinates; the bottom margin keeps it clear of the
         * data): the lines' key from the first top panel, the bars' key from the first bottom panel */
        int o = snprintf(body, sizeof body,
                         "set multiplot layout 2,4 title 'Fig. 6: data scale, LoRA-Mix vs MMLoRA, %s, %s "
                         "(bottom: MMLoRA - LoRA-Mix)' margins 0.05,0.985,0.13,0.92 spacing 0.055,0.10\n"
                         "set grid ytics\nset offsets 0.5,0.5,0,0\nset xlabel 'training data'\n",
                         mm_report_display(g[k].model), mm_report_display(g[k].dataset));
        for (int p = 0; p < 4; p++)
            o += snprintf(body + o, sizeof body - (size_t)o,
                          "%sset title '%s'\n"
                          "plot '%s.dat' index %d using 0:3:xtic(1) with linespoints pt 6 lc rgb '#1f77b4' dt 2 "
                          "title 'LoRA-Mix BLEU', '' index %d using 0:5 with linespoints pt 7 lc rgb '#1f77b4' title "
                          "'MMLoRA BLEU', '' index %d using 0:4 with linespoints pt 4 lc rgb '#2ca02c' dt 2 title "
                          "'LoRA-Mix METEOR', '' index %d using 0:6 with linespoints pt 5 lc rgb '#2ca02c' title "
                          "'MMLoRA METEOR'\n",
                          p ? "unset key\n"
                            : "set key at screen 0.40,0.008 center bottom vertical maxrows 2 samplen 3 width 3 "
                              "font ',10'\n",
                          PANEL[p] ? mm_report_display(PANEL[p]) : "Overall", stem, p, p, p, p);
        o += snprintf(body + o, sizeof body - (size_t)o,
                      "set style fill solid 0.8 border -1\nset boxwidth 0.3\nset xzeroaxis lt -1\nunset title\n");
        for (int p = 0; p < 4; p++)
            o += snprintf(body + o, sizeof body - (size_t)o,
                          "%sset ylabel 'delta'\nplot '%s.dat' index %d using ($0-0.16):7:xtic(1) with boxes lc rgb "
                          "'#1f77b4' title 'delta BLEU', '' index %d using ($0+0.16):8 with boxes lc rgb '#2ca02c' "
                          "title 'delta METEOR'\n",
                          p ? "unset key\n"
                            : "set key at screen 0.64,0.008 center bottom vertical maxrows 2 samplen 2 width 2 "
                              "font ',10'\n",
                          stem, p, p);
        int rc = mm_fig_emit(c, stem, &d, NULL, NULL, body, 1600, 800);
        mm_sb_free(&d);
        if (rc) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- Fig. 8 */
typedef struct {
    int nl, m;
    char **lang;
    double *w; /* nl x m */
    double *tot;
} experts_t;

static void experts_free(experts_t *e) {
    for (int i = 0; i < e->nl; i++) free(e->lang[i]);
    free(e->lang);
    free(e->w);
    free(e->tot);
    memset(e, 0, sizeof *e);
}

static int load_experts(const char *path, experts_t *e) {
    memset(e, 0, sizeof *e);
    char *txt = mm_read_file(path, NULL);
    if (!txt) return -1;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!cJSON_IsObject(j)) { cJSON_Delete(j); return mm_fail("%s: malformed JSON (an object expected)", path); }
    const cJSON *L = cJSON_GetObjectItemCaseSensitive(j, "languages"), *M = cJSON_GetObjectItemCaseSensitive(j, "experts"),
                *W = cJSON_GetObjectItemCaseSensitive(j, "weights"), *T = cJSON_GetObjectItemCaseSensitive(j, "totals");
    int rc = 0;
    if (!cJSON_IsArray(L) || !cJSON_GetArraySize(L)) rc = mm_fail("%s: \"languages\" must be a non-empty array", path);
    else if (!cJSON_IsNumber(M) || M->valuedouble < 1 || M->valuedouble > 256)
        rc = mm_fail("%s: \"experts\" must be a positive integer", path);
    else if (!cJSON_IsArray(W) || cJSON_GetArraySize(W) != cJSON_GetArraySize(L))
        rc = mm_fail("%s: \"weights\" must have one row per language", path);
    if (!rc) {
        e->nl = cJSON_GetArraySize(L);
        e->m = (int)M->valuedouble;
        e->lang = mm_xcalloc((size_t)e->nl, sizeof(char *));
        e->w = mm_xcalloc((size_t)e->nl * (size_t)e->m, sizeof(double));
        e->tot = mm_xcalloc((size_t)e->m, sizeof(double));
        for (int i = 0; i < e->nl && !rc; i++) {
            const cJSON *s = cJSON_GetArrayItem(L, i), *row = cJSON_GetArrayItem(W, i);
            if (!cJSON_IsString(s)) { rc = mm_fail("%s: languages[%d] must be a string", path, i); break; }
            e->lang[i] = mm_xstrdup(s->valuestring);
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != e->m) {
                rc = mm_fail("%s: weights[%d] must have %d numbers (one per expert)", path, i, e->m);
                break;
            }
            for (int x = 0; x < e->m; x++) {
                const cJSON *v = cJSON_GetArrayItem(row, x);
                if (!cJSON_IsNumber(v)) { rc = mm_fail("%s: weights[%d][%d] must be a number", path, i, x); break; }
                e->w[i * e->m + x] = v->valuedouble;
                e->tot[x] += v->valuedouble;
            }
        }
        if (!rc && T) {
            if (!cJSON_IsArray(T) || cJSON_GetArraySize(T) != e->m) rc = mm_fail("%s: \"totals\" must have %d numbers", path, e->m);
            for (int x = 0; x < e->m && !rc; x++) {
                const cJSON *v = cJSON_GetArrayItem(T, x);
                if (!cJSON_IsNumber(v)) rc = mm_fail("%s: totals[%d] must be a number", path, x);
                else e->tot[x] = v->valuedouble;
            }
        }
    }
    cJSON_Delete(j);
    if (rc) experts_free(e);
    return rc;
}

static int is_mm(const mm_rep_run *r) {
    if (strcmp(r->method, "mmlora")) return 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/experts.json", r->dir);
    return mm_file_exists(p);
}

int mm_fig8(mm_report_ctx *c) {
    mm_fig_group g[32];
    int ng = mm_fig_groups(c, is_mm, g, 32);
    if (!ng) { c->n_figure_skipped++; mm_info("report: Fig. 8 not drawn: no complete MMLoRA run with experts.json yet"); }
    for (int k = 0; k < ng; k++) {
        /* the rq1 run with the lowest seed, else any rq */
        const mm_rep_run *runs[64], *r = NULL;
        int n = mm_rep_find(&c->res, "rq1", g[k].dataset, g[k].model, "mmlora", NULL, runs, 64);
        for (int i = 0; i < n && !r; i++)
            if (is_mm(runs[i])) r = runs[i];
        n = mm_rep_find(&c->res, NULL, g[k].dataset, g[k].model, "mmlora", NULL, runs, 64);
        for (int i = 0; i < n && !r; i++)
            if (is_mm(runs[i])) r = runs[i];
        char path[4200];
        snprintf(path, sizeof path, "%s/experts.json", r->dir);
        experts_t e;
        if (load_experts(path, &e)) return -1;
        char stem[256], totname[300], body[4096];
        snprintf(stem, sizeof stem, "fig8_experts_%s_%s", g[k].dataset, g[k].model);
        snprintf(totname, sizeof totname, "%s_totals.dat", stem);
        mm_sbuf d = {0}, t = {0};
        mm_sb_printf(&d, "# Fig. 8: weight of each specialized expert per language, from %s\n", path);
        mm_sb_puts(&d, "language");
        for (int x = 0; x < e.m; x++) mm_sb_printf(&d, " E%d", x + 1);
        mm_sb_puts(&d, "\n");
        for (int i = 0; i < e.nl; i++) {
            mm_sb_printf(&d, "%s", mm_report_display(e.lang[i]));
            for (int x = 0; x < e.m; x++) mm_fig_num(&d, e.w[i * e.m + x]);
            mm_sb_puts(&d, "\n");
        }
        mm_sb_printf(&t, "# Fig. 8: total weight per expert (sum over languages), from %s\n# expert total\n", path);
        for (int x = 0; x < e.m; x++) { mm_sb_printf(&t, "E%d", x + 1); mm_fig_num(&t, e.tot[x]); mm_sb_puts(&t, "\n"); }
        snprintf(body, sizeof body,
                 "set multiplot layout 1,2 title 'Fig. 8: specialized expert allocation, %s, %s'\n"
                 "set size ratio -1\nset palette defined (0 'white', 0.5 '#9ecae1', 1 '#08519c')\nset cbrange [0:1]\n"
                 "set xlabel 'expert'\nunset key\nset tics scale 0\nset yrange [*:*] reverse\nset title 'weight per language'\n"
                 "plot '%s.dat' matrix rowheaders columnheaders with image, \\\n"
                 "     '' matrix rowheaders columnheaders using 1:2:(sprintf('%%.2f',$3)) with labels\n"
                 "set size noratio\nset size 0.5,1\nset title 'total weight per expert'\nset style fill solid 0.8 border -1\n"
                 "set boxwidth 0.6\nset yrange [0:*] noreverse\nset grid ytics\nunset xlabel\n"
                 "plot '%s' using 0:2:xtic(1) with boxes lc rgb '#3182bd', '' using 0:2:(sprintf('%%.2f',$2)) with "
                 "labels offset 0,0.7",
                 mm_report_display(g[k].model), mm_report_display(g[k].dataset), stem, totname);
        int rc = mm_fig_emit(c, stem, &d, totname, &t, body, 1100, 520);
        mm_sb_free(&d);
        mm_sb_free(&t);
        experts_free(&e);
        if (rc) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- training loss */
static int is_rq1(const mm_rep_run *r) { return !strcmp(r->rq, "rq1"); }

/* appends "step loss aux_loss" rows; 0 if the file is absent (-1 + mm_fail on a malformed line) */
static int read_train(const char *dir, mm_sbuf *d, int *rows) {
    char path[4200];
    snprintf(path, sizeof path, "%s/train.jsonl", dir);
    *rows = 0;
    if (!mm_file_exists(path)) return 0;
    char *txt = mm_read_file(path, NULL);
    if (!txt) return -1;
    int line = 0, rc = 0;
    for (char *s = txt, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = 0;
        line++;
        if (!*s) continue;
        cJSON *j = cJSON_Parse(s);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step"), *lo = cJSON_GetObjectItemCaseSensitive(j, "loss"),
                    *aux = cJSON_GetObjectItemCaseSensitive(j, "aux_loss");
        if (!cJSON_IsNumber(st) || !cJSON_IsNumber(lo)) {
            rc = mm_fail("%s:%d: expected a JSON object with numbers \"step\" and \"loss\"", path, line);
            cJSON_Delete(j);
            break;
        }
        mm_sb_printf(d, "%.0f", st->valuedouble);
        mm_fig_num(d, lo->valuedouble);
        mm_fig_num(d, cJSON_IsNumber(aux) ? aux->valuedouble : NAN);
        mm_sb_puts(d, "\n");
        (*rows)++;
        cJSON_Delete(j);
    }
    free(txt);
    return rc;
}

int mm_fig_loss(mm_report_ctx *c) {
    mm_fig_group g[32];
    int ng = mm_fig_groups(c, is_rq1, g, 32);
    static const char *const METHODS[] = {"fpft-mix", "lora-each", "lora-mix", "mola", "mmlora"};
    int drawn = 0;
    for (int k = 0; k < ng; k++) {
        mm_sbuf d = {0};
        char stem[256], body[4096];
        snprintf(stem, sizeof stem, "loss_%s_%s", g[k].dataset, g[k].model);
        mm_sb_printf(&d, "# training loss per method (lowest-seed rq1 run); %s, %s\n", g[k].dataset, g[k].model);
        int o = snprintf(body, sizeof body,
                         "set title 'Training loss, %s, %s'\nset xlabel 'step'\nset ylabel 'loss'\nset grid\n"
                         "set key top right\nplot ",
                         mm_report_display(g[k].model), mm_report_display(g[k].dataset));
        int blocks = 0;
        for (int m = 0; m < 5; m++) {
            const mm_rep_run *runs[64];
            int n = mm_rep_find(&c->res, "rq1", g[k].dataset, g[k].model, METHODS[m], NULL, runs, 64), rows = 0;
            if (!n) continue;
            mm_sbuf part = {0};
            if (read_train(runs[0]->dir, &part, &rows)) { mm_sb_free(&part); mm_sb_free(&d); return -1; }
            if (rows) {
                mm_sb_printf(&d, "%s# %s (%s)\n# step loss aux_loss\n%s", blocks ? "\n\n" : "", METHODS[m],
                             runs[0]->dir, part.s);
                o += snprintf(body + o, sizeof body - (size_t)o, "%s'%s.dat' index %d using 1:2 with lines lw 1.5 "
                                                                 "title '%s'",
                              blocks ? ", " : "", stem, blocks, mm_report_display(METHODS[m]));
                blocks++;
            }
            mm_sb_free(&part);
        }
        if (blocks) {
            if (mm_fig_emit(c, stem, &d, NULL, NULL, body, 900, 560)) { mm_sb_free(&d); return -1; }
            drawn++;
        }
        mm_sb_free(&d);
    }
    if (!drawn) { c->n_figure_skipped++; mm_info("report: loss curves not drawn: no complete rq1 run with train.jsonl yet"); }
    return 0;
}
