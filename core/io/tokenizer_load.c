/* tokenizer.json loader: every unsupported or malformed key is an error naming the key and what is
 * supported.  Supported: model BPE (byte-level), added_tokens, normalizer null/Sequence(of supported),
 * pre_tokenizer Sequence/Split/Digits/ByteLevel (ByteLevel last), post_processor
 * null/ByteLevel/TemplateProcessing/Sequence, decoder null/ByteLevel. */
#include <cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

typedef struct { mm_tokenizer *t; const char *name; } L;

#define FAIL(...) (mm_fail(__VA_ARGS__), -1)

static int get_bool(L *l, const cJSON *o, const char *key, const char *path, int dflt, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return 0; }
    if (!cJSON_IsBool(v)) return FAIL("%s: %s.%s must be true or false", l->name, path, key);
    *out = cJSON_IsTrue(v);
    return 0;
}
static const char *type_of(const cJSON *o) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

/* ------------------------------------------------------------------ normalizer */
static int load_normalizer(L *l, const cJSON *n, const char *path) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *ty = cJSON_IsObject(n) ? type_of(n) : NULL;
    if (ty && !strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(arr)) return FAIL("%s: %s.normalizers must be an array", l->name, path);
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", path, i++);
            if (load_normalizer(l, e, sub)) return -1;
        }
        return 0;
    }
    return FAIL("%s: %s.type '%s' is not supported (supported: null, Sequence of supported normalizers; "
                "the StarCoder and DeepSeek-Coder normalizers are identities)", l->name, path, ty ? ty : "(missing)");
}

/* ------------------------------------------------------------------ pre-tokenizer */
static mm_pretok_step *new_step(mm_tokenizer *t) {
    t->steps = mm_xrealloc(t->steps, (size_t)(t->n_steps + 1) * sizeof *t->steps);
    mm_pretok_step *s = &t->steps[t->n_steps++];
    memset(s, 0, sizeof *s);
    return s;
}

