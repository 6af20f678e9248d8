/* Function + doc-comment extraction for go, java, javascript and php: one lexer for the C family,
 * then per-language declaration shapes.  See corpus.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "data/corpus.h"
#include "util/log.h"

static const char *PUNCT[] = {">>>=", "<<=", ">>=", ">>>", "===", "!==", "...", "**=", "?\?=", "&&=", "||=", "<=>",
                              "&^=", "::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=",
                              "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "**", "??", "?.", ":=", "<-", "&^",
                              ".=", NULL};

static int is_id0(int c, int lang) {
    return isalpha(c) || c == '_' || c >= 0x80 || (c == '$' && (lang == MM_C_JS || lang == MM_C_JAVA));
}
static int is_id(int c, int lang) { return is_id0(c, lang) || isdigit(c); }

static int tok_is(const char *s, const mm_tok *t, const char *w) {
    size_t l = strlen(w);
    return t->len == l && !memcmp(s + t->off, w, l);
}

/* a regex literal may start here (JS): the previous significant token is not an operand */
static int regex_ok(const char *s, const mm_toks *t) {
    for (size_t i = t->n; i-- > 0;) {
        const mm_tok *p = &t->v[i];
        if (p->type == TK_COMMENT) continue;
        if (p->type == TK_NUM || p->type == TK_STR) return 0;
        if (p->type == TK_IDENT) {
            static const char *KW[] = {"return", "typeof", "case", "in", "of", "new", "delete", "void", "throw",
                                       "instanceof", "yield", "await", "else", "do", NULL};
            for (int k = 0; KW[k]; k++)
                if (tok_is(s, p, KW[k])) return 1;
            return 0;
        }
        return !(p->len == 1 && (s[p->off] == ')' || s[p->off] == ']' || s[p->off] == '}'));
    }
    return 1;
}

static void lex(int lang, const char *s, size_t n, mm_toks *t) {
    size_t i = 0;
    int line = 1;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') { line++; i++; continue; }
        if (isspace(c)) { i++; continue; }
        size_t st = i;
        int l0 = line;
        if (lang == MM_C_PHP && !strncmp(s + i, "<?php", 5)) { i += 5; continue; }
        if (lang == MM_C_PHP && !strncmp(s + i, "?>", 2)) { i += 2; continue; }
        if ((c == '/' && i + 1 < n && s[i + 1] == '/') || (lang == MM_C_PHP && c == '#' && s[i + 1] != '[')) {
            while (i < n && s[i] != '\n') i++;
            mm_toks_push(t, TK_COMMENT, st, i - st, l0);
            continue;
        }
        if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            i += 2;
            while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) line += s[i++] == '\n';
            i = i + 2 <= n ? i + 2 : n;
            mm_toks_push(t, TK_COMMENT, st, i - st, l0);
            continue;
        }
        if (lang == MM_C_PHP && !strncmp(s + i, "<<<", 3)) {   /* heredoc / nowdoc */
            size_t k = i + 3;
            while (k < n && (s[k] == ' ' || s[k] == '"' || s[k] == '\'')) k++;
            size_t id0 = k;
            while (k < n && is_id(s[k], lang)) k++;
            size_t idl = k - id0;
            if (idl) {
                while (k < n) {   /* find a line whose first non-blank text is the identifier */
                    while (k < n && s[k] != '\n') k++;
                    if (k >= n) break;
                    k++;
                    line++;
                    size_t q = k;
                    while (q < n && (s[q] == ' ' || s[q] == '\t')) q++;
                    if (q + idl <= n && !memcmp(s + q, s + id0, idl) && !is_id(q + idl < n ? s[q + idl] : ' ', lang)) {
                        k = q + idl;
                        break;
                    }
                }
                i = k;
                mm_toks_push(t, TK_STR, st, i - st, l0);
                continue;
            }
        }
        if (c == '"' || c == '\'' || c == '`') {
            int raw = c == '`' && lang == MM_C_GO;
            i++;
            while (i < n && (unsigned char)s[i] != c) {
                if (s[i] == '\\' && !raw) i++;
                else if (s[i] == '\n') {
                    line++;
                    if (c != '`' && lang != MM_C_PHP) break;   /* unterminated on this line */
                }
                i++;
            }
            i = i < n ? i + 1 : n;
            mm_toks_push(t, TK_STR, st, i - st, l0);
            continue;
        }
        if (lang == MM_C_JS && c == '/' && regex_ok(s, t)) {
            size_t k = i + 1;
            int in_class = 0, ok = 0;
            while (k < n && s[k] != '\n') {
                if (s[k] == '\\') { k += 2; continue; }
                if (s[k] == '[') in_class = 1;
                else if (s[k] == ']') in_class = 0;
                else if (s[k] == '/' && !in_class) { ok = 1; break; }
                k++;
            }
            if (ok) {
                k++;
                while (k < n && isalpha((unsigned char)s[k])) k++;
                i = k;
                mm_toks_push(t, TK_STR, st, i - st, l0);
                continue;
            }
        }
        if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            int hex = c == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X');
            i++;
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) {
                if (!hex && (s[i] == 'e' || s[i] == 'E') && i + 1 < n && (s[i + 1] == '+' || s[i + 1] == '-')) i++;
                if (s[i] == '.' && i + 1 < n && s[i + 1] == '.') break;
                i++;
            }
            mm_toks_push(t, TK_NUM, st, i - st, l0);
            continue;
        }
        if (is_id0(c, lang)) {
            while (i < n && is_id((unsigned char)s[i], lang)) i++;
            mm_toks_push(t, TK_IDENT, st, i - st, l0);
            continue;
        }
        size_t pl = 1;
        for (int k = 0; PUNCT[k]; k++) {
            size_t l = strlen(PUNCT[k]);
            if (i + l <= n && !memcmp(s + i, PUNCT[k], l)) { pl = l; break; }
        }
        i += pl;
        mm_toks_push(t, TK_PUNCT, st, pl, l0);
    }
}

