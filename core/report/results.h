/* The results tree that `mmlora report` reads (docs/REPORTS.md):
 *   <root>/<rq>/<dataset>/<model>/<run>/{run.json, scores.json, scores/<lang>.csv, experts.json,
 *                                        train.jsonl, DONE}
 * A run without DONE is incomplete: listed, never reported.  A complete run must have a valid run.json
 * and scores.json; anything malformed is an error naming the file. */
#ifndef MMLORA_REPORT_RESULTS_H
#define MMLORA_REPORT_RESULTS_H

typedef struct {
    char name[32];          /* as in scores.json (e.g. "ruby", "C++") */
    double bleu, meteor;    /* corpus BLEU x100, METEOR x100 */
    long n;                 /* -1 when not given */
} mm_rep_lang;

typedef struct {
    char *dir;              /* the run directory */
    char *rq, *dataset, *model, *method, *variant; /* variant "" when absent */
    char *trainable_percent; /* "" when absent */
    long seed;
    int nlang;
    mm_rep_lang *lang;
    double overall_bleu, overall_meteor;
} mm_rep_run;

typedef struct {
    mm_rep_run *run;
    int n;
    char **incomplete;      /* directories without DONE */
    int n_incomplete;
} mm_rep_results;

/* Walks root (a missing root gives zero runs).  -1 + mm_fail naming the file on a malformed run. */
int mm_rep_load(const char *root, mm_rep_results *out);
void mm_rep_free(mm_rep_results *r);

/* Known ids (NULL-terminated). */
extern const char *const MM_REP_METHODS[];
extern const char *const MM_REP_DATASETS[];

/* "w/o L_d" -> "w/ol_d": lowercase, whitespace removed (how variants are compared). */
void mm_rep_norm(const char *s, char *out, int cap);

/* Complete runs matching rq, dataset, model, method (NULL = any) and variant (NULL = any; compared
 * after mm_rep_norm).  Fills up to max pointers, sorted by seed; returns how many matched. */
int mm_rep_find(const mm_rep_results *r, const char *rq, const char *dataset, const char *model, const char *method,
                const char *variant, const mm_rep_run **out, int max);

/* Mean over runs of a language's (lang != NULL, case-insensitive) or the overall metric
 * (0 = BLEU, 1 = METEOR).  Returns the number of runs that had it (0: *v untouched). */
int mm_rep_mean(const mm_rep_run *const *runs, int n, const char *lang, int metric, double *v);
#endif
