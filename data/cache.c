/* Memory-mapped cache files.  See cache.h for the layout. */
#include "data/cache.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/log.h"

_Static_assert(sizeof(mm_cache_header) <= MM_CACHE_HEADER_BYTES, "cache header too large");
_Static_assert(sizeof(mm_cache_entry) == 24, "cache entry is 24 bytes");

struct mm_cache {
    void *map;
    size_t len;
    const mm_cache_header *h;
    const int32_t *tokens;
    const mm_cache_entry *index;
};

mm_cache *mm_cache_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        mm_fail("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < MM_CACHE_HEADER_BYTES) {
        close(fd);
        mm_fail("%s: not a cache file (too short)", path);
        return NULL;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        mm_fail("%s: mmap failed: %s", path, strerror(errno));
        return NULL;
    }
    const mm_cache_header *h = m;
    const char *why = NULL;
    if (memcmp(h->magic, MM_CACHE_MAGIC, 8)) why = "bad magic";
    else if (h->version != MM_CACHE_VERSION) why = "unsupported format version";
    else if (h->header_bytes != MM_CACHE_HEADER_BYTES) why = "bad header size";
    else if (h->file_bytes != (uint64_t)st.st_size) why = "file size does not match the header";
    else if (h->tokens_offset != MM_CACHE_HEADER_BYTES || h->n_tokens > (h->file_bytes - h->tokens_offset) / 4)
        why = "token block out of range";
    else if (h->index_offset % 8 || h->index_offset < h->tokens_offset + 4 * h->n_tokens ||
             h->n_examples > (h->file_bytes - h->index_offset) / sizeof(mm_cache_entry))
        why = "index block out of range";
    else if (h->n_langs < 1 || h->n_langs > MM_CACHE_MAX_LANGS) why = "bad language count";
    if (why) {
        if (h->version != MM_CACHE_VERSION && !memcmp(h->magic, MM_CACHE_MAGIC, 8))
            mm_fail("%s: cache format version %u, this build reads %u", path, h->version, MM_CACHE_VERSION);
        else
            mm_fail("%s: %s", path, why);
        munmap(m, (size_t)st.st_size);
        return NULL;
    }
    mm_cache *c = mm_xcalloc(1, sizeof *c);
    c->map = m;
    c->len = (size_t)st.st_size;
    c->h = h;
    c->tokens = (const int32_t *)((const char *)m + h->tokens_offset);
    c->index = (const mm_cache_entry *)((const char *)m + h->index_offset);
    return c;
}

void mm_cache_close(mm_cache *c) {
    if (!c) return;
    munmap(c->map, c->len);
    free(c);
}

const mm_cache_header *mm_cache_header_get(const mm_cache *c) { return c->h; }
size_t mm_cache_count(const mm_cache *c) { return (size_t)c->h->n_examples; }

int mm_cache_get(const mm_cache *c, size_t i, mm_cache_example *out) {
    if (i >= c->h->n_examples) return mm_fail("cache: example %zu out of range (%llu)", i,
                                              (unsigned long long)c->h->n_examples);
    const mm_cache_entry *e = &c->index[i];
    if (e->tok_off + (uint64_t)e->n_tok > c->h->n_tokens || e->n_src > e->n_tok || e->n_src < 0)
        return mm_fail("cache: example %zu has a corrupt index entry", i);
    *out = (mm_cache_example){c->tokens + e->tok_off, e->n_tok, e->n_src, e->lang, e->line};
    return 0;
}

struct mm_cache_writer {
    FILE *f;
    char path[1024], tmp[1100];
    mm_cache_header h;
    mm_cache_entry *index;
    size_t n, cap;
};

mm_cache_writer *mm_cache_writer_open(const char *path, const mm_cache_header *proto) {
    mm_cache_writer *w = mm_xcalloc(1, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%d", path, (int)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        mm_fail("%s: cannot create: %s", w->tmp, strerror(errno));
        free(w);
        return NULL;
    }
    w->h = *proto;
    memcpy(w->h.magic, MM_CACHE_MAGIC, 8);
    w->h.version = MM_CACHE_VERSION;
    w->h.header_bytes = MM_CACHE_HEADER_BYTES;
    w->h.tokens_offset = MM_CACHE_HEADER_BYTES;
    w->h.n_examples = w->h.n_tokens = 0;
    static const char zero[MM_CACHE_HEADER_BYTES];
    if (fwrite(zero, 1, sizeof zero, w->f) != sizeof zero) {   /* header placeholder: magic is zero until commit */
        mm_cache_writer_abort(w);
        mm_fail("%s: write failed", path);
        return NULL;
    }
    return w;
}

mm_cache_header *mm_cache_writer_header(mm_cache_writer *w) { return &w->h; }

int mm_cache_writer_add(mm_cache_writer *w, int lang, int line, int n_src, const int32_t *ids, int n_tok) {
    if (fwrite(ids, sizeof *ids, (size_t)n_tok, w->f) != (size_t)n_tok) return mm_fail("%s: write failed", w->tmp);
    if (w->n == w->cap) w->index = mm_xrealloc(w->index, (w->cap = w->cap ? 2 * w->cap : 4096) * sizeof *w->index);
    w->index[w->n++] = (mm_cache_entry){w->h.n_tokens, n_tok, n_src, lang, line};
    w->h.n_tokens += (uint64_t)n_tok;
    w->h.n_examples++;
    return 0;
}

void mm_cache_writer_abort(mm_cache_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    unlink(w->tmp);
    free(w->index);
    free(w);
}

int mm_cache_writer_commit(mm_cache_writer *w) {
    uint64_t end = w->h.tokens_offset + 4 * w->h.n_tokens;
    uint64_t pad = (8 - end % 8) % 8;
    static const char zero[8];
    w->h.index_offset = end + pad;
    w->h.file_bytes = w->h.index_offset + w->n * sizeof(mm_cache_entry);
    char hdr[MM_CACHE_HEADER_BYTES] = {0};
    memcpy(hdr, &w->h, sizeof w->h);
    int ok = fwrite(zero, 1, pad, w->f) == pad && fwrite(w->index, sizeof *w->index, w->n, w->f) == w->n &&
             fseek(w->f, 0, SEEK_SET) == 0 && fwrite(hdr, 1, sizeof hdr, w->f) == sizeof hdr && fflush(w->f) == 0 &&
             fsync(fileno(w->f)) == 0;
    ok = (fclose(w->f) == 0) && ok;
    w->f = NULL;
    if (!ok || rename(w->tmp, w->path) != 0) {
        int rc = mm_fail("%s: cannot write cache: %s", w->path, strerror(errno));
        mm_cache_writer_abort(w);
        return rc;
    }
    free(w->index);
    free(w);
    return 0;
}

