/* Human evaluation (the paper's §VI-A, Table VI), in three steps (docs/REPORTS.md, "Human evaluation"):
 *   sample     finished runs -> a blinded, shuffled rating sheet (CSV) + a key (item -> method)
 *   aggregate  filled sheets (one per rater) + the key -> Table VI (mean, sample sd, n per criterion)
 *   report     `mmlora report` shows <results>/humaneval/<dataset>-<model>/table6.csv beside the paper.
 * Criteria, rated 0-4, named as in Table VI: Similarity, Naturalness, Informativeness, Relevance. */
#ifndef MMLORA_REPORT_HUMANEVAL_H
#define MMLORA_REPORT_HUMANEVAL_H
#include <stdint.h>
#include "report/rtable.h"

enum { MM_HE_NCRIT = 4 };
extern const char *const MM_HE_CRITERIA[MM_HE_NCRIT];   /* "Similarity", "Naturalness", ... */

typedef struct {
    const char *results;   /* results tree (default "results") */
    const char *dataset;   /* csn, xlcost, local */
    const char *model;     /* the fine-tuned model (deepseekcoder, tiny, ...) */
    const char *rq;        /* runs of this rq (default "rq1") */
    const char *methods;   /* NULL: Table VI's set, those with a run; else "a,b,c" (method, or model:method) */
    const char *raw;       /* raw dataset root, for the code snippets (default "data/raw") */
    int per_lang;          /* examples per language (default 20) */
    uint64_t seed;         /* default 42 */
    const char *out;       /* the sheet */
    const char *key;       /* NULL: <out without .csv>.key.csv */
} mm_he_sample_opts;
/* Besides the sheet and the key, sample writes the raters' instructions, <out without .csv>.instructions.md
 * (the four criteria, the 0-4 scale, that method names are hidden). */

typedef struct {
    int n_methods, n_langs, n_examples, n_rows;
    int n_no_code;         /* examples written without their code (reference only) */
    char key_path[4096];
    char instructions_path[4096];   /* <out without .csv>.instructions.md */
} mm_he_sample_result;

/* 0, or -1 + mm_fail naming the run directory / file at fault */
int mm_he_sample(const mm_he_sample_opts *o, mm_he_sample_result *res);

typedef struct {
    const char *key;
    const char *const *sheets;
    int n_sheets;
    const char *out;       /* output directory: table6.{md,tex,csv}, ratings.csv */
    const char *paper;     /* the paper's numbers (default "paper-tables/paper") */
    int allow_missing;     /* empty rating cells are skipped (and counted) instead of an error */
} mm_he_aggregate_opts;

typedef struct {
    long n_ratings, n_missing;
    int n_methods, n_items;
} mm_he_aggregate_result;

int mm_he_aggregate(const mm_he_aggregate_opts *o, mm_he_aggregate_result *res);

/* ---- Table VI, shared by aggregate and `mmlora report` (humaneval_table.c) */
typedef struct {
    char label[64];          /* "mmlora", "gpt-4 (one-shot)" (Table VI's CSV ids) */
    double mean[MM_HE_NCRIT], sd[MM_HE_NCRIT];   /* sd: sample (n - 1) over all ratings; NAN when n < 2 */
    long n[MM_HE_NCRIT];
    double avg;              /* mean of the four criterion means */
} mm_he_method_stats;

typedef struct {
    mm_he_method_stats *m;
    int n;
} mm_he_stats;

/* Table VI: the paper's rows (paper_csv = .../table6_human.csv), each with our row (ours NULL: "not run")
 * and the difference; methods only in ours come after.  notes are added by the caller. */
int mm_he_table6(const char *paper_csv, const mm_he_stats *ours, const char *stem, const char *title, mm_rtable *t);
/* our rows of a table6.csv written by aggregate; -1 + mm_fail naming the file */
int mm_he_stats_read(const char *table6_csv, mm_he_stats *out);
void mm_he_stats_free(mm_he_stats *s);
/* the note that says what ours means (sd kind, n) */
void mm_he_note_stats(mm_rtable *t);
#endif
