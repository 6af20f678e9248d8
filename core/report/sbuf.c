#include "report/sbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"

static void reserve(mm_sbuf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) cap *= 2;
    b->s = mm_xrealloc(b->s, cap);
    b->cap = cap;
}

void mm_sb_printf(mm_sbuf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) { va_end(ap2); return; }
    reserve(b, (size_t)k);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap2);
    va_end(ap2);
    b->n += (size_t)k;
}

void mm_sb_puts(mm_sbuf *b, const char *s) {
    size_t k = strlen(s);
    reserve(b, k);
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

int mm_sb_write(mm_sbuf *b, const char *path) {
    int rc = mm_write_file_atomic(path, b->s ? b->s : "", b->n);
    b->n = 0;
    if (b->s) b->s[0] = 0;
    return rc;
}

void mm_sb_free(mm_sbuf *b) {
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
}
