/* Tables II-V: per-language BLEU / METEOR, the paper's row, ours and the difference; p-values of
 * MMLoRA vs MoLA from the per-sample scores (Wilcoxon signed-rank, metrics/stats.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "metrics/samples_csv.h"
#include "metrics/stats.h"
#include "report/csvtab.h"
#include "report/report_internal.h"
#include "util/log.h"

typedef enum { K_METHODS, K_ABLATION, K_EXPERTS } table_kind;

typedef struct {
    const char *file, *stem, *title, *paper_dataset, *rq;
    table_kind kind;
    const char *ref_model;   /* the paper block compared with models the paper did not use (tiny) */
} score_spec;

static const score_spec SPECS[] = {
    {"table2_csn.csv", "table2", "Table II. Code summarization compared with other methods", "csn", "rq1", K_METHODS,
     "starcoderbase"},
    {"table3_xlcost.csv", "table3", "Table III. Code summarization compared with other methods", "xlcost", "rq1",
     K_METHODS, "starcoderbase"},
    {"table4_ablation.csv", "table4", "Table IV. Ablations of MMLoRA", "csn", "rq2", K_ABLATION, "deepseekcoder"},
    {"table5_experts.csv", "table5", "Table V. Number of specialized experts and Global Top-K", "csn", "rq3",
     K_EXPERTS, "deepseekcoder"},
};

enum { MAXL = 10, MAXRUNS = 64, MAXBLK = 16 };

typedef struct {
    const score_spec *s;
    const char *dataset;        /* ours */
    mm_csvtab p;
    int col_model, col_param, nlabelcols, labelcol[2];
    int nl;                     /* languages + overall (last) */
    char lang[MAXL][16];
    int colb[MAXL], colm[MAXL]; /* paper columns */
    int first_val;              /* first value column of the rendered table */
} ctx_t;

static int is_llm(const char *method) { return !strcmp(method, "one-shot") || !strcmp(method, "few-shot"); }

static double paper_num(const char *s) {
    if (!s || !*s || !strcmp(s, "-")) return NAN;
    char *e;
    double v = strtod(s, &e);
    return e == s ? NAN : v;
}

/* our complete runs for one paper row */
static int find_ours(const mm_report_ctx *c, const ctx_t *x, const char *model, char **row, const mm_rep_run **runs,
                     const char **how) {
    const mm_rep_results *r = &c->res;
    const char *rq = x->s->rq, *ds = x->dataset;
    *how = NULL;
    if (x->s->kind == K_METHODS)
        return mm_rep_find(r, rq, ds, model, row[x->labelcol[0]], NULL, runs, MAXRUNS);
    char variant[64];
    int is_main = 0;
    if (x->s->kind == K_ABLATION) {
        snprintf(variant, sizeof variant, "%s", row[x->labelcol[0]]);
        is_main = !strcasecmp(variant, "MMLoRA");
    } else {
        snprintf(variant, sizeof variant, "experts=%s,K=%s", row[x->labelcol[0]], row[x->labelcol[1]]);
        is_main = !strcmp(row[x->labelcol[0]], "4") && !strcmp(row[x->labelcol[1]], "2");
    }
    int n = mm_rep_find(r, rq, ds, model, NULL, variant, runs, MAXRUNS);
    if (n || !is_main) return n;
    n = mm_rep_find(r, rq, ds, model, "mmlora", "", runs, MAXRUNS);
    if (!n) n = mm_rep_find(r, rq, ds, model, "mmlora", "mmlora", runs, MAXRUNS);
    if (n) return n;
    n = mm_rep_find(r, "rq1", ds, model, "mmlora", NULL, runs, MAXRUNS);
    if (n) *how = "the MMLoRA row of this table is the rq1 MMLoRA run (same configuration)";
    return n;
}

