/* Encode throughput on real source code: the first 8 MB of the sorted /usr/lib/python3* / ** / *.py files
 * (the same text `python3 tests/reference/tokenizer_ref.py bench` times HF `tokenizers` on), one
 * encode call per file, single thread and all threads.  Run from the repo root (make bench). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "io/tokenizer.h"
#include "util/log.h"

typedef struct { char **v; size_t n, cap; } strs;
static void push(strs *s, const char *p) {
    if (s->n == s->cap) s->v = realloc(s->v, (s->cap = s->cap * 2 + 256) * sizeof *s->v);
    s->v[s->n++] = strdup(p);
}
static void walk(const char *dir, strs *out, int depth) {
    DIR *d = opendir(dir);
    if (!d || depth > 40) { if (d) closedir(d); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;   /* glob skips hidden names */
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st)) continue;
        if (S_ISDIR(st.st_mode)) walk(p, out, depth + 1);
        else if (strlen(e->d_name) > 3 && !strcmp(e->d_name + strlen(e->d_name) - 3, ".py")) push(out, p);
    }
    closedir(d);
}
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
    strs files = {0};
    DIR *d = opendir("/usr/lib");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "python3", 7)) {
            char p[512];
            snprintf(p, sizeof p, "/usr/lib/%s", e->d_name);
            walk(p, &files, 0);
        }
    if (d) closedir(d);
    qsort(files.v, files.n, sizeof *files.v, cmp);
    size_t cap = 0, n = 0, total = 0;
    char **text = NULL;
    size_t *len = NULL;
    for (size_t i = 0; i < files.n && total < 8000000; i++) {
        const char *f = files.v[i];
        if (strstr(f, "/test") || strstr(f, "site-packages") || strstr(f, "dist-packages")) continue;
        FILE *fp = fopen(f, "rb");
        if (!fp) continue;
        fseek(fp, 0, SEEK_END);
        long sz = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        if (n == cap) {
            cap = cap * 2 + 256;
            text = realloc(text, cap * sizeof *text);
            len = realloc(len, cap * sizeof *len);
        }
        text[n] = malloc((size_t)sz + 1);
        len[n] = fread(text[n], 1, (size_t)sz, fp);
        fclose(fp);
        total += len[n++];
    }
    if (!n) { printf("bench_tokenizer: no Python sources under /usr/lib/python3*: skipped\n"); return 0; }
    double mb = total / 1e6;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *toks[] = {"st", "ds"};
    for (int k = 0; k < 2; k++) {
        char path[128];
        snprintf(path, sizeof path, "tests/fixtures/tokenizer/%s.json", toks[k]);
        mm_tokenizer *t = mm_tokenizer_load(path);
        if (!t) { fprintf(stderr, "bench_tokenizer: %s\n", mm_last_error()); return 1; }
        double best1 = 1e9, bestN = 1e9, bestL = 1e9;
        size_t ids1 = 0, idsN = 0;
        for (int rep = 0; rep < 3; rep++) {
            mm_ids v = {0};
            double t0 = now();
            ids1 = 0;
            for (size_t i = 0; i < n; i++) {
                v.n = 0;
                mm_tokenizer_encode(t, text[i], len[i], 0, &v);
                ids1 += v.n;
            }
            double t1 = now();
            free(v.ids);
            mm_ids *outs = calloc(n, sizeof *outs);
            mm_tokenizer_encode_batch(t, (const char *const *)text, len, n, 0, outs, (int)ncpu);
            double t2 = now();
            idsN = 0;
            for (size_t i = 0; i < n; i++) idsN += outs[i].n, free(outs[i].ids);
            free(outs);
            double t3 = now();   /* line by line (short texts: per-call overhead) */
            mm_ids w = {0};
            for (size_t i = 0; i < n; i++)
                for (size_t s0 = 0; s0 < len[i];) {
                    const char *nl = memchr(text[i] + s0, '\n', len[i] - s0);
                    size_t e = nl ? (size_t)(nl - text[i]) + 1 : len[i];
                    w.n = 0;
                    mm_tokenizer_encode(t, text[i] + s0, e - s0, 0, &w);
                    s0 = e;
                }
            free(w.ids);
            double t4 = now();
            if (t4 - t3 < bestL) bestL = t4 - t3;
            if (t1 - t0 < best1) best1 = t1 - t0;
            if (t2 - t1 < bestN) bestN = t2 - t1;
        }
        printf("mmlora tokenizer %s: %.2f MB (%zu files), %zu ids: 1 thread %.2f MB/s, %ld threads %.2f MB/s (%zu ids); "
               "1 thread line by line %.2f MB/s\n", toks[k], mb, n, ids1, mb / best1, ncpu, mb / bestN, idsN, mb / bestL);
        mm_tokenizer_free(t);
    }
    for (size_t i = 0; i < n; i++) free(text[i]);
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(text);
    free(len);
    free(files.v);
    return 0;
}
