/* CodeSearchNet jsonl reader.  See csn.h. */
#include "data/csn.h"
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

/* ' '.join(arr) with whitespace collapsed; NULL if arr is not an array of strings. */
static char *join_tokens(const cJSON *arr) {
    if (!cJSON_IsArray(arr)) return NULL;
    size_t total = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it) || !it->valuestring) return NULL;
        total += strlen(it->valuestring) + 1;
    }
    char *out = mm_xmalloc(total), *p = out;
    int first = 1;
    cJSON_ArrayForEach(it, arr) {
        if (!first) *p++ = ' ';
        first = 0;
        size_t l = strlen(it->valuestring);
        memcpy(p, it->valuestring, l);
        p += l;
    }
    *p = 0;
    mm_collapse_ws(out);
    return out;
}

int mm_csn_parse_line(const char *line, size_t len, char **src, char **tgt, const char **reason) {
    *src = *tgt = NULL;
    if (!mm_utf8_valid(line, len)) { *reason = "invalid UTF-8"; return -1; }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (j && end) {   /* only whitespace may follow the object */
        while (end < line + len && (*end == ' ' || *end == '\t')) end++;
        if (end != line + len) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *reason = "malformed JSON";
        return -1;
    }
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(j, "code_tokens");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "docstring_tokens");
    if (!ct || !dt) {
        *reason = !ct ? "missing field code_tokens" : "missing field docstring_tokens";
        cJSON_Delete(j);
        return -1;
    }
    char *s = join_tokens(ct), *t = join_tokens(dt);
    cJSON_Delete(j);
    if (!s || !t) {
        *reason = !s ? "code_tokens is not a list of strings" : "docstring_tokens is not a list of strings";
        free(s);
        free(t);
        return -1;
    }
    if (!*s || !*t) {
        *reason = !*s ? "empty code_tokens" : "empty docstring_tokens";
        free(s);
        free(t);
        return -1;
    }
    *src = s;
    *tgt = t;
    return 0;
}

long mm_csn_read(const char *path, int lang, int strict, mm_example_set *out, mm_bad_report *bad) {
    FILE *f = fopen(path, "rb");
    if (!f) return mm_fail("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, added = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;   /* a trailing empty line is not an example */
        char *s, *t;
        const char *why;
        if (mm_csn_parse_line(line, len, &s, &t, &why) < 0) {
            if (strict) {
                rc = mm_fail("%s:%ld: %s (--strict)", path, lineno, why);
                break;
            }
            mm_bad_add(bad, path, lineno, why);
            continue;
        }
        mm_examples_push(out, s, t, lang, lineno);
        added++;
    }
    if (rc == 0 && ferror(f)) rc = mm_fail("%s: read error", path);
    free(line);
    fclose(f);
    return rc < 0 ? -1 : added;
}
