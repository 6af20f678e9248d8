/* safetensors reader/writer tests.  Fixtures: tests/fixtures/io/, written by tests/reference/io_ref.py
 * (Python safetensors/torch/numpy).  Bad files are built in a temp dir or in memory here. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/safetensors.h"
#include "util/log.h"

#define FIX "tests/fixtures/io/"

/* ------------------------------------------------------------------ helpers */
static char g_dir[64];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}
static void tmp_setup(void) {
    strcpy(g_dir, "/tmp/mmlora-st-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}
static void tmp_teardown(void) { nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS); }

static const char *tpath(const char *name) {
    static char buf[4][256];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, 256, "%s/%s", g_dir, name);
    return b;
}
static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}
static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}
/* safetensors image: 8-byte length, header text, `data` zero bytes. */
static unsigned char *image(const char *header, size_t hlen_override, size_t data, size_t *n) {
    size_t hl = strlen(header);
    *n = 8 + hl + data;
    unsigned char *b = calloc(1, *n + 1);
    uint64_t v = hlen_override ? hlen_override : hl;
    memcpy(b, &v, 8);
    memcpy(b + 8, header, hl);
    return b;
}
/* Open an in-memory image named "bad.st"; returns the error message ("" if it opened). */
static const char *open_err(const char *header, size_t data) {
    static char msg[1024];
    size_t n;
    unsigned char *b = image(header, 0, data, &n);
    mm_clear_error();
    mm_safetensors *st = mm_st_open_memory(b, n, "bad.st");
    snprintf(msg, sizeof msg, "%s", st ? "" : mm_last_error());
    mm_st_close(st);
    free(b);
    return msg;
}
static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* ------------------------------------------------------------------ reading Python-written files */
Test(safetensors, reads_python_fixture) {
    mm_safetensors *st = mm_st_open(FIX "basic.safetensors");
    cr_assert_not_null(st, "%s", mm_last_error());
    cr_assert_eq(mm_st_count(st), 7);
    cr_assert_str_eq(mm_st_metadata(st, "format"), "pt");
    cr_assert_null(mm_st_metadata(st, "nope"));
    cr_assert_null(mm_st_find(st, "nope"));

    const mm_st_tensor *t = mm_st_find(st, "w.f32");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, MM_DT_F32);
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[1], 3);
    cr_assert_eq(t->numel, 6);
    cr_assert_eq(t->nbytes, 24);
    cr_assert_str_eq(t->file, FIX "basic.safetensors");
    float v[6];
    cr_assert_eq(mm_st_read_f32(st, "w.f32", v, 2, (int64_t[]){2, 3}), 0);
    for (int i = 0; i < 6; i++) cr_assert_eq(v[i], i * 0.5f - 1.0f);

    float h[5], want_h[5] = {1.0f, -2.5f, 65504.0f, ldexpf(1, -14), ldexpf(1, -24)};
    cr_assert_eq(mm_st_read_f32(st, "w.f16", h, 1, (int64_t[]){5}), 0);
    for (int i = 0; i < 5; i++) cr_assert_eq(h[i], want_h[i], "f16[%d] = %g", i, h[i]);

    float b[6], want_b[6] = {1.0f, -2.0f, 3.140625f, -0.0078125f, ldexpf(1, 100), ldexpf(1, -126)};
    cr_assert_eq(mm_st_read_f32(st, "w.bf16", b, 2, (int64_t[]){3, 2}), 0);
    for (int i = 0; i < 6; i++) cr_assert_eq(b[i], want_b[i], "bf16[%d] = %g", i, b[i]);

    float s = 0;
    t = mm_st_find(st, "scalar");
    cr_assert_eq(t->ndim, 0);
    cr_assert_eq(t->numel, 1);
    cr_assert_eq(mm_st_read_f32(st, "scalar", &s, 0, NULL), 0);
    cr_assert_eq(s, 42.5f);

    t = mm_st_find(st, "ids");
    cr_assert_eq(t->dtype, MM_DT_I32);
    int32_t ids[3];
    memcpy(ids, t->data, sizeof ids);
    cr_assert(ids[0] == 1 && ids[1] == -2 && ids[2] == 3);
    cr_assert_eq(mm_st_find(st, "mask")->dtype, MM_DT_BOOL);
    t = mm_st_find(st, "empty");
    cr_assert(t->numel == 0 && t->nbytes == 0 && t->ndim == 1);
    cr_assert_eq(mm_st_read_f32(st, "empty", NULL, 1, (int64_t[]){0}), 0);

    /* mm_st_at iterates in file (data offset) order */
    const unsigned char *prev = NULL;
    for (int i = 0; i < mm_st_count(st); i++) {
        const unsigned char *d = mm_st_at(st, i)->data;
        cr_assert(prev == NULL || d >= prev);
        prev = d;
    }
    cr_assert_null(mm_st_at(st, 7));
    mm_st_close(st);
}