static int load_pretok(L *l, const cJSON *p, const char *path) {
    mm_tokenizer *t = l->t;
    if (!p || cJSON_IsNull(p)) return 0;
    const char *ty = cJSON_IsObject(p) ? type_of(p) : NULL;
    if (!ty) return FAIL("%s: %s.type missing (supported: Sequence, Split, Digits, ByteLevel)", l->name, path);
    char key[300];
    if (!strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (!cJSON_IsArray(arr)) return FAIL("%s: %s.pretokenizers must be an array", l->name, path);
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            snprintf(key, sizeof key, "%s.pretokenizers[%d]", path, i++);
            if (load_pretok(l, e, key)) return -1;
        }
        return 0;
    }
    if (t->n_steps && t->steps[t->n_steps - 1].kind == MM_PT_BYTELEVEL)
        return FAIL("%s: %s: a pre-tokenizer after ByteLevel is not supported (ByteLevel must be last)", l->name, path);
    if (!strcmp(ty, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex"), *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const cJSON *src = cJSON_IsString(re) ? re : lit;
        if (!cJSON_IsString(src))
            return FAIL("%s: %s.pattern must be {\"Regex\": string} or {\"String\": string}", l->name, path);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        static const char *const behs[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        int beh = -1;
        for (int i = 0; i < 5; i++)
            if (cJSON_IsString(b) && !strcmp(b->valuestring, behs[i])) beh = i;
        if (beh < 0)
            return FAIL("%s: %s.behavior '%s' is not supported (supported: Removed, Isolated, MergedWithPrevious, "
                        "MergedWithNext, Contiguous)", l->name, path, cJSON_IsString(b) ? b->valuestring : "(missing)");
        int inv;
        if (get_bool(l, p, "invert", path, 0, &inv)) return -1;
        snprintf(key, sizeof key, "%s: %s.pattern", l->name, path);
        pcre2_code *code = mm_tok_regex(src->valuestring, strlen(src->valuestring), src == lit, key);
        if (!code) return -1;
        mm_pretok_step *s = new_step(t);
        s->kind = MM_PT_SPLIT, s->re = code, s->behavior = beh, s->invert = inv;
        s->fast = src == re ? mm_fast_kind(src->valuestring) : MM_FAST_NONE;
        return 0;
    }
    if (!strcmp(ty, "Digits")) {
        int ind;
        if (get_bool(l, p, "individual_digits", path, 0, &ind)) return -1;
        snprintf(key, sizeof key, "%s: %s", l->name, path);
        /* Rust char::is_numeric: Nd, Nl, No (+ what newer Unicode added, tokenizer_unicode.c) */
        size_t cap = strlen(MM_UNI_EXTRA_NUM) + 64;
        char *pat = mm_xmalloc(cap);
        snprintf(pat, cap, "[\\p{Nd}\\p{Nl}\\p{No}%s]%s", MM_UNI_EXTRA_NUM, ind ? "" : "+");
        pcre2_code *code = mm_tok_regex(pat, strlen(pat), 0, key);
        free(pat);
        if (!code) return -1;
        mm_pretok_step *s = new_step(t);
        s->kind = MM_PT_SPLIT, s->re = code, s->behavior = MM_SPLIT_ISOLATED;
        s->fast = ind ? MM_FAST_DIGIT1 : MM_FAST_DIGITS;
        return 0;
    }
    if (!strcmp(ty, "ByteLevel")) {
        int aps, use_re, trim;
        if (get_bool(l, p, "add_prefix_space", path, 1, &aps) || get_bool(l, p, "use_regex", path, 1, &use_re) ||
            get_bool(l, p, "trim_offsets", path, 1, &trim))
            return -1;
        pcre2_code *code = NULL;
        if (use_re) {
            snprintf(key, sizeof key, "%s: %s (GPT-2 regex)", l->name, path);
            if (!(code = mm_tok_regex(MM_GPT2_PATTERN, strlen(MM_GPT2_PATTERN), 0, key))) return -1;
        }
        mm_pretok_step *s = new_step(t);
        s->kind = MM_PT_BYTELEVEL, s->re = code, s->behavior = MM_SPLIT_ISOLATED, s->add_prefix_space = aps;
        s->fast = MM_FAST_GPT2;
        return 0;
    }
    return FAIL("%s: %s.type '%s' is not supported (supported: Sequence, Split, Digits, ByteLevel)", l->name, path, ty);
}

/* ------------------------------------------------------------------ post-processor / decoder */
static int add_special_ids(L *l, const cJSON *specials, const char *name, const char *path, int32_t **ids, int *n) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(specials, name);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(st, "ids");
    if (!cJSON_IsArray(arr))
        return FAIL("%s: %s.special_tokens['%s'].ids missing (TemplateProcessing refers to it)", l->name, path, name);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX)
            return FAIL("%s: %s.special_tokens['%s'].ids: not an id", l->name, path, name);
        *ids = mm_xrealloc(*ids, (size_t)(*n + 1) * sizeof **ids);
        (*ids)[(*n)++] = (int32_t)e->valuedouble;
    }
    return 0;
}

static int load_post(L *l, const cJSON *p, const char *path) {
    mm_tokenizer *t = l->t;
    if (!p || cJSON_IsNull(p)) return 0;
    const char *ty = cJSON_IsObject(p) ? type_of(p) : NULL;
    if (ty && !strcmp(ty, "ByteLevel")) return 0;   /* only adjusts offsets */
    if (ty && !strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "processors"), *e;
        if (!cJSON_IsArray(arr)) return FAIL("%s: %s.processors must be an array", l->name, path);
        int i = 0;
        char key[300];
        cJSON_ArrayForEach(e, arr) {
            snprintf(key, sizeof key, "%s.processors[%d]", path, i++);
            if (load_post(l, e, key)) return -1;
        }
        return 0;
    }
    if (ty && !strcmp(ty, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(p, "single"), *e;
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(p, "special_tokens");
        if (!cJSON_IsArray(single)) return FAIL("%s: %s.single must be an array", l->name, path);
        int seen_a = 0;
        cJSON_ArrayForEach(e, single) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
            if (sp) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(sp, "id");
                if (!cJSON_IsString(id)) return FAIL("%s: %s.single[].SpecialToken.id must be a string", l->name, path);
                if (seen_a ? add_special_ids(l, specials, id->valuestring, path, &t->post_ids, &t->n_post)
                           : add_special_ids(l, specials, id->valuestring, path, &t->pre_ids, &t->n_pre))
                    return -1;
            } else if (sq) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(sq, "id");
                if (!cJSON_IsString(id) || strcmp(id->valuestring, "A") || seen_a)
                    return FAIL("%s: %s.single: only one Sequence 'A' is supported", l->name, path);
                seen_a = 1;
            } else {
                return FAIL("%s: %s.single[]: expected SpecialToken or Sequence", l->name, path);
            }
        }
        if (!seen_a) return FAIL("%s: %s.single has no Sequence 'A'", l->name, path);
        return 0;
    }
    return FAIL("%s: %s.type '%s' is not supported (supported: null, ByteLevel, TemplateProcessing, Sequence)",
                l->name, path, ty ? ty : "(missing)");
}