/* ---------------------------------------------------------------- p-values */
static int read_pairs(const mm_rep_run *a, const mm_rep_run *b, const char *lang, const char *col, double **va,
                      double **vb, size_t *n, char *why, size_t whylen) {
    const char *na = NULL, *nb = NULL;
    for (int i = 0; i < a->nlang; i++)
        if (!strcasecmp(a->lang[i].name, lang)) na = a->lang[i].name;
    for (int i = 0; i < b->nlang; i++)
        if (!strcasecmp(b->lang[i].name, lang)) nb = b->lang[i].name;
    if (!na || !nb) return 1; /* language not run: no cell */
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/scores/%s.csv", a->dir, na);
    snprintf(pb, sizeof pb, "%s/scores/%s.csv", b->dir, nb);
    mm_samples A, B;
    if (mm_samples_read(pa, col, &A)) { snprintf(why, whylen, "%s", mm_last_error()); return -1; }
    if (mm_samples_read(pb, col, &B)) {
        snprintf(why, whylen, "%s", mm_last_error());
        mm_samples_free(&A);
        return -1;
    }
    int rc = 0;
    if (A.n != B.n) {
        snprintf(why, whylen, "%s has %zu samples but %s has %zu", pa, A.n, pb, B.n);
        rc = -1;
    }
    for (size_t i = 0; !rc && i < A.n; i++)
        if (strcmp(A.ids[i], B.ids[i])) {
            snprintf(why, whylen, "%s and %s list different ids (row %zu)", pa, pb, i + 2);
            rc = -1;
        }
    if (!rc) {
        *va = mm_xrealloc(*va, sizeof(double) * (*n + A.n));
        *vb = mm_xrealloc(*vb, sizeof(double) * (*n + A.n));
        memcpy(*va + *n, A.vals, sizeof(double) * A.n);
        memcpy(*vb + *n, B.vals, sizeof(double) * A.n);
        *n += A.n;
    }
    mm_samples_free(&A);
    mm_samples_free(&B);
    return rc;
}

static void fmt_p(double p, char *b, size_t n) {
    if (isnan(p)) snprintf(b, n, MM_RT_MISSING);
    else if (p < 0.001) snprintf(b, n, "<0.001");
    else snprintf(b, n, "%.3f", p);
}

/* fills the p-value cells of row r for MMLoRA vs MoLA */
static void pvalue_row(mm_report_ctx *c, const ctx_t *x, mm_rtable *t, mm_rt_row *r, const char *model) {
    const mm_rep_run *mm[MAXRUNS], *mo[MAXRUNS];
    int nmm = mm_rep_find(&c->res, x->s->rq, x->dataset, model, "mmlora", NULL, mm, MAXRUNS);
    int nmo = mm_rep_find(&c->res, x->s->rq, x->dataset, model, "mola", NULL, mo, MAXRUNS);
    if (!nmm || !nmo) return;
    for (int k = 0; k < 2 * x->nl; k++) {
        int li = k / 2, metric = k % 2;
        const char *col = metric ? "meteor" : "bleu";
        double *va = NULL, *vb = NULL;
        size_t n = 0;
        char why[10000] = "";
        int rc = 0;
        if (li < x->nl - 1) rc = read_pairs(mm[0], mo[0], x->lang[li], col, &va, &vb, &n, why, sizeof why);
        else
            for (int j = 0; j < x->nl - 1 && rc >= 0; j++) {
                int e = read_pairs(mm[0], mo[0], x->lang[j], col, &va, &vb, &n, why, sizeof why);
                if (e < 0) rc = e;
            }
        if (rc < 0) mm_rt_note(t, "p-value not computed: %s", why);
        if (rc == 0 && n > 0) {
            mm_test_result res;
            mm_wilcoxon_opts wo = {0};
            mm_clear_error();
            if (mm_wilcoxon(va, vb, n, &wo, &res) == 0) {
                char b[32];
                fmt_p(res.pvalue, b, sizeof b);
                mm_rt_set(r, x->first_val + 1 + k, b);
                r->val[x->first_val + 1 + k] = res.pvalue;
            } else mm_rt_note(t, "p-value not computed (%s): %s", x->lang[li], mm_last_error());
        }
        free(va);
        free(vb);
    }
    if (nmm > 1 || nmo > 1)
        mm_rt_note(t, "our p-values use the run with the lowest seed of MMLoRA and of MoLA");
}

