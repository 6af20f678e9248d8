/* safetensors reader (mmap; single file, sharded index or memory image) and atomic writer.
 * Format: ../shared/docs/models-spec.md §2.  Validation follows the reference (Rust) reader: header
 * length <= 100 MB and inside the file, UTF-8 JSON object, known dtypes, end - begin == numel * size,
 * offsets tiling the data buffer exactly (no hole, no overlap, no trailing bytes), duplicate keys
 * rejected, "__metadata__" a flat string -> string object.  The writer is in safetensors_write.c. */
#include "io/safetensors.h"
#include "io/safetensors_priv.h"
#include "util/log.h"
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mmlora safetensors I/O assumes a little-endian host"
#endif

#define ST_MAX_HEADER 100000000ull
#define ST_MAX_INT 9007199254740992.0 /* 2^53: largest JSON integer cJSON's double holds exactly */

/* ------------------------------------------------------------------ dtypes */
static const char *const k_dt_name[MM_DT_COUNT] = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
    "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
static const size_t k_dt_size[MM_DT_COUNT] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

const char *mm_dtype_name(mm_dtype dt) { return (unsigned)dt < MM_DT_COUNT ? k_dt_name[dt] : "?"; }
size_t mm_dtype_size(mm_dtype dt) { return (unsigned)dt < MM_DT_COUNT ? k_dt_size[dt] : 0; }
mm_dtype mm_dtype_from_name(const char *name) {
    for (int i = 0; i < MM_DT_COUNT; i++)
        if (name && strcmp(name, k_dt_name[i]) == 0) return (mm_dtype)i;
    return MM_DT_COUNT;
}

/* ------------------------------------------------------------------ helpers */
/* Strict UTF-8 (as Rust's str::from_utf8): no overlongs, no surrogates, <= U+10FFFF. */
size_t mm_st_utf8_invalid_at(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k; unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) k = 1;
        else if (c >= 0xe0 && c <= 0xef) { k = 2; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
        else if (c >= 0xf0 && c <= 0xf4) { k = 3; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
        else return i;
        if (k > n - 1 - i) return i; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++) if ((s[i + j] & 0xc0) != 0x80) return i;
        i += k + 1;
    }
    return (size_t)-1;
}

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* JSON non-negative integer that a double holds exactly. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > ST_MAX_INT || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* ------------------------------------------------------------------ reader */
typedef struct {
    char *path;
    const unsigned char *base;
    size_t len;
    int mapped;
} st_file;

struct mm_safetensors {
    char *path;
    st_file *files;
    int nfiles;
    mm_st_tensor *t;
    int n, cap;
    int *by_name; /* indices of t sorted by name */
    char **mkey, **mval;
    int nmeta;
};

typedef struct { int idx; uint64_t begin, end; } st_span;

static int cmp_span(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}
static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first key of obj that occurs twice (cJSON keeps duplicates), or NULL.  O(n log n). */
static const char *dup_key(const cJSON *obj) {
    int n = cJSON_GetArraySize(obj), k = 0;
    const char *dup = NULL;
    const char **names = mm_xmalloc(sizeof(char *) * (size_t)(n ? n : 1));
    for (const cJSON *e = obj->child; e; e = e->next) names[k++] = e->string;
    qsort(names, (size_t)n, sizeof(char *), cmp_cstr);
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
    free(names);
    return dup;
}

/* Keys already present from an earlier shard keep their value (first shard wins). */
static void add_meta(mm_safetensors *st, int prev, const char *k, const char *v) {
    for (int i = 0; i < prev; i++)
        if (strcmp(st->mkey[i], k) == 0) return;
    if ((st->nmeta & (st->nmeta - 1)) == 0) { /* grow at powers of two */
        size_t cap = st->nmeta ? 2 * (size_t)st->nmeta : 1;
        st->mkey = mm_xrealloc(st->mkey, sizeof(char *) * cap);
        st->mval = mm_xrealloc(st->mval, sizeof(char *) * cap);
    }
    st->mkey[st->nmeta] = mm_xstrdup(k);
    st->mval[st->nmeta] = mm_xstrdup(v);
    st->nmeta++;
}

