/* RFC 4180 CSV for the human-evaluation sheets (report/humaneval*.c): fields may be quoted and hold commas,
 * quotes ("" inside quotes) and newlines (code snippets do), so the reader keeps the physical line where
 * every field starts, for errors of the form FILE:LINE:COLUMN.  A UTF-8 byte-order mark (spreadsheets add
 * one) is skipped; "\r\n" and "\n" end records; a blank line is ignored. */
#ifndef MMLORA_REPORT_HECSV_H
#define MMLORA_REPORT_HECSV_H
#include "report/sbuf.h"

typedef struct {
    int ncol, nrow;
    char **head;      /* ncol header names */
    char ***cell;     /* nrow rows of ncol strings */
    int **line;       /* nrow rows of ncol physical line numbers (1-based) where the field starts */
    char *path;
} mm_hecsv;

/* Every record must have as many fields as the header: errors name FILE:LINE. */
int mm_hecsv_read(const char *path, mm_hecsv *t);
void mm_hecsv_free(mm_hecsv *t);
/* index of a header name (compared case-insensitively, surrounding spaces ignored), -1 if absent */
int mm_hecsv_col(const mm_hecsv *t, const char *name);
/* the column, or -1 + mm_fail("FILE: no column NAME (header: ...)") */
int mm_hecsv_need(const mm_hecsv *t, const char *name);

/* appends one field, quoted when it holds a comma, quote, CR or LF, starts/ends with a space or starts with a
 * UTF-8 byte-order mark (tests/fuzz/fuzz_hecsv.c: every accepted table reads back the same) */
void mm_hecsv_field(mm_sbuf *b, const char *s);
#endif
