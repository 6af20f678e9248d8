/* safetensors writer: the layout Python safetensors writes (see mm_st_writer_save in safetensors.h),
 * saved atomically (path.tmp.<pid>, fsync, rename, fsync of the directory). */
#include "io/safetensors.h"
#include "io/safetensors_priv.h"
#include "util/log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
    char *name;
    mm_dtype dtype;
    int ndim;
    int64_t shape[MM_MAX_DIMS];
    const void *data;
    size_t nbytes;
} w_entry;

struct mm_st_writer {
    w_entry *e;
    int n, cap;
    char **mkey, **mval;
    int nmeta;
    char err[512]; /* first error from add/metadata, reported by save */
};

mm_st_writer *mm_st_writer_new(void) { return mm_xcalloc(1, sizeof(mm_st_writer)); }

void mm_st_writer_free(mm_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    for (int i = 0; i < w->nmeta; i++) { free(w->mkey[i]); free(w->mval[i]); }
    free(w->e); free(w->mkey); free(w->mval); free(w);
}

static const char *wmeta(const mm_st_writer *w, const char *key) {
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->mkey[i], key) == 0) return w->mval[i];
    return "";
}

static int valid_utf8_str(const char *s) { return mm_st_utf8_invalid_at((const unsigned char *)s, strlen(s)) == (size_t)-1; }

void mm_st_writer_add(mm_st_writer *w, const char *name, mm_dtype dtype, int ndim, const int64_t *shape,
                      const void *data) {
    if (!w || w->err[0]) return;
    const char *nm = name ? name : "(null)";
    uint64_t numel = 1, nbytes = 0;
    if (!name || !name[0] || !valid_utf8_str(name) || strcmp(name, "__metadata__") == 0) {
        snprintf(w->err, sizeof w->err, "tensor '%s' has an invalid name", nm);
        return;
    }
    if ((unsigned)dtype >= MM_DT_COUNT) { snprintf(w->err, sizeof w->err, "tensor '%s' has an invalid dtype", nm); return; }
    if (ndim < 0 || ndim > MM_MAX_DIMS || (ndim && !shape)) {
        snprintf(w->err, sizeof w->err, "tensor '%s' has %d dimensions (0..%d supported)", nm, ndim, MM_MAX_DIMS);
        return;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (uint64_t)shape[i], &numel)) {
            snprintf(w->err, sizeof w->err, "tensor '%s' has an invalid shape", nm);
            return;
        }
    if (__builtin_mul_overflow(numel, (uint64_t)mm_dtype_size(dtype), &nbytes) || nbytes > SIZE_MAX / 2) {
        snprintf(w->err, sizeof w->err, "tensor '%s' is too large", nm);
        return;
    }
    if (nbytes && !data) { snprintf(w->err, sizeof w->err, "tensor '%s' has no data", nm); return; }
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0) {
            snprintf(w->err, sizeof w->err, "tensor '%s' added twice", nm);
            return;
        }
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->e = mm_xrealloc(w->e, sizeof(w_entry) * (size_t)w->cap);
    }
    w_entry *e = &w->e[w->n++];
    memset(e, 0, sizeof *e);
    e->name = mm_xstrdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = (size_t)nbytes;
}

void mm_st_writer_metadata(mm_st_writer *w, const char *key, const char *value) {
    if (!w || w->err[0]) return;
    if (!key || !value || !valid_utf8_str(key) || !valid_utf8_str(value)) {
        snprintf(w->err, sizeof w->err, "metadata key '%s' is invalid", key ? key : "(null)");
        return;
    }
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->mkey[i], key) == 0) { free(w->mval[i]); w->mval[i] = mm_xstrdup(value); return; }
    w->mkey = mm_xrealloc(w->mkey, sizeof(char *) * (size_t)(w->nmeta + 1));
    w->mval = mm_xrealloc(w->mval, sizeof(char *) * (size_t)(w->nmeta + 1));
    w->mkey[w->nmeta] = mm_xstrdup(key);
    w->mval[w->nmeta] = mm_xstrdup(value);
    w->nmeta++;
}

typedef struct { char *p; size_t n, cap; } sbuf;
static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 1024;
        b->p = mm_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
