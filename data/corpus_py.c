/* Python: functions whose first statement is a string literal (the docstring).  See corpus.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "data/corpus.h"
#include "util/log.h"

static const char *OPS[] = {"**=", "//=", ">>=", "<<=", "...", "->", ":=", "**", "//", "==", "!=", "<=", ">=", "<<",
                            ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", NULL};

static int id0(int c) { return isalpha(c) || c == '_' || c >= 0x80; }

/* string literal starting at i (after an optional prefix); returns its end, or 0 if not a string */
static size_t str_end(const char *s, size_t n, size_t i, int *line) {
    size_t k = i;
    while (k < n && k - i < 3 && strchr("rRbBuUfF", s[k]) && s[k]) k++;
    if (k >= n || (s[k] != '"' && s[k] != '\'')) return 0;
    int raw = 0;
    for (size_t q = i; q < k; q++) raw |= s[q] == 'r' || s[q] == 'R';
    char q = s[k];
    int triple = k + 2 < n && s[k + 1] == q && s[k + 2] == q;
    k += triple ? 3 : 1;
    while (k < n) {
        if (s[k] == '\\') {
            if (k + 1 < n && s[k + 1] == '\n') (*line)++;
            k += 2;
            continue;
        }
        (void)raw;
        if (s[k] == '\n') {
            if (!triple) return k;   /* unterminated */
            (*line)++;
        }
        if (s[k] == q && (!triple || (k + 2 < n && s[k + 1] == q && s[k + 2] == q))) return k + (triple ? 3 : 1);
        k++;
    }
    return n;
}

static void lex(const char *s, size_t n, mm_toks *t) {
    size_t i = 0;
    int line = 1, depth = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            if (depth == 0 && t->n && t->v[t->n - 1].type != TK_NL) mm_toks_push(t, TK_NL, i, 1, line);
            line++;
            i++;
            continue;
        }
        if (c == '\\' && i + 1 < n && s[i + 1] == '\n') { i += 2; line++; continue; }
        if (isspace(c)) { i++; continue; }
        size_t st = i;
        int l0 = line;
        if (c == '#') {
            while (i < n && s[i] != '\n') i++;
            mm_toks_push(t, TK_COMMENT, st, i - st, l0);
            continue;
        }
        size_t e = (c == '"' || c == '\'' || strchr("rRbBuUfF", c)) ? str_end(s, n, i, &line) : 0;
        if (e) {
            i = e;
            mm_toks_push(t, TK_STR, st, i - st, l0);
            continue;
        }
        if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            i++;
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' ||
                             ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
                i++;
            mm_toks_push(t, TK_NUM, st, i - st, l0);
            continue;
        }
        if (id0(c)) {
            while (i < n && (id0((unsigned char)s[i]) || isdigit((unsigned char)s[i]))) i++;
            mm_toks_push(t, TK_IDENT, st, i - st, l0);
            continue;
        }
        size_t pl = 1;
        for (int k = 0; OPS[k]; k++) {
            size_t l = strlen(OPS[k]);
            if (i + l <= n && !memcmp(s + i, OPS[k], l)) { pl = l; break; }
        }
        if (pl == 1) depth += (c == '(' || c == '[' || c == '{') - (c == ')' || c == ']' || c == '}');
        if (depth < 0) depth = 0;
        i += pl;
        mm_toks_push(t, TK_PUNCT, st, pl, l0);
    }
    if (t->n && t->v[t->n - 1].type != TK_NL) mm_toks_push(t, TK_NL, n, 0, line);
}

static int col_of(const char *s, size_t off) {
    size_t b = off;
    while (b > 0 && s[b - 1] != '\n') b--;
    int col = 0;
    for (size_t k = b; k < off; k++) col = s[k] == '\t' ? (col / 8 + 1) * 8 : col + 1;
    return col;
}

static int is_word(const char *s, const mm_tok *t, const char *w) {
    return t->type == TK_IDENT && t->len == strlen(w) && !memcmp(s + t->off, w, t->len);
}

