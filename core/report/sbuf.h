/* A growable text buffer for the report writers (Markdown, LaTeX, CSV, gnuplot). */
#ifndef MMLORA_REPORT_SBUF_H
#define MMLORA_REPORT_SBUF_H
#include <stddef.h>
#include "util/log.h"

typedef struct { char *s; size_t n, cap; } mm_sbuf;

void mm_sb_printf(mm_sbuf *b, const char *fmt, ...) MM_PRINTF(2, 3);
void mm_sb_puts(mm_sbuf *b, const char *s);
/* writes the buffer to path (atomically) and empties it; -1 + mm_fail naming the path */
int mm_sb_write(mm_sbuf *b, const char *path);
void mm_sb_free(mm_sbuf *b);
#endif