/* ---------------------------------------------------------------- one table */
static void label_cells(const ctx_t *x, mm_rt_row *r, const char *model_disp, char **prow, const char *source) {
    int k = 0;
    mm_rt_set(r, k++, model_disp);
    for (int i = 0; i < x->nlabelcols; i++) {
        const char *v = prow[x->labelcol[i]];
        mm_rt_set(r, k++, x->s->kind == K_METHODS ? mm_report_display(v) : v);
    }
    mm_rt_set(r, k, source);
}

/* the paper's row prow (Param% and values; the values also into paper[]) */
static void paper_row(ctx_t *x, mm_rtable *t, int block, int g, const char *disp, char **prow, const char *src,
                      double *paper) {
    int pv = x->first_val; /* Param% column */
    mm_rt_row *rp = mm_rt_add(t, MM_RT_PAPER, block, g);
    label_cells(x, rp, disp, prow, src);
    const char *pp = prow[x->col_param];
    char ptxt[64];
    snprintf(ptxt, sizeof ptxt, "%s%s", pp, strcmp(pp, "-") && !strstr(pp, "x") ? "%" : "");
    if (strstr(pp, " x ")) { /* "2.17 x 6" -> "2.17% × 6" */
        const char *xx = strstr(pp, " x ");
        snprintf(ptxt, sizeof ptxt, "%.*s%% × %s", (int)(xx - pp), pp, xx + 3);
    }
    mm_rt_set(rp, pv, !strcmp(pp, "-") ? MM_RT_MISSING : ptxt);
    for (int k = 0; k < 2 * x->nl; k++) {
        paper[k] = paper_num(prow[k % 2 ? x->colm[k / 2] : x->colb[k / 2]]);
        mm_rt_setv(rp, pv + 1 + k, paper[k], false);
    }
}

/* our row (mean over the n runs) and its difference with paper[] (pp: the paper's Param%) */
static void ours_rows(ctx_t *x, mm_rtable *t, int block, int g, const char *disp, char **prow,
                      const mm_rep_run *const *runs, int n, const double *paper, const char *pp, const char *delta_src) {
    int pv = x->first_val;
    mm_rt_add(t, MM_RT_OURS, block, g);
    mm_rt_row *ro = &t->row[t->nrow - 1];
    label_cells(x, ro, disp, prow, n > 1 ? "ours (mean)" : "ours");
    mm_rt_add(t, MM_RT_DELTA, block, 0); /* may move the rows: take both pointers after */
    ro = &t->row[t->nrow - 2];
    mm_rt_row *rd = &t->row[t->nrow - 1];
    label_cells(x, rd, disp, prow, delta_src);
    if (n > 1) mm_rt_note(t, "ours (mean): mean over the complete runs of that row (seeds)");
    /* "-" (prompted baselines, as the paper prints them) or absent: no percentage */
    const char *tpp = n ? runs[0]->trainable_percent : "";
    char tp[64];
    snprintf(tp, sizeof tp, "%s%%", tpp);
    mm_rt_set(ro, pv, tpp[0] && strcmp(tpp, "-") ? tp : MM_RT_MISSING);
    double po = paper_num(pp), oo = n ? paper_num(runs[0]->trainable_percent) : NAN;
    if (!isnan(po) && !isnan(oo)) mm_rt_setv(rd, pv, oo - po, true);
    else mm_rt_set(rd, pv, MM_RT_MISSING);
    rd->val[pv] = NAN;
    for (int k = 0; k < 2 * x->nl; k++) {
        double v = NAN;
        int li = k / 2;
        if (n) mm_rep_mean(runs, n, li == x->nl - 1 ? NULL : x->lang[li], k % 2, &v);
        mm_rt_setv(ro, pv + 1 + k, v, false);
        mm_rt_setv(rd, pv + 1 + k, isnan(v) || isnan(paper[k]) ? NAN : v - paper[k], true);
    }
    if (!n) mm_rt_note(t, MM_RT_MISSING " in an ours row: not run yet (no complete run, i.e. no DONE file)");
}

