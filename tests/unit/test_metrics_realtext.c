/* Real text: summaries of the sample files under $SHARED_DIR/data (read at test time, never copied),
 * fixed pairings (each against itself, against the next one, and both with every third word dropped;
 * rules in tests/reference/metrics_realtext.py) scored per sentence against the references' numbers in
 * tests/fixtures/metrics/realtext/<source>.txt, plus the corpus BLEU of the 'next' pairing through the
 * CodeXGLUE file path (score.c) against the number bleu.py printed for the same files. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>
#include "metrics/bleu.h"
#include "metrics/meteor.h"
#include "metrics/score.h"
#include "metrics/utext.h"
#include "metrics_fixture_util.h"
#include "util/log.h"

static const char *SOURCES[][2] = {
    {"csn_ruby_test", "data/codesearchnet/ruby/test.jsonl"},
    {"csn_ruby_valid", "data/codesearchnet/ruby/valid.jsonl"},
    {"csn_python_test", "data/codesearchnet/python/test.jsonl"},
    {"csn_python_valid", "data/codesearchnet/python/valid.jsonl"},
    {"xlcost_desc_test", "data/xlcost/generation/pair_data_tok_full_desc/Python-desc/test-Python-desc-tok.txt"},
    {"xlcost_desc_val", "data/xlcost/generation/pair_data_tok_full_desc/Python-desc/val-Python-desc-tok.txt"},
    {"xlcost_comment_test", "data/xlcost/generation/pair_data_tok_1_comment/Python-comment/test-Python-comment-tok.txt"},
    {"xlcost_comment_val", "data/xlcost/generation/pair_data_tok_1_comment/Python-comment/val-Python-comment-tok.txt"},
};

/* texts of one source: ' '.join(docstring_tokens) for .jsonl, the lines for .txt */
static char **read_texts(const char *path, size_t *n) {
    char *buf = fx_slurp(path, NULL), *cur = buf, *line;
    if (!buf) return NULL;
    size_t cap = 1024;
    char **t = malloc(cap * sizeof *t);
    *n = 0;
    int jsonl = strstr(path, ".jsonl") != NULL;
    for (;;) {
        /* split on '\n' only, keeping empty lines (fx_next_line stops at an empty remainder) */
        if (!*cur) break;
        line = fx_next_line(&cur);
        if (*n == cap) t = realloc(t, (cap *= 2) * sizeof *t);
        if (!jsonl) { t[(*n)++] = strdup(line); continue; }
        cJSON *o = cJSON_Parse(line), *tok;
        size_t len = 0;
        cJSON_ArrayForEach(tok, cJSON_GetObjectItem(o, "docstring_tokens")) len += strlen(tok->valuestring) + 1;
        char *s = calloc(len + 1, 1);
        cJSON_ArrayForEach(tok, cJSON_GetObjectItem(o, "docstring_tokens")) {
            if (*s || tok != cJSON_GetObjectItem(o, "docstring_tokens")->child) strcat(s, " ");
            strcat(s, tok->valuestring);
        }
        t[(*n)++] = s;
        cJSON_Delete(o);
    }
    free(buf);
    return t;
}

/* ' '.join(w for k, w in enumerate(s.split()) if k % 3 != 2) */
static char *drop3(const char *s) {
    size_t bl = strlen(s);
    uint32_t *cp = malloc((bl + 1) * sizeof *cp);
    size_t n = mu_utf8_decode(s, bl, cp), k = 0, i = 0, o = 0;
    char *out = malloc(bl + 1);
    while (i < n) {
        if (mu_is_space(cp[i])) { i++; continue; }
        size_t j = i;
        while (j < n && !mu_is_space(cp[j])) j++;
        if (k % 3 != 2) {
            if (o) out[o++] = ' ';
            for (size_t q = i; q < j; q++) o += mu_utf8_put(cp[q], out + o);
        }
        k++;
        i = j;
    }
    out[o] = 0;
    free(cp);
    return out;
}