static int parse_entry(const char *fn, const cJSON *e, uint64_t dlen, mm_st_tensor *t, uint64_t off[2]) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return mm_fail("%s: tensor '%s' header entry is not a JSON object", fn, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return mm_fail("%s: tensor '%s' has no string 'dtype'", fn, name);
    t->dtype = mm_dtype_from_name(dt->valuestring);
    if (t->dtype == MM_DT_COUNT)
        return mm_fail("%s: tensor '%s' has unknown dtype '%s'", fn, name, dt->valuestring);
    if (!cJSON_IsArray(sh)) return mm_fail("%s: tensor '%s' has no array 'shape'", fn, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > MM_MAX_DIMS)
        return mm_fail("%s: tensor '%s' has %d dimensions (at most %d supported)", fn, name, nd, MM_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (json_uint(d, &v) != 0)
            return mm_fail("%s: tensor '%s' shape[%d] is not a non-negative integer", fn, name, i);
        t->shape[i] = (int64_t)v;
        if (__builtin_mul_overflow(numel, v, &numel) || numel > (uint64_t)INT64_MAX)
            return mm_fail("%s: tensor '%s' shape overflows the element count", fn, name);
    }
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || json_uint(of->child, &off[0]) != 0 ||
        json_uint(of->child->next, &off[1]) != 0)
        return mm_fail("%s: tensor '%s' 'data_offsets' is not an array of two non-negative integers", fn, name);
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, (uint64_t)mm_dtype_size(t->dtype), &nbytes))
        return mm_fail("%s: tensor '%s' shape overflows the byte count", fn, name);
    char sbuf[256];
    fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape);
    if (off[1] < off[0] || off[1] - off[0] != nbytes)
        return mm_fail("%s: tensor '%s' data_offsets [%llu, %llu] do not match shape %s x %s = %llu bytes", fn,
                       name, (unsigned long long)off[0], (unsigned long long)off[1], sbuf,
                       k_dt_name[t->dtype], (unsigned long long)nbytes);
    if (off[1] > dlen)
        return mm_fail("%s: tensor '%s' data_offsets [%llu, %llu] lie outside the data buffer (%llu bytes)", fn,
                       name, (unsigned long long)off[0], (unsigned long long)off[1], (unsigned long long)dlen);
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)nbytes;
    return 0;
}

static int parse_metadata(mm_safetensors *st, const char *fn, const cJSON *m) {
    if (cJSON_IsNull(m)) return 0;
    if (!cJSON_IsObject(m)) return mm_fail("%s: key '__metadata__' is not a JSON object", fn);
    for (const cJSON *kv = m->child; kv; kv = kv->next)
        if (!cJSON_IsString(kv))
            return mm_fail("%s: metadata key '%s' has a non-string value", fn, kv->string);
    const char *dup = dup_key(m);
    if (dup) return mm_fail("%s: duplicate metadata key '%s'", fn, dup);
    int prev = st->nmeta;
    for (const cJSON *kv = m->child; kv; kv = kv->next) add_meta(st, prev, kv->string, kv->valuestring);
    return 0;
}

