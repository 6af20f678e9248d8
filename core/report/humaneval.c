/* mmlora humaneval aggregate: filled rating sheets (one per rater) + the key -> Table VI (humaneval.h).
 * Every rating must be an integer 0-4; an empty cell is an error unless allow_missing (then skipped and
 * counted).  Statistics per method and criterion over all its ratings (every rater x every item): mean,
 * sample standard deviation (n - 1), n. */
#include "report/humaneval.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "report/hecsv.h"
#include "report/humaneval_internal.h"
#include "report/sbuf.h"
#include "util/fileio.h"
#include "util/log.h"

typedef struct {
    const char *item, *example, *language, *method, *candidate;
    int method_ix;
    int seen;   /* in the sheet being read */
} key_row;

typedef struct {
    mm_hecsv t;
    key_row *row;        /* sorted by item */
    int n;
    char *labels[64];    /* the methods, Table VI's order first */
    int n_labels;
    char dataset[32], model[64];
} key_t_;

static int cmp_key(const void *a, const void *b) { return strcmp(((const key_row *)a)->item, ((const key_row *)b)->item); }

static int label_rank(const char *l) {
    for (int i = 0; MM_HE_PAPER_ORDER[i]; i++)
        if (!strcasecmp(MM_HE_PAPER_ORDER[i], l)) return i;
    return 1000;
}

static int cmp_label(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int rx = label_rank(x), ry = label_rank(y);
    return rx != ry ? rx - ry : strcmp(x, y);
}

static int read_key(const char *path, key_t_ *k) {
    memset(k, 0, sizeof *k);
    if (mm_hecsv_read(path, &k->t)) return -1;
    int ci = mm_hecsv_need(&k->t, "item"), ce = mm_hecsv_need(&k->t, "example"), cl = mm_hecsv_need(&k->t, "language"),
        cm = mm_hecsv_need(&k->t, "method"), cc = mm_hecsv_need(&k->t, "candidate");
    if (ci < 0 || ce < 0 || cl < 0 || cm < 0 || cc < 0) return -1;
    int cd = mm_hecsv_col(&k->t, "dataset"), cmo = mm_hecsv_col(&k->t, "model");
    if (!k->t.nrow) return mm_fail("%s: the key has no items", path);
    k->n = k->t.nrow;
    k->row = mm_xcalloc((size_t)k->n, sizeof *k->row);
    for (int r = 0; r < k->n; r++) {
        char **c = k->t.cell[r];
        k->row[r] = (key_row){c[ci], c[ce], c[cl], c[cm], c[cc], -1, 0};
        if (!c[ci][0] || !c[cm][0]) return mm_fail("%s:%d: empty item or method", path, k->t.line[r][0]);
        int found = 0;
        for (int i = 0; i < k->n_labels && !found; i++) found = !strcmp(k->labels[i], c[cm]);
        if (!found) {
            if (k->n_labels == 64) return mm_fail("%s: more than 64 methods", path);
            k->labels[k->n_labels++] = c[cm];
        }
    }
    if (cd >= 0) snprintf(k->dataset, sizeof k->dataset, "%s", k->t.cell[0][cd]);
    if (cmo >= 0) snprintf(k->model, sizeof k->model, "%s", k->t.cell[0][cmo]);
    qsort(k->labels, (size_t)k->n_labels, sizeof(char *), cmp_label);
    for (int r = 0; r < k->n; r++)
        for (int i = 0; i < k->n_labels; i++)
            if (!strcmp(k->labels[i], k->row[r].method)) k->row[r].method_ix = i;
    qsort(k->row, (size_t)k->n, sizeof *k->row, cmp_key);
    for (int r = 1; r < k->n; r++)
        if (!strcmp(k->row[r].item, k->row[r - 1].item)) return mm_fail("%s: item %s listed twice", path, k->row[r].item);
    return 0;
}

/* text compared as a spreadsheet may have saved it: CRs dropped, ends trimmed */
static int same_text(const char *a, const char *b) {
    while (isspace((unsigned char)*a)) a++;
    while (isspace((unsigned char)*b)) b++;
    for (;;) {
        while (*a == '\r') a++;
        while (*b == '\r') b++;
        if (*a != *b) break;
        if (!*a) return 1;
        a++, b++;
    }
    while (isspace((unsigned char)*a)) a++;
    while (isspace((unsigned char)*b)) b++;
    return !*a && !*b;
}