Test(meteor, realtext_shared_samples, .timeout = 120) {
    const char *shared = getenv("SHARED_DIR");
    if (!shared || !*shared) shared = "../shared";
    char path[4096];
    snprintf(path, sizeof path, "%s/data", shared);
    if (access(path, R_OK) != 0) cr_skip_test("shared sample data not found at %s (set SHARED_DIR)", path);
    mm_meteor *m38 = mm_meteor_new(NULL, false), *m39 = m38 ? mm_meteor_new(NULL, true) : NULL;
    if (!m38) cr_skip_test("WordNet not available: %s", mm_last_error());
    size_t total = 0, bad = 0, sources = 0;
    for (size_t s = 0; s < sizeof SOURCES / sizeof SOURCES[0]; s++) {
        snprintf(path, sizeof path, "%s/%s", shared, SOURCES[s][1]);
        size_t n;
        char **t = read_texts(path, &n);
        if (!t) { cr_log_warn("skipping %s: %s absent", SOURCES[s][0], path); continue; }
        snprintf(path, sizeof path, "tests/fixtures/metrics/realtext/%s.txt", SOURCES[s][0]);
        char *exp = fx_slurp(path, NULL), *cur = exp;
        cr_assert_not_null(exp, "missing %s", path);
        char *hdr = fx_next_line(&cur);
        cr_assert_eq((size_t)strtoul(hdr + 2, NULL, 10), n, "%s: %zu texts, fixture made for %s", SOURCES[s][0], n, hdr);
        for (size_t i = 0; i < n; i++) {
            char *d = drop3(t[i]);
            const char *hyp[4] = {t[i], t[i], d, d}, *ref[4] = {t[i], t[(i + 1) % n], t[i], t[(i + 1) % n]};
            for (int p = 0; p < 4; p++) {
                char *line = fx_next_line(&cur), *e;
                double eb = strtod(line, &e), e38 = strtod(e, &e), e39 = strtod(e, &e);
                size_t rl = strlen(ref[p]);
                double b = mm_bleu_sentence(hyp[p], strlen(hyp[p]), &ref[p], &rl, 1, NULL);
                double s38 = mm_meteor_score(m38, hyp[p], strlen(hyp[p]), &ref[p], &rl, 1);
                double s39 = mm_meteor_score(m39, hyp[p], strlen(hyp[p]), &ref[p], &rl, 1);
                if ((fx_bits(b) != fx_bits(eb) || fx_bits(s38) != fx_bits(e38) || fx_bits(s39) != fx_bits(e39)) && bad++ < 5)
                    cr_log_error("%s text %zu pairing %d: bleu %.17g/%.17g m38 %.17g/%.17g m39 %.17g/%.17g", SOURCES[s][0],
                                 i, p, b, eb, s38, e38, s39, e39);
                total++;
            }
            free(d);
        }
        /* corpus BLEU of the 'next' pairing through the file path */
        const char *cb = strstr(hdr, "next pairing: ");
        cr_assert_not_null(cb);
        cb += strlen("next pairing: ");
        size_t gl = 0, pl = 0;
        for (size_t i = 0; i < n; i++) { gl += strlen(t[i]) + 24; pl += strlen(t[(i + 1) % n]) + 24; }
        char *g = malloc(gl + 1), *pr = malloc(pl + 1);
        size_t go = 0, po = 0;
        for (size_t i = 0; i < n; i++) {
            go += (size_t)sprintf(g + go, "%zu\t%s\n", i, t[i]);
            po += (size_t)sprintf(pr + po, "%zu\t%s\n", i, t[(i + 1) % n]);
        }
        mm_score_set set;
        cr_assert_eq(mm_score_parse(g, go, "gold", pr, po, "pred", &set), 0, "%s", mm_last_error());
        cr_assert_eq(set.n, n);
        double *bs = malloc(n * sizeof *bs);
        mm_score_items(set.items, set.n, NULL, bs, NULL, 0);
        double corpus = mm_corpus_mean100(bs, n);
        cr_expect_eq(fx_bits(corpus), fx_bits(strtod(cb, NULL)), "%s corpus BLEU %.17g vs bleu.py %s", SOURCES[s][0],
                     corpus, cb);
        free(bs); free(g); free(pr);
        mm_score_set_free(&set);
        for (size_t i = 0; i < n; i++) free(t[i]);
        free(t);
        free(exp);
        sources++;
    }
    mm_meteor_free(m38);
    mm_meteor_free(m39);
    cr_log_info("real text: %zu sources, %zu pairs x (BLEU, METEOR 3.8, METEOR 3.9)", sources, total);
    cr_assert_eq(bad, 0, "%zu of %zu real-text pairs differ", bad, total);
}