Test(safetensors, read_f32_errors_name_file_and_tensor) {
    mm_safetensors *st = mm_st_open(FIX "basic.safetensors");
    cr_assert_not_null(st);
    float v[6];
    cr_assert_eq(mm_st_read_f32(st, "w.f32", v, 2, (int64_t[]){3, 2}), -1);
    cr_assert_str_eq(mm_last_error(), FIX "basic.safetensors: tensor 'w.f32' has shape [2, 3], expected [3, 2]");
    cr_assert_eq(mm_st_read_f32(st, "scalar", v, 1, (int64_t[]){1}), -1);
    cr_assert_str_eq(mm_last_error(), FIX "basic.safetensors: tensor 'scalar' has shape [], expected [1]");
    cr_assert_eq(mm_st_read_f32(st, "lm_head.weight", v, 1, (int64_t[]){1}), -1);
    cr_assert_str_eq(mm_last_error(), FIX "basic.safetensors: tensor 'lm_head.weight' not found");
    cr_assert_eq(mm_st_read_f32(st, "ids", v, 1, (int64_t[]){3}), -1);
    cr_assert_str_eq(mm_last_error(), FIX "basic.safetensors: tensor 'ids' has dtype I32, expected F32, F16 or BF16");
    cr_assert_eq(mm_st_read_f32(st, "w.f32", v, -1, NULL), 0); /* shape check skipped */
    mm_st_close(st);
}

Test(safetensors, conversions_match_numpy_and_torch) {
    mm_safetensors *st = mm_st_open(FIX "conv.safetensors");
    cr_assert_not_null(st, "%s", mm_last_error());
    const mm_st_tensor *x = mm_st_find(st, "x"), *h = mm_st_find(st, "f16"), *b = mm_st_find(st, "bf16");
    cr_assert(x && h && b);
    cr_assert(x->numel > 50000 && h->numel == x->numel && b->numel == x->numel);
    for (int64_t i = 0; i < x->numel; i++) {
        float f;
        uint16_t hw, bw;
        memcpy(&f, (const char *)x->data + 4 * i, 4);
        memcpy(&hw, (const char *)h->data + 2 * i, 2);
        memcpy(&bw, (const char *)b->data + 2 * i, 2);
        uint16_t hc = mm_f32_to_f16(f), bc = mm_f32_to_bf16(f);
        if (isnan(f)) {
            cr_assert(isnan(mm_f16_to_f32(hc)) && isnan(mm_bf16_to_f32(bc)));
            cr_assert_eq(hc >> 15, hw >> 15, "NaN sign kept (f16)");
            cr_assert_eq(bc >> 15, fbits(f) >> 31, "NaN sign kept (bf16; torch canonicalises to 7fc0)");
            continue;
        }
        cr_assert_eq(hc, hw, "f16(%a [%08x]) = %04x, numpy %04x", f, fbits(f), hc, hw);
        cr_assert_eq(bc, bw, "bf16(%a [%08x]) = %04x, torch %04x", f, fbits(f), bc, bw);
    }
    /* reading converts the same way the Python library does */
    size_t n = (size_t)h->numel;
    float *a = malloc(n * sizeof(float));
    cr_assert_eq(mm_st_read_f32(st, "f16", a, 1, h->shape), 0);
    for (size_t i = 0; i < n; i++) {
        uint16_t hw;
        memcpy(&hw, (const char *)h->data + 2 * i, 2);
        cr_assert_eq(fbits(a[i]), fbits(mm_f16_to_f32(hw)));
    }
    free(a);
    mm_st_close(st);
}