/* Our one-shot / few-shot runs of a model (the base model prompted, train/run_icl.h): in that model's
 * block, each beside the paper's prompted LLM rows of the same method (GPT-4, DeepSeek-V3), Δ against the
 * first of them; unranked.  Only when the model has such a run. */
static void icl_rows(mm_report_ctx *c, ctx_t *x, mm_rtable *t, const char *model, const char *disp, int block) {
    static const char *const ICL[] = {"one-shot", "few-shot"};
    const mm_rep_run *runs[2][MAXRUNS];
    int n[2];
    for (int m = 0; m < 2; m++) n[m] = mm_rep_find(&c->res, x->s->rq, x->dataset, model, ICL[m], NULL, runs[m], MAXRUNS);
    if (!n[0] && !n[1]) return;
    for (int m = 0; m < 2; m++) {
        double paper[2 * MAXL], first[2 * MAXL];
        char **frow = NULL, delta[160], src[160];
        for (int k = 0; k < 2 * MAXL; k++) first[k] = NAN;
        for (int i = 0; i < x->p.nrow; i++) {
            char **prow = x->p.cell[i];
            if (strcmp(prow[x->labelcol[0]], ICL[m])) continue;
            snprintf(src, sizeof src, "paper (%s)", mm_report_display(prow[x->col_model]));
            paper_row(x, t, block, 0, disp, prow, src, paper);
            if (!frow) { frow = prow; memcpy(first, paper, sizeof first); }
        }
        char *self[64] = {0}, method[16];
        if (!frow) { /* no paper row of this method: ours alone */
            snprintf(method, sizeof method, "%s", ICL[m]);
            for (int k = 0; k < x->p.ncol && k < 64; k++) self[k] = (char *)"-";
            self[x->labelcol[0]] = method;
        }
        snprintf(delta, sizeof delta, "Δ (ours − %s)", frow ? mm_report_display(frow[x->col_model]) : "paper");
        ours_rows(x, t, block, 0, disp, frow ? frow : self, runs[m], n[m], first, frow ? frow[x->col_param] : "-",
                  delta);
    }
    mm_rt_note(t, "one-shot / few-shot of %s: %s itself prompted with training examples of the test example's "
                  "language (1 / 4 unless run.json says otherwise; docs/METHODS.md), beside the paper's prompted "
                  "GPT-4 / DeepSeek-V3 rows; Δ against GPT-4; not ranked", disp, disp);
}

static void add_block(mm_report_ctx *c, ctx_t *x, mm_rtable *t, const char *model, const char *ref, int block,
                      int *rank_group) {
    char disp[128], src[160];
    int extra = strcmp(model, ref) != 0;
    snprintf(disp, sizeof disp, "%s", mm_report_display(model));
    snprintf(src, sizeof src, extra ? "paper (%s)" : "paper", mm_report_display(ref));
    int group = ++*rank_group;
    int pv = x->first_val; /* Param% column */
    if (x->s->kind == K_METHODS) icl_rows(c, x, t, model, disp, block);
    for (int i = 0; i < x->p.nrow; i++) {
        char **prow = x->p.cell[i];
        if (strcmp(prow[x->col_model], ref)) continue;
        int llm = x->s->kind == K_METHODS && is_llm(prow[x->labelcol[0]]);
        int g = llm ? 0 : group;
        if (x->s->kind == K_METHODS && !strcmp(prow[x->labelcol[0]], "p-value")) {
            mm_rt_row *r = mm_rt_add(t, MM_RT_INFO, block, 0);
            label_cells(x, r, disp, prow, src);
            mm_rt_set(r, 1, "p-value (MMLoRA vs MoLA)");
            mm_rt_set(r, pv, "");
            for (int k = 0; k < 2 * x->nl; k++) mm_rt_set(r, pv + 1 + k, prow[k % 2 ? x->colm[k / 2] : x->colb[k / 2]]);
            r = mm_rt_add(t, MM_RT_INFO, block, 0);
            label_cells(x, r, disp, prow, "ours");
            mm_rt_set(r, 1, "p-value (MMLoRA vs MoLA)");
            mm_rt_set(r, pv, "");
            for (int k = 0; k < 2 * x->nl; k++) mm_rt_set(r, pv + 1 + k, NULL);
            pvalue_row(c, x, t, r, model);
            continue;
        }
        double paper[2 * MAXL];
        paper_row(x, t, block, g, disp, prow, src, paper);
        /* the prompted LLMs' block (GPT-4, DeepSeek-V3) is the paper's only: our prompted runs go to
         * the block of the model that ran them (icl_rows) */
        if (llm) continue;
        const mm_rep_run *runs[MAXRUNS];
        const char *how;
        int n = find_ours(c, x, model, prow, runs, &how);
        if (how) mm_rt_note(t, "%s", how);
        ours_rows(x, t, block, g, disp, prow, runs, n, paper, prow[x->col_param], "Δ (ours − paper)");
    }
}

