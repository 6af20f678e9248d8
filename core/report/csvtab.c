#include "report/csvtab.h"
#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"
#include "util/log.h"

typedef struct {
    mm_csvtab *t;
    char **row;
    int nf, cap, line, bad;
    const char *path;
} parse_state;

static void on_field(void *s, size_t len, void *data) {
    parse_state *p = data;
    if (p->nf == p->cap) p->row = mm_xrealloc(p->row, sizeof(char *) * (size_t)(p->cap = p->cap ? 2 * p->cap : 32));
    char *f = mm_xmalloc(len + 1);
    memcpy(f, s, len);
    f[len] = 0;
    p->row[p->nf++] = f;
}

static void drop_row(parse_state *p) {
    for (int i = 0; i < p->nf; i++) free(p->row[i]);
    p->nf = 0;
}

static void on_row(int c, void *data) {
    (void)c;
    parse_state *p = data;
    p->line++;
    if (p->bad) { drop_row(p); return; }
    mm_csvtab *t = p->t;
    if (!t->head) {
        t->ncol = p->nf;
        t->head = mm_xmalloc(sizeof(char *) * (size_t)p->nf);
        memcpy(t->head, p->row, sizeof(char *) * (size_t)p->nf);
        p->nf = 0;
        return;
    }
    if (p->nf != t->ncol) {
        mm_fail("%s:%d: %d fields but the header has %d", p->path, p->line, p->nf, t->ncol);
        p->bad = 1;
        drop_row(p);
        return;
    }
    t->cell = mm_xrealloc(t->cell, sizeof(char **) * (size_t)(t->nrow + 1));
    t->cell[t->nrow] = mm_xmalloc(sizeof(char *) * (size_t)p->nf);
    memcpy(t->cell[t->nrow++], p->row, sizeof(char *) * (size_t)p->nf);
    p->nf = 0;
}

int mm_csvtab_read(const char *path, mm_csvtab *t) {
    memset(t, 0, sizeof *t);
    size_t len;
    char *buf = mm_read_file(path, &len);
    if (!buf) return -1;
    struct csv_parser cp;
    if (csv_init(&cp, CSV_APPEND_NULL)) { free(buf); return mm_fail("%s: csv_init failed", path); }
    parse_state p = {.t = t, .path = path};
    int rc = 0;
    if (csv_parse(&cp, buf, len, on_field, on_row, &p) != len) {
        rc = mm_fail("%s: malformed CSV near line %d: %s", path, p.line + 1, csv_strerror(csv_error(&cp)));
    } else if (csv_fini(&cp, on_field, on_row, &p)) {
        rc = mm_fail("%s: malformed CSV at the end: %s", path, csv_strerror(csv_error(&cp)));
    }
    csv_free(&cp);
    drop_row(&p);
    free(p.row);
    free(buf);
    if (!rc && p.bad) rc = -1;
    if (!rc && !t->head) rc = mm_fail("%s: empty CSV (a header row is needed)", path);
    if (rc) mm_csvtab_free(t);
    return rc;
}

void mm_csvtab_free(mm_csvtab *t) {
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) free(t->cell[r][c]);
        free(t->cell[r]);
    }
    free(t->cell);
    if (t->head)
        for (int c = 0; c < t->ncol; c++) free(t->head[c]);
    free(t->head);
    memset(t, 0, sizeof *t);
}

int mm_csvtab_col(const mm_csvtab *t, const char *name) {
    for (int c = 0; c < t->ncol; c++)
        if (!strcmp(t->head[c], name)) return c;
    return -1;
}