Test(safetensors, half_formats_exhaustive) {
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t u = (uint16_t)i;
        float f = mm_f16_to_f32(u);
        int e = (u >> 10) & 31, m = u & 1023;
        double want = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
        if (u & 0x8000) want = -want;
        if (isnan(want)) {
            cr_assert(isnan(f), "f16 %04x should be NaN", u);
            cr_assert(isnan(mm_f16_to_f32(mm_f32_to_f16(f))));
            cr_assert_eq(mm_f32_to_f16(f) & 0x8000, u & 0x8000);
        } else {
            cr_assert_eq((double)f, want, "f16 %04x -> %a", u, f);
            cr_assert_eq(signbit(f) != 0, (u & 0x8000) != 0);
            cr_assert_eq(mm_f32_to_f16(f), u, "f16 round trip %04x", u);
        }
        float g = mm_bf16_to_f32(u);
        cr_assert_eq(fbits(g), (uint32_t)u << 16);
        if (isnan(g)) cr_assert(isnan(mm_bf16_to_f32(mm_f32_to_bf16(g))));
        else cr_assert_eq(mm_f32_to_bf16(g), u, "bf16 round trip %04x", u);
    }
    cr_assert_eq(mm_f32_to_bf16(ldexpf(1, 127) * 1.99999988f), 0x7f80); /* rounds up to +Inf */
    cr_assert_eq(mm_f32_to_f16(65520.0f), 0x7c00);
    cr_assert_eq(mm_f32_to_f16(65519.996f), 0x7bff);
}

/* ------------------------------------------------------------------ sharded / directory */
Test(safetensors, sharded_index_and_directory) {
    const char *paths[2] = {FIX "sharded/model.safetensors.index.json", FIX "sharded"};
    for (int k = 0; k < 2; k++) {
        mm_safetensors *st = mm_st_open(paths[k]);
        cr_assert_not_null(st, "%s", mm_last_error());
        cr_assert_eq(mm_st_count(st), 4);
        const mm_st_tensor *e = mm_st_find(st, "model.embed.weight"), *l = mm_st_find(st, "lm_head.weight");
        cr_assert(e && l);
        cr_assert_str_eq(e->file, FIX "sharded/model-00001-of-00002.safetensors");
        cr_assert_str_eq(l->file, FIX "sharded/model-00002-of-00002.safetensors");
        float v[8];
        cr_assert_eq(mm_st_read_f32(st, "model.embed.weight", v, 2, (int64_t[]){4, 2}), 0);
        for (int i = 0; i < 8; i++) cr_assert_eq(v[i], (float)i);
        cr_assert_eq(mm_st_read_f32(st, "model.layers.1.w", v, 2, (int64_t[]){2, 2}), 0);
        cr_assert_eq(v[3], -1.5f);
        cr_assert_eq(mm_st_read_f32(st, "lm_head.weight", v, 2, (int64_t[]){4, 2}), 0);
        cr_assert_eq(v[7], 1.0f);
        cr_assert_str_eq(mm_st_metadata(st, "format"), "pt");
        cr_assert_eq(mm_st_read_f32(st, "lm_head.weight", v, 1, (int64_t[]){8}), -1);
        cr_assert_str_eq(mm_last_error(), FIX "sharded/model-00002-of-00002.safetensors: tensor 'lm_head.weight' "
                                              "has shape [4, 2], expected [8]");
        mm_st_close(st);
    }
}

