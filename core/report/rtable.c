#include "report/rtable.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/sbuf.h"
#include "util/log.h"

void mm_rt_init(mm_rtable *t, const char *name, const char *title) {
    memset(t, 0, sizeof *t);
    t->name = mm_xstrdup(name);
    t->title = mm_xstrdup(title);
}

void mm_rt_col(mm_rtable *t, const char *head, const char *key, bool rank) {
    if (t->ncol >= MM_RT_MAXC) return;
    t->head[t->ncol] = mm_xstrdup(head);
    t->key[t->ncol] = mm_xstrdup(key);
    t->rank[t->ncol] = rank;
    t->ncol++;
}

mm_rt_row *mm_rt_add(mm_rtable *t, mm_rt_kind kind, int block, int rank_group) {
    t->row = mm_xrealloc(t->row, sizeof(mm_rt_row) * (size_t)(t->nrow + 1));
    mm_rt_row *r = &t->row[t->nrow++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->block = block;
    r->rank_group = rank_group;
    for (int c = 0; c < MM_RT_MAXC; c++) r->val[c] = NAN;
    return r;
}

void mm_rt_set(mm_rt_row *r, int col, const char *text) {
    if (col < 0 || col >= MM_RT_MAXC) return;
    free(r->cell[col]);
    r->cell[col] = mm_xstrdup(text ? text : MM_RT_MISSING);
}

void mm_rt_setv(mm_rt_row *r, int col, double v, bool signed_) {
    char b[64];
    if (isnan(v)) snprintf(b, sizeof b, MM_RT_MISSING);
    else snprintf(b, sizeof b, signed_ ? "%+.2f" : "%.2f", v);
    mm_rt_set(r, col, b);
    if (col >= 0 && col < MM_RT_MAXC) r->val[col] = v;
}

void mm_rt_note(mm_rtable *t, const char *fmt, ...) {
    char b[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    for (int i = 0; i < t->nnote; i++)
        if (!strcmp(t->note[i], b)) return; /* once */
    t->note = mm_xrealloc(t->note, sizeof(char *) * (size_t)(t->nnote + 1));
    t->note[t->nnote++] = mm_xstrdup(b);
}

void mm_rt_free(mm_rtable *t) {
    for (int r = 0; r < t->nrow; r++)
        for (int c = 0; c < MM_RT_MAXC; c++) free(t->row[r].cell[c]);
    free(t->row);
    for (int c = 0; c < t->ncol; c++) { free(t->head[c]); free(t->key[c]); }
    for (int i = 0; i < t->nnote; i++) free(t->note[i]);
    free(t->note);
    free(t->name);
    free(t->title);
    memset(t, 0, sizeof *t);
}

void mm_rt_rank(mm_rtable *t) {
    for (int c = 0; c < t->ncol; c++) {
        if (!t->rank[c]) continue;
        for (int i = 0; i < t->nrow; i++) {
            mm_rt_row *r = &t->row[i];
            r->mark[c] = 0;
            if (r->rank_group <= 0 || (r->kind != MM_RT_PAPER && r->kind != MM_RT_OURS) || isnan(r->val[c])) continue;
            /* rank = number of distinct values strictly greater than this one in the group (stop at 2) */
            double seen[2];
            int ndistinct = 0;
            for (int j = 0; j < t->nrow && ndistinct < 2; j++) {
                const mm_rt_row *o = &t->row[j];
                if (o->rank_group != r->rank_group || o->kind != r->kind || isnan(o->val[c])) continue;
                if (!(o->val[c] > r->val[c])) continue;
                if (ndistinct == 1 && seen[0] == o->val[c]) continue;
                seen[ndistinct++] = o->val[c];
            }
            r->mark[c] = ndistinct == 0 ? 1 : ndistinct == 1 ? 2 : 0;
        }
    }
}

/* ---------------------------------------------------------------- Markdown */
static void md_cell(mm_sbuf *b, const char *s, int mark) {
    if (mark == 1) mm_sb_printf(b, " **%s** |", s);
    else if (mark == 2) mm_sb_printf(b, " <u>%s</u> |", s);
    else mm_sb_printf(b, " %s |", s);
}

static void render_md(const mm_rtable *t, mm_sbuf *b) {
    mm_sb_printf(b, "### %s\n\n|", t->title);
    for (int c = 0; c < t->ncol; c++) mm_sb_printf(b, " %s |", t->head[c]);
    mm_sb_puts(b, "\n|");
    for (int c = 0; c < t->ncol; c++) mm_sb_puts(b, c < t->nlabel ? "---|" : "---:|");
    mm_sb_puts(b, "\n");
    for (int i = 0; i < t->nrow; i++) {
        const mm_rt_row *r = &t->row[i];
        mm_sb_puts(b, "|");
        for (int c = 0; c < t->ncol; c++) md_cell(b, r->cell[c] ? r->cell[c] : "", r->mark[c]);
        mm_sb_puts(b, "\n");
    }
    if (t->nnote) mm_sb_puts(b, "\n");
    for (int i = 0; i < t->nnote; i++) mm_sb_printf(b, "- %s\n", t->note[i]);
    mm_sb_puts(b, "\n");
}

/* ---------------------------------------------------------------- LaTeX */
static void tex_escape(mm_sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '%': case '_': case '&': case '#': case '$': case '{': case '}':
            mm_sb_printf(b, "\\%c", *s);
            break;
        case '<': mm_sb_puts(b, "$<$"); break;
        case '>': mm_sb_puts(b, "$>$"); break;
        case '~': mm_sb_puts(b, "\\textasciitilde{}"); break;
        case '^': mm_sb_puts(b, "\\textasciicircum{}"); break;
        case '\\': mm_sb_puts(b, "\\textbackslash{}"); break;
        default:
            if (!strncmp(s, MM_RT_MISSING, strlen(MM_RT_MISSING))) {
                mm_sb_puts(b, "---");
                s += strlen(MM_RT_MISSING) - 1;
            } else if (!strncmp(s, "Δ", strlen("Δ"))) {
                mm_sb_puts(b, "$\\Delta$");
                s += strlen("Δ") - 1;
            } else if (!strncmp(s, "−", strlen("−"))) {
                mm_sb_puts(b, "$-$");
                s += strlen("−") - 1;
            } else if (!strncmp(s, "×", strlen("×"))) {
                mm_sb_puts(b, "$\\times$");
                s += strlen("×") - 1;
            } else mm_sb_printf(b, "%c", *s);
        }
    }
}

