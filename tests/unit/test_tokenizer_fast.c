/* The ASCII fast paths (tokenizer_fast.c) split exactly as PCRE2 does, on random ASCII text built from
 * the characters that matter (letters, digits, White_Space, punctuation, symbols, apostrophes, controls). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "util/log.h"

static int on_piece(void *ud, const char *p, size_t n) {
    mm_ids *v = ud;
    mm_ids_push(v, (int32_t)n);
    return 0;
}

static void compare(const char *path) {
    mm_tokenizer *t = mm_tokenizer_load(path);
    cr_assert(t, "%s", mm_last_error());
    static const char alphabet[] = "aZs'tremvld'''   \t\t\n\r\v\f09_-.,;:!?()[]{}<>=+$^`|~#\"@\\/*&%\x01\x1f\x7f";
    uint32_t r = 2024;
    char text[300];
    int diffs = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 1 + ((r = r * 1664525u + 1013904223u) >> 8) % 40;
        for (size_t i = 0; i < n; i++) text[i] = alphabet[((r = r * 1664525u + 1013904223u) >> 8) % (sizeof alphabet - 1)];
        mm_ids a = {0}, b = {0};
        mm_tok_no_fast = 0;
        mm_tok_pretokenize(t, text, n, on_piece, &a);
        mm_tok_no_fast = 1;
        mm_tok_pretokenize(t, text, n, on_piece, &b);
        mm_tok_no_fast = 0;
        if (a.n != b.n || memcmp(a.ids, b.ids, a.n * sizeof *a.ids)) {
            if (diffs++ < 5) cr_log_error("%s: fast path splits '%.*s' differently", path, (int)n, text);
        }
        free(a.ids);
        free(b.ids);
    }
    cr_expect_eq(diffs, 0, "%s: %d of 20000 random ASCII strings split differently", path, diffs);
    mm_tokenizer_free(t);
}

Test(tokenizer, fast_path_starcoder) { compare("tests/fixtures/tokenizer/st.json"); }
Test(tokenizer, fast_path_deepseek) { compare("tests/fixtures/tokenizer/ds.json"); }
