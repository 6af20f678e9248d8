/* The code snippets of the rating sheet: test example id -> (language, raw line) from the run's token
 * cache, then the raw record (humaneval_internal.h). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "data/cache.h"
#include "data/csn.h"
#include "data/loader.h"
#include "data/xlcost.h"
#include "report/humaneval_internal.h"
#include "util/fileio.h"
#include "util/log.h"

typedef struct {
    int loaded, failed;
    char why[512];
    /* csn / local: the jsonl file and where its lines start */
    char *buf;
    size_t *line_off, *line_len;
    size_t n_lines;
    /* xlcost: the examples of the test split, by raw line */
    mm_example_set set;
} lang_state;

struct he_code {
    mm_cache *cache;
    mm_load_opts lo;
    char raw[1024], cache_dir[1024];
    lang_state lang[MM_MAX_LANGS];
};

he_code *mm_he_code_open(const char *run_dir, const char *raw, char *why, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", run_dir);
    char *txt = mm_read_file(path, NULL);
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    const cJSON *cj = j ? cJSON_GetObjectItemCaseSensitive(j, "cache") : NULL;
    if (!cJSON_IsString(cj) || !cj->valuestring[0]) {
        snprintf(why, cap, "%s has no \"cache\" (the token cache of the run)", path);
        cJSON_Delete(j);
        return NULL;
    }
    he_code *c = mm_xcalloc(1, sizeof *c);
    snprintf(c->cache_dir, sizeof c->cache_dir, "%s", cj->valuestring);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/test.bin", c->cache_dir);
    if (!(c->cache = mm_cache_open(path))) {
        snprintf(why, cap, "token cache: %s", mm_last_error());
        free(c);
        return NULL;
    }
    const mm_cache_header *h = mm_cache_header_get(c->cache);
    char ds[32];
    snprintf(ds, sizeof ds, "%s", h->dataset);
    int snippet = !strcmp(ds, "xlcost-snippet");
    if (snippet) ds[6] = 0;
    int kind = mm_dataset_parse(ds);
    if (kind < 0) {
        snprintf(why, cap, "token cache %s: unknown dataset \"%s\"", path, h->dataset);
        mm_he_code_close(c);
        return NULL;
    }
    snprintf(c->raw, sizeof c->raw, "%s", raw);
    c->lo.kind = (mm_dataset_kind)kind;
    c->lo.raw = c->raw;
    c->lo.xlcost_level = snippet ? MM_XLCOST_SNIPPET : MM_XLCOST_PROGRAM;
    c->lo.py_layout = MM_XLCOST_PY_RESTORE; /* what the tokens stand for: easier to read for raters */
    return c;
}

void mm_he_code_close(he_code *c) {
    if (!c) return;
    for (int l = 0; l < MM_MAX_LANGS; l++) {
        free(c->lang[l].buf);
        free(c->lang[l].line_off);
        free(c->lang[l].line_len);
        mm_examples_free(&c->lang[l].set);
    }
    if (c->cache) mm_cache_close(c->cache);
    free(c);
}

static int load_lang(he_code *c, int lid) {
    lang_state *s = &c->lang[lid];
    if (s->loaded) return s->failed ? -1 : 0;
    s->loaded = 1;
    char f1[1024], f2[1024];
    mm_dataset_files(&c->lo, lid, MM_SPLIT_TEST, f1, f2, sizeof f1);
    if (c->lo.kind == MM_DS_XLCOST) {
        mm_bad_report bad;
        memset(&bad, 0, sizeof bad);
        if (mm_xlcost_read(c->raw, c->lo.xlcost_level, lid, MM_SPLIT_TEST, c->lo.py_layout, 0, &s->set, &bad) < 0) {
            snprintf(s->why, sizeof s->why, "%s", mm_last_error());
            s->failed = 1;
        }
        return s->failed ? -1 : 0;
    }
    size_t len;
    if (!(s->buf = mm_read_file(f1, &len))) {
        snprintf(s->why, sizeof s->why, "raw file: %s", mm_last_error());
        s->failed = 1;
        return -1;
    }
    size_t cap = 0;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(s->buf + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s->buf) : len;
        if (s->n_lines == cap) {
            cap = cap ? 2 * cap : 1024;
            s->line_off = mm_xrealloc(s->line_off, cap * sizeof(size_t));
            s->line_len = mm_xrealloc(s->line_len, cap * sizeof(size_t));
        }
        s->line_off[s->n_lines] = i;
        s->line_len[s->n_lines++] = e - i;
        i = e + 1;
    }
    return 0;
}

/* csn / local record at 1-based line: code (the "code" field, else the joined code_tokens), summary */
static char *jsonl_code(lang_state *s, long line, char **tgt, char *why, size_t cap) {
    if (line < 1 || (size_t)line > s->n_lines) { snprintf(why, cap, "raw line %ld out of range", line); return NULL; }
    const char *l = s->buf + s->line_off[line - 1];
    size_t n = s->line_len[line - 1];
    if (n && l[n - 1] == '\r') n--;
    char *src = NULL;
    const char *reason = NULL;
    if (mm_csn_parse_line(l, n, &src, tgt, &reason)) { snprintf(why, cap, "raw line %ld: %s", line, reason); return NULL; }
    cJSON *j = cJSON_ParseWithLength(l, n);
    const cJSON *code = j ? cJSON_GetObjectItemCaseSensitive(j, "code") : NULL;
    if (cJSON_IsString(code) && code->valuestring[0]) {
        free(src);
        src = mm_xstrdup(code->valuestring);
    }
    cJSON_Delete(j);
    return src;
}

char *mm_he_code_get(he_code *c, const char *lang, const char *id, const char *ref, char *why, size_t cap) {
    char *end;
    unsigned long long idx = strtoull(id, &end, 10);
    mm_cache_example ex;
    if (!*id || *end || mm_cache_get(c->cache, (size_t)idx, &ex)) {
        snprintf(why, cap, "id %s is not an example of %s/test.bin", id, c->cache_dir);
        return NULL;
    }
    const mm_cache_header *h = mm_cache_header_get(c->cache);
    if (ex.lang < 0 || ex.lang >= h->n_langs || strcasecmp(h->lang_names[ex.lang], lang)) {
        snprintf(why, cap, "example %s of %s/test.bin is not %s", id, c->cache_dir, lang);
        return NULL;
    }
    int lid = mm_lang_id(mm_lang_table_get(c->lo.kind), lang);
    if (lid < 0) { snprintf(why, cap, "language %s is not in dataset %s", lang, h->dataset); return NULL; }
    if (load_lang(c, lid)) { snprintf(why, cap, "%s", c->lang[lid].why); return NULL; }
    lang_state *s = &c->lang[lid];
    char *code = NULL, *tgt = NULL;
    if (c->lo.kind == MM_DS_XLCOST) {
        for (size_t i = 0; i < s->set.n; i++)
            if (s->set.ex[i].line == ex.line) {
                code = mm_xstrdup(s->set.ex[i].src);
                tgt = mm_xstrdup(s->set.ex[i].tgt);
                break;
            }
        if (!code) snprintf(why, cap, "raw line %d of the %s test split not found", ex.line, lang);
    } else {
        code = jsonl_code(s, ex.line, &tgt, why, cap);
    }
    if (code && strcmp(tgt, ref)) {
        snprintf(why, cap, "the raw record at line %d of the %s test split has another summary than the reference "
                 "(raw data changed since the run?)", ex.line, lang);
        free(code);
        code = NULL;
    }
    free(tgt);
    return code;
}
