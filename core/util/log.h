/* Logging and error reporting.
 *
 * Library code never prints errors directly: a failing function records one message with mm_fail()
 * (which names the file / tensor / key at fault) and returns -1 (or NULL).  The CLI prints
 * mm_last_error() once and exits non-zero.  Informational output goes through mm_info()/mm_warn()
 * on stderr so stdout stays machine-readable. */
#ifndef MMLORA_LOG_H
#define MMLORA_LOG_H
#include <stddef.h>
#include <stdarg.h>

#if defined(__GNUC__)
#define MM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MM_PRINTF(a, b)
#endif

/* Records an error message (thread-local); always returns -1. */
int mm_fail(const char *fmt, ...) MM_PRINTF(1, 2);
/* The last recorded error, or "" if none. */
const char *mm_last_error(void);
void mm_clear_error(void);

/* verbosity: 0 quiet, 1 normal (default), 2 debug; MMLORA_VERBOSE env overrides at first use */
void mm_set_verbosity(int level);
int mm_verbosity(void);
void mm_info(const char *fmt, ...) MM_PRINTF(1, 2);
void mm_warn(const char *fmt, ...) MM_PRINTF(1, 2);
void mm_debug(const char *fmt, ...) MM_PRINTF(1, 2);

/* Allocation that aborts with a message on out-of-memory (sizes are programmer-controlled). */
void *mm_xmalloc(size_t n);
void *mm_xcalloc(size_t count, size_t size);
void *mm_xrealloc(void *p, size_t n);
char *mm_xstrdup(const char *s);
/* 64-byte aligned allocation (free with free()). */
void *mm_xmalloc_aligned(size_t n);

#endif