/* Parse one safetensors image; appends its tensors to st (file = fn, owned by st->files). */
static int parse_image(mm_safetensors *st, const char *fn, const unsigned char *buf, size_t len) {
    if (len < 8) return mm_fail("%s: file too short for a safetensors header (%zu bytes)", fn, len);
    uint64_t n;
    memcpy(&n, buf, 8);
    if (n > ST_MAX_HEADER)
        return mm_fail("%s: header length %llu exceeds the 100 MB limit", fn, (unsigned long long)n);
    if (n > len - 8)
        return mm_fail("%s: header length %llu runs past the end of the file (%zu bytes)", fn,
                       (unsigned long long)n, len);
    const char *hdr = (const char *)buf + 8;
    uint64_t dlen = len - 8 - n;
    if (n < 2 || hdr[0] != '{') return mm_fail("%s: header does not start with '{'", fn);
    size_t bad = mm_st_utf8_invalid_at((const unsigned char *)hdr, n);
    if (bad != (size_t)-1) return mm_fail("%s: header is not valid UTF-8 (byte %zu)", fn, bad);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root) return mm_fail("%s: header is not valid JSON", fn);
    int rc = -1;
    for (const char *p = end; p < hdr + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            mm_fail("%s: header has trailing bytes after the JSON object (byte %td)", fn, p - hdr);
            goto out;
        }
    if (!cJSON_IsObject(root)) { mm_fail("%s: header is not a JSON object", fn); goto out; }

    const char *dup = dup_key(root);
    if (dup) { mm_fail("%s: duplicate key '%s' in header", fn, dup); goto out; }
    int cnt = cJSON_GetArraySize(root);

    int first = st->n;
    st_span *sp = mm_xmalloc(sizeof(st_span) * (size_t)(cnt ? cnt : 1));
    int ns = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (parse_metadata(st, fn, e) != 0) goto out_sp;
            continue;
        }
        if (st->n == st->cap) {
            st->cap = st->cap ? 2 * st->cap : 16;
            st->t = mm_xrealloc(st->t, sizeof(mm_st_tensor) * (size_t)st->cap);
        }
        mm_st_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        uint64_t off[2];
        if (parse_entry(fn, e, dlen, t, off) != 0) goto out_sp;
        t->name = mm_xstrdup(e->string);
        t->file = fn;
        t->data = buf + 8 + n + off[0];
        sp[ns++] = (st_span){st->n, off[0], off[1]};
        st->n++;
    }
    qsort(sp, (size_t)ns, sizeof(st_span), cmp_span);
    uint64_t pos = 0;
    for (int i = 0; i < ns; i++) {
        const char *nm = st->t[sp[i].idx].name;
        if (sp[i].begin < pos) {
            mm_fail("%s: tensor '%s' data_offsets [%llu, %llu] overlap tensor '%s'", fn, nm,
                    (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end, st->t[sp[i - 1].idx].name);
            goto out_sp;
        }
        if (sp[i].begin > pos) {
            mm_fail("%s: tensor '%s' data_offsets [%llu, %llu] leave a hole of %llu bytes before it", fn, nm,
                    (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end,
                    (unsigned long long)(sp[i].begin - pos));
            goto out_sp;
        }
        pos = sp[i].end;
    }
    if (pos != dlen) {
        if (ns)
            mm_fail("%s: tensor '%s' is followed by %llu unused bytes at the end of the data buffer", fn,
                    st->t[sp[ns - 1].idx].name, (unsigned long long)(dlen - pos));
        else
            mm_fail("%s: header lists no tensors but the data buffer holds %llu bytes", fn,
                    (unsigned long long)dlen);
        goto out_sp;
    }
    /* reorder this image's tensors by data offset (file order) */
    mm_st_tensor *tmp = mm_xmalloc(sizeof(mm_st_tensor) * (size_t)(ns ? ns : 1));
    for (int i = 0; i < ns; i++) tmp[i] = st->t[sp[i].idx];
    if (ns) memcpy(st->t + first, tmp, sizeof(mm_st_tensor) * (size_t)ns);
    free(tmp);
    rc = 0;
out_sp:
    free(sp);
out:
    cJSON_Delete(root);
    return rc;
}

static int cmp_by_name_ctx(const void *a, const void *b, void *ctx) {
    const mm_st_tensor *t = ctx;
    return strcmp(t[*(const int *)a].name, t[*(const int *)b].name);
}

/* Build the name index; rejects a tensor present twice (two shards). */
static int finish(mm_safetensors *st) {
    st->by_name = mm_xmalloc(sizeof(int) * (size_t)(st->n ? st->n : 1));
    for (int i = 0; i < st->n; i++) st->by_name[i] = i;
    qsort_r(st->by_name, (size_t)st->n, sizeof(int), cmp_by_name_ctx, st->t);
    for (int i = 1; i < st->n; i++) {
        const mm_st_tensor *a = &st->t[st->by_name[i - 1]], *b = &st->t[st->by_name[i]];
        if (strcmp(a->name, b->name) == 0)
            return mm_fail("%s: tensor '%s' appears in both '%s' and '%s'", st->path, a->name, a->file, b->file);
    }
    return 0;
}

static mm_safetensors *st_new(const char *path) {
    mm_safetensors *st = mm_xcalloc(1, sizeof *st);
    st->path = mm_xstrdup(path);
    return st;
}

static st_file *add_file(mm_safetensors *st, const char *path) {
    st->files = mm_xrealloc(st->files, sizeof(st_file) * (size_t)(st->nfiles + 1));
    st_file *f = &st->files[st->nfiles++];
    memset(f, 0, sizeof *f);
    f->path = mm_xstrdup(path);
    return f;
}

static int map_file(st_file *f) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mm_fail("%s: cannot open: %s", f->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) { int e = errno; close(fd); return mm_fail("%s: cannot stat: %s", f->path, strerror(e)); }
    if (!S_ISREG(sb.st_mode)) { close(fd); return mm_fail("%s: not a regular file", f->path); }
    if (sb.st_size < 8) {
        close(fd);
        return mm_fail("%s: file too short for a safetensors header (%lld bytes)", f->path, (long long)sb.st_size);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return mm_fail("%s: cannot mmap: %s", f->path, strerror(e));
    f->base = p;
    f->len = (size_t)sb.st_size;
    f->mapped = 1;
    return 0;
}

void mm_st_close(mm_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free((char *)st->t[i].name);
    for (int i = 0; i < st->nfiles; i++) {
        if (st->files[i].mapped) munmap((void *)st->files[i].base, st->files[i].len);
        free(st->files[i].path);
    }
    for (int i = 0; i < st->nmeta; i++) { free(st->mkey[i]); free(st->mval[i]); }
    free(st->mkey); free(st->mval); free(st->files); free(st->t); free(st->by_name); free(st->path);
    free(st);
}

mm_safetensors *mm_st_open_memory(const void *buf, size_t len, const char *name) {
    if (!name) name = "<memory>";
    mm_safetensors *st = st_new(name);
    st_file *f = add_file(st, name);
    f->base = buf;
    f->len = len;
    if (parse_image(st, st->files[0].path, buf, len) != 0 || finish(st) != 0) { mm_st_close(st); return NULL; }
    return st;
}

static mm_safetensors *open_single(const char *path) {
    mm_safetensors *st = st_new(path);
    st_file *f = add_file(st, path);
    if (map_file(f) != 0 || parse_image(st, f->path, f->base, f->len) != 0 || finish(st) != 0) {
        mm_st_close(st);
        return NULL;
    }
    return st;
}

static char *read_small_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { mm_fail("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t cap = 4096, n = 0;
    char *b = mm_xmalloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n > ST_MAX_HEADER) { fclose(fp); free(b); mm_fail("%s: file larger than 100 MB", path); return NULL; }
        if (n == cap) b = mm_xrealloc(b, cap *= 2);
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) { free(b); mm_fail("%s: read error", path); return NULL; }
    *len = n;
    return b;
}

