/* Local corpus builder: file lists, extraction, filters, near-duplicate removal, split by file,
 * jsonl output.  See corpus.h. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include "data/cache.h"
#include "data/corpus.h"
#include "data/dataset.h"
#include "data/subset.h"
#include "util/fileio.h"
#include "util/log.h"

static const char *LANG[MM_C_NLANGS] = {"go", "java", "javascript", "php", "python", "ruby"};
static const char *ROOT[MM_C_NLANGS] = {"/usr/share/go-1.19/src", "/usr/lib/jvm/openjdk-17/lib/src.zip",
                                        "/usr/share/nodejs", "/usr/share/php", "/usr/lib/python3.11",
                                        "/usr/lib/ruby"};
static const char *PKG[MM_C_NLANGS] = {
    "golang-1.19-src", "openjdk-17-source (java.base, java.sql, java.logging, java.net.http)",
    "node-lodash node-underscore node-async node-moment (and their dependencies)",
    "php-symfony-console php-symfony-http-foundation php-twig php-monolog php-guzzlehttp-psr7 "
    "php-league-commonmark (and dependencies)",
    "libpython3.11-stdlib / libpython3.11-minimal (the standard library)", "ruby / libruby3.1 (the standard library)"};
static const char *EXT[MM_C_NLANGS] = {".go", ".java", ".js", ".php", ".py", ".rb"};
static const char *JAVA_MODULES = "'java.base/*' 'java.sql/*' 'java.logging/*' 'java.net.http/*'";

const char *mm_corpus_default_root(int lang) { return ROOT[lang]; }
const char *mm_corpus_package(int lang) { return PKG[lang]; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    char **v;
    size_t n, cap;
} strv;
static void strv_push(strv *s, char *x) {
    if (s->n == s->cap) s->v = mm_xrealloc(s->v, (s->cap = s->cap ? 2 * s->cap : 256) * sizeof *s->v);
    s->v[s->n++] = x;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int skip_dir(int lang, const char *name) {
    static const char *ALL[] = {"test", "tests", "testdata", "testing", "__pycache__", "idle_test", "site-packages",
                                "dist-packages", "examples", "example", "fixtures", "benchmark", "benchmarks", NULL};
    if (name[0] == '.') return 1;
    for (int k = 0; ALL[k]; k++)
        if (!strcmp(name, ALL[k])) return 1;
    if (lang == MM_C_JS && (!strcmp(name, "dist") || !strcmp(name, "min") || !strcmp(name, "@types"))) return 1;
    return 0;
}

static int want_file(int lang, const char *name) {
    size_t l = strlen(name), e = strlen(EXT[lang]);
    if (l <= e || strcmp(name + l - e, EXT[lang])) return 0;
    if (lang == MM_C_GO && l > 8 && !strcmp(name + l - 8, "_test.go")) return 0;
    if (lang == MM_C_JS && (strstr(name, ".min.") || strstr(name, ".test.") || strstr(name, ".spec."))) return 0;
    if (lang == MM_C_PY && !strncmp(name, "test_", 5)) return 0;
    return 1;
}

static void walk(int lang, const char *dir, strv *out) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode)) continue;   /* symlinks: Debian links duplicates */
        if (S_ISDIR(st.st_mode)) {
            if (!skip_dir(lang, de->d_name)) walk(lang, path, out);
        } else if (S_ISREG(st.st_mode) && st.st_size < 4 << 20 && want_file(lang, de->d_name)) {
            strv_push(out, mm_xstrdup(path));
        }
    }
    closedir(d);
}

/* the directory tree of lang's sources (java: src.zip unpacked into work/java once) */
static int source_root(const mm_corpus_opts *o, int lang, char *buf, size_t cap) {
    const char *r = o->roots[lang] ? o->roots[lang] : ROOT[lang];
    struct stat st;
    if (stat(r, &st) != 0)
        return mm_fail("%s sources not found at %s: run `make deps` (Debian package: %s)", LANG[lang], r, PKG[lang]);
    if (S_ISDIR(st.st_mode)) {
        snprintf(buf, cap, "%s", r);
        return 0;
    }
    char work[3000];
    snprintf(work, sizeof work, "%s/java", o->work);
    snprintf(buf, cap, "%s", work);
    char stamp[3100];
    snprintf(stamp, sizeof stamp, "%s/.unpacked", work);
    if (mm_file_exists(stamp)) return 0;
    if (mm_mkdirs(work) < 0) return -1;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "unzip -q -o '%s' %s -d '%s' && touch '%s'", r, JAVA_MODULES, work, stamp);
    if (system(cmd) != 0) return mm_fail("cannot unpack %s (is unzip installed?): %s", r, cmd);
    return 0;
}