static int is_p(const char *s, const mm_tok *t, char ch) { return t->type == TK_PUNCT && t->len == 1 && s[t->off] == ch; }

/* index of the token closing the bracket opened at i, or 0 if none */
static size_t match(const char *s, const mm_toks *t, size_t i) {
    char o = s[t->v[i].off], c = o == '(' ? ')' : o == '[' ? ']' : '}';
    int d = 0;
    for (size_t k = i; k < t->n; k++) {
        if (t->v[k].type != TK_PUNCT || t->v[k].len != 1) continue;
        char x = s[t->v[k].off];
        if (x == o) d++;
        else if (x == c && --d == 0) return k;
    }
    return 0;
}

/* docstring text from a javadoc-style block comment or a run of // lines */
static char *clean_doc(const char *s, size_t from, size_t to, int block) {
    char *out = mm_xmalloc(to - from + 2);
    size_t o = 0;
    const char *p = s + from, *end = s + to;
    if (block) {
        p += 3;                                  /* slash star star */
        if (end - p >= 2) end -= 2;              /* star slash */
    }
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t')) q++;
        if (block) {
            if (q < e && *q == '*') q++;
        } else {
            while (q < e && *q == '/') q++;
        }
        if (q < e && *q == ' ') q++;
        const char *r = e;
        while (r > q && (r[-1] == ' ' || r[-1] == '\t' || r[-1] == '\r')) r--;
        memcpy(out + o, q, (size_t)(r - q));
        o += (size_t)(r - q);
        out[o++] = '\n';
        p = e + 1;
    }
    out[o] = 0;
    /* trim blank lines at both ends */
    size_t a = 0;
    while (out[a] == '\n' || out[a] == ' ') a++;
    while (o > a && (out[o - 1] == '\n' || out[o - 1] == ' ')) o--;
    memmove(out, out + a, o - a);
    out[o - a] = 0;
    return out;
}

static int is_kw(const char *s, const mm_tok *t, const char *const *kw) {
    for (int k = 0; kw[k]; k++)
        if (tok_is(s, t, kw[k])) return 1;
    return 0;
}

/* From token j (after the doc comment), the function's first code token *c0, name token *nm and the
 * body's closing brace *end.  0 if this is not a function with a body. */
