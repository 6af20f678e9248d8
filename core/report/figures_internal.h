/* Helpers shared by figures.c (Figs 4, 5) and figures_more.c (Fig. 6, Fig. 8, loss curves). */
#ifndef MMLORA_REPORT_FIGURES_INTERNAL_H
#define MMLORA_REPORT_FIGURES_INTERNAL_H
#include "report/report_internal.h"

typedef struct { const char *dataset, *model; } mm_fig_group;

int mm_fig_groups(const mm_report_ctx *c, int (*pred)(const mm_rep_run *), mm_fig_group *g, int max);
void mm_fig_num(mm_sbuf *b, double v);
/* writes figures/<stem>.dat (+ an extra data file), figures/<stem>.gp (the body drawn to PNG then SVG) and
 * runs gnuplot when found; empties the buffers */
int mm_fig_emit(mm_report_ctx *c, const char *stem, mm_sbuf *data, const char *extra_name, mm_sbuf *extra,
                const char *body, int w, int h);

int mm_fig6(mm_report_ctx *c);
int mm_fig8(mm_report_ctx *c);
int mm_fig_loss(mm_report_ctx *c);
#endif