/* docstring literal -> text: prefix and quotes removed, indentation cleaned (inspect.cleandoc) */
static char *doc_text(const char *s, const mm_tok *t) {
    size_t k = t->off, e = t->off + t->len;
    while (k < e && s[k] != '"' && s[k] != '\'') k++;
    int triple = e - k >= 6 && s[k + 1] == s[k] && s[k + 2] == s[k];
    size_t q = triple ? 3 : 1;
    if (e - k < 2 * q) return mm_xstrdup("");
    char *raw = mm_strndup(s + k + q, e - k - 2 * q);
    /* cleandoc: strip the first line, then the common indentation of the rest */
    int common = 1 << 30;
    char *p = strchr(raw, '\n');
    for (char *l = p ? p + 1 : NULL; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int ind = 0;
        while (l[ind] == ' ' || l[ind] == '\t') ind++;
        if (l[ind] && l[ind] != '\n' && ind < common) common = ind;
    }
    char *out = mm_xmalloc(strlen(raw) + 2);
    size_t o = 0;
    int first = 1;
    for (char *l = raw; l;) {
        char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        char *a = l;
        if (first) {
            while (*a == ' ' || *a == '\t') a++, len--;
        } else {
            size_t strip = 0;
            while (strip < (size_t)common && strip < len && (a[strip] == ' ' || a[strip] == '\t')) strip++;
            a += strip;
            len -= strip;
        }
        while (len && (a[len - 1] == ' ' || a[len - 1] == '\t' || a[len - 1] == '\r')) len--;
        memcpy(out + o, a, len);
        o += len;
        out[o++] = '\n';
        first = 0;
        l = nl ? nl + 1 : NULL;
    }
    out[o] = 0;
    free(raw);
    size_t b = 0;
    while (out[b] == '\n') b++;
    while (o > b && out[o - 1] == '\n') o--;
    memmove(out, out + b, o - b);
    out[o - b] = 0;
    return out;
}

int mm_extract_python(const char *s, size_t n, mm_funcs *out) {
    mm_toks t = {0};
    lex(s, n, &t);
    const mm_tok *v = t.v;
    /* logical lines: start index of each (tokens after a TK_NL, comments skipped) */
    size_t *ls = mm_xmalloc((t.n + 1) * sizeof *ls), nl = 0;
    int at_start = 1;
    for (size_t i = 0; i < t.n; i++) {
        if (v[i].type == TK_COMMENT) continue;
        if (at_start && v[i].type != TK_NL) { ls[nl++] = i; at_start = 0; }
        if (v[i].type == TK_NL) at_start = 1;
    }
    int *ind = mm_xmalloc((nl + 1) * sizeof *ind);
    for (size_t L = 0; L < nl; L++) ind[L] = col_of(s, v[ls[L]].off);
    for (size_t L = 0; L < nl; L++) {
        size_t d = ls[L];
        if (is_word(s, &v[d], "async") && d + 1 < t.n) d++;
        if (!is_word(s, &v[d], "def") || d + 2 >= t.n || v[d + 1].type != TK_IDENT) continue;
        /* the header must end with ':' then a newline (no one-line body) */
        size_t h = d;
        while (h < t.n && v[h].type != TK_NL) h++;
        size_t last = h;
        while (last > d && v[last - 1].type == TK_COMMENT) last--;
        if (last == d || !(v[last - 1].type == TK_PUNCT && s[v[last - 1].off] == ':' && v[last - 1].len == 1)) continue;
        size_t B = L + 1;
        if (B >= nl || ind[B] <= ind[L]) continue;
        size_t E = B;   /* last logical line of the body */
        while (E + 1 < nl && ind[E + 1] > ind[L]) E++;
        /* docstring: line B is a single string token */
        size_t ds = ls[B];
        if (v[ds].type != TK_STR || ds + 1 >= t.n || v[ds + 1].type != TK_NL) continue;
        if (E == B) continue;   /* only a docstring: no code left once it is removed */
        if (ind[L] > 0) {       /* a nested def with `nonlocal` does not compile on its own */
            int nonlocal = 0;
            for (size_t q = B; q <= E && !nonlocal; q++) nonlocal = ind[q] == ind[B] && is_word(s, &v[ls[q]], "nonlocal");
            if (nonlocal) continue;
        }
        size_t end_tok = ls[E];
        while (end_tok + 1 < t.n && v[end_tok + 1].type != TK_NL) end_tok++;
        size_t c0 = ls[L];
        size_t cfrom = v[c0].off, cto = v[end_tok].off + v[end_tok].len;
        /* remove the docstring's whole lines */
        size_t r0 = v[ds].off, r1 = v[ds].off + v[ds].len;
        while (r0 > 0 && s[r0 - 1] != '\n') r0--;
        while (r1 < n && s[r1] != '\n') r1++;
        if (r1 < n) r1++;
        size_t la = r0 - cfrom, lb = cto > r1 ? cto - r1 : 0;
        char *code = mm_xmalloc(la + lb + 1);
        memcpy(code, s + cfrom, la);
        memcpy(code + la, s + r1, lb);
        code[la + lb] = 0;
        char *doc = doc_text(s, &v[ds]);
        mm_funcs_add_ex(out, s, &t, c0, end_tok + 1, ds, s + v[d + 1].off, v[d + 1].len, doc, code,
                        mm_strndup(s + cfrom, cto - cfrom));
    }
    free(ind);
    free(ls);
    free(t.v);
    return 0;
}
