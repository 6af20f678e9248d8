/* bytes_to_unicode, lossy UTF-8, batch encode, the trainer and the CLI. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "util/log.h"

Test(tokenizer, bytes_to_unicode) {
    cr_expect_eq(mm_bytelevel_cp(0x20), 0x120);
    cr_expect_eq(mm_bytelevel_cp(0x0A), 0x10A);
    cr_expect_eq(mm_bytelevel_cp(0x09), 0x109);
    cr_expect_eq(mm_bytelevel_cp(0x7F), 0x121);
    cr_expect_eq(mm_bytelevel_cp(0xA0), 0x142);
    cr_expect_eq(mm_bytelevel_cp(0xAD), 0x143);
    cr_expect_eq(mm_bytelevel_cp(0x00), 0x100);
    cr_expect_eq(mm_bytelevel_cp('a'), 'a');
    for (int b = 0; b < 256; b++) cr_expect_eq(mm_bytelevel_byte(mm_bytelevel_cp((uint8_t)b)), b);
    cr_expect_eq(mm_bytelevel_byte(0x144), -1);
    cr_expect_eq(mm_bytelevel_byte(0x20), -1);
}

Test(tokenizer, utf8_lossy_like_python) {
    struct { const char *in, *out; } c[] = {
        {"a\x80z", "a\xef\xbf\xbdz"},
        {"\xe2\x82" "A", "\xef\xbf\xbd" "A"},                                         /* truncated: one U+FFFD */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                       /* surrogate: three */
        {"\xf0\x9f\x98", "\xef\xbf\xbd"},
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        size_t n;
        char *o = mm_utf8_lossy(c[i].in, strlen(c[i].in), &n);
        cr_assert(o);
        cr_expect_str_eq(o, c[i].out, "case %zu", i);
        free(o);
    }
    size_t n;
    cr_expect_null(mm_utf8_lossy("ok \xc3\xbc", 5, &n));
}

Test(tokenizer, token_to_id_and_ds_quirk) {
    mm_tokenizer *t = mm_tokenizer_load("tests/fixtures/tokenizer/ds.json");
    cr_assert(t, "%s", mm_last_error());
    int32_t u = mm_tokenizer_token_to_id(t, "\xc3\xbc");   /* ü: added token, not its UTF-8 bytes */
    cr_assert_geq(u, 0);
    mm_ids v = {0};
    mm_tokenizer_encode(t, "\xc3\xbc", 2, MM_TOK_PARSE_SPECIAL, &v);
    cr_assert_eq(v.n, 1);
    cr_expect_eq(v.ids[0], u);
    char *d = mm_tokenizer_decode(t, v.ids, v.n, 0);
    cr_expect_str_eq(d, "\xef\xbf\xbd");   /* decodes to U+FFFD, as HF */
    free(d);
    free(v.ids);
    cr_expect_eq(mm_tokenizer_token_to_id(t, "no such token"), -1);
    mm_tokenizer_free(t);
}

Test(tokenizer, batch_equals_sequential) {
    mm_tokenizer *t = mm_tokenizer_load("tests/fixtures/tokenizer/st.json");
    cr_assert(t);
    enum { N = 200 };
    char *texts[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(256);
        lens[i] = (size_t)snprintf(texts[i], 256, "def f%d(x):\n\treturn x * %d  # <|endoftext|> \xff caf\xc3\xa9", i, i * 7919);
    }
    mm_ids outs[N];
    memset(outs, 0, sizeof outs);
    cr_assert_eq(mm_tokenizer_encode_batch(t, (const char *const *)texts, lens, N, MM_TOK_PARSE_SPECIAL, outs, 4), 0);
    for (int i = 0; i < N; i++) {
        mm_ids v = {0};
        mm_tokenizer_encode(t, texts[i], lens[i], MM_TOK_PARSE_SPECIAL, &v);
        cr_assert_eq(v.n, outs[i].n);
        cr_assert_arr_eq(v.ids, outs[i].ids, v.n * sizeof *v.ids);
        free(v.ids);
        free(outs[i].ids);
        free(texts[i]);
    }
    mm_tokenizer_free(t);
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fputs(s, f);
    fclose(f);
}