static mm_safetensors *open_index(const char *path) {
    size_t len;
    char *text = read_small_file(path, &len);
    if (!text) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    mm_safetensors *st = st_new(path);
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    const char **shards = NULL;
    int nsh = 0;
    if (!root || !cJSON_IsObject(root)) { mm_fail("%s: index is not a JSON object", path); goto fail; }
    if (!cJSON_IsObject(wm)) { mm_fail("%s: key 'weight_map' is missing or not an object", path); goto fail; }
    int cnt = cJSON_GetArraySize(wm);
    shards = mm_xmalloc(sizeof(char *) * (size_t)(cnt ? cnt : 1));
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring[0]) {
            mm_fail("%s: weight_map entry '%s' is not a file name string", path, e->string);
            goto fail;
        }
        const char *s = e->valuestring;
        if (s[0] == '/' || strstr(s, "..")) {
            mm_fail("%s: weight_map entry '%s' names '%s', outside the index directory", path, e->string, s);
            goto fail;
        }
        shards[nsh++] = s;
    }
    qsort(shards, (size_t)nsh, sizeof(char *), cmp_cstr);
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    for (int i = 0; i < nsh; i++) {
        if (i && strcmp(shards[i], shards[i - 1]) == 0) continue;
        size_t pl = (size_t)dirlen + strlen(shards[i]) + 1;
        char *sp = mm_xmalloc(pl);
        snprintf(sp, pl, "%.*s%s", dirlen, path, shards[i]);
        st_file *f = add_file(st, sp);
        free(sp);
        if (map_file(f) != 0) goto fail;
    }
    /* parse after all files are added: add_file reallocs st->files, parse_image keeps f->path pointers */
    for (int i = 0; i < st->nfiles; i++)
        if (parse_image(st, st->files[i].path, st->files[i].base, st->files[i].len) != 0) goto fail;
    if (finish(st) != 0) goto fail;
    for (const cJSON *e = wm->child; e; e = e->next) {
        const mm_st_tensor *t = mm_st_find(st, e->string);
        if (!t || strcmp(t->file + dirlen, e->valuestring) != 0) {
            mm_fail("%s: tensor '%s' is mapped to shard '%s' but is not stored there", path, e->string,
                    e->valuestring);
            goto fail;
        }
    }
    free(shards);
    cJSON_Delete(root);
    return st;