Test(safetensors, directory_with_single_file, .init = tmp_setup, .fini = tmp_teardown) {
    size_t n;
    unsigned char *b = read_file(FIX "basic.safetensors", &n);
    write_file(tpath("model.safetensors"), b, n);
    free(b);
    mm_safetensors *st = mm_st_open(g_dir);
    cr_assert_not_null(st, "%s", mm_last_error());
    cr_assert_eq(mm_st_count(st), 7);
    cr_assert_str_eq(mm_st_find(st, "w.f32")->file, tpath("model.safetensors"));
    mm_st_close(st);
    mkdir(tpath("empty"), 0755);
    cr_assert_null(mm_st_open(tpath("empty")));
    cr_assert(strstr(mm_last_error(), "neither 'model.safetensors' nor 'model.safetensors.index.json'"));
    cr_assert_null(mm_st_open(tpath("missing.safetensors")));
    cr_assert(strstr(mm_last_error(), "missing.safetensors: cannot open"));
}

Test(safetensors, bad_index, .init = tmp_setup, .fini = tmp_teardown) {
    const char *sh1 = FIX "sharded/model-00001-of-00002.safetensors";
    size_t n;
    unsigned char *b = read_file(sh1, &n);
    write_file(tpath("a.safetensors"), b, n);
    write_file(tpath("b.safetensors"), b, n);
    free(b);
    const char *wrong = "{\"weight_map\": {\"model.embed.weight\": \"a.safetensors\", \"lm_head.weight\": \"a.safetensors\"}}";
    write_file(tpath("i1.json"), wrong, strlen(wrong));
    cr_assert_null(mm_st_open(tpath("i1.json")));
    char want[512];
    snprintf(want, sizeof want, "%s: tensor 'lm_head.weight' is mapped to shard 'a.safetensors' but is not stored there",
             tpath("i1.json"));
    cr_assert_str_eq(mm_last_error(), want);

    const char *dup = "{\"weight_map\": {\"model.embed.weight\": \"a.safetensors\", \"model.layers.0.w\": \"b.safetensors\"}}";
    write_file(tpath("i2.json"), dup, strlen(dup));
    cr_assert_null(mm_st_open(tpath("i2.json")));
    cr_assert(strstr(mm_last_error(), "tensor 'model.embed.weight' appears in both"), "%s", mm_last_error());

    const char *missing = "{\"weight_map\": {\"x\": \"nope.safetensors\"}}";
    write_file(tpath("i3.json"), missing, strlen(missing));
    cr_assert_null(mm_st_open(tpath("i3.json")));
    cr_assert(strstr(mm_last_error(), "nope.safetensors: cannot open"), "%s", mm_last_error());

    const char *nomap = "{\"metadata\": {}}";
    write_file(tpath("i4.json"), nomap, strlen(nomap));
    cr_assert_null(mm_st_open(tpath("i4.json")));
    snprintf(want, sizeof want, "%s: key 'weight_map' is missing or not an object", tpath("i4.json"));
    cr_assert_str_eq(mm_last_error(), want);

    const char *escape = "{\"weight_map\": {\"x\": \"../../etc/passwd\"}}";
    write_file(tpath("i5.json"), escape, strlen(escape));
    cr_assert_null(mm_st_open(tpath("i5.json")));
    cr_assert(strstr(mm_last_error(), "weight_map entry 'x'"), "%s", mm_last_error());
}

