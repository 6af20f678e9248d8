/* A rendered comparison table: label columns, then value columns; rows are grouped in blocks (a model)
 * and each row says whose numbers it holds (paper, ours, delta).  Rendered as Markdown, LaTeX (booktabs)
 * and CSV.  Best (bold) and second best (underlined) are computed per column among the rows of one rank
 * group, separately for paper rows and for our rows, as the paper marks them. */
#ifndef MMLORA_REPORT_RTABLE_H
#define MMLORA_REPORT_RTABLE_H
#include <stdbool.h>

enum { MM_RT_MAXC = 24 };
typedef enum { MM_RT_PAPER = 0, MM_RT_OURS = 1, MM_RT_DELTA = 2, MM_RT_INFO = 3 } mm_rt_kind;

typedef struct {
    mm_rt_kind kind;
    int rank_group;            /* > 0: competes for bold/underline with rows of the same group and kind */
    int block;                 /* a \midrule between blocks */
    char *cell[MM_RT_MAXC];    /* text of every column ("—" when missing) */
    double val[MM_RT_MAXC];    /* value columns: number for ranking (NAN: none) */
    int mark[MM_RT_MAXC];      /* computed: 1 bold, 2 underlined */
} mm_rt_row;

typedef struct {
    char *name;                /* file stem, e.g. "table2_csn" */
    char *title;               /* "Table II. Code summarization on CodeSearchNet" */
    int ncol, nlabel;          /* columns; the first nlabel are labels */
    char *head[MM_RT_MAXC];    /* display headers */
    char *key[MM_RT_MAXC];     /* CSV headers */
    bool rank[MM_RT_MAXC];     /* columns where bold/underline apply */
    int nrow;
    mm_rt_row *row;
    int nnote;
    char **note;
} mm_rtable;

void mm_rt_init(mm_rtable *t, const char *name, const char *title);
void mm_rt_col(mm_rtable *t, const char *head, const char *key, bool rank);
/* appends a row; cells are set with mm_rt_set / mm_rt_setv */
mm_rt_row *mm_rt_add(mm_rtable *t, mm_rt_kind kind, int block, int rank_group);
void mm_rt_set(mm_rt_row *r, int col, const char *text);
/* numeric cell: "%.2f" (or the "—" placeholder when v is NAN); signed adds a + sign */
void mm_rt_setv(mm_rt_row *r, int col, double v, bool signed_);
void mm_rt_note(mm_rtable *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mm_rt_free(mm_rtable *t);

/* computes mark[] */
void mm_rt_rank(mm_rtable *t);
/* writes <dir>/<name>.md, .tex, .csv; also appends the Markdown to *all_md when non-NULL */
int mm_rt_write(mm_rtable *t, const char *dir, void *all_md /* mm_sbuf* */);

#define MM_RT_MISSING "—"
#endif
