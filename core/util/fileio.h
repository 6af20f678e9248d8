/* Whole-file reads and crash-safe writes (write to a temporary, fsync, rename, fsync the directory). */
#ifndef MMLORA_FILEIO_H
#define MMLORA_FILEIO_H
#include <stddef.h>

/* malloc'd, NUL-terminated; NULL + mm_fail("<path>: ...") on error */
char *mm_read_file(const char *path, size_t *len);
int mm_write_file_atomic(const char *path, const void *data, size_t len);
/* mkdir -p */
int mm_mkdirs(const char *path);
int mm_file_exists(const char *path); /* a regular file */
#endif