/* ------------------------------------------------------------------ malformed files */
Test(safetensors, bad_files_on_disk, .init = tmp_setup, .fini = tmp_teardown) {
    size_t n;
    unsigned char *b = read_file(FIX "basic.safetensors", &n);
    char want[512];

    write_file(tpath("trunc.st"), b, n - 3); /* data buffer 3 bytes short */
    cr_assert_null(mm_st_open(tpath("trunc.st")));
    cr_assert(strstr(mm_last_error(), tpath("trunc.st")) == mm_last_error());
    cr_assert(strstr(mm_last_error(), "lie outside the data buffer"), "%s", mm_last_error());

    write_file(tpath("short.st"), b, 5);
    cr_assert_null(mm_st_open(tpath("short.st")));
    snprintf(want, sizeof want, "%s: file too short for a safetensors header (5 bytes)", tpath("short.st"));
    cr_assert_str_eq(mm_last_error(), want);

    uint64_t big = n; /* header length beyond EOF */
    memcpy(b, &big, 8);
    write_file(tpath("hlen.st"), b, n);
    cr_assert_null(mm_st_open(tpath("hlen.st")));
    snprintf(want, sizeof want, "%s: header length %zu runs past the end of the file (%zu bytes)", tpath("hlen.st"), n, n);
    cr_assert_str_eq(mm_last_error(), want);

    big = 200000000ull;
    memcpy(b, &big, 8);
    write_file(tpath("huge.st"), b, n);
    cr_assert_null(mm_st_open(tpath("huge.st")));
    snprintf(want, sizeof want, "%s: header length 200000000 exceeds the 100 MB limit", tpath("huge.st"));
    cr_assert_str_eq(mm_last_error(), want);
    free(b);
}

Test(safetensors, bad_headers_in_memory) {
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    cr_assert_str_eq(open_err(ok, 8), "");
    cr_assert_str_eq(open_err(ok, 12), "bad.st: tensor 'a' is followed by 4 unused bytes at the end of the data buffer");
    cr_assert_str_eq(open_err(ok, 4), "bad.st: tensor 'a' data_offsets [0, 8] lie outside the data buffer (4 bytes)");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                     "bad.st: tensor 'b' data_offsets [4, 8] overlap tensor 'a'");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
                     "bad.st: tensor 'b' data_offsets [8, 12] leave a hole of 4 bytes before it");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
                     "bad.st: tensor 'a' data_offsets [0, 8] do not match shape [3] x F32 = 12 bytes");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                     "bad.st: tensor 'a' has unknown dtype 'F17'");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                     "bad.st: duplicate key 'a' in header");
    cr_assert_str_eq(open_err("{\"a\": nope}", 0), "bad.st: header is not valid JSON");
    cr_assert_str_eq(open_err("[1,2]   ", 0), "bad.st: header does not start with '{'");
    cr_assert_str_eq(open_err("{} x", 0), "bad.st: header has trailing bytes after the JSON object (byte 3)");
    cr_assert_str_eq(open_err("{\"a\xff\":1}", 0), "bad.st: header is not valid UTF-8 (byte 3)");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8),
                     "bad.st: tensor 'a' has no array 'shape'");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
                     "bad.st: tensor 'a' shape[0] is not a non-negative integer");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8),
                     "bad.st: tensor 'a' 'data_offsets' is not an array of two non-negative integers");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                     "bad.st: tensor 'a' has no string 'dtype'");
    cr_assert_str_eq(open_err("{\"a\":[]}", 0), "bad.st: tensor 'a' header entry is not a JSON object");
    cr_assert_str_eq(open_err("{\"__metadata__\":{\"format\":1}}", 0),
                     "bad.st: metadata key 'format' has a non-string value");
    cr_assert_str_eq(open_err("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0),
                     "bad.st: duplicate metadata key 'k'");
    cr_assert_str_eq(open_err("{\"__metadata__\":[]}", 0), "bad.st: key '__metadata__' is not a JSON object");
    cr_assert_str_eq(open_err("{}      ", 4), "bad.st: header lists no tensors but the data buffer holds 4 bytes");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
                     "bad.st: tensor 'a' has 9 dimensions (at most 8 supported)");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,4]}}", 4),
                     "bad.st: tensor 'a' shape overflows the byte count");
    cr_assert_str_eq(open_err("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4),
                     "bad.st: tensor 'a' shape overflows the element count");
    /* accepted: empty header, null metadata, zero-size tensors sharing an offset, padding spaces */
    cr_assert_str_eq(open_err("{}", 0), "");
    cr_assert_str_eq(open_err("{\"__metadata__\":null,\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
                              "\"y\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[0,0]}}  \n ", 0), "");
}

