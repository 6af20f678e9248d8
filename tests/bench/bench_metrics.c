/* make bench: BLEU + METEOR for 60,000 sentence pairs (CodeSearchNet's test-set size) on 2 threads,
 * including WordNet loading and file reading, exactly what `mmlora score` does.
 * Input: build/bench/metrics_{gold,pred}.txt, generated here from the summaries under $SHARED_DIR/data
 * (or, where absent, from tests/fixtures/metrics/pairs.jsonl). The reference timing of NLTK + bleu.py on
 * the same two files: /usr/bin/python3 tests/reference/metrics_bench_ref.py build/bench/metrics_gold.txt
 * build/bench/metrics_pred.txt */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "metrics/meteor.h"
#include "metrics/score.h"
#include "util/log.h"

#define NPAIRS 60000

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

static char *slurp(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    b[fread(b, 1, (size_t)n, f)] = 0;
    fclose(f);
    return b;
}

/* collects one-line texts (no TAB/CR/LF) */
static char **texts; static size_t ntexts, captexts;
static void add_text(const char *s) {
    if (!*s || strpbrk(s, "\t\r\n")) return;
    if (ntexts == captexts) texts = realloc(texts, (captexts = captexts ? 2 * captexts : 4096) * sizeof *texts);
    texts[ntexts++] = strdup(s);
}

static void load_texts(void) {
    const char *shared = getenv("SHARED_DIR");
    char p[4096];
    static const char *txt[] = {
        "data/xlcost/generation/pair_data_tok_1_comment/Python-comment/test-Python-comment-tok.txt",
        "data/xlcost/generation/pair_data_tok_1_comment/Python-comment/val-Python-comment-tok.txt",
        "data/xlcost/generation/pair_data_tok_full_desc/Python-desc/test-Python-desc-tok.txt",
        "data/xlcost/generation/pair_data_tok_full_desc/Python-desc/val-Python-desc-tok.txt"};
    static const char *jl[] = {"data/codesearchnet/ruby/test.jsonl", "data/codesearchnet/ruby/valid.jsonl",
                               "data/codesearchnet/python/test.jsonl", "data/codesearchnet/python/valid.jsonl"};
    for (int k = 0; shared && k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", shared, txt[k]);
        char *b = slurp(p), *s = b, *nl;
        while (s && *s) {
            if ((nl = strchr(s, '\n'))) *nl = 0;
            add_text(s);
            s = nl ? nl + 1 : s + strlen(s);
        }
        free(b);
    }
    for (int k = 0; shared && k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", shared, jl[k]);
        char *b = slurp(p), *s = b, *nl;
        while (s && *s) {
            if ((nl = strchr(s, '\n'))) *nl = 0;
            cJSON *o = cJSON_Parse(s), *t;
            char line[8192] = "";
            cJSON_ArrayForEach(t, cJSON_GetObjectItem(o, "docstring_tokens")) {
                if (strlen(line) + strlen(t->valuestring) + 2 >= sizeof line) break;
                if (*line) strcat(line, " ");
                strcat(line, t->valuestring);
            }
            add_text(line);
            cJSON_Delete(o);
            s = nl ? nl + 1 : s + strlen(s);
        }
        free(b);
    }
    if (ntexts) return;
    fprintf(stderr, "bench: %s/data absent, using tests/fixtures/metrics/pairs.jsonl\n", shared ? shared : "$SHARED_DIR");
    char *b = slurp("tests/fixtures/metrics/pairs.jsonl"), *s = b, *nl;
    while (s && *s) {
        if ((nl = strchr(s, '\n'))) *nl = 0;
        cJSON *o = cJSON_Parse(s);
        add_text(cJSON_GetObjectItem(o, "h")->valuestring);
        cJSON_Delete(o);
        s = nl ? nl + 1 : s + strlen(s);
    }
    free(b);
}

/* hypothesis k: the reference with every (2 + k % 3)-th word dropped, plus one word of another text */
static void make_hyp(const char *ref, const char *other, size_t k, FILE *f) {
    size_t step = 2 + k % 3, w = 0;
    const char *s = ref;
    int first = 1;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ') e++;
        if (++w % step) { fprintf(f, "%s%.*s", first ? "" : " ", (int)(e - s), s); first = 0; }
        s = e;
    }
    const char *o = strrchr(other, ' ');
    fprintf(f, " %s\n", o ? o + 1 : other);
}

int main(void) {
    load_texts();
    if (!ntexts) { fprintf(stderr, "bench: no input texts\n"); return 1; }
    const char *gp = "build/bench/metrics_gold.txt", *pp = "build/bench/metrics_pred.txt";
    FILE *g = fopen(gp, "wb"), *p = fopen(pp, "wb");
    if (!g || !p) { fprintf(stderr, "bench: cannot write %s\n", gp); return 1; }
    for (size_t k = 0; k < NPAIRS; k++) {
        const char *ref = texts[k % ntexts], *other = texts[(k * 7919 + 13) % ntexts];
        fprintf(g, "%zu\t%s\n", k, ref);
        fprintf(p, "%zu\t", k);
        make_hyp(ref, other, k / ntexts + k, p);
    }
    fclose(g); fclose(p);

    double c0 = cpu(), t0 = now();
    mm_meteor *m = mm_meteor_new(NULL, false);
    if (!m) { fprintf(stderr, "bench: %s\n", mm_last_error()); return 1; }
    double t1 = now();
    mm_score_set set;
    if (mm_score_read(gp, pp, &set)) { fprintf(stderr, "bench: %s\n", mm_last_error()); return 1; }
    double *b = malloc(set.n * sizeof *b), *mt = malloc(set.n * sizeof *mt);
    double t2 = now();
    mm_score_items(set.items, set.n, m, b, mt, 2);
    double t3 = now(), c3 = cpu();
    char s1[32], s2[32];
    printf("metrics bench: %zu pairs (%zu distinct reference texts), 2 threads\n", set.n, ntexts);
    printf("  BLEU: %s  METEOR: %s\n", mm_fmt_repr(mm_corpus_mean100(b, set.n), s1),
           mm_fmt_repr(mm_corpus_mean100(mt, set.n), s2));
    printf("  WordNet load %.3f s, read+pair %.3f s, score %.3f s, total %.3f s (target < 5 s)\n", t1 - t0, t2 - t1,
           t3 - t2, t3 - t0);
    printf("  CPU time (user+sys, both threads) %.3f s\n", c3 - c0);
    printf("  reference: /usr/bin/python3 tests/reference/metrics_bench_ref.py %s %s\n", gp, pp);
    free(b); free(mt);
    mm_score_set_free(&set);
    mm_meteor_free(m);
    for (size_t i = 0; i < ntexts; i++) free(texts[i]);
    free(texts);
    return t3 - t0 < 5.0 ? 0 : 1;
}