static const char *trimmed(const char *s, char *buf, size_t cap) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

typedef struct {
    long hist[64][MM_HE_NCRIT][5];
    long n_ratings, n_missing;
} tally_t;

static int read_sheet(const char *path, int rater, key_t_ *k, const mm_he_aggregate_opts *o, tally_t *tl, mm_sbuf *long_csv) {
    mm_hecsv t;
    if (mm_hecsv_read(path, &t)) return -1;
    int rc = 0, ci = mm_hecsv_need(&t, "item"), cc = mm_hecsv_need(&t, "candidate"), cr[MM_HE_NCRIT];
    if (ci < 0 || cc < 0) rc = -1;
    for (int c = 0; c < MM_HE_NCRIT && !rc; c++)
        if ((cr[c] = mm_hecsv_need(&t, MM_HE_CRITERIA[c])) < 0) rc = -1;
    for (int r = 0; r < k->n; r++) k->row[r].seen = 0;
    long missing = 0, ratings = 0;
    for (int r = 0; r < t.nrow && !rc; r++) {
        char **cell = t.cell[r];
        char buf[256];
        key_row probe = {.item = trimmed(cell[ci], buf, sizeof buf)};
        key_row *kr = bsearch(&probe, k->row, (size_t)k->n, sizeof *k->row, cmp_key);
        if (!kr) {
            rc = mm_fail("%s:%d:%d: item \"%s\" is not in the key %s (a sheet of another sample?)", path, t.line[r][ci],
                         ci + 1, probe.item, o->key);
            break;
        }
        if (kr->seen++) { rc = mm_fail("%s:%d:%d: item %s rated twice in this sheet", path, t.line[r][ci], ci + 1, kr->item); break; }
        if (!same_text(cell[cc], kr->candidate)) {
            rc = mm_fail("%s:%d:%d: the candidate summary of item %s differs from the key's (%s): the sheet and the key "
                         "do not belong together", path, t.line[r][cc], cc + 1, kr->item, o->key);
            break;
        }
        mm_sb_printf(long_csv, "%d,", rater);
        mm_hecsv_field(long_csv, path);
        mm_sb_puts(long_csv, ",");
        mm_hecsv_field(long_csv, kr->item);
        mm_sb_puts(long_csv, ",");
        mm_hecsv_field(long_csv, kr->example);
        mm_sb_puts(long_csv, ",");
        mm_hecsv_field(long_csv, kr->language);
        mm_sb_puts(long_csv, ",");
        mm_hecsv_field(long_csv, kr->method);
        for (int c = 0; c < MM_HE_NCRIT && !rc; c++) {
            const char *v = trimmed(cell[cr[c]], buf, sizeof buf);
            int line = t.line[r][cr[c]], col = cr[c] + 1;
            if (!*v) {
                if (!o->allow_missing)
                    rc = mm_fail("%s:%d:%d: empty %s rating of item %s (rate it 0-4, or pass --allow-missing to skip "
                                 "empty cells)", path, line, col, MM_HE_CRITERIA[c], kr->item);
                missing++;
                mm_sb_puts(long_csv, ",");
                continue;
            }
            if (strlen(v) != 1 || v[0] < '0' || v[0] > '4') {
                rc = mm_fail("%s:%d:%d: %s rating \"%s\" of item %s is not an integer 0-4", path, line, col,
                             MM_HE_CRITERIA[c], cell[cr[c]], kr->item);
                break;
            }
            tl->hist[kr->method_ix][c][v[0] - '0']++;
            ratings++;
            mm_sb_printf(long_csv, ",%c", v[0]);
        }
        mm_sb_puts(long_csv, "\n");
    }
    if (!rc) {
        int n_unseen = 0;
        const char *first = NULL;
        for (int r = 0; r < k->n; r++)
            if (!k->row[r].seen && !n_unseen++) first = k->row[r].item;
        if (n_unseen)
            rc = mm_fail("%s: %d item(s) of the key %s are not in this sheet (first: %s): the sheet and the key do not "
                         "belong together", path, n_unseen, o->key, first);
    }
    if (!rc) {
        mm_info("humaneval: %s: %ld ratings, %ld empty cell(s) skipped", path, ratings, missing);
        tl->n_ratings += ratings;
        tl->n_missing += missing;
    }
    mm_hecsv_free(&t);
    return rc;
}