static int shape(int lang, const char *s, const mm_toks *t, size_t j, size_t *c0, size_t *nm, size_t *end) {
    const mm_tok *v = t->v;
    size_t k = j;
    *c0 = j;
    if (lang == MM_C_GO) {
        if (!tok_is(s, &v[k], "func")) return 0;
        k++;
        if (k < t->n && is_p(s, &v[k], '(')) { k = match(s, t, k); if (!k) return 0; k++; }   /* receiver */
        if (k >= t->n || v[k].type != TK_IDENT) return 0;
        *nm = k++;
        if (k < t->n && is_p(s, &v[k], '[')) { k = match(s, t, k); if (!k) return 0; k++; }
        if (k >= t->n || !is_p(s, &v[k], '(')) return 0;
        k = match(s, t, k);
        if (!k) return 0;
        int line = v[k].line;
        for (k++; k < t->n; k++) {
            if (v[k].line != line) return 0;   /* no body on the signature's line: a declaration */
            if (is_p(s, &v[k], '(') || is_p(s, &v[k], '[')) {
                size_t m = match(s, t, k);
                if (!m) return 0;
                k = m;
                line = v[k].line;
                continue;
            }
            if ((tok_is(s, &v[k], "struct") || tok_is(s, &v[k], "interface")) && k + 1 < t->n && is_p(s, &v[k + 1], '{')) {
                k = match(s, t, k + 1);
                if (!k) return 0;
                line = v[k].line;
                continue;
            }
            if (is_p(s, &v[k], '{')) break;
        }
    } else if (lang == MM_C_JAVA) {
        static const char *NOT[] = {"class", "interface", "enum", "record", "if", "for", "while", "switch", "catch",
                                    "synchronized", "new", "return", "throw", NULL};
        *nm = 0;
        for (; k < t->n; k++) {
            if (v[k].type == TK_COMMENT) continue;
            if (is_p(s, &v[k], '@') && k + 1 < t->n && v[k + 1].type == TK_IDENT) {   /* annotation */
                k++;
                while (k + 2 < t->n && is_p(s, &v[k + 1], '.') && v[k + 2].type == TK_IDENT) k += 2;
                if (k + 1 < t->n && is_p(s, &v[k + 1], '(')) { k = match(s, t, k + 1); if (!k) return 0; }
                continue;
            }
            if (v[k].type == TK_IDENT && is_kw(s, &v[k], NOT)) return 0;
            if (is_p(s, &v[k], ';') || is_p(s, &v[k], '=') || is_p(s, &v[k], '}')) return 0;
            if (is_p(s, &v[k], '(')) {
                if (*nm || k == j || v[k - 1].type != TK_IDENT) return 0;
                *nm = k - 1;
                k = match(s, t, k);
                if (!k) return 0;
                continue;
            }
            if (is_p(s, &v[k], '{')) break;
        }
        if (!*nm) return 0;
    } else if (lang == MM_C_PHP) {
        static const char *MOD[] = {"public", "private", "protected", "static", "abstract", "final", NULL};
        while (k < t->n && v[k].type == TK_IDENT && is_kw(s, &v[k], MOD)) k++;
        if (k >= t->n || !tok_is(s, &v[k], "function")) return 0;
        k++;
        if (k < t->n && is_p(s, &v[k], '&')) k++;
        if (k >= t->n || v[k].type != TK_IDENT) return 0;
        *nm = k++;
        if (k >= t->n || !is_p(s, &v[k], '(')) return 0;
        k = match(s, t, k);
        if (!k) return 0;
        for (k++; k < t->n; k++) {
            if (is_p(s, &v[k], '{')) break;
            if (is_p(s, &v[k], ';') || is_p(s, &v[k], '}') || is_p(s, &v[k], '(')) return 0;
        }
    } else {   /* javascript */
        static const char *NOT[] = {"if", "for", "while", "switch", "catch", "function", "return", "with", NULL};
        static const char *MOD[] = {"static", "async", "get", "set", "export", "default", NULL};
        size_t m = k;
        while (m < t->n && v[m].type == TK_IDENT && is_kw(s, &v[m], MOD) && m + 1 < t->n &&
               v[m + 1].type == TK_IDENT)
            m++;
        size_t fstart = m;
        if (m < t->n && tok_is(s, &v[m], "function")) {                        /* function declaration */
            *c0 = (m > j && tok_is(s, &v[m - 1], "async")) ? m - 1 : m;
            m++;
            if (m < t->n && is_p(s, &v[m], '*')) m++;
            if (m >= t->n || v[m].type != TK_IDENT) return 0;
            *nm = m++;
        } else if (m + 1 < t->n && v[m].type == TK_IDENT && is_p(s, &v[m + 1], '(') && !is_kw(s, &v[m], NOT)) {
            *c0 = j;                                                          /* class / object method */
            *nm = m++;
        } else {                                                              /* lhs = function / arrow */
            size_t q = m;
            while (q < t->n && (v[q].type == TK_IDENT || is_p(s, &v[q], '.')) && v[q].line == v[m].line) q++;
            if (q == m || q >= t->n || !(is_p(s, &v[q], '=') || is_p(s, &v[q], ':')) || v[q - 1].type != TK_IDENT)
                return 0;
            *nm = q - 1;
            q++;
            size_t f0 = q;
            if (q < t->n && tok_is(s, &v[q], "async")) q++;
            if (q < t->n && tok_is(s, &v[q], "function")) {
                *c0 = f0;
                m = q + 1;
                if (m < t->n && is_p(s, &v[m], '*')) m++;
                if (m < t->n && v[m].type == TK_IDENT) m++;
            } else if (q < t->n && is_p(s, &v[q], '(')) {                       /* arrow */
                size_t r = match(s, t, q);
                if (!r || r + 2 >= t->n || !tok_is(s, &v[r + 1], "=>") || !is_p(s, &v[r + 2], '{')) return 0;
                *c0 = f0;
                *end = match(s, t, r + 2);
                return *end != 0;
            } else {
                return 0;
            }
        }
        (void)fstart;
        if (m >= t->n || !is_p(s, &v[m], '(')) return 0;
        m = match(s, t, m);
        if (!m || m + 1 >= t->n || !is_p(s, &v[m + 1], '{')) return 0;
        k = m + 1;
    }
    if (k >= t->n || !is_p(s, &v[k], '{')) return 0;
    *end = match(s, t, k);
    return *end != 0;
}

