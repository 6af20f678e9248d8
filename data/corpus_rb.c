/* Ruby: `def ... end` preceded by a block of # comment lines (the rdoc docstring).  See corpus.h.
 * Comments inside a method stay in code_tokens, as in CodeSearchNet's ruby records (tree-sitter-ruby
 * leaves); the doc comment before the method never does. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "data/corpus.h"
#include "util/log.h"

enum { TK_RBCOMMENT = 7, TK_LABEL = 8, TK_SYM = 9 };

static int id0(int c) { return isalpha(c) || c == '_' || c >= 0x80; }
static int idc(int c) { return isalnum(c) || c == '_' || c >= 0x80; }

static const char *OPS[] = {"**=", "<=>", "===", "...", "<<=", ">>=", "&&=", "||=", "&.", "**", "==", "!=", ">=",
                            "<=", "&&", "||", "<<", ">>", "=~", "!~", "::", "..", "+=", "-=", "*=", "/=", "%=",
                            "|=", "&=", "^=", "=>", "->", NULL};

/* previous significant token is an operand (so '/', '%', '<<' are operators, not literals) */
static int prev_operand(const char *s, const mm_toks *t) {
    if (!t->n) return 0;
    const mm_tok *p = &t->v[t->n - 1];
    if (p->type == TK_NUM || p->type == TK_STR || p->type == TK_SYM) return 1;
    if (p->type == TK_IDENT) {
        static const char *KW[] = {"if", "unless", "while", "until", "and", "or", "not", "return", "when", "then",
                                   "else", "elsif", "do", "puts", "print", "raise", "yield", NULL};
        for (int k = 0; KW[k]; k++)
            if (p->len == strlen(KW[k]) && !memcmp(s + p->off, KW[k], p->len)) return 0;
        return 1;
    }
    return p->type == TK_PUNCT && p->len == 1 && strchr(")]}", s[p->off]);
}

static size_t skip_delim(const char *s, size_t n, size_t i, int *line) {
    char o = s[i], c = o == '(' ? ')' : o == '[' ? ']' : o == '{' ? '}' : o == '<' ? '>' : o;
    int d = 1;
    for (i++; i < n; i++) {
        if (s[i] == '\\') { i++; continue; }
        if (s[i] == '\n') (*line)++;
        if (s[i] == c && c != o) { if (--d == 0) return i + 1; }
        else if (s[i] == o && c != o) d++;
        else if (s[i] == c) return i + 1;
    }
    return n;
}

/* double-quoted-like string from i (the quote), with #{...} interpolation */
static size_t skip_dq(const char *s, size_t n, size_t i, char q, int *line) {
    for (i++; i < n; i++) {
        if (s[i] == '\\') { i++; continue; }
        if (s[i] == '\n') (*line)++;
        if (s[i] == '#' && i + 1 < n && s[i + 1] == '{') {
            int d = 0;
            for (i++; i < n; i++) {
                if (s[i] == '\n') (*line)++;
                if (s[i] == '{') d++;
                else if (s[i] == '}' && --d == 0) break;
                else if (s[i] == '"' || s[i] == '\'') { i = skip_dq(s, n, i, s[i], line) - 1; }
            }
            continue;
        }
        if (s[i] == q) return i + 1;
    }
    return n;
}

typedef struct { size_t id0, idl; int squiggly; } heredoc;

