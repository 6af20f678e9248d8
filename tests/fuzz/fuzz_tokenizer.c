/* libFuzzer: no input bytes crash the encoder, decoder or tokenizer.json loader.
 * data[0] picks the mode; the rest is the input.  Run from the repo root (make fuzz). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"

static mm_tokenizer *toks[3];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!toks[0]) {
        const char *p[3] = {"tests/fixtures/tokenizer/st_var.json", "tests/fixtures/tokenizer/ds.json",
                            "tests/fixtures/tokenizer/st_im.json"};
        for (int i = 0; i < 3; i++)
            if (!(toks[i] = mm_tokenizer_load(p[i]))) abort();
    }
    if (size < 1) return 0;
    unsigned mode = data[0] % 8;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (mode < 6) {
        mm_tokenizer *t = toks[mode % 3];
        mm_ids v = {0};
        if (mm_tokenizer_encode(t, s, n, mode < 3 ? MM_TOK_PARSE_SPECIAL | MM_TOK_ADD_SPECIAL : 0, &v)) abort();
        for (size_t i = 0; i < v.n; i++)
            if (v.ids[i] < 0 || v.ids[i] >= mm_tokenizer_vocab_size(t)) abort();
        size_t len;
        char *d = mm_tokenizer_decode_len(t, v.ids, v.n, mode & 1, &len);
        free(d);
        free(v.ids);
    } else if (mode == 6) {   /* arbitrary ids, including out of range */
        size_t k = n / 4;
        int32_t *ids = malloc(k * sizeof *ids + 1);
        memcpy(ids, s, k * sizeof *ids);
        for (size_t i = 0; i < k; i++) ids[i] %= 4000;
        size_t len;
        free(mm_tokenizer_decode_len(toks[1], ids, k, 0, &len));
        free(ids);
    } else {                  /* tokenizer.json loader on arbitrary bytes */
        char *buf = malloc(n + 1);
        memcpy(buf, s, n);
        buf[n] = 0;
        extern mm_tokenizer *mm_tokenizer_load_json(const char *json, size_t len, const char *name);
        mm_tokenizer *t = mm_tokenizer_load_json(buf, n, "fuzz");
        if (t) {
            mm_ids v = {0};
            mm_tokenizer_encode(t, "def f(x): return x  # 123 \xc3\xbc\xff", 28, MM_TOK_PARSE_SPECIAL, &v);
            free(v.ids);
            mm_tokenizer_free(t);
        }
        free(buf);
    }
    return 0;
}