/* JSON string as serde_json writes it: \" \\ \b \f \n \r \t, other controls \u00xx, the rest raw UTF-8. */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        const char *r = NULL;
        switch (c) {
        case '"': r = "\\\""; break;
        case '\\': r = "\\\\"; break;
        case '\b': r = "\\b"; break;
        case '\f': r = "\\f"; break;
        case '\n': r = "\\n"; break;
        case '\r': r = "\\r"; break;
        case '\t': r = "\\t"; break;
        default:
            if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); r = esc; }
        }
        if (r) sb_str(b, r); else sb_put(b, s, 1);
    }
    sb_put(b, "\"", 1);
}

static int cmp_wentry(const void *a, const void *b) {
    const w_entry *x = *(const w_entry *const *)a, *y = *(const w_entry *const *)b;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1; /* Python: descending dtype */
    return strcmp(x->name, y->name);
}

static int write_all(int fd, const void *p, size_t n) {
    const unsigned char *c = p;
    while (n) {
        ssize_t r = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

int mm_st_writer_save(mm_st_writer *w, const char *path) {
    if (!w || !path) return mm_fail("%s: invalid writer or path", path ? path : "(null)");
    if (w->err[0]) return mm_fail("%s: %s", path, w->err);
    const w_entry **ord = mm_xmalloc(sizeof(w_entry *) * (size_t)(w->n ? w->n : 1));
    for (int i = 0; i < w->n; i++) ord[i] = &w->e[i];
    qsort(ord, (size_t)w->n, sizeof(w_entry *), cmp_wentry);
    char **mk = mm_xmalloc(sizeof(char *) * (size_t)(w->nmeta ? w->nmeta : 1));
    for (int i = 0; i < w->nmeta; i++) mk[i] = w->mkey[i];
    qsort(mk, (size_t)w->nmeta, sizeof(char *), cmp_cstr);

    sbuf h = {0};
    char num[128];
    sb_str(&h, "{");
    if (w->nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i) sb_str(&h, ",");
            sb_json(&h, mk[i]);
            sb_str(&h, ":");
            sb_json(&h, wmeta(w, mk[i]));
        }
        sb_str(&h, "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const w_entry *e = ord[i];
        if (i || w->nmeta) sb_str(&h, ",");
        sb_json(&h, e->name);
        sb_str(&h, ":{\"dtype\":");
        sb_json(&h, mm_dtype_name(e->dtype));
        sb_str(&h, ",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)e->shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + e->nbytes));
        sb_str(&h, num);
        off += e->nbytes;
    }
    sb_str(&h, "}");
    while (h.n % 8) sb_str(&h, " ");
    free(mk);

    size_t pl = strlen(path) + 32;
    char *tmp = mm_xmalloc(pl);
    snprintf(tmp, pl, "%s.tmp.%ld", path, (long)getpid());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { mm_fail("%s: cannot create '%s': %s", path, tmp, strerror(errno)); goto out; }
    uint64_t hl = h.n;
    int bad = write_all(fd, &hl, 8) || write_all(fd, h.p, h.n);
    for (int i = 0; !bad && i < w->n; i++)
        if (ord[i]->nbytes) bad = write_all(fd, ord[i]->data, ord[i]->nbytes);
    if (bad || fsync(fd) != 0) {
        mm_fail("%s: cannot write '%s': %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) { mm_fail("%s: cannot write '%s': %s", path, tmp, strerror(errno)); unlink(tmp); goto out; }
    if (rename(tmp, path) != 0) { mm_fail("%s: cannot rename '%s': %s", path, tmp, strerror(errno)); unlink(tmp); goto out; }
    const char *slash = strrchr(path, '/');
    snprintf(tmp, pl, "%.*s", slash ? (int)(slash - path + (slash == path)) : 1, slash ? path : ".");
    int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int r = fsync(dfd), e = errno;
        close(dfd);
        if (r != 0 && e != EINVAL && e != EROFS) { mm_fail("%s: cannot fsync directory: %s", path, strerror(e)); goto out; }
    }
    rc = 0;
out:
    free(tmp);
    free(h.p);
    free(ord);
    return rc;
}