fail:
    free(shards);
    cJSON_Delete(root);
    mm_st_close(st);
    return NULL;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

mm_safetensors *mm_st_open(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) { mm_fail("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    if (S_ISDIR(sb.st_mode)) {
        size_t pl = strlen(path) + 40;
        char *p = mm_xmalloc(pl);
        mm_safetensors *st = NULL;
        snprintf(p, pl, "%s/model.safetensors", path);
        if (stat(p, &sb) == 0) st = open_single(p);
        else {
            snprintf(p, pl, "%s/model.safetensors.index.json", path);
            if (stat(p, &sb) == 0) st = open_index(p);
            else mm_fail("%s: directory holds neither 'model.safetensors' nor 'model.safetensors.index.json'", path);
        }
        free(p);
        return st;
    }
    if (ends_with(path, ".json")) return open_index(path);
    return open_single(path);
}

int mm_st_count(const mm_safetensors *st) { return st ? st->n : 0; }
const mm_st_tensor *mm_st_at(const mm_safetensors *st, int i) {
    return (st && i >= 0 && i < st->n) ? &st->t[i] : NULL;
}
const mm_st_tensor *mm_st_find(const mm_safetensors *st, const char *name) {
    if (!st || !name || !st->by_name) return NULL;
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[st->by_name[mid]].name, name);
        if (c == 0) return &st->t[st->by_name[mid]];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}
const char *mm_st_metadata(const mm_safetensors *st, const char *key) {
    for (int i = 0; st && key && i < st->nmeta; i++)
        if (strcmp(st->mkey[i], key) == 0) return st->mval[i];
    return NULL;
}

int mm_st_read_f32(const mm_safetensors *st, const char *name, float *dst, int ndim, const int64_t *expect_shape) {
    const mm_st_tensor *t = mm_st_find(st, name);
    if (!t) return mm_fail("%s: tensor '%s' not found", st ? st->path : "(null)", name);
    if (ndim >= 0) {
        int ok = ndim == t->ndim;
        for (int i = 0; ok && i < ndim; i++) ok = expect_shape[i] == t->shape[i];
        if (!ok) {
            char a[256], b[256];
            fmt_shape(a, sizeof a, t->ndim, t->shape);
            fmt_shape(b, sizeof b, ndim > MM_MAX_DIMS ? MM_MAX_DIMS : ndim, expect_shape);
            return mm_fail("%s: tensor '%s' has shape %s, expected %s", t->file, name, a, b);
        }
    }
    const unsigned char *src = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case MM_DT_F32:
        if (n) memcpy(dst, src, n * 4);
        return 0;
    case MM_DT_F16:
    case MM_DT_BF16: {
        int bf = t->dtype == MM_DT_BF16;
#ifdef MMLORA_OPENMP
#pragma omp parallel for schedule(static) if (n > (1u << 20))
#endif
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = bf ? mm_bf16_to_f32(h) : mm_f16_to_f32(h);
        }
        return 0;
    }
    default:
        return mm_fail("%s: tensor '%s' has dtype %s, expected F32, F16 or BF16", t->file, name,
                       k_dt_name[t->dtype]);
    }
}
