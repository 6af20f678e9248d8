/* Per-sample CSV reading and writing with libcsv. */
#include "metrics/samples_csv.h"
#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

int mm_samples_write(const char *path, const char *const *ids, const size_t *id_lens, size_t n, const double *bleu,
                     const double *meteor) {
    FILE *f = fopen(path, "wb");
    if (!f) return mm_fail("%s: cannot create: %s", path, strerror(errno));
    fputs("id,bleu,meteor\n", f);
    for (size_t i = 0; i < n; i++) {
        const char *id = ids[i];
        size_t l = id_lens[i];
        int quote = l == 0 || memchr(id, ',', l) || memchr(id, '"', l) || memchr(id, '\n', l) || memchr(id, '\r', l) ||
                    id[0] == ' ' || id[l - 1] == ' ';
        if (quote) csv_fwrite(f, id, l);
        else fwrite(id, 1, l, f);
        fprintf(f, ",%.17g,%.17g\n", bleu[i], meteor[i]);
    }
    if (fclose(f) != 0) return mm_fail("%s: write error", path);
    return 0;
}

typedef struct {
    const char *path, *column;
    int col, idcol, ncols;  /* header info */
    size_t row;             /* current record number (1 = header) */
    int field;              /* field index in the current record */
    char *id; double val; int have_val;
    mm_samples *out; size_t cap;
    int err;
} rd;

static void on_field(void *s, size_t len, void *data) {
    rd *r = data;
    if (r->err) return;
    const char *str = s ? s : "";
    if (r->row == 1) {
        if (len == strlen(r->column) && !memcmp(str, r->column, len)) r->col = r->field;
        if (len == 2 && !memcmp(str, "id", 2)) r->idcol = r->field;
    } else if (r->field == r->col) {
        char *end;
        errno = 0;
        double v = strtod(str, &end);
        if (len == 0 || end != str + len || !isfinite(v)) {
            r->err = mm_fail("%s:%zu: column '%s' is not a finite number: '%.*s'", r->path, r->row, r->column,
                             (int)(len > 40 ? 40 : len), str);
            return;
        }
        r->val = v; r->have_val = 1;
    } else if (r->field == r->idcol) {
        free(r->id);
        r->id = mm_xmalloc(len + 1);
        memcpy(r->id, str, len); r->id[len] = 0;
    }
    r->field++;
}

static void on_record(int c, void *data) {
    rd *r = data;
    (void)c;
    if (r->err) return;
    if (r->row == 1) {
        r->ncols = r->field;
        if (r->col < 0) { r->err = mm_fail("%s:1: no column '%s' in the header", r->path, r->column); return; }
    } else {
        if (r->field != r->ncols) {
            r->err = mm_fail("%s:%zu: %d fields, the header has %d", r->path, r->row, r->field, r->ncols);
            return;
        }
        mm_samples *o = r->out;
        if (o->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 256;
            o->ids = mm_xrealloc(o->ids, r->cap * sizeof *o->ids);
            o->vals = mm_xrealloc(o->vals, r->cap * sizeof *o->vals);
        }
        o->ids[o->n] = r->id ? r->id : mm_xstrdup("");
        o->vals[o->n] = r->val;
        o->n++;
        r->id = NULL;
    }
    r->row++;
    r->field = 0;
}

int mm_samples_read(const char *path, const char *column, mm_samples *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return mm_fail("%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0) { fclose(f); return mm_fail("csv_init failed"); }
    rd r = {path, column, -1, -1, 0, 1, 0, NULL, 0, 0, out, 0, 0};
    char buf[65536];
    size_t n;
    while (!r.err && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, on_field, on_record, &r) != n && !r.err)
            r.err = mm_fail("%s: CSV parse error near record %zu: %s", path, r.row, csv_strerror(csv_error(&p)));
    if (!r.err) csv_fini(&p, on_field, on_record, &r);
    csv_free(&p);
    fclose(f);
    free(r.id);
    if (!r.err && r.row == 1) r.err = mm_fail("%s: empty file (expected a header with '%s')", path, column);
    if (r.err) { mm_samples_free(out); return -1; }
    return 0;
}

void mm_samples_free(mm_samples *s) {
    for (size_t i = 0; i < s->n; i++) free(s->ids[i]);
    free(s->ids); free(s->vals);
    memset(s, 0, sizeof *s);
}