static int load_decoder(L *l, const cJSON *d) {
    if (!d || cJSON_IsNull(d)) return 0;
    const char *ty = cJSON_IsObject(d) ? type_of(d) : NULL;
    if (ty && !strcmp(ty, "ByteLevel")) { l->t->decoder_bytelevel = 1; return 0; }
    return FAIL("%s: decoder.type '%s' is not supported (supported: null, ByteLevel)", l->name, ty ? ty : "(missing)");
}

/* ------------------------------------------------------------------ model + added tokens */
static void set_id(L *l, int32_t id, const char *s, uint32_t len, int special) {
    mm_tokenizer *t = l->t;
    if (id >= t->n_ids) {
        int32_t n = id + 1;
        t->id_str = mm_xrealloc(t->id_str, (size_t)n * sizeof *t->id_str);
        t->id_len = mm_xrealloc(t->id_len, (size_t)n * sizeof *t->id_len);
        t->id_special = mm_xrealloc(t->id_special, (size_t)n);
        for (int32_t i = t->n_ids; i < n; i++) t->id_str[i] = NULL, t->id_len[i] = 0, t->id_special[i] = 0;
        t->n_ids = n;
    }
    t->id_str[id] = mm_xmalloc(len + 1);
    memcpy(t->id_str[id], s, len);
    t->id_str[id][len] = 0;
    t->id_len[id] = len;
    t->id_special[id] = (uint8_t)special;
}

static int to_bytes(const char *s, size_t n, char *out, uint32_t *outn) {   /* byte-level string -> raw bytes */
    size_t i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        int ok;
        i += mm_utf8_next((const unsigned char *)s + i, n - i, &cp, &ok);
        int b = ok ? mm_bytelevel_byte(cp) : -1;
        if (b < 0) return -1;
        out[k++] = (char)b;
    }
    *outn = (uint32_t)k;
    return 0;
}