/* ------------------------------------------------------------------ writer */
static void add_python_set(mm_st_writer *w, const void **keep) {
    static const float a[4] = {1, 2, 3, 4}, l10 = 5, l9 = 6, q = 7, s = 1.5f;
    static const uint16_t bh[3] = {0x3c00, 0xc000, 0x3800};
    static const uint8_t c[5] = {1, 2, 3, 4, 5};
    static const double z = 0.25;
    static const int64_t e[2] = {-1, 7};
    /* added in a scrambled order: the writer sorts like Python */
    mm_st_writer_add(w, "s", MM_DT_F32, 0, NULL, &s);
    mm_st_writer_add(w, "layer.9.w", MM_DT_F32, 1, (int64_t[]){1}, &l9);
    mm_st_writer_add(w, "c", MM_DT_U8, 1, (int64_t[]){5}, c);
    mm_st_writer_add(w, "empty", MM_DT_F32, 2, (int64_t[]){0, 3}, NULL);
    mm_st_writer_add(w, "q\"\\\n\xc3\xa9", MM_DT_F32, 1, (int64_t[]){1}, &q);
    mm_st_writer_add(w, "a", MM_DT_F32, 2, (int64_t[]){2, 2}, a);
    mm_st_writer_add(w, "z", MM_DT_F64, 1, (int64_t[]){1}, &z);
    mm_st_writer_add(w, "b", MM_DT_F16, 1, (int64_t[]){3}, bh);
    mm_st_writer_add(w, "e", MM_DT_I64, 1, (int64_t[]){2}, e);
    mm_st_writer_add(w, "layer.10.w", MM_DT_F32, 1, (int64_t[]){1}, &l10);
    mm_st_writer_metadata(w, "format", "pt");
    (void)keep;
}

Test(safetensors, writer_matches_python_bytes, .init = tmp_setup, .fini = tmp_teardown) {
    mm_st_writer *w = mm_st_writer_new();
    add_python_set(w, NULL);
    cr_assert_eq(mm_st_writer_save(w, tpath("c.safetensors")), 0, "%s", mm_last_error());
    const char *keep = getenv("MMLORA_IO_KEEP"); /* for tests/reference/io_ref.py --check-c */
    if (keep) cr_assert_eq(mm_st_writer_save(w, keep), 0, "%s", mm_last_error());
    mm_st_writer_free(w);
    size_t n1, n2;
    unsigned char *got = read_file(tpath("c.safetensors"), &n1), *want = read_file(FIX "writer_ref.safetensors", &n2);
    cr_assert_eq(n1, n2, "size %zu vs Python %zu", n1, n2);
    for (size_t i = 0; i < n1; i++) cr_assert_eq(got[i], want[i], "byte %zu differs from the Python file", i);
    free(got);
    free(want);
}