Test(tokenizer, trainer_roundtrip_and_deterministic) {
    char dir[] = "/tmp/mmlora-toktest-XXXXXX";
    cr_assert(mkdtemp(dir));
    char in[256], out1[256], out2[256];
    snprintf(in, sizeof in, "%s/train.txt", dir);
    snprintf(out1, sizeof out1, "%s/a.json", dir);
    snprintf(out2, sizeof out2, "%s/sub/b.json", dir);   /* parent created by the trainer */
    char *text = malloc(200000);
    size_t n = 0;
    uint32_t r = 12345;
    for (int i = 0; n < 190000; i++) {
        char w[4][12];
        for (int k = 0; k < 4; k++) {   /* Zipf-ish pseudo-words so that there is a lot to merge */
            int len = 2 + (int)((r = r * 1103515245u + 12345u) >> 16) % (3 + k * 2);
            for (int c = 0; c < len; c++) w[k][c] = "etaoinshrdlucmfwyp"[((r = r * 1103515245u + 12345u) >> 16) % (6 + k * 4)];
            w[k][len] = 0;
        }
        n += (size_t)snprintf(text + n, 200000 - n, "def %s_%s(%s, %s=%d):\r\n    return %s + %s  # über 中文 <|endoftext|>\n",
                              w[0], w[1], w[2], w[3], i, w[2], w[3]);
    }
    write_file(in, text);
    const char *files[] = {in};
    const char *pts[] = {"starcoder", "deepseek"};
    for (int p = 0; p < 2; p++) {
        cr_assert_eq(mm_tokenizer_train(files, 1, 600, pts[p], out1), 0, "%s", mm_last_error());
        cr_assert_eq(mm_tokenizer_train(files, 1, 600, pts[p], out2), 0, "%s", mm_last_error());
        mm_tokenizer *a = mm_tokenizer_load(out1), *b = mm_tokenizer_load(out2);
        cr_assert(a && b, "%s", mm_last_error());
        cr_expect_str_eq(mm_tokenizer_sha256(a), mm_tokenizer_sha256(b), "trainer is not deterministic");
        cr_expect_eq(mm_tokenizer_vocab_size(a), 600);
        mm_ids v = {0};
        mm_tokenizer_encode(a, text, 4000, 0, &v);
        cr_expect_lt(v.n, 2800, "%s: %zu ids for 4000 bytes: merges not learnt", pts[p], v.n);
        char *d = mm_tokenizer_decode(a, v.ids, v.n, 0);
        cr_expect_eq(strncmp(d, text, 4000), 0, "%s: round trip", pts[p]);
        cr_expect_eq(strlen(d), 4000);
        free(d);
        free(v.ids);
        mm_tokenizer_free(a);
        mm_tokenizer_free(b);
    }
    cr_expect_neq(mm_tokenizer_train(files, 1, 600, "gpt2", out1), 0);
    cr_expect(strstr(mm_last_error(), "starcoder, deepseek") != NULL);
    cr_expect_neq(mm_tokenizer_train(files, 1, 100, "starcoder", out1), 0);
    free(text);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    unlink(in), unlink(out1), unlink(out2), rmdir(sub), rmdir(dir);
}

Test(tokenizer, cli_encode, .init = cr_redirect_stdout) {
    char *argv[] = {"tokenizer", "encode", "--tokenizer", "tests/fixtures/tokenizer/ds.json", "--text", "x = 1", "--add-special", NULL};
    cr_assert_eq(cmd_tokenizer(7, argv), 0);
    fflush(stdout);
    mm_tokenizer *t = mm_tokenizer_load("tests/fixtures/tokenizer/ds.json");
    mm_ids v = {0};
    mm_tokenizer_encode(t, "x = 1", 5, MM_TOK_PARSE_SPECIAL | MM_TOK_ADD_SPECIAL, &v);
    char want[256];
    size_t k = 0;
    for (size_t i = 0; i < v.n; i++) k += (size_t)snprintf(want + k, sizeof want - k, i ? " %d" : "%d", v.ids[i]);
    snprintf(want + k, sizeof want - k, "\n");
    cr_assert_stdout_eq_str(want);
    free(v.ids);
    mm_tokenizer_free(t);
}

Test(tokenizer, cli_decode, .init = cr_redirect_stdout) {
    mm_tokenizer *t = mm_tokenizer_load("tests/fixtures/tokenizer/st.json");
    mm_ids v = {0};
    mm_tokenizer_encode(t, "hello  world\n", 13, 0, &v);
    char ids[256];
    size_t k = 0;
    for (size_t i = 0; i < v.n; i++) k += (size_t)snprintf(ids + k, sizeof ids - k, i ? ",%d" : "%d", v.ids[i]);
    char *argv[] = {"tokenizer", "decode", "--tokenizer", "tests/fixtures/tokenizer/st.json", ids, NULL};
    cr_assert_eq(cmd_tokenizer(5, argv), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("hello  world\n");
    free(v.ids);
    mm_tokenizer_free(t);
}

Test(tokenizer, cli_errors, .init = cr_redirect_stderr) {
    char *a1[] = {"tokenizer", "encode", "--tokenizer", "tests/fixtures/tokenizer/nope.json", NULL};
    cr_expect_neq(cmd_tokenizer(4, a1), 0);
    char *a2[] = {"tokenizer", "frobnicate", NULL};
    cr_expect_neq(cmd_tokenizer(2, a2), 0);
    char *a3[] = {"tokenizer", "train", "--vocab-size", "500", NULL};
    cr_expect_neq(cmd_tokenizer(4, a3), 0);
    fflush(stderr);
}