static int load_model(L *l, const cJSON *m) {
    mm_tokenizer *t = l->t;
    if (!cJSON_IsObject(m)) return FAIL("%s: key 'model' missing or not an object (supported: model.type BPE)", l->name);
    const char *ty = type_of(m);
    if (ty && strcmp(ty, "BPE"))
        return FAIL("%s: model.type '%s' is not supported (supported: BPE, byte-level)", l->name, ty);
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "dropout")) && !cJSON_IsNull(v))
        return FAIL("%s: model.dropout must be null (BPE dropout is not supported)", l->name);
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "unk_token")) && !cJSON_IsNull(v))
        return FAIL("%s: model.unk_token must be null (byte-level BPE without unk is supported)", l->name);
    const char *nullkeys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++)
        if ((v = cJSON_GetObjectItemCaseSensitive(m, nullkeys[i])) && !cJSON_IsNull(v) &&
            !(cJSON_IsString(v) && !v->valuestring[0]))
            return FAIL("%s: model.%s must be null (not supported)", l->name, nullkeys[i]);
    int bf, fu;
    if (get_bool(l, m, "byte_fallback", "model", 0, &bf) || get_bool(l, m, "fuse_unk", "model", 0, &fu) ||
        get_bool(l, m, "ignore_merges", "model", 0, &t->ignore_merges))
        return -1;
    if (bf) return FAIL("%s: model.byte_fallback true is not supported (supported: false)", l->name);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(vocab)) return FAIL("%s: model.vocab missing or not an object {token: id}", l->name);
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (!cJSON_IsArray(merges))
        return FAIL("%s: model.merges missing or not an array (supported: [\"a b\", ...] or [[\"a\", \"b\"], ...])", l->name);
    int nv = cJSON_GetArraySize(vocab);
    mm_strmap model;   /* JSON token string -> id */
    mm_strmap_init(&model, (size_t)nv);
    mm_strmap_init(&t->model_bytes, (size_t)nv);
    char buf[1024];
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= INT32_MAX || e->valuedouble != (int32_t)e->valuedouble) {
            rc = FAIL("%s: model.vocab['%s']: id must be an integer in [0, 2^31-1)", l->name, e->string);
            goto done;
        }
        int32_t id = (int32_t)e->valuedouble;
        uint32_t len = (uint32_t)strlen(e->string);
        if (id < t->n_ids && t->id_str[id]) {
            rc = FAIL("%s: model.vocab: duplicate id %d ('%s' and '%s')", l->name, id, t->id_str[id], e->string);
            goto done;
        }
        if (mm_strmap_get(&model, e->string, len) >= 0) {
            rc = FAIL("%s: model.vocab: duplicate token '%s'", l->name, e->string);
            goto done;
        }
        set_id(l, id, e->string, len, 0);
        mm_strmap_put(&model, t->id_str[id], len, id, 1);
        uint32_t bn;
        char *raw = len <= sizeof buf ? buf : mm_xmalloc(len);
        if (to_bytes(e->string, len, raw, &bn) == 0) {
            char *keep = mm_xmalloc(bn ? bn : 1);   /* model_bytes keys are borrowed: keep a copy */
            memcpy(keep, raw, bn);
            if (bn == 1) t->byte_id[(unsigned char)raw[0]] = id;
            if (mm_strmap_put(&t->model_bytes, keep, bn, id, 0) >= 0) free(keep);
        }
        if (raw != buf) free(raw);
    }
    mm_pairmap_init(&t->merges, (size_t)cJSON_GetArraySize(merges));
    int rank = 0;
    cJSON_ArrayForEach(e, merges) {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(e)) {
            const char *sp = strchr(e->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                rc = FAIL("%s: model.merges[%d] '%s': expected \"a b\" (two tokens, one space)", l->name, rank, e->valuestring);
                goto done;
            }
            a = e->valuestring, la = (size_t)(sp - a), b = sp + 1, lb = strlen(b);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            a = cJSON_GetArrayItem(e, 0)->valuestring, la = strlen(a);
            b = cJSON_GetArrayItem(e, 1)->valuestring, lb = strlen(b);
        } else {
            rc = FAIL("%s: model.merges[%d]: expected \"a b\" or [\"a\", \"b\"]", l->name, rank);
            goto done;
        }
        int32_t ia = mm_strmap_get(&model, a, (uint32_t)la), ib = mm_strmap_get(&model, b, (uint32_t)lb);
        char *ab = mm_xmalloc(la + lb + 1);
        memcpy(ab, a, la);
        memcpy(ab + la, b, lb);
        int32_t iab = mm_strmap_get(&model, ab, (uint32_t)(la + lb));
        free(ab);
        if (ia < 0 || ib < 0 || iab < 0) {
            rc = FAIL("%s: model.merges[%d] ('%.*s', '%.*s'): %s not in model.vocab", l->name, rank, (int)la, a, (int)lb, b,
                      ia < 0 ? "left token" : ib < 0 ? "right token" : "merged token");
            goto done;
        }
        mm_pairmap_put(&t->merges, ia, ib, rank, iab);
        rank++;
    }
done:
    mm_strmap_free(&model);
    return rc;
}

static int load_added(L *l, const cJSON *arr) {
    mm_tokenizer *t = l->t;
    if (!arr || cJSON_IsNull(arr)) return 0;
    if (!cJSON_IsArray(arr)) return FAIL("%s: added_tokens must be an array", l->name);
    int n = cJSON_GetArraySize(arr), i = 0;
    t->added = mm_xcalloc((size_t)n + 1, sizeof *t->added);
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= INT32_MAX || !cJSON_IsString(c))
            return FAIL("%s: added_tokens[%d]: needs integer 'id' >= 0 and string 'content'", l->name, i);
        char path[64];
        snprintf(path, sizeof path, "added_tokens[%d]", i);
        int sp, ls, rs, sw, nm;
        if (get_bool(l, e, "special", path, 0, &sp) || get_bool(l, e, "lstrip", path, 0, &ls) ||
            get_bool(l, e, "rstrip", path, 0, &rs) || get_bool(l, e, "single_word", path, 0, &sw) ||
            get_bool(l, e, "normalized", path, !sp, &nm))
            return -1;
        int32_t tid = (int32_t)id->valuedouble;
        for (int k = 0; k < t->n_added; k++)
            if (t->added[k].id == tid)
                return FAIL("%s: added_tokens[%d]: duplicate id %d (also '%s')", l->name, i, tid, t->added[k].content);
        mm_added_token *a = &t->added[t->n_added++];
        a->len = (uint32_t)strlen(c->valuestring);
        a->content = mm_xstrdup(c->valuestring);
        a->id = tid;
        a->special = (uint8_t)sp, a->lstrip = (uint8_t)ls, a->rstrip = (uint8_t)rs, a->single_word = (uint8_t)sw;
        a->normalized = (uint8_t)nm;
        if (a->len) t->added_first[nm][(unsigned char)a->content[0]] = 1;
        i++;
    }
    return 0;
}