Test(safetensors, writer_round_trip, .init = tmp_setup, .fini = tmp_teardown) {
    float big[1000];
    uint16_t bf[7];
    for (int i = 0; i < 1000; i++) big[i] = sinf((float)i) * 100;
    for (int i = 0; i < 7; i++) bf[i] = mm_f32_to_bf16(big[i]);
    for (int round = 0; round < 2; round++) { /* second round overwrites the existing file */
        mm_st_writer *w = mm_st_writer_new();
        mm_st_writer_add(w, "big", MM_DT_F32, 3, (int64_t[]){10, 10, 10}, big);
        mm_st_writer_add(w, "bf", MM_DT_BF16, 1, (int64_t[]){7}, bf);
        mm_st_writer_metadata(w, "format", "pt");
        mm_st_writer_metadata(w, "round", round ? "1" : "0");
        mm_st_writer_metadata(w, "b", "x");
        cr_assert_eq(mm_st_writer_save(w, tpath("rt.safetensors")), 0, "%s", mm_last_error());
        mm_st_writer_free(w);
    }
    mm_safetensors *st = mm_st_open(tpath("rt.safetensors"));
    cr_assert_not_null(st, "%s", mm_last_error());
    cr_assert_str_eq(mm_st_metadata(st, "round"), "1");
    cr_assert_str_eq(mm_st_metadata(st, "b"), "x");
    float r[1000];
    cr_assert_eq(mm_st_read_f32(st, "big", r, 3, (int64_t[]){10, 10, 10}), 0);
    cr_assert_eq(memcmp(r, big, sizeof big), 0);
    cr_assert_eq(mm_st_read_f32(st, "bf", r, 1, (int64_t[]){7}), 0);
    for (int i = 0; i < 7; i++) cr_assert_eq(r[i], mm_bf16_to_f32(bf[i]));
    mm_st_close(st);
    size_t n;
    unsigned char *b = read_file(tpath("rt.safetensors"), &n);
    uint64_t hl;
    memcpy(&hl, b, 8);
    cr_assert_eq((8 + hl) % 8, 0);
    const char *head = "{\"__metadata__\":{\"b\":\"x\",\"format\":\"pt\",\"round\":\"1\"},\"big\":";
    cr_assert_eq(memcmp(b + 8, head, strlen(head)), 0, "%.80s", b + 8);
    free(b);
    /* no temporary file left behind */
    cr_assert_eq(access(tpath("rt.safetensors.tmp"), F_OK), -1);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", tpath("rt.safetensors"), (long)getpid());
    cr_assert_eq(access(tmp, F_OK), -1);
}

Test(safetensors, writer_errors, .init = tmp_setup, .fini = tmp_teardown) {
    float v[2] = {1, 2};
    mm_st_writer *w = mm_st_writer_new();
    mm_st_writer_add(w, "x", MM_DT_F32, 1, (int64_t[]){2}, v);
    mm_st_writer_add(w, "x", MM_DT_F32, 1, (int64_t[]){2}, v);
    cr_assert_eq(mm_st_writer_save(w, tpath("e.st")), -1);
    char want[300];
    snprintf(want, sizeof want, "%s: tensor 'x' added twice", tpath("e.st"));
    cr_assert_str_eq(mm_last_error(), want);
    cr_assert_eq(access(tpath("e.st"), F_OK), -1);
    mm_st_writer_free(w);

    w = mm_st_writer_new();
    mm_st_writer_add(w, "nodata", MM_DT_F32, 1, (int64_t[]){2}, NULL);
    cr_assert_eq(mm_st_writer_save(w, tpath("e.st")), -1);
    cr_assert(strstr(mm_last_error(), "tensor 'nodata' has no data"));
    mm_st_writer_free(w);

    w = mm_st_writer_new();
    mm_st_writer_add(w, "neg", MM_DT_F32, 1, (int64_t[]){-1}, v);
    cr_assert_eq(mm_st_writer_save(w, tpath("e.st")), -1);
    cr_assert(strstr(mm_last_error(), "tensor 'neg' has an invalid shape"));
    mm_st_writer_free(w);

    w = mm_st_writer_new();
    mm_st_writer_add(w, "ok", MM_DT_F32, 1, (int64_t[]){2}, v);
    cr_assert_eq(mm_st_writer_save(w, "/nonexistent-dir/x.st"), -1);
    cr_assert(strstr(mm_last_error(), "/nonexistent-dir/x.st: cannot create"), "%s", mm_last_error());
    mm_st_writer_free(w);
}

Test(safetensors, dtype_names) {
    cr_assert_eq(mm_dtype_from_name("BF16"), MM_DT_BF16);
    cr_assert_eq(mm_dtype_from_name("bf16"), MM_DT_COUNT);
    cr_assert_str_eq(mm_dtype_name(MM_DT_F8_E4M3), "F8_E4M3");
    cr_assert_eq(mm_dtype_size(MM_DT_U64), 8);
    cr_assert_eq(mm_dtype_size(MM_DT_BOOL), 1);
}
