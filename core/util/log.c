#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_err[1024];
static int g_verbosity = -1;

int mm_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return -1;
}
const char *mm_last_error(void) { return g_err; }
void mm_clear_error(void) { g_err[0] = 0; }

void mm_set_verbosity(int level) { g_verbosity = level; }
int mm_verbosity(void) {
    if (g_verbosity < 0) {
        const char *e = getenv("MMLORA_VERBOSE");
        g_verbosity = e ? atoi(e) : 1;
    }
    return g_verbosity;
}
static void vlog(const char *prefix, const char *fmt, va_list ap) {
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}
void mm_info(const char *fmt, ...) {
    if (mm_verbosity() < 1) return;
    va_list ap; va_start(ap, fmt); vlog("mmlora: ", fmt, ap); va_end(ap);
}
void mm_warn(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); vlog("mmlora: warning: ", fmt, ap); va_end(ap);
}
void mm_debug(const char *fmt, ...) {
    if (mm_verbosity() < 2) return;
    va_list ap; va_start(ap, fmt); vlog("mmlora: debug: ", fmt, ap); va_end(ap);
}

static void oom(size_t n) {
    fprintf(stderr, "mmlora: fatal: out of memory allocating %zu bytes\n", n);
    abort();
}
void *mm_xmalloc(size_t n) { void *p = malloc(n ? n : 1); if (!p) oom(n); return p; }
void *mm_xcalloc(size_t c, size_t s) { void *p = calloc(c ? c : 1, s ? s : 1); if (!p) oom(c * s); return p; }
void *mm_xrealloc(void *q, size_t n) { void *p = realloc(q, n ? n : 1); if (!p) oom(n); return p; }
char *mm_xstrdup(const char *s) { size_t n = strlen(s) + 1; char *p = mm_xmalloc(n); memcpy(p, s, n); return p; }
void *mm_xmalloc_aligned(size_t n) {
    void *p = NULL;
    size_t sz = (n + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, sz ? sz : 64) != 0) oom(n);
    return p;
}