static void render_tex(const mm_rtable *t, mm_sbuf *b) {
    mm_sb_puts(b, "% generated by `mmlora report`; needs \\usepackage{booktabs}\n\\begin{table*}[t]\n\\centering\n"
                  "\\caption{");
    tex_escape(b, t->title);
    mm_sb_printf(b, "}\n\\label{tab:%s}\n\\footnotesize\n\\begin{tabular}{", t->name);
    for (int c = 0; c < t->ncol; c++) mm_sb_puts(b, c < t->nlabel ? "l" : "r");
    mm_sb_puts(b, "}\n\\toprule\n");
    for (int c = 0; c < t->ncol; c++) {
        if (c) mm_sb_puts(b, " & ");
        tex_escape(b, t->head[c]);
    }
    mm_sb_puts(b, " \\\\\n\\midrule\n");
    for (int i = 0; i < t->nrow; i++) {
        const mm_rt_row *r = &t->row[i];
        if (i && r->block != t->row[i - 1].block) mm_sb_puts(b, "\\midrule\n");
        for (int c = 0; c < t->ncol; c++) {
            if (c) mm_sb_puts(b, " & ");
            const char *s = r->cell[c] ? r->cell[c] : "";
            if (r->mark[c] == 1) mm_sb_puts(b, "\\textbf{");
            if (r->mark[c] == 2) mm_sb_puts(b, "\\underline{");
            tex_escape(b, s);
            if (r->mark[c]) mm_sb_puts(b, "}");
        }
        mm_sb_puts(b, " \\\\\n");
    }
    mm_sb_puts(b, "\\bottomrule\n\\end{tabular}\n");
    if (t->nnote) {
        mm_sb_puts(b, "\\par\\smallskip\\raggedright\\scriptsize\n");
        for (int i = 0; i < t->nnote; i++) {
            tex_escape(b, t->note[i]);
            mm_sb_puts(b, "\\\\\n");
        }
    }
    mm_sb_puts(b, "\\end{table*}\n");
}

/* ---------------------------------------------------------------- CSV (RFC 4180 quoting, "—" -> empty) */
static void csv_field(mm_sbuf *b, const char *s) {
    if (!s || !strcmp(s, MM_RT_MISSING)) return;
    if (!strpbrk(s, ",\"\n\r")) { mm_sb_puts(b, s); return; }
    mm_sb_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"') mm_sb_puts(b, "\"\"");
        else mm_sb_printf(b, "%c", *s);
    }
    mm_sb_puts(b, "\"");
}

static void render_csv(const mm_rtable *t, mm_sbuf *b) {
    for (int c = 0; c < t->ncol; c++) {
        if (c) mm_sb_puts(b, ",");
        csv_field(b, t->key[c]);
    }
    mm_sb_puts(b, "\n");
    for (int i = 0; i < t->nrow; i++) {
        for (int c = 0; c < t->ncol; c++) {
            if (c) mm_sb_puts(b, ",");
            if (t->row[i].kind == MM_RT_DELTA && !strcmp(t->key[c], "source")) mm_sb_puts(b, "delta");
            else csv_field(b, t->row[i].cell[c]);
        }
        mm_sb_puts(b, "\n");
    }
}

int mm_rt_write(mm_rtable *t, const char *dir, void *all_md) {
    mm_rt_rank(t);
    mm_sbuf b = {0};
    char path[4096];
    int rc = 0;
    render_md(t, &b);
    if (all_md) mm_sb_puts(all_md, b.s);
    snprintf(path, sizeof path, "%s/%s.md", dir, t->name);
    rc |= mm_sb_write(&b, path);
    render_tex(t, &b);
    snprintf(path, sizeof path, "%s/%s.tex", dir, t->name);
    if (!rc) rc |= mm_sb_write(&b, path);
    render_csv(t, &b);
    snprintf(path, sizeof path, "%s/%s.csv", dir, t->name);
    if (!rc) rc |= mm_sb_write(&b, path);
    mm_sb_free(&b);
    return rc ? -1 : 0;
}
