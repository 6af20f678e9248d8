/* The CPU table's memory ops: host memory, so alloc is an aligned malloc and upload/download are plain
 * copies (nothing at all when source and destination are the same buffer, the engine's zero-copy path). */
#include <stdlib.h>
#include <string.h>
#include "cpu/cpu_ops.h"
#include "util/log.h"

void *cpu_alloc(size_t bytes) { return mm_xmalloc_aligned(bytes); }
void cpu_free(void *p) { free(p); }
void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (dst != src && bytes) memcpy(dst, src, bytes);
}
void cpu_zero(void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
}
