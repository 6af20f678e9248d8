/* XLCoST paired-lines reader.  See xlcost.h. */
#include "data/xlcost.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

static const char *LEVEL_DIR[2] = {"pair_data_tok_full_desc", "pair_data_tok_1_comment"};
static const char *LEVEL_SUF[2] = {"desc", "comment"};
static const char *SPLIT_FILE[3] = {"train", "val", "test"};

void mm_xlcost_paths(const char *raw, int level, int lang, int split, char *code, char *text, size_t cap) {
    const mm_lang_table *t = mm_lang_table_get(MM_DS_XLCOST);
    const char *L = t->langs[lang], *suf = LEVEL_SUF[level];
    snprintf(code, cap, "%s/xlcost/generation/%s/%s-%s/%s-%s-%s-tok.%s", raw, LEVEL_DIR[level], L, suf,
             SPLIT_FILE[split], L, suf, t->exts[lang]);
    snprintf(text, cap, "%s/xlcost/generation/%s/%s-%s/%s-%s-%s-tok.txt", raw, LEVEL_DIR[level], L, suf,
             SPLIT_FILE[split], L, suf);
}

char *mm_xlcost_python_restore(const char *line) {
    size_t cap = strlen(line) * 2 + 64, n = 0;
    char *out = mm_xmalloc(cap);
    int level = 0, at_bol = 1;
    const char *p = line;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ' ') e++;
        size_t len = (size_t)(e - p);
        if (len == 8 && !memcmp(p, "NEW_LINE", 8)) {
            if (!at_bol) out[n++] = '\n';
            at_bol = 1;
        } else if (len == 6 && !memcmp(p, "INDENT", 6)) {
            level++;
        } else if (len == 6 && !memcmp(p, "DEDENT", 6)) {
            if (level > 0) level--;
        } else {
            size_t need = n + len + (size_t)level * 4 + 4;
            if (need >= cap) out = mm_xrealloc(out, cap = need * 2);
            if (at_bol) {
                memset(out + n, ' ', (size_t)level * 4);
                n += (size_t)level * 4;
            } else {
                out[n++] = ' ';
            }
            memcpy(out + n, p, len);
            n += len;
            at_bol = 0;
        }
        if (n + 8 >= cap) out = mm_xrealloc(out, cap *= 2);
        p = e;
    }
    while (n && out[n - 1] == '\n') n--;
    out[n] = 0;
    return out;
}

/* Splits buf in place into lines (\n, optional \r stripped); returns count, *lines malloc'd. */
static size_t split_lines(char *buf, size_t len, char ***lines) {
    size_t cap = 1024, n = 0;
    char **v = mm_xmalloc(cap * sizeof *v);
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        *e = 0;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        if (n == cap) v = mm_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = p;
        p = e + 1;
    }
    *lines = v;
    return n;
}

static char *strip_dup(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *d = mm_xstrdup(s);
    size_t n = strlen(d);
    while (n && (d[n - 1] == ' ' || d[n - 1] == '\t')) d[--n] = 0;
    return d;
}

long mm_xlcost_read(const char *raw, int level, int lang, int split, int py_layout, int strict,
                    mm_example_set *out, mm_bad_report *bad) {
    char cpath[1024], tpath[1024], why[96];
    mm_xlcost_paths(raw, level, lang, split, cpath, tpath, sizeof cpath);
    size_t clen, tlen;
    char *cbuf = mm_read_file(cpath, &clen);
    if (!cbuf) return -1;
    char *tbuf = mm_read_file(tpath, &tlen);
    if (!tbuf) {
        free(cbuf);
        return -1;
    }
    char **cl, **tl;
    size_t nc = split_lines(cbuf, clen, &cl), nt = split_lines(tbuf, tlen, &tl);
    size_t np = nc < nt ? nc : nt;
    long added = 0, rc = 0;
    int is_py = !strcmp(mm_lang_table_get(MM_DS_XLCOST)->langs[lang], "Python");
    if (nc != nt) {
        snprintf(why, sizeof why, "line counts differ: %zu code vs %zu text lines", nc, nt);
        if (strict) {
            rc = mm_fail("%s: %s (--strict)", cpath, why);
            goto done;
        }
        for (size_t i = np; i < (nc > nt ? nc : nt); i++) mm_bad_add(bad, nc > nt ? cpath : tpath, (long)i + 1, why);
    }
    for (size_t i = 0; i < np; i++) {
        const char *reason = NULL;
        if (!mm_utf8_valid(cl[i], strlen(cl[i])) || !mm_utf8_valid(tl[i], strlen(tl[i]))) reason = "invalid UTF-8";
        char *src = NULL, *tgt = NULL;
        if (!reason) {
            src = strip_dup(cl[i]);
            tgt = strip_dup(tl[i]);
            if (!*src || !*tgt) reason = !*src ? "empty code line" : "empty text line";
        }
        if (reason) {
            free(src);
            free(tgt);
            if (strict) {
                rc = mm_fail("%s:%zu: %s (--strict)", cpath, i + 1, reason);
                goto done;
            }
            mm_bad_add(bad, cpath, (long)i + 1, reason);
            continue;
        }
        if (is_py && py_layout == MM_XLCOST_PY_RESTORE) {
            char *r = mm_xlcost_python_restore(src);
            free(src);
            src = r;
        }
        mm_examples_push(out, src, tgt, lang, (long)i + 1);
        added++;
    }
done:
    free(cl);
    free(tl);
    free(cbuf);
    free(tbuf);
    return rc < 0 ? -1 : added;
}
