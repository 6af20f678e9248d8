/* Golden tests against HF `tokenizers` 0.23.3 (fixtures from tests/reference/tokenizer_ref.py). */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "util/log.h"

#define FIX "tests/fixtures/tokenizer/"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    b[sz] = 0;
    if (n) *n = (size_t)sz;
    return b;
}
static unsigned char *unhex(const char *h, size_t *n) {
    size_t l = strlen(h) / 2;
    unsigned char *o = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        o[i] = (unsigned char)v;
    }
    o[l] = 0;
    *n = l;
    return o;
}
static int ids_eq(const mm_ids *a, const cJSON *arr, char *why, size_t whyn) {
    size_t n = (size_t)cJSON_GetArraySize(arr);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (i >= a->n || a->ids[i] != (int32_t)e->valuedouble) {
            snprintf(why, whyn, "at %zu: ours %d, HF %d (ours n=%zu, HF n=%zu)", i, i < a->n ? a->ids[i] : -1,
                     (int)e->valuedouble, a->n, n);
            return 0;
        }
        i++;
    }
    if (a->n != n) {
        snprintf(why, whyn, "ours n=%zu, HF n=%zu", a->n, n);
        return 0;
    }
    return 1;
}

static void check_tokenizer(const char *key, int *cases_out, int *checks_out) {
    size_t n;
    char *js = slurp(FIX "cases.json", &n);
    cJSON *root = cJSON_ParseWithLength(js, n);
    cr_assert(root);
    char path[256];
    snprintf(path, sizeof path, FIX "%s.json", key);
    mm_tokenizer *t = mm_tokenizer_load(path);
    cr_assert(t, "load %s: %s", path, mm_last_error());
    int bad = 0, checks = 0, ncases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const cJSON *want = cJSON_GetObjectItem(c, key);
        if (!want) continue;
        ncases++;
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        size_t len;
        unsigned char *raw = unhex(cJSON_GetObjectItem(c, "hex")->valuestring, &len);
        char k2[64], why[256];
        struct { const char *suffix; int flags; } v[] = {
            {"", MM_TOK_PARSE_SPECIAL}, {"_post", MM_TOK_PARSE_SPECIAL | MM_TOK_ADD_SPECIAL}, {"_nosplit", 0}};
        mm_ids plain = {0};
        for (int i = 0; i < 3; i++) {
            snprintf(k2, sizeof k2, "%s%s", key, v[i].suffix);
            const cJSON *w = cJSON_GetObjectItem(c, k2);
            if (!w) w = want;
            mm_ids ids = {0};
            cr_assert_eq(mm_tokenizer_encode(t, (const char *)raw, len, v[i].flags, &ids), 0);
            checks++;
            if (!ids_eq(&ids, w, why, sizeof why)) {
                bad++;
                cr_log_error("%s %s%s: %s", name, key, v[i].suffix, why);
            }
            if (i == 0) plain = ids;
            else free(ids.ids);
        }
        /* decode of HF's ids: HF's text, or the input itself (lossily decoded) when absent */
        for (int skip = 0; skip < 2; skip++) {
            snprintf(k2, sizeof k2, "%s%s", key, skip ? "_decskip" : "_dec");
            const cJSON *d = cJSON_GetObjectItem(c, k2);
            size_t wl;
            unsigned char *wantdec;
            if (d) wantdec = unhex(d->valuestring, &wl);
            else {   /* HF round-trips: its decode equals its input, our input after U+FFFD replacement */
                wantdec = (unsigned char *)mm_utf8_lossy((const char *)raw, len, &wl);
                if (!wantdec) wantdec = malloc(len + 1), memcpy(wantdec, raw, len), wl = len;
            }
            mm_ids hf = {0};
            const cJSON *e;
            cJSON_ArrayForEach(e, want) {
                if (hf.n == hf.cap) hf.ids = realloc(hf.ids, (hf.cap = hf.cap * 2 + 16) * sizeof *hf.ids);
                hf.ids[hf.n++] = (int32_t)e->valuedouble;
            }
            size_t gl;
            char *got = mm_tokenizer_decode_len(t, hf.ids, hf.n, skip, &gl);
            checks++;
            if (gl != wl || memcmp(got, wantdec, wl)) {
                bad++;
                cr_log_error("%s %s: decode differs from HF%s", name, k2, d ? "" : " (HF round-trips)");
            }
            free(got);
            free(hf.ids);
            free(wantdec);
        }
        free(plain.ids);
        free(raw);
    }
    cr_log_info("%s: %d cases, %d checks, %d mismatches", key, ncases, checks, bad);
    cr_expect_eq(bad, 0, "%s: %d of %d checks differ from HF", key, bad, checks);
    cr_expect_gt(ncases, 50);
    if (cases_out) *cases_out = ncases;
    if (checks_out) *checks_out = checks;
    mm_tokenizer_free(t);
    cJSON_Delete(root);
    free(js);
}

Test(tokenizer, golden_starcoder) { check_tokenizer("st", NULL, NULL); }
Test(tokenizer, golden_deepseek) { check_tokenizer("ds", NULL, NULL); }
Test(tokenizer, golden_flags_split_behaviours) { check_tokenizer("st_var", NULL, NULL); }
Test(tokenizer, golden_ignore_merges) { check_tokenizer("st_im", NULL, NULL); }
/* tokenizer.json written by OUR trainer (build/mmlora tokenizer train), encoded by HF */
Test(tokenizer, golden_our_trainer_starcoder) { check_tokenizer("ours_st", NULL, NULL); }
Test(tokenizer, golden_our_trainer_deepseek) { check_tokenizer("ours_ds", NULL, NULL); }
