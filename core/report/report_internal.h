/* Shared state of the report writers (tables.c, tables_extra.c, figures.c, report.c). */
#ifndef MMLORA_REPORT_INTERNAL_H
#define MMLORA_REPORT_INTERNAL_H
#include "report/report.h"
#include "report/results.h"
#include "report/rtable.h"
#include "report/sbuf.h"

typedef struct {
    const mm_report_opts *o;
    mm_rep_results res;
    mm_sbuf all_md;          /* every table's Markdown, written to <out>/REPORT.md */
    const char *gnuplot;     /* NULL: write data and scripts only */
    int n_tables, n_figures, n_figure_skipped;
} mm_report_ctx;

/* "java" -> "Java", "c++" -> "C++", "deepseekcoder" -> "DeepSeekCoder"; unknown names unchanged */
const char *mm_report_display(const char *id);
/* does the dataset / model pass --dataset / --model */
int mm_report_want_dataset(const mm_report_ctx *c, const char *ds);
int mm_report_want_model(const mm_report_ctx *c, const char *model);
/* the common notes: runs not yet complete, the placeholder */
void mm_report_common_notes(const mm_report_ctx *c, mm_rtable *t, const char *rq, const char *dataset);

int mm_report_score_tables(mm_report_ctx *c);   /* Tables II, III, IV, V */
int mm_report_other_tables(mm_report_ctx *c);   /* Tables I, VI */
/* Table VI beside <results>/humaneval/<dataset>-<model>/table6.csv when present (humaneval_table.c) */
int mm_report_table6(mm_report_ctx *c);
int mm_report_figures(mm_report_ctx *c);        /* Figs 4, 5, 6, 8 and loss curves */
#endif