static int build(mm_report_ctx *c, const score_spec *s, const char *dataset) {
    ctx_t x = {.s = s, .dataset = dataset};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", c->o->paper, s->file);
    if (mm_csvtab_read(path, &x.p)) return -1;
    x.col_model = mm_csvtab_col(&x.p, "model");
    x.col_param = mm_csvtab_col(&x.p, "param_percent");
    if (s->kind == K_METHODS) { x.nlabelcols = 1; x.labelcol[0] = mm_csvtab_col(&x.p, "method"); }
    else if (s->kind == K_ABLATION) { x.nlabelcols = 1; x.labelcol[0] = mm_csvtab_col(&x.p, "variant"); }
    else { x.nlabelcols = 2; x.labelcol[0] = mm_csvtab_col(&x.p, "experts"); x.labelcol[1] = mm_csvtab_col(&x.p, "top_k"); }
    int bad = x.col_model < 0 || x.col_param < 0 || x.labelcol[0] < 0 || (x.nlabelcols == 2 && x.labelcol[1] < 0);
    for (int col = 0; col < x.p.ncol && !bad; col++) {
        const char *h = x.p.head[col];
        size_t L = strlen(h);
        if (L > 5 && !strcmp(h + L - 5, "_bleu") && x.nl < MAXL && L - 5 < sizeof x.lang[0]) {
            snprintf(x.lang[x.nl], sizeof x.lang[0], "%.*s", (int)(L - 5), h);
            char m[64];
            snprintf(m, sizeof m, "%s_meteor", x.lang[x.nl]);
            x.colb[x.nl] = col;
            x.colm[x.nl] = mm_csvtab_col(&x.p, m);
            if (x.colm[x.nl] < 0) bad = 1;
            x.nl++;
        }
    }
    if (bad || x.nl < 2 || strcmp(x.lang[x.nl - 1], "overall")) {
        mm_csvtab_free(&x.p);
        return mm_fail("%s: expected columns model, %s, param_percent, <lang>_bleu/<lang>_meteor ..., overall_bleu, "
                       "overall_meteor",
                       path, s->kind == K_METHODS ? "method" : s->kind == K_ABLATION ? "variant" : "experts, top_k");
    }
    mm_rtable t;
    char name[64], title[256];
    snprintf(name, sizeof name, "%s_%s", s->stem, dataset);
    snprintf(title, sizeof title, "%s on %s%s", s->title,
             !strcmp(dataset, "csn") ? "CodeSearchNet" : !strcmp(dataset, "xlcost") ? "XLCoST" : "the local corpus",
             strcmp(dataset, s->paper_dataset) ? " (paper: CodeSearchNet; not comparable in absolute terms)" : "");
    mm_rt_init(&t, name, title);
    mm_rt_col(&t, "Model", "model", false);
    if (s->kind == K_METHODS) mm_rt_col(&t, "Method", "method", false);
    else if (s->kind == K_ABLATION) mm_rt_col(&t, "Ablation", "variant", false);
    else { mm_rt_col(&t, "Experts", "experts", false); mm_rt_col(&t, "Top-K", "top_k", false); }
    mm_rt_col(&t, "Source", "source", false);
    t.nlabel = t.ncol;
    x.first_val = t.ncol;
    mm_rt_col(&t, "Param%", "param_percent", false);
    for (int i = 0; i < x.nl; i++) {
        char h[64], k[64];
        snprintf(h, sizeof h, "%s BLEU", mm_report_display(x.lang[i]));
        snprintf(k, sizeof k, "%s_bleu", x.lang[i]);
        mm_rt_col(&t, h, k, true);
        snprintf(h, sizeof h, "%s METEOR", mm_report_display(x.lang[i]));
        snprintf(k, sizeof k, "%s_meteor", x.lang[i]);
        mm_rt_col(&t, h, k, true);
    }
    /* blocks: the paper's models (unless filtered), then models only we ran */
    const char *models[MAXBLK];
    int nm = 0;
    int paper_model = c->o->model == NULL;
    for (int i = 0; i < x.p.nrow && nm < MAXBLK; i++) {
        const char *m = x.p.cell[i][x.col_model];
        int seen = 0;
        for (int j = 0; j < nm; j++) seen |= !strcmp(models[j], m);
        if (c->o->model && !strcmp(c->o->model, m)) paper_model = 1;
        if (!seen && mm_report_want_model(c, m)) models[nm++] = m;
    }
    int n_paper_models = nm;
    for (int i = 0; i < c->res.n && nm < MAXBLK; i++) {
        const mm_rep_run *r = &c->res.run[i];
        if (strcmp(r->dataset, dataset) || !mm_report_want_model(c, r->model)) continue;
        if (strcmp(r->rq, s->rq) && !(strcmp(s->rq, "rq1") && !strcmp(r->rq, "rq1") && !strcmp(r->method, "mmlora")))
            continue;
        int seen = 0;
        for (int j = 0; j < nm; j++) seen |= !strcmp(models[j], r->model);
        if (!seen) models[nm++] = r->model;
    }
    if (!paper_model && nm == 0) models[nm++] = c->o->model; /* --model tiny with no run yet */
    int group = 0;
    for (int b = 0; b < nm; b++) {
        const char *ref = b < n_paper_models ? models[b] : s->ref_model;
        if (b >= n_paper_models)
            mm_rt_note(&t, "%s is compared with the paper's %s rows (%s)", mm_report_display(models[b]),
                       mm_report_display(ref),
                       !strcmp(ref, "starcoderbase") ? "the same GPTBigCode family" : "the only model of this table");
        add_block(c, &x, &t, models[b], ref, b, &group);
    }
    if (s->kind == K_METHODS)
        mm_rt_note(&t, "p-value: paper = as published (test not named); ours = two-sided Wilcoxon signed-rank test "
                       "(scipy semantics, metrics/stats.h) on per-sample scores of MMLoRA vs MoLA; Overall pools "
                       "every language's samples");
    mm_rt_note(&t, "Bold = best, underlined = second best within a model block (fine-tuned methods), separately for "
                   "the paper's and our rows");
    mm_report_common_notes(c, &t, s->rq, dataset);
    int rc = mm_rt_write(&t, c->o->out, &c->all_md);
    if (!rc) { c->n_tables++; mm_info("report: %s/%s.{md,tex,csv}", c->o->out, name); }
    mm_rt_free(&t);
    mm_csvtab_free(&x.p);
    return rc;
}

static int has_local(const mm_report_ctx *c, const char *rq) {
    for (int i = 0; i < c->res.n; i++)
        if (!strcmp(c->res.run[i].dataset, "local") && !strcmp(c->res.run[i].rq, rq)) return 1;
    return 0;
}

int mm_report_score_tables(mm_report_ctx *c) {
    for (size_t i = 0; i < sizeof SPECS / sizeof SPECS[0]; i++) {
        const score_spec *s = &SPECS[i];
        if (mm_report_want_dataset(c, s->paper_dataset) && build(c, s, s->paper_dataset)) return -1;
        /* the local corpus has CodeSearchNet's six languages: Table II/IV/V layouts */
        if (!strcmp(s->paper_dataset, "csn") && mm_report_want_dataset(c, "local") &&
            (has_local(c, s->rq) || (c->o->dataset && !strcmp(c->o->dataset, "local"))) && build(c, s, "local"))
            return -1;
    }
    return 0;
}
