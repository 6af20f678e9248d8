/* Every code point of planes 0-1 (and every 16th above) through \s, \p{L}, \p{N}, \p{P} and Digits:
 * hashes of HF's ids per block of 512 code points (tests/reference/tokenizer_ref.py codepoint_hashes). */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "util/log.h"

static int on_piece(void *ud, const char *p, size_t n) {
    (void)p;
    return mm_ids_push(ud, (int32_t)n);
}

/* pieces: hash the byte lengths of the pre-tokenizer's pieces instead of the ids */
static void check(const char *key, int pieces) {
    FILE *f = fopen("tests/fixtures/tokenizer/codepoints.json", "rb");
    cr_assert(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    cr_assert(root);
    char hkey[64];
    snprintf(hkey, sizeof hkey, "%s%s", key, pieces ? "_pieces" : "");
    const cJSON *hashes = cJSON_GetObjectItem(root, hkey);
    cr_assert(hashes);
    char path[128];
    snprintf(path, sizeof path, "tests/fixtures/tokenizer/%s.json", key);
    mm_tokenizer *t = mm_tokenizer_load(path);
    cr_assert(t, "%s", mm_last_error());
    uint32_t *cps = malloc(0x30000 * sizeof *cps);
    size_t ncp = 0;
    for (uint32_t c = 0; c < 0x20000; c++)
        if (c < 0xD800 || c > 0xDFFF) cps[ncp++] = c;
    for (uint32_t c = 0x20000; c < 0x110000; c += 16) cps[ncp++] = c;
    char *text = malloc(512 * 24);
    int blocks = 0, bad = 0;
    mm_ids v = {0};
    for (size_t i = 0; i < ncp; i += 512, blocks++) {
        size_t len = 0;
        for (size_t j = i; j < i + 512 && j < ncp; j++) {
            char c[4];
            int k = mm_utf8_put(c, cps[j]);
            const char sep[] = " a1.";   /* " c" "a" "c" "1" "c" "." "c" "c" */
            for (int r = 0; r < 5; r++) {
                if (r < 4) text[len++] = sep[r];
                memcpy(text + len, c, (size_t)k);
                len += (size_t)k;
            }
        }
        v.n = 0;
        if (pieces) cr_assert_eq(mm_tok_pretokenize(t, text, len, on_piece, &v), 0);
        else cr_assert_eq(mm_tokenizer_encode(t, text, len, MM_TOK_PARSE_SPECIAL, &v), 0);
        unsigned char md[32];
        unsigned mdl;
        EVP_Digest(v.ids, v.n * sizeof *v.ids, md, &mdl, EVP_sha256(), NULL);
        char hex[17];
        for (int b = 0; b < 8; b++) snprintf(hex + 2 * b, 3, "%02x", md[b]);
        const cJSON *want = cJSON_GetArrayItem(hashes, blocks);
        cr_assert(want);
        if (strcmp(hex, want->valuestring)) {
            bad++;
            cr_log_error("%s: code points U+%04X..U+%04X: %s differ from HF", hkey, cps[i],
                         cps[(i + 511 < ncp ? i + 511 : ncp - 1)], pieces ? "pieces" : "ids");
        }
    }
    cr_expect_eq(blocks, cJSON_GetArraySize(hashes));
    cr_expect_eq(bad, 0, "%s: %d of %d code-point blocks differ from HF", hkey, bad, blocks);
    cr_log_info("%s: %zu code points in %d blocks, %d differ", hkey, ncp, blocks, bad);
    free(v.ids);
    free(text);
    free(cps);
    mm_tokenizer_free(t);
    cJSON_Delete(root);
}

Test(tokenizer, every_codepoint_starcoder, .timeout = 60) { check("st", 0); }
Test(tokenizer, every_codepoint_deepseek, .timeout = 60) { check("ds", 0); }
Test(tokenizer, every_codepoint_starcoder_pieces, .timeout = 60) { check("st", 1); }
Test(tokenizer, every_codepoint_deepseek_pieces, .timeout = 60) { check("ds", 1); }

/* Very long single lines (1.6 MB of code, 100k spaces / letters / digits, ...): hashes of HF's ids. */
Test(tokenizer, very_long_lines, .timeout = 120) {
    FILE *f = fopen("tests/fixtures/tokenizer/long.json", "rb");
    cr_assert(f);
    static char buf[1 << 14];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    cr_assert(root);
    const cJSON *texts = cJSON_GetObjectItem(root, "texts"), *tk;
    int checked = 0, bad = 0;
    cJSON_ArrayForEach(tk, root) {
        if (!strcmp(tk->string, "texts")) continue;
        char path[128];
        snprintf(path, sizeof path, "tests/fixtures/tokenizer/%s.json", tk->string);
        mm_tokenizer *t = mm_tokenizer_load(path);
        cr_assert(t, "%s", mm_last_error());
        const cJSON *tx;
        cJSON_ArrayForEach(tx, texts) {
            const char *unit = cJSON_GetArrayItem(tx, 0)->valuestring, *suffix = cJSON_GetArrayItem(tx, 2)->valuestring;
            int rep = cJSON_GetArrayItem(tx, 1)->valueint;
            size_t ul = strlen(unit), sl = strlen(suffix), len = ul * (size_t)rep + sl;
            char *text = malloc(len + 1);
            for (int r = 0; r < rep; r++) memcpy(text + ul * (size_t)r, unit, ul);
            memcpy(text + ul * (size_t)rep, suffix, sl);
            mm_ids v = {0};
            cr_assert_eq(mm_tokenizer_encode(t, text, len, MM_TOK_PARSE_SPECIAL, &v), 0);
            unsigned char md[32];
            unsigned mdl;
            EVP_Digest(v.ids, v.n * sizeof *v.ids, md, &mdl, EVP_sha256(), NULL);
            char hex[17];
            for (int b = 0; b < 8; b++) snprintf(hex + 2 * b, 3, "%02x", md[b]);
            const cJSON *want = cJSON_GetObjectItem(tk, tx->string);
            checked++;
            if (!want || strcmp(hex, want->valuestring)) {
                bad++;
                cr_log_error("%s: long text '%s' (%zu bytes, %zu ids): ids differ from HF", tk->string, tx->string, len, v.n);
            }
            free(v.ids);
            free(text);
        }
        mm_tokenizer_free(t);
    }
    cr_log_info("very long lines: %d checks, %d differ", checked, bad);
    cr_expect_eq(bad, 0);
    cr_expect_geq(checked, 30);
    cJSON_Delete(root);
}