static void lex(const char *s, size_t n, mm_toks *t) {
    size_t i = 0;
    int line = 1;
    heredoc pend[8];
    int np = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int bol = i == 0 || s[i - 1] == '\n';
        if (bol && !strncmp(s + i, "=begin", 6)) {
            const char *e = strstr(s + i, "\n=end");
            size_t st = i;
            size_t to = e ? (size_t)(e - s) + 5 : n;
            for (; i < to; i++) line += s[i] == '\n';
            while (i < n && s[i] != '\n') i++;
            mm_toks_push(t, TK_RBCOMMENT, st, i - st, line);
            continue;
        }
        if (bol && !strncmp(s + i, "__END__", 7) && (i + 7 == n || s[i + 7] == '\n')) break;
        if (c == '\n') {
            mm_toks_push(t, TK_NL, i, 1, line);
            line++;
            i++;
            for (int h = 0; h < np; h++) {   /* heredoc bodies start on the next line */
                while (i < n) {
                    size_t e = i;
                    while (e < n && s[e] != '\n') e++;
                    size_t a = i;
                    if (pend[h].squiggly) while (a < e && (s[a] == ' ' || s[a] == '\t')) a++;
                    int hit = e - a == pend[h].idl && !memcmp(s + a, s + pend[h].id0, pend[h].idl);
                    i = e < n ? e + 1 : n;
                    line++;
                    if (hit) break;
                }
            }
            np = 0;
            continue;
        }
        if (c == '\\' && i + 1 < n && s[i + 1] == '\n') { i += 2; line++; continue; }
        if (isspace(c)) { i++; continue; }
        size_t st = i;
        int l0 = line;
        if (c == '#') {
            while (i < n && s[i] != '\n') i++;
            mm_toks_push(t, TK_RBCOMMENT, st, i - st, l0);
            continue;
        }
        if (c == '"' || c == '`') { i = skip_dq(s, n, i, (char)c, &line); mm_toks_push(t, TK_STR, st, i - st, l0); continue; }
        if (c == '\'') {
            for (i++; i < n && s[i] != '\''; i++) { if (s[i] == '\\') i++; else if (s[i] == '\n') line++; }
            i = i < n ? i + 1 : n;
            mm_toks_push(t, TK_STR, st, i - st, l0);
            continue;
        }
        if (c == '<' && i + 2 < n && s[i + 1] == '<' && !prev_operand(s, t)) {   /* heredoc */
            size_t k = i + 2;
            int sq = 0;
            if (s[k] == '~' || s[k] == '-') { sq = 1; k++; }
            char q = (s[k] == '\'' || s[k] == '"' || s[k] == '`') ? s[k++] : 0;
            size_t a = k;
            while (k < n && idc((unsigned char)s[k])) k++;
            if (k > a && (q ? (k < n && s[k] == q) : isupper((unsigned char)s[a]) || s[a] == '_')) {
                if (np < 8) pend[np++] = (heredoc){a, k - a, sq};
                i = q ? k + 1 : k;
                mm_toks_push(t, TK_STR, st, i - st, l0);
                continue;
            }
        }
        if (c == '%' && i + 2 < n && !prev_operand(s, t)) {   /* percent literal */
            size_t k = i + 1;
            if (strchr("qQwWiIrsx", s[k]) && s[k]) k++;
            if (k < n && ispunct((unsigned char)s[k]) && s[k] != '=' ) {
                i = skip_delim(s, n, k, &line);
                if (s[k - 1] == 'r' || s[k] == '/') while (i < n && isalpha((unsigned char)s[i])) i++;
                mm_toks_push(t, TK_STR, st, i - st, l0);
                continue;
            }
        }
        if (c == '/' && (!prev_operand(s, t) || (t->n && t->v[t->n - 1].type == TK_IDENT && s[i - 1] == ' ' &&
                                                    i + 1 < n && s[i + 1] != ' '))) {
            i = skip_delim(s, n, i, &line);
            while (i < n && isalpha((unsigned char)s[i])) i++;
            mm_toks_push(t, TK_STR, st, i - st, l0);
            continue;
        }
        if (c == '?' && i + 1 < n && !isspace((unsigned char)s[i + 1]) && !prev_operand(s, t) &&
            (s[i + 1] == '\\' || !isalnum((unsigned char)s[i + 1]) || i + 2 >= n || !idc((unsigned char)s[i + 2]))) {
            i += s[i + 1] == '\\' ? 3 : 2;   /* character literal ?a ?/ ?\n */
            mm_toks_push(t, TK_STR, st, i - st, l0);
            continue;
        }
        if (c == ':' && i + 1 < n && s[i + 1] == '"') {
            i = skip_dq(s, n, i + 1, '"', &line);
            mm_toks_push(t, TK_SYM, st, i - st, l0);
            continue;
        }
        if (c == ':' && i + 1 < n && (id0((unsigned char)s[i + 1]) || s[i + 1] == '@' || s[i + 1] == '$') &&
            !(i > 0 && (s[i - 1] == ':' || idc((unsigned char)s[i - 1])))) {
            i++;
            while (i < n && (idc((unsigned char)s[i]) || s[i] == '@' || s[i] == '$')) i++;
            if (i < n && (s[i] == '?' || s[i] == '!' || s[i] == '=') && (i + 1 >= n || s[i + 1] != '=')) i++;
            mm_toks_push(t, TK_SYM, st, i - st, l0);
            continue;
        }
        if (isdigit(c)) {
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' ||
                             (s[i] == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))))
                i++;
            mm_toks_push(t, TK_NUM, st, i - st, l0);
            continue;
        }
        if (c == '$' && i + 1 < n && !idc((unsigned char)s[i + 1])) { i += 2; mm_toks_push(t, TK_IDENT, st, 2, l0); continue; }
        if (id0(c) || c == '@' || c == '$') {
            i++;
            while (i < n && (s[i] == '@')) i++;
            while (i < n && idc((unsigned char)s[i])) i++;
            if (i < n && (s[i] == '?' || s[i] == '!') && (i + 1 >= n || s[i + 1] != '=')) i++;
            if (i + 1 < n && s[i] == ':' && s[i + 1] != ':' && id0(c)) {   /* label `key:` */
                i++;
                mm_toks_push(t, TK_LABEL, st, i - st, l0);
                continue;
            }
            mm_toks_push(t, TK_IDENT, st, i - st, l0);
            continue;
        }
        size_t pl = 1;
        for (int k = 0; OPS[k]; k++) {
            size_t l = strlen(OPS[k]);
            if (i + l <= n && !memcmp(s + i, OPS[k], l)) { pl = l; break; }
        }
        i += pl;
        mm_toks_push(t, TK_PUNCT, st, pl, l0);
    }
}