static void stats_of(const long h[5], double *mean, double *sd, long *n) {
    long k = 0;
    double s = 0;
    for (int v = 0; v < 5; v++) { k += h[v]; s += (double)v * (double)h[v]; }
    *n = k;
    *mean = k ? s / (double)k : NAN;
    if (k < 2) { *sd = NAN; return; }
    double q = 0;
    for (int v = 0; v < 5; v++) q += (double)h[v] * ((double)v - *mean) * ((double)v - *mean);
    *sd = sqrt(q / (double)(k - 1));
}

int mm_he_aggregate(const mm_he_aggregate_opts *o, mm_he_aggregate_result *res) {
    memset(res, 0, sizeof *res);
    if (!o->key || !o->out || o->n_sheets < 1)
        return mm_fail("humaneval aggregate: --key, --out and at least one filled sheet are required");
    const char *paper_dir = o->paper ? o->paper : "paper-tables/paper";
    key_t_ k;
    int rc = read_key(o->key, &k);
    tally_t *tl = mm_xcalloc(1, sizeof *tl);
    mm_sbuf long_csv = {0};
    mm_sb_puts(&long_csv, "rater,sheet,item,example,language,method");
    for (int c = 0; c < MM_HE_NCRIT; c++) mm_sb_printf(&long_csv, ",%s", MM_HE_CRITERIA[c]);
    mm_sb_puts(&long_csv, "\n");
    for (int s = 0; s < o->n_sheets && !rc; s++) rc = read_sheet(o->sheets[s], s + 1, &k, o, tl, &long_csv);
    mm_he_stats st = {0};
    if (!rc) {
        st.n = k.n_labels;
        st.m = mm_xcalloc((size_t)st.n, sizeof *st.m);
        for (int i = 0; i < st.n; i++) {
            mm_he_method_stats *x = &st.m[i];
            snprintf(x->label, sizeof x->label, "%s", k.labels[i]);
            double sum = 0;
            for (int c = 0; c < MM_HE_NCRIT; c++) {
                stats_of(tl->hist[i][c], &x->mean[c], &x->sd[c], &x->n[c]);
                sum += x->mean[c];
            }
            x->avg = sum / MM_HE_NCRIT;
        }
        res->n_ratings = tl->n_ratings;
        res->n_missing = tl->n_missing;
        res->n_methods = st.n;
        res->n_items = k.n;
    }
    mm_rtable t;
    memset(&t, 0, sizeof t);
    if (!rc) rc = mm_mkdirs(o->out);
    if (!rc) {
        char paper[4096], title[512];
        snprintf(paper, sizeof paper, "%s/table6_human.csv", paper_dir);
        snprintf(title, sizeof title, "Table VI. Human evaluation: ours (%s, %s, %d rater sheet%s) beside the paper's "
                 "(DeepSeekCoder, CodeSearchNet)", k.model[0] ? mm_he_display(k.model) : "?",
                 k.dataset[0] ? mm_he_display(k.dataset) : "?", o->n_sheets, o->n_sheets == 1 ? "" : "s");
        rc = mm_he_table6(paper, &st, "table6", title, &t);
    }
    if (!rc) {
        mm_he_note_stats(&t);
        mm_rt_note(&t, "ours: %d items (%d methods), %d rater sheet(s), %ld ratings, %ld empty cell(s) skipped; key %s",
                   k.n, st.n, o->n_sheets, tl->n_ratings, tl->n_missing, o->key);
        rc = mm_rt_write(&t, o->out, NULL);
    }
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof path, "%s/ratings.csv", o->out);
        rc = mm_sb_write(&long_csv, path);
    }
    if (!rc) mm_info("humaneval: %ld ratings of %d methods -> %s/table6.{md,tex,csv}, ratings.csv", tl->n_ratings, st.n,
                     o->out);
    if (t.name) mm_rt_free(&t);
    mm_he_stats_free(&st);
    mm_sb_free(&long_csv);
    free(tl);
    free(k.row);
    mm_hecsv_free(&k.t);
    return rc;
}
