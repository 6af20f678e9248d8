#include "report/hecsv.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/fileio.h"
#include "util/log.h"

typedef struct {
    char **f;
    int *ln;
    int n, cap;
} rec_t;

static void rec_push(rec_t *r, char *s, int line) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->f = mm_xrealloc(r->f, sizeof(char *) * (size_t)r->cap);
        r->ln = mm_xrealloc(r->ln, sizeof(int) * (size_t)r->cap);
    }
    r->f[r->n] = s;
    r->ln[r->n++] = line;
}

static void rec_drop(rec_t *r) {
    for (int i = 0; i < r->n; i++) free(r->f[i]);
    r->n = 0;
}

/* one record ends a line; returns 0, or -1 on a field-count mismatch */
static int rec_end(mm_hecsv *t, rec_t *r, int rec_line) {
    if (r->n == 1 && !r->f[0][0]) { rec_drop(r); return 0; } /* blank line */
    if (!t->head) {
        t->ncol = r->n;
        t->head = mm_xmalloc(sizeof(char *) * (size_t)r->n);
        memcpy(t->head, r->f, sizeof(char *) * (size_t)r->n);
        r->n = 0;
        return 0;
    }
    if (r->n != t->ncol) {
        int n = r->n;
        rec_drop(r);
        return mm_fail("%s:%d: %d fields but the header has %d", t->path, rec_line, n, t->ncol);
    }
    t->cell = mm_xrealloc(t->cell, sizeof(char **) * (size_t)(t->nrow + 1));
    t->line = mm_xrealloc(t->line, sizeof(int *) * (size_t)(t->nrow + 1));
    t->cell[t->nrow] = mm_xmalloc(sizeof(char *) * (size_t)r->n);
    t->line[t->nrow] = mm_xmalloc(sizeof(int) * (size_t)r->n);
    memcpy(t->cell[t->nrow], r->f, sizeof(char *) * (size_t)r->n);
    memcpy(t->line[t->nrow], r->ln, sizeof(int) * (size_t)r->n);
    t->nrow++;
    r->n = 0;
    return 0;
}

int mm_hecsv_read(const char *path, mm_hecsv *t) {
    memset(t, 0, sizeof *t);
    t->path = mm_xstrdup(path);
    size_t len;
    char *buf = mm_read_file(path, &len);
    if (!buf) { mm_hecsv_free(t); return -1; }
    size_t i = 0;
    if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) i = 3;
    rec_t r = {0};
    mm_sbuf f = {0};
    int line = 1, rc = 0, rec_line = 1;
    while (i < len && !rc) {
        /* one field starting at buf[i] */
        int fline = line;
        f.n = 0;
        if (f.s) f.s[0] = 0;
        mm_sb_puts(&f, "");
        if (buf[i] == '"') {
            i++;
            for (;;) {
                const char *q = memchr(buf + i, '"', len - i);
                if (!q) { rc = mm_fail("%s:%d: unterminated quoted field", path, fline); break; }
                size_t k = (size_t)(q - buf);
                for (size_t m = i; m < k; m++) line += buf[m] == '\n';
                mm_sb_printf(&f, "%.*s", (int)(k - i), buf + i);
                i = k + 1;
                if (i < len && buf[i] == '"') { mm_sb_puts(&f, "\""); i++; continue; }
                break;
            }
            if (rc) break;
            if (i < len && buf[i] != ',' && buf[i] != '\n' && !(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')) {
                rc = mm_fail("%s:%d: text after the closing quote of field %d", path, line, r.n + 1);
                break;
            }
        } else {
            size_t j = i;
            while (j < len && buf[j] != ',' && buf[j] != '\n' && !(buf[j] == '\r' && j + 1 < len && buf[j + 1] == '\n')) {
                if (buf[j] == '"') { rc = mm_fail("%s:%d: a quote inside an unquoted field %d", path, line, r.n + 1); break; }
                j++;
            }
            if (rc) break;
            mm_sb_printf(&f, "%.*s", (int)(j - i), buf + i);
            i = j;
        }
        rec_push(&r, mm_xstrdup(f.s), fline);
        if (i >= len) { rc = rec_end(t, &r, rec_line); break; }
        if (buf[i] == ',') {
            i++;
            if (i >= len) { rec_push(&r, mm_xstrdup(""), line); rc = rec_end(t, &r, rec_line); }
            continue;
        }
        i += buf[i] == '\r' ? 2 : 1; /* end of record */
        rc = rec_end(t, &r, rec_line);
        rec_line = ++line;
    }
    rec_drop(&r);
    free(r.f);
    free(r.ln);
    mm_sb_free(&f);
    free(buf);
    if (!rc && !t->head) rc = mm_fail("%s: empty CSV (a header row is needed)", path);
    if (rc) mm_hecsv_free(t);
    return rc;
}

void mm_hecsv_free(mm_hecsv *t) {
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) free(t->cell[r][c]);
        free(t->cell[r]);
        free(t->line[r]);
    }
    free(t->cell);
    free(t->line);
    if (t->head)
        for (int c = 0; c < t->ncol; c++) free(t->head[c]);
    free(t->head);
    free(t->path);
    memset(t, 0, sizeof *t);
}

static int same_name(const char *h, const char *name) {
    while (isspace((unsigned char)*h)) h++;
    size_t n = strlen(name);
    if (strncasecmp(h, name, n)) return 0;
    for (h += n; *h; h++)
        if (!isspace((unsigned char)*h)) return 0;
    return 1;
}

int mm_hecsv_col(const mm_hecsv *t, const char *name) {
    for (int c = 0; c < t->ncol; c++)
        if (same_name(t->head[c], name)) return c;
    return -1;
}

int mm_hecsv_need(const mm_hecsv *t, const char *name) {
    int c = mm_hecsv_col(t, name);
    if (c >= 0) return c;
    char h[1024];
    size_t k = 0;
    h[0] = 0;
    for (int i = 0; i < t->ncol && k < sizeof h - 1; i++)
        k += (size_t)snprintf(h + k, sizeof h - k, "%s%s", i ? "," : "", t->head[i]);
    return mm_fail("%s:1: no column \"%s\" (header: %s)", t->path, name, h);
}

void mm_hecsv_field(mm_sbuf *b, const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    /* a leading UTF-8 byte-order mark is quoted too: unquoted at the start of a file the reader skips it */
    int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' ')) ||
                (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3));
    if (!quote) { mm_sb_puts(b, s); return; }
    mm_sb_puts(b, "\"");
    for (const char *p = s; *p;) {
        const char *q = strchr(p, '"');
        if (!q) { mm_sb_puts(b, p); break; }
        mm_sb_printf(b, "%.*s\"\"", (int)(q - p), p);
        p = q + 1;
    }
    mm_sb_puts(b, "\"");
}