int mm_extract_clike(int lang, const char *s, size_t n, mm_funcs *out) {
    mm_toks t = {0};
    lex(lang, s, n, &t);
    const mm_tok *v = t.v;
    for (size_t i = 0; i < t.n; i++) {
        if (v[i].type != TK_COMMENT) continue;
        size_t d0 = i, d1 = i;   /* doc comment token range [d0, d1] */
        int block;
        if (lang == MM_C_GO) {
            if (s[v[i].off] != '/' || s[v[i].off + 1] != '/') continue;
            while (d1 + 1 < t.n && v[d1 + 1].type == TK_COMMENT && v[d1 + 1].line == v[d1].line + 1 &&
                   s[v[d1 + 1].off + 1] == '/')
                d1++;
            /* must start its own line: the previous token is on an earlier line */
            if (d0 > 0 && v[d0 - 1].line == v[d0].line) { i = d1; continue; }
            block = 0;
        } else {
            if (v[i].len < 5 || strncmp(s + v[i].off, "/**", 3) || s[v[i].off + 3] == '/') continue;
            block = 1;
        }
        size_t j = d1 + 1;
        i = d1;
        if (j >= t.n || v[j].type == TK_COMMENT) continue;
        int doc_end_line = v[d1].line + (block ? 0 : 0);
        if (block) {   /* the javadoc's last line */
            for (size_t q = v[d1].off; q < v[d1].off + v[d1].len; q++) doc_end_line += s[q] == '\n';
        }
        if (v[j].line > doc_end_line + 1) continue;   /* a blank line between: not this function's doc */
        size_t c0, nm, e;
        if (!shape(lang, s, &t, j, &c0, &nm, &e)) continue;
        char *doc = clean_doc(s, v[d0].off, v[d1].off + v[d1].len, block);
        size_t cfrom = v[c0].off, cto = v[e].off + 1;
        mm_funcs_add(out, s, &t, c0, e + 1, s + v[nm].off, v[nm].len, doc, cfrom, cto, v[d0].off, cto);
        i = lang == MM_C_GO ? e : j - 1;   /* nested functions (JS, Java inner classes) are found too */
    }
    free(t.v);
    return 0;
}
