/* `mmlora report`: every table and figure of the paper from whatever results exist, each beside the
 * paper's numbers (docs/REPORTS.md). */
#ifndef MMLORA_REPORT_REPORT_H
#define MMLORA_REPORT_REPORT_H

typedef struct {
    const char *results;   /* results tree (default "results") */
    const char *out;       /* output directory (default "paper-tables") */
    const char *paper;     /* the paper's numbers (default "paper-tables/paper") */
    const char *model;     /* only this model's blocks (NULL = all) */
    const char *dataset;   /* only this dataset (NULL = all) */
    int render;            /* figures: 1 run gnuplot when found, 0 only write data + scripts */
} mm_report_opts;

/* 0, or -1 + mm_fail naming the file at fault */
int mm_report_run(const mm_report_opts *o);

/* the gnuplot executable on PATH, or NULL (MMLORA_GNUPLOT overrides; "" disables) */
const char *mm_report_gnuplot(void);
#endif
