#include "data/prepare_model.h"
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"
#include "util/log.h"

static void unescape(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            out[o++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
}

static int tok_encode(void *ctx, const char *text, size_t len, mm_ids *out) {
    return mm_tokenizer_encode(ctx, text, len, 0, out);
}

static int find_eos(const char *model, const mm_tokenizer *t) {
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", model);
    int eos = -1;
    char *txt = mm_read_file(path, NULL);
    if (txt) {
        cJSON *j = cJSON_Parse(txt);
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "eos_token_id") : NULL;
        if (cJSON_IsArray(e)) e = cJSON_GetArrayItem(e, 0);
        if (cJSON_IsNumber(e)) eos = e->valueint;
        cJSON_Delete(j);
        free(txt);
    }
    static const char *NAMES[] = {"<|endoftext|>", "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>",
                                  NULL};
    for (int i = 0; eos < 0 && NAMES[i]; i++) eos = mm_tokenizer_token_to_id(t, NAMES[i]);
    return eos;
}

int mm_prepare_bind_model(mm_prepare_opts *o, const char *model_dir, mm_tokenizer *tok, const char *sep_escaped) {
    char septext[64];
    unescape(sep_escaped, septext, sizeof septext);
    mm_ids sep_ids = {0};
    if (mm_tokenizer_encode(tok, septext, strlen(septext), 0, &sep_ids) < 0 || sep_ids.n < 1 ||
        sep_ids.n > MM_CACHE_MAX_SEP) {
        free(sep_ids.ids);
        return mm_fail("separator '%s' must encode to 1..%d tokens", sep_escaped, MM_CACHE_MAX_SEP);
    }
    o->spec.n_sep = (int)sep_ids.n;
    memcpy(o->spec.sep_ids, sep_ids.ids, sep_ids.n * sizeof(int32_t));
    free(sep_ids.ids);
    o->spec.sep_text = sep_escaped;
    o->spec.encode = tok_encode;
    o->spec.ctx = tok;
    o->spec.tokenizer_sha256 = mm_tokenizer_sha256(tok);
    o->spec.eos_id = find_eos(model_dir, tok);
    if (o->spec.eos_id < 0)
        return mm_fail("%s: no eos: config.json has no eos_token_id and the tokenizer no <|endoftext|> / "
                       "end-of-sentence token", model_dir);
    return 0;
}