mm_tokenizer *mm_tokenizer_load_json(const char *json, size_t len, const char *name) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        mm_fail("%s: not valid JSON (near byte %zu)", name, (size_t)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
        return NULL;
    }
    mm_tokenizer *t = mm_xcalloc(1, sizeof *t);
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    L l = {t, name};
    int rc = !cJSON_IsObject(root) ? FAIL("%s: top level must be a JSON object", name) : 0;
    if (!rc) rc = load_model(&l, cJSON_GetObjectItemCaseSensitive(root, "model"));
    if (!rc) rc = load_added(&l, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"));
    if (!rc) rc = load_normalizer(&l, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer");
    if (!rc) rc = load_pretok(&l, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer");
    if (!rc && (!t->n_steps || t->steps[t->n_steps - 1].kind != MM_PT_BYTELEVEL))
        rc = FAIL("%s: pre_tokenizer: a ByteLevel pre-tokenizer (last in the Sequence) is required: only byte-level BPE is supported", name);
    if (!rc) rc = load_post(&l, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor");
    if (!rc) rc = load_decoder(&l, cJSON_GetObjectItemCaseSensitive(root, "decoder"));
    if (!rc) {   /* ids: added tokens override the model's entry */
        mm_strmap_init(&t->str2id, (size_t)t->n_ids + (size_t)t->n_added);
        for (int32_t i = 0; i < t->n_ids; i++)
            if (t->id_str[i]) mm_strmap_put(&t->str2id, t->id_str[i], t->id_len[i], i, 1);
        for (int k = 0; k < t->n_added; k++) {
            mm_added_token *a = &t->added[k];
            if (a->id >= t->n_ids || !t->id_str[a->id] || strcmp(t->id_str[a->id], a->content)) {
                if (a->id < t->n_ids && t->id_str[a->id]) free(t->id_str[a->id]);
                set_id(&l, a->id, a->content, a->len, a->special);
            }
            t->id_special[a->id] = a->special;
            mm_strmap_put(&t->str2id, t->id_str[a->id], a->len, a->id, 1);
        }
        for (int i = 0; i < t->n_pre + t->n_post; i++) {
            int32_t id = i < t->n_pre ? t->pre_ids[i] : t->post_ids[i - t->n_pre];
            if (id >= t->n_ids || !t->id_str[id]) rc = FAIL("%s: post_processor: special token id %d is not in the vocab", name, id);
        }
    }
    cJSON_Delete(root);
    if (rc) {
        mm_tokenizer_free(t);
        return NULL;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(json, len, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(t->sha256 + 2 * i, 3, "%02x", md[i]);
    t->serial = mm_tok_new_serial();
    return t;
}

mm_tokenizer *mm_tokenizer_load(const char *path) {
    char *p = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + 20;
        p = mm_xmalloc(n);
        snprintf(p, n, "%s/tokenizer.json", path);
        path = p;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        mm_fail("%s: cannot open: %s", path, strerror(errno));
        free(p);
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    do {
        if (cap - n < 65536) buf = mm_xrealloc(buf, cap = cap * 2 + 65536);
        k = fread(buf + n, 1, cap - n, f);
        n += k;
    } while (k > 0);
    int err = ferror(f);
    fclose(f);
    mm_tokenizer *t = NULL;
    if (err) mm_fail("%s: read error", path);
    else t = mm_tokenizer_load_json(buf, n, path);
    free(buf);
    free(p);
    return t;
}

void mm_tokenizer_free(mm_tokenizer *t) {
    if (!t) return;
    mm_pairmap_free(&t->merges);
    for (size_t i = 0; i < t->model_bytes.cap; i++)
        if (t->model_bytes.slots[i].s) free((char *)t->model_bytes.slots[i].s);
    mm_strmap_free(&t->model_bytes);
    mm_strmap_free(&t->str2id);
    for (int32_t i = 0; i < t->n_ids; i++) free(t->id_str[i]);
    free(t->id_str);
    free(t->id_len);
    free(t->id_special);
    for (int k = 0; k < t->n_added; k++) free(t->added[k].content);
    free(t->added);
    for (int i = 0; i < t->n_steps; i++) pcre2_code_free(t->steps[i].re);
    free(t->steps);
    free(t->pre_ids);
    free(t->post_ids);
    free(t);
}
