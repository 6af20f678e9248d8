/* BLEU: the worked examples of metrics-spec.md 1.6/1.7 (outputs of CodeXGLUE's bleu.py). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/bleu.h"

static uint64_t bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
#define cr_assert_bits(a, b) cr_assert_eq(bits(a), bits(b), "%.17g != %.17g", (double)(a), (double)(b))

static double x100(double s) { return (s * 100.0) / 1.0; }

static void tokens_are(const char *text, const char *want) {
    char *t = mm_bleu_tokens(text, strlen(text));
    cr_assert_str_eq(t, want);
    free(t);
}

Test(bleu, ex1_identical) {
    mm_bleu_counts c;
    const char *r = "Returns the name of the user .";
    size_t rl = strlen(r);
    double s = mm_bleu_sentence(r, rl, &r, &rl, 1, &c);
    cr_assert_eq(c.testlen, 7); cr_assert_eq(c.reflen, 7);
    cr_assert_eq(c.guess[3], 4); cr_assert_eq(c.correct[3], 4);
    cr_assert_bits(x100(s), 100.0);
}

Test(bleu, ex2_short_hypothesis) {
    mm_bleu_counts c;
    const char *r = "Create the bff file using + mkinstallp + .";
    size_t rl = strlen(r);
    double s = mm_bleu_sentence("Creates a new project .", 23, &r, &rl, 1, &c);
    long g[4] = {5, 4, 3, 2}, k[4] = {1, 0, 0, 0};
    cr_assert_eq(c.testlen, 5); cr_assert_eq(c.reflen, 9);
    for (int i = 0; i < 4; i++) { cr_assert_eq(c.guess[i], g[i]); cr_assert_eq(c.correct[i], k[i]); }
    cr_assert_bits(x100(s), 12.336445138236936);
}

Test(bleu, ex3_empty_hypothesis) {
    cr_assert_bits(x100(mm_bleu("", "Returns the value")), 4.978706836786395);
    cr_assert_bits(x100(mm_bleu("", "")), 100.0);
    cr_assert_bits(x100(mm_bleu("  \t ", " ")), 100.0);
}

Test(bleu, ex4_tokenization) {
    tokens_are("get_Value(x) returns 3.5", "get _ value ( x ) returns 3 . 5");
    tokens_are("Gets the value of x: 3.5", "gets the value of x : 3 . 5");
    mm_bleu_counts c;
    const char *r = "Gets the value of x: 3.5";
    size_t rl = strlen(r);
    double s = mm_bleu_sentence("get_Value(x) returns 3.5", 24, &r, &rl, 1, &c);
    long g[4] = {10, 9, 8, 7}, k[4] = {5, 2, 1, 0};
    for (int i = 0; i < 4; i++) { cr_assert_eq(c.guess[i], g[i]); cr_assert_eq(c.correct[i], k[i]); }
    cr_assert_bits(x100(s), 25.40663740773073);
}

Test(bleu, ex5_no_unigram_match_multiref) {
    const char *refs[2] = {"close the stream", "closes the underlying stream ."};
    size_t lens[2] = {strlen(refs[0]), strlen(refs[1])};
    mm_bleu_counts c;
    double s = mm_bleu_sentence("foo", 3, refs, lens, 2, &c);
    cr_assert_eq(c.reflen, 3);
    cr_assert_eq(c.correct[0], 0);
    cr_assert_bits(x100(s), 4.493053873107152e-76);
}

Test(bleu, ex6_corpus_mean) {
    const char *gold[3] = {"Returns the name of the user .", "Gets the value of x: 3.5", "close the stream"};
    const char *pred[3] = {"Return the user name", "get_Value(x) returns 3.5", "Closes the stream ."};
    double want[3] = {27.44058180470132, 25.40663740773073, 45.18010018049224};
    double score = 0.0;
    for (int i = 0; i < 3; i++) {
        double s = mm_bleu(pred[i], gold[i]);
        cr_assert_bits(x100(s), want[i]);
        score = score + s;
    }
    cr_assert_bits((score * 100.0) / 3.0, 32.67577313097476);
}

Test(bleu, unicode_lower_and_classes) {
    tokens_are("İstanbul", "i \xcc\x87 stanbul");          /* U+0130 -> i + U+0307 (own token) */
    tokens_are("ΟΔΟΣ ΣΑΣ", "οδος σας");                      /* Final_Sigma */
    tokens_are("a\xc2\xa0" "b\xe2\x80\xa8" "c", "a b c");     /* NBSP, U+2028 are whitespace */
    tokens_are("x²½_y", "x²½ _ y");                           /* numerics are alnum */
    tokens_are("don't-stop", "don ' t - stop");
}

Test(bleu, no_reference_is_an_error) {
    cr_assert_eq(mm_bleu_sentence("a", 1, NULL, NULL, 0, NULL), -1.0);
}