static int word(const char *s, const mm_tok *t, const char *w) {
    return t->type == TK_IDENT && t->len == strlen(w) && !memcmp(s + t->off, w, t->len);
}

/* significant token before k (comments skipped); NULL at start */
static const mm_tok *prev_sig(const mm_toks *t, size_t k) {
    while (k-- > 0)
        if (t->v[k].type != TK_RBCOMMENT) return &t->v[k];
    return NULL;
}

static int stmt_start(const char *s, const mm_toks *t, size_t k) {
    const mm_tok *p = prev_sig(t, k);
    if (!p || p->type == TK_NL || p->type == TK_LABEL) return 1;
    if (p->type == TK_PUNCT) return !(p->len == 1 && strchr(")]}", s[p->off]));
    static const char *KW[] = {"and", "or", "not", "then", "else", "do", "begin", "in", "when", NULL};
    for (int i = 0; KW[i]; i++)
        if (word(s, p, KW[i])) return 1;
    return 0;
}

/* after the `def` at d: 1 if an endless def (`def name(args) = expr`) */
static int endless(const char *s, const mm_toks *t, size_t d) {
    size_t k = d + 1;
    int depth = 0;
    for (; k < t->n && t->v[k].type != TK_NL; k++) {
        const mm_tok *v = &t->v[k];
        if (v->type != TK_PUNCT) continue;
        if (v->len == 1 && s[v->off] == '(') depth++;
        else if (v->len == 1 && s[v->off] == ')') depth--;
        else if (depth == 0 && v->len == 1 && s[v->off] == '=' && k > d + 2) return 1;
    }
    return 0;
}

/* index of the `end` closing the def at d, or 0 */
static size_t def_end(const char *s, const mm_toks *t, size_t d) {
    int depth = 1, loop_do = 0;
    for (size_t k = d + 1; k < t->n; k++) {
        const mm_tok *v = &t->v[k];
        if (v->type == TK_NL || (v->type == TK_PUNCT && v->len == 1 && s[v->off] == ';')) { loop_do = 0; continue; }
        if (v->type != TK_IDENT) continue;
        const mm_tok *p = prev_sig(t, k);
        if (p && p->type == TK_PUNCT && (p->len == 1 ? s[p->off] == '.' : !memcmp(s + p->off, "&.", 2) ||
                                                                           !memcmp(s + p->off, "::", 2)))
            continue;   /* a method call: x.class, y.end */
        if (word(s, v, "def")) { if (!endless(s, t, k)) depth++; }
        else if (word(s, v, "class") || word(s, v, "module") || word(s, v, "begin") || word(s, v, "case")) depth++;
        else if (word(s, v, "do")) { if (loop_do) loop_do = 0; else depth++; }
        else if (word(s, v, "for")) { depth++; loop_do = 1; }
        else if (word(s, v, "while") || word(s, v, "until")) {
            if (stmt_start(s, t, k)) { depth++; loop_do = 1; }
        } else if (word(s, v, "if") || word(s, v, "unless")) {
            if (stmt_start(s, t, k)) depth++;
        } else if (word(s, v, "end")) {
            if (--depth == 0) return k;
        }
    }
    return 0;
}

