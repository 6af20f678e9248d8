/* Docstring summary, tokenization and CodeXGLUE filters; record helpers.  See corpus.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "data/corpus.h"
#include "util/log.h"

char *mm_strndup(const char *s, size_t n) {
    char *d = mm_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void mm_toks_push(mm_toks *t, int type, size_t off, size_t len, int line) {
    if (t->n == t->cap) t->v = mm_xrealloc(t->v, (t->cap = t->cap ? 2 * t->cap : 1024) * sizeof *t->v);
    t->v[t->n++] = (mm_tok){type, (uint32_t)off, (uint32_t)len, line};
}

void mm_strv_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void mm_funcs_free(mm_funcs *f) {
    for (size_t i = 0; i < f->n; i++) {
        mm_func *x = &f->v[i];
        free(x->name);
        free(x->code);
        free(x->original);
        free(x->doc);
        mm_strv_free(x->code_tokens, x->n_code_tokens);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* Tokens [t0, t1) minus comments, newlines and the token skip become code_tokens. */
void mm_funcs_add_ex(mm_funcs *f, const char *src, const mm_toks *tk, size_t t0, size_t t1, size_t skip,
                     const char *name, size_t name_len, char *doc, char *code, char *original) {
    if (f->n == f->cap) f->v = mm_xrealloc(f->v, (f->cap = f->cap ? 2 * f->cap : 64) * sizeof *f->v);
    mm_func *x = &f->v[f->n++];
    memset(x, 0, sizeof *x);
    x->name = mm_strndup(name, name_len);
    x->doc = doc;
    x->code = code;
    x->original = original;
    x->code_tokens = mm_xmalloc((t1 - t0 + 1) * sizeof *x->code_tokens);
    for (size_t i = t0; i < t1; i++) {
        if (i == skip || tk->v[i].type == TK_COMMENT || tk->v[i].type == TK_NL) continue;
        x->code_tokens[x->n_code_tokens++] = mm_strndup(src + tk->v[i].off, tk->v[i].len);
    }
    x->line_start = tk->v[t0].line;
    x->line_end = tk->v[t1 - 1].line;
}

void mm_funcs_add(mm_funcs *f, const char *src, const mm_toks *tk, size_t t0, size_t t1, const char *name,
                  size_t name_len, char *doc, size_t code_from, size_t code_to, size_t orig_from, size_t orig_to) {
    mm_funcs_add_ex(f, src, tk, t0, t1, (size_t)-1, name, name_len, doc, mm_strndup(src + code_from, code_to - code_from),
                    mm_strndup(src + orig_from, orig_to - orig_from));
}

/* CodeSearchNet function_parser: get_docstring_summary */
char *mm_doc_summary(const char *doc) {
    const char *pp = strstr(doc, "\n\n");
    if (pp) return mm_strndup(doc, (size_t)(pp - doc));
    const char *at = strchr(doc, '@');
    if (at) return mm_strndup(doc, (size_t)(at - doc));
    return mm_xstrdup(doc);
}

static pcre2_code *g_re;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void re_init(void) {
    /* function_parser's DOCSTRING_REGEX_TOKENIZER, verbatim */
    static const char *P = "[^\\s,'\"`.():\\[\\]=*;>{\\}+-/\\\\]+|\\\\+|\\.+|\\(\\)|{\\}|\\[\\]|\\(+|\\)+|:+|\\[+|\\]+|{+|\\}+"
                           "|=+|\\*+|;+|>+|\\++|-+|/+";
    int err;
    PCRE2_SIZE off;
    g_re = pcre2_compile((PCRE2_SPTR)P, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err,
                         &off, NULL);
}

char **mm_doc_tokenize(const char *s, size_t *n) {
    pthread_once(&g_once, re_init);
    size_t cap = 16, k = 0, len = strlen(s), pos = 0;
    char **v = mm_xmalloc(cap * sizeof *v);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(g_re, NULL);
    while (pos < len && pcre2_match(g_re, (PCRE2_SPTR)s, len, pos, 0, md, NULL) > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) {
            pos = ov[1] + 1;
            continue;
        }
        if (k == cap) v = mm_xrealloc(v, (cap *= 2) * sizeof *v);
        v[k++] = mm_strndup(s + ov[0], ov[1] - ov[0]);
        pos = ov[1];
    }
    pcre2_match_data_free(md);
    *n = k;
    return v;
}

static int has_html_tag(const char *s) {
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        const char *q = p + 1;
        if (*q == '/') q++;
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))) continue;
        while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')) q++;
        if (*q == '>' || *q == ' ' || *q == '/') {
            const char *c = strchr(q, '>');
            if (c) return 1;
        }
    }
    return 0;
}

const char *mm_doc_filter(const char *summary, char **toks, size_t n) {
    (void)toks;
    if (n < 3) return "summary under 3 tokens";
    if (n > 256) return "summary over 256 tokens";
    if (strstr(summary, "http:") || strstr(summary, "https:") || strstr(summary, "www.")) return "URL in summary";
    if (has_html_tag(summary)) return "HTML tag in summary";
    int letters = 0;
    for (const unsigned char *p = (const unsigned char *)summary; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) letters++;
        if (*p >= 0x80) {
            /* typographic punctuation is English too: U+00A0, U+2013/2014/2018/2019/201C/201D/2026 */
            if (p[0] == 0xC2 && p[1] == 0xA0) { p++; continue; }
            if (p[0] == 0xE2 && p[1] == 0x80 &&
                (p[2] == 0x93 || p[2] == 0x94 || p[2] == 0x98 || p[2] == 0x99 || p[2] == 0x9C || p[2] == 0x9D ||
                 p[2] == 0xA6)) { p += 2; continue; }
            return "not English";
        }
    }
    return letters ? NULL : "no words in summary";
}