/* ------------------------------------------------------------------ records */
typedef struct {
    char *json;          /* the rendered record without "partition" (added at write time) */
    uint64_t *set;       /* sorted unique code-token hashes */
    size_t n_set;
    uint32_t file;
} rec;
typedef struct {
    rec *v;
    size_t n, cap;
    size_t n_funcs, n_filtered;
} recs;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sha1_hex(const char *buf, size_t n, char out[41]) {
    unsigned char d[20];
    unsigned dl = 0;
    EVP_Digest(buf, n, d, &dl, EVP_sha1(), NULL);
    for (int i = 0; i < 20; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int name_excluded(const char *name) {
    /* CodeSearchNet drops tests and standard extension methods */
    char low[256];
    size_t i = 0;
    for (; name[i] && i < sizeof low - 1; i++) low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    low[i] = 0;
    if (strstr(low, "test")) return 1;
    if (!strncmp(name, "__", 2) && i > 4 && !strcmp(name + i - 2, "__")) return 1;
    static const char *STD[] = {"toString", "equals", "hashCode", "String", "main", NULL};
    for (int k = 0; STD[k]; k++)
        if (!strcmp(name, STD[k])) return 1;
    return 0;
}

static void extract_file(int lang, const char *path, const char *root, uint32_t file_idx, recs *out) {
    size_t len;
    char *src = mm_read_file(path, &len);
    if (!src) return;
    if (!mm_utf8_valid(src, len) || memchr(src, 0, len)) {
        free(src);
        return;
    }
    mm_funcs f = {0};
    mm_extract(lang, src, len, &f);
    char sha[41];
    sha1_hex(src, len, sha);
    const char *rel = path + strlen(root) + (path[strlen(root)] == '/');
    char repo[512];
    const char *slash = strchr(rel, '/');
    snprintf(repo, sizeof repo, "debian/%.*s", slash ? (int)(slash - rel) : (int)strlen(rel), rel);
    for (size_t i = 0; i < f.n; i++) {
        mm_func *x = &f.v[i];
        out->n_funcs++;
        char *sum = mm_doc_summary(x->doc);
        size_t nd;
        char **dt = mm_doc_tokenize(sum, &nd);
        const char *why = mm_doc_filter(sum, dt, nd);
        if (!why && (x->line_end - x->line_start + 1 < 3 || name_excluded(x->name) || x->n_code_tokens < 3 ||
                     x->n_code_tokens > 4096 || !mm_utf8_valid(x->code, strlen(x->code))))
            why = "code";
        free(sum);
        if (why) {
            out->n_filtered++;
            mm_strv_free(dt, nd);
            continue;
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "repo", repo);
        cJSON_AddStringToObject(j, "path", rel);
        cJSON_AddStringToObject(j, "func_name", x->name);
        cJSON_AddStringToObject(j, "original_string", x->original);
        cJSON_AddStringToObject(j, "language", LANG[lang]);
        cJSON_AddStringToObject(j, "code", x->code);
        cJSON_AddItemToObject(j, "code_tokens", cJSON_CreateStringArray((const char *const *)x->code_tokens,
                                                                        (int)x->n_code_tokens));
        cJSON_AddStringToObject(j, "docstring", x->doc);
        cJSON_AddItemToObject(j, "docstring_tokens", cJSON_CreateStringArray((const char *const *)dt, (int)nd));
        cJSON_AddStringToObject(j, "sha", sha);
        char url[4500];
        snprintf(url, sizeof url, "file://%s#L%d-L%d", path, x->line_start, x->line_end);
        cJSON_AddStringToObject(j, "url", url);
        char *js = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        mm_strv_free(dt, nd);
        if (out->n == out->cap) out->v = mm_xrealloc(out->v, (out->cap = out->cap ? 2 * out->cap : 64) * sizeof *out->v);
        rec *r = &out->v[out->n++];
        r->json = js;
        r->file = file_idx;
        r->set = mm_xmalloc((x->n_code_tokens + 1) * sizeof *r->set);
        for (size_t k = 0; k < x->n_code_tokens; k++) r->set[k] = fnv(x->code_tokens[k], strlen(x->code_tokens[k]));
        qsort(r->set, x->n_code_tokens, sizeof *r->set, cmp_u64);
        size_t u = 0;
        for (size_t k = 0; k < x->n_code_tokens; k++)
            if (!u || r->set[u - 1] != r->set[k]) r->set[u++] = r->set[k];
        r->n_set = u;
    }
    mm_funcs_free(&f);
    free(src);
}

/* ------------------------------------------------------------------ near duplicates */
enum { MH_K = 16, MH_BANDS = 4, MH_ROWS = 4 };
#define DUP_JACCARD 0.8

static double jaccard(const rec *a, const rec *b) {
    size_t i = 0, j = 0, inter = 0;
    while (i < a->n_set && j < b->n_set) {
        if (a->set[i] == b->set[j]) inter++, i++, j++;
        else if (a->set[i] < b->set[j]) i++;
        else j++;
    }
    size_t uni = a->n_set + b->n_set - inter;
    return uni ? (double)inter / (double)uni : 1.0;
}

typedef struct { uint64_t key; uint32_t rec; uint32_t used; } slot;

/* marks dup[i] = 1 for every record that is a near-duplicate of an earlier kept one */
static size_t dedup(recs *R, unsigned char *dup) {
    size_t cap = 1;
    while (cap < (size_t)MH_BANDS * R->n * 2 + 16) cap <<= 1;
    slot *tab = mm_xcalloc(cap, sizeof *tab);
    size_t n_dup = 0;
    for (size_t i = 0; i < R->n; i++) {
        rec *r = &R->v[i];
        uint64_t mh[MH_K];
        for (int k = 0; k < MH_K; k++) {
            uint64_t best = UINT64_MAX;
            for (size_t q = 0; q < r->n_set; q++) {
                uint64_t st = r->set[q] ^ (0x9E3779B97F4A7C15ull * (uint64_t)(k + 1));
                uint64_t h = mm_splitmix64(&st);
                if (h < best) best = h;
            }
            mh[k] = best;
        }
        uint64_t keys[MH_BANDS];
        int is_dup = 0;
        for (int b = 0; b < MH_BANDS && !is_dup; b++) {
            uint64_t h = 0x12345 + (uint64_t)b;
            for (int q = 0; q < MH_ROWS; q++) h = (h ^ mh[b * MH_ROWS + q]) * 1099511628211ull;
            keys[b] = h;
            for (size_t p = h & (cap - 1); tab[p].used; p = (p + 1) & (cap - 1))
                if (tab[p].key == h) {
                    const rec *o = &R->v[tab[p].rec];
                    /* small functions share most of their tokens by nature: only identical sets count */
                    double need = (r->n_set < 10 || o->n_set < 10) ? 1.0 : DUP_JACCARD;
                    if (jaccard(r, o) >= need) { is_dup = 1; break; }
                }
        }
        if (is_dup) {
            dup[i] = 1;
            n_dup++;
            continue;
        }
        for (int b = 0; b < MH_BANDS; b++) {
            size_t p = keys[b] & (cap - 1);
            while (tab[p].used) p = (p + 1) & (cap - 1);
            tab[p] = (slot){keys[b], (uint32_t)i, 1};
        }
    }
    free(tab);
    return n_dup;
}

/* split of a file: seeded hash of its path relative to the root, 80/10/10 */
static int file_split(const char *rel, uint64_t seed) {
    uint64_t st = fnv(rel, strlen(rel)) ^ (seed * 0x9E3779B97F4A7C15ull);
    uint64_t h = mm_splitmix64(&st) % 100;
    return h < 80 ? MM_SPLIT_TRAIN : h < 90 ? MM_SPLIT_VALID : MM_SPLIT_TEST;
}

static int build_lang(const mm_corpus_opts *o, int lang, mm_corpus_stats *st) {
    double t0 = now_s();
    char root[3000];
    if (source_root(o, lang, root, sizeof root) < 0) return -1;
    strv files = {0};
    walk(lang, root, &files);
    qsort(files.v, files.n, sizeof *files.v, cmp_str);
    st->files[lang] = files.n;
    recs *per = mm_xcalloc(files.n + 1, sizeof *per);
    size_t done = 0;
    double last = 0;
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t i = 0; i < files.n; i++) {
        extract_file(lang, files.v[i], root, (uint32_t)i, &per[i]);
#pragma omp atomic
        done++;
        if (o->progress) {
#pragma omp critical(corpus_progress)
            {
                double tn = now_s();
                if (tn - last > (o->progress == 1 ? 1.0 : 10.0)) {
                    last = tn;
                    double eta = done ? (tn - t0) * (double)(files.n - done) / (double)done : 0;
                    fprintf(stderr, "%scorpus: %-10s %zu/%zu files, ETA %.0fs   %s", o->progress == 1 ? "\r" : "",
                            LANG[lang], done, files.n, eta, o->progress == 1 ? "" : "\n");
                }
            }
        }
    }
    if (o->progress == 1) fprintf(stderr, "\r%70s\r", "");
    recs all = {0};
    for (size_t i = 0; i < files.n; i++) {
        st->funcs[lang] += per[i].n_funcs;
        st->filtered[lang] += per[i].n_filtered;
        for (size_t k = 0; k < per[i].n; k++) {
            if (all.n == all.cap) all.v = mm_xrealloc(all.v, (all.cap = all.cap ? 2 * all.cap : 1024) * sizeof *all.v);
            all.v[all.n++] = per[i].v[k];
        }
        free(per[i].v);
    }
    free(per);
    unsigned char *dup = mm_xcalloc(all.n + 1, 1);
    st->dups[lang] = dedup(&all, dup);
    /* write the three splits */
    char *buf[3] = {0};
    size_t bn[3] = {0}, bc[3] = {0};
    for (size_t i = 0; i < all.n; i++) {
        rec *r = &all.v[i];
        if (!dup[i]) {
            const char *rel = files.v[r->file] + strlen(root) + 1;
            int s = file_split(rel, o->seed);
            char tail[64];
            int tl = snprintf(tail, sizeof tail, ",\"partition\":\"%s\"}\n", mm_split_name(s));
            size_t jl = strlen(r->json) - 1;   /* drop the closing brace */
            if (bn[s] + jl + (size_t)tl + 1 > bc[s]) buf[s] = mm_xrealloc(buf[s], bc[s] = (bn[s] + jl + (size_t)tl + 1) * 2);
            memcpy(buf[s] + bn[s], r->json, jl);
            memcpy(buf[s] + bn[s] + jl, tail, (size_t)tl);
            bn[s] += jl + (size_t)tl;
            st->split[lang][s]++;
        }
        free(r->json);
        free(r->set);
    }
    free(all.v);
    free(dup);
    int rc = 0;
    char dir[3000];
    snprintf(dir, sizeof dir, "%s/%s", o->out, LANG[lang]);
    rc = mm_mkdirs(dir);
    for (int s = 0; s < 3 && rc == 0; s++) {
        char path[3100];
        snprintf(path, sizeof path, "%s/%s.jsonl", dir, mm_split_name(s));
        rc = mm_write_file_atomic(path, buf[s] ? buf[s] : "", bn[s]);
    }
    for (int s = 0; s < 3; s++) free(buf[s]);
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    st->seconds[lang] = now_s() - t0;
    return rc;
}

int mm_corpus_build(const mm_corpus_opts *o, mm_corpus_stats *st) {
    memset(st, 0, sizeof *st);
    char work[3000];
    mm_corpus_opts oo = *o;
    if (!oo.work) {
        snprintf(work, sizeof work, "%s/.src", o->out);
        oo.work = work;
    }
    for (int l = 0; l < MM_C_NLANGS; l++) {
        if (o->lang_mask && !(o->lang_mask >> l & 1u)) continue;
        if (build_lang(&oo, l, st) < 0) return -1;
    }
    return 0;
}
