/* Bit-identity against the reference implementations on the committed fixtures
 * (tests/fixtures/metrics, written by tests/reference/metrics_ref.py):
 *   pairs.jsonl  CodeXGLUE sentence BLEU, NLTK 3.8 METEOR, NLTK >= 3.9 METEOR (64-bit patterns)
 *   files.jsonl  bleu.py file rules: corpus BLEU or the same failure */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "metrics/bleu.h"
#include "metrics/meteor.h"
#include "metrics/score.h"
#include "metrics_fixture_util.h"
#include "util/log.h"

#define FIX "tests/fixtures/metrics/"

Test(meteor, fixture_pairs_bit_identical) {
    mm_meteor *m38 = mm_meteor_new(NULL, false), *m39 = m38 ? mm_meteor_new(NULL, true) : NULL;
    if (!m38) cr_skip_test("WordNet not available: %s", mm_last_error());
    char *buf = fx_slurp(FIX "pairs.jsonl", NULL), *cur = buf, *line;
    cr_assert_not_null(buf, "missing " FIX "pairs.jsonl");
    size_t n = 0, bad_b = 0, bad_38 = 0, bad_39 = 0;
    while ((line = fx_next_line(&cur))) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o, "bad JSON at case %zu", n);
        const char *h = cJSON_GetObjectItem(o, "h")->valuestring;
        const cJSON *r = cJSON_GetObjectItem(o, "r");
        size_t nr = (size_t)cJSON_GetArraySize(r);
        const char *refs[8];
        size_t lens[8];
        for (size_t k = 0; k < nr && k < 8; k++) {
            refs[k] = cJSON_GetArrayItem(r, (int)k)->valuestring;
            lens[k] = strlen(refs[k]);
        }
        double b = mm_bleu_sentence(h, strlen(h), refs, lens, nr, NULL);
        double s38 = mm_meteor_score(m38, h, strlen(h), refs, lens, nr);
        double s39 = mm_meteor_score(m39, h, strlen(h), refs, lens, nr);
        if (fx_bits(b) != fx_bits(fx_num(o, "bleu")) && bad_b++ < 5)
            cr_log_error("bleu case %zu: %.17g != %s", n, b, cJSON_GetObjectItem(o, "bleu")->valuestring);
        if (fx_bits(s38) != fx_bits(fx_num(o, "m38")) && bad_38++ < 5)
            cr_log_error("meteor38 case %zu: %.17g != %s", n, s38, cJSON_GetObjectItem(o, "m38")->valuestring);
        if (fx_bits(s39) != fx_bits(fx_num(o, "m39")) && bad_39++ < 5)
            cr_log_error("meteor39 case %zu: %.17g != %s", n, s39, cJSON_GetObjectItem(o, "m39")->valuestring);
        cJSON_Delete(o);
        n++;
    }
    free(buf);
    mm_meteor_free(m38);
    mm_meteor_free(m39);
    cr_assert_geq(n, 3000, "only %zu fixture pairs", n);
    cr_assert_eq(bad_b + bad_38 + bad_39, 0, "%zu cases: %zu BLEU, %zu METEOR-3.8, %zu METEOR-3.9 differ", n, bad_b,
                 bad_38, bad_39);
}

static char *unhex(const char *h, size_t *len) {
    size_t n = strlen(h) / 2;
    char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b[i] = (char)v;
    }
    b[n] = 0;
    *len = n;
    return b;
}

Test(bleu, fixture_file_rules) {
    char *buf = fx_slurp(FIX "files.jsonl", NULL), *cur = buf, *line;
    cr_assert_not_null(buf);
    int n = 0;
    while ((line = fx_next_line(&cur))) {
        cJSON *o = cJSON_Parse(line);
        const char *name = cJSON_GetObjectItem(o, "name")->valuestring;
        size_t gl, pl;
        char *g = unhex(cJSON_GetObjectItem(o, "gold")->valuestring, &gl);
        char *p = unhex(cJSON_GetObjectItem(o, "pred")->valuestring, &pl);
        mm_score_set set;
        mm_clear_error();
        int rc = mm_score_parse(g, gl, "GOLD", p, pl, "PRED", &set);
        const cJSON *err = cJSON_GetObjectItem(o, "error");
        if (err) {
            cr_expect_eq(rc, -1, "%s: bleu.py failed with %s, we accepted the files", name, err->valuestring);
            cr_expect(strstr(mm_last_error(), "GOLD") || strstr(mm_last_error(), "PRED"), "%s: %s", name, mm_last_error());
        } else {
            cr_expect_eq(rc, 0, "%s: %s", name, mm_last_error());
            if (rc == 0) {
                double *b = malloc(set.n * sizeof *b);
                mm_score_items(set.items, set.n, NULL, b, NULL, 1);
                double s = mm_corpus_mean100(b, set.n);
                char r[32];
                cr_expect_str_eq(mm_fmt_repr(s, r), cJSON_GetObjectItem(o, "bleu")->valuestring, "%s", name);
                cr_expect_eq(fx_bits(s), fx_bits(fx_num(o, "bleu")), "%s", name);
                free(b);
                mm_score_set_free(&set);
            }
        }
        free(g); free(p);
        cJSON_Delete(o);
        n++;
    }
    free(buf);
    cr_assert_geq(n, 20);
}