static int col(const char *s, size_t off) {
    size_t b = off;
    while (b > 0 && s[b - 1] != '\n') b--;
    return (int)(off - b);
}

int mm_extract_ruby(const char *s, size_t n, mm_funcs *out) {
    mm_toks t = {0};
    lex(s, n, &t);
    const mm_tok *v = t.v;
    for (size_t d = 0; d < t.n; d++) {
        if (!word(s, &v[d], "def") || d + 1 >= t.n) continue;
        /* `def` begins its line, possibly after private/protected/public/module_function */
        size_t b = d;
        while (b > 0 && v[b - 1].type == TK_IDENT &&
               (word(s, &v[b - 1], "private") || word(s, &v[b - 1], "protected") || word(s, &v[b - 1], "public") ||
                word(s, &v[b - 1], "module_function")))
            b--;
        if (b > 0 && v[b - 1].type != TK_NL) continue;
        if (endless(s, &t, d)) continue;
        /* doc: # comment lines, one per line, ending on the line before; skip the NL tokens between */
        size_t k = b;
        size_t d0 = 0, d1 = 0;
        int want_line = v[d].line - 1, found = 0;
        while (k >= 2 && v[k - 1].type == TK_NL && v[k - 2].type == TK_RBCOMMENT && v[k - 2].line == want_line &&
               s[v[k - 2].off] == '#' && (k < 3 || v[k - 3].type == TK_NL)) {
            if (!found) d1 = k - 2;
            d0 = k - 2;
            found = 1;
            want_line--;
            k -= 2;
        }
        if (!found) continue;
        size_t e = def_end(s, &t, d);
        if (!e) continue;
        /* a self-check on the block matching: `end` in the column of `def` (Ruby style) unless on its line */
        if (v[e].line != v[d].line && col(s, v[e].off) != col(s, v[b].off)) continue;
        /* name: tokens after def up to '(' / newline / ';' */
        size_t nm = d + 1;
        if (nm + 2 < t.n && word(s, &v[nm], "self") && v[nm + 1].type == TK_PUNCT && s[v[nm + 1].off] == '.') nm += 2;
        /* docstring text */
        size_t cap = v[d1].off + v[d1].len - v[d0].off + 2, o = 0;
        char *doc = mm_xmalloc(cap);
        for (size_t q = d0; q <= d1; q += 2) {
            const char *a = s + v[q].off + 1;
            size_t len = v[q].len - 1;
            if (len && *a == ' ') a++, len--;
            while (len && (a[len - 1] == ' ' || a[len - 1] == '\r')) len--;
            memcpy(doc + o, a, len);
            o += len;
            doc[o++] = '\n';
        }
        while (o && doc[o - 1] == '\n') o--;
        doc[o] = 0;
        if (strstr(doc, ":nodoc:")) { free(doc); continue; }
        /* turn the doc comments' type so they do not enter code_tokens (they are outside [d, e] anyway) */
        size_t cfrom = v[d].off, cto = v[e].off + v[e].len;
        mm_funcs_add(out, s, &t, d, e + 1, s + v[nm].off, v[nm].len, doc, cfrom, cto, v[d0].off, cto);
    }
    free(t.v);
    return 0;
}

int mm_extract(int lang, const char *src, size_t len, mm_funcs *out) {
    if (lang == MM_C_PY) return mm_extract_python(src, len, out);
    if (lang == MM_C_RUBY) return mm_extract_ruby(src, len, out);
    return mm_extract_clike(lang, src, len, out);
}
