/* Added-token splitting and the pre-tokenizer pipeline (Split / Digits / ByteLevel) on PCRE2.
 * Regexes follow Oniguruma (what HF `tokenizers` uses): \s and \S are rewritten to the Unicode
 * White_Space set, which PCRE2's UCP \s lacks U+0085 from. */
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

const char MM_GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

#define WS_CLASS "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

typedef struct { char *p; size_t n, cap; } sbuf;
static void put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) b->p = mm_xrealloc(b->p, b->cap = (b->n + n + 1) * 2);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* Rewrites a regex so that PCRE2 matches as Oniguruma in HF does: \s / \S = White_Space, and
 * \p{L} / \p{N} / \p{P} extended with the code points newer Unicode assigned (tokenizer_unicode.c). */
pcre2_code *mm_tok_regex(const char *pat, size_t len, int literal, const char *key) {
    sbuf buf = {0};
    if (!literal) {
        int in_class = 0;
        for (size_t i = 0; i < len; i++) {
            char c = pat[i];
            if (c == '\\' && i + 1 < len) {
                char d = pat[i + 1];
                i++;
                if (d == 's' || d == 'S') {
                    if (in_class && d == 'S') {
                        free(buf.p);
                        mm_fail("%s: \\S inside a character class is not supported", key);
                        return NULL;
                    }
                    puts_(&buf, in_class ? WS_CLASS : d == 's' ? "[" WS_CLASS "]" : "[^" WS_CLASS "]");
                    continue;
                }
                if ((d == 'p' || d == 'P') && i + 3 < len && pat[i + 1] == '{' && pat[i + 3] == '}' &&
                    (pat[i + 2] == 'L' || pat[i + 2] == 'N' || pat[i + 2] == 'P') && !(in_class && d == 'P')) {
                    char prop = pat[i + 2];
                    const char *extra = prop == 'L' ? MM_UNI_EXTRA_L : prop == 'N' ? MM_UNI_EXTRA_N : MM_UNI_EXTRA_P;
                    char base[8] = {'\\', 'p', '{', prop, '}', 0};
                    if (!in_class) puts_(&buf, d == 'p' ? "[" : "[^");
                    puts_(&buf, base);
                    puts_(&buf, extra);
                    if (!in_class) puts_(&buf, "]");
                    i += 3;
                    continue;
                }
                put(&buf, pat + i - 1, 2);
                continue;
            }
            if (c == '[' && !in_class) {
                in_class = 1;
                put(&buf, &c, 1);
                if (i + 1 < len && pat[i + 1] == '^') put(&buf, &pat[++i], 1);
                if (i + 1 < len && pat[i + 1] == ']') put(&buf, &pat[++i], 1);   /* literal ] first */
                continue;
            }
            if (c == ']' && in_class) in_class = 0;
            put(&buf, &c, 1);
        }
        pat = buf.p ? buf.p : "";
        len = buf.n;
    }
    int err;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, &err, &off, NULL);
    free(buf.p);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        mm_fail("%s: invalid regex at offset %zu: %s", key, (size_t)off, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* falls back to the interpreter if JIT is unavailable */
    return re;
}

/* ------------------------------------------------------------------ pipeline */
typedef struct {
    const mm_tokenizer *t;
    pcre2_match_data *md;
    mm_piece_cb cb;
    void *ud;
} pctx;

int mm_tok_no_fast;   /* tests: 1 = always PCRE2 */

static int run(pctx *c, int step, const char *p, size_t n, int ascii);

static int all_ascii(const char *p, size_t n) {
    unsigned char acc = 0;
    for (size_t i = 0; i < n; i++) acc |= (unsigned char)p[i];
    return acc < 0x80;
}

/* next match of the step's regex in p[0..n) at or after *pos; returns 1 and [*s,*e), or 0 */
static int next_match(pctx *c, const mm_pretok_step *st, int ascii, const char *p, size_t n, size_t pos, size_t *s,
                      size_t *e) {
    if (ascii && st->fast && !mm_tok_no_fast) return mm_fast_next(st->fast, p, n, pos, s, e);
    pcre2_code *re = st->re;
    if (!c->md) c->md = pcre2_match_data_create(1, NULL);   /* lazily: pure-ASCII text never needs it */
    if (!c->md) return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)p, n, pos, PCRE2_NO_UTF_CHECK, c->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re, (PCRE2_SPTR)p, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, c->md, NULL);
    if (rc < 0) return 0;   /* no match, or a resource limit: the rest stays one piece */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    *s = ov[0];
    *e = ov[1];
    return *e >= *s && *e <= n;
}

static size_t utf8_len1(const char *p, size_t n) {
    size_t k = 1;
    while (k < n && ((unsigned char)p[k] & 0xC0) == 0x80) k++;
    return k;
}

typedef struct { size_t s, e; int match; } span;

static int split_step(pctx *c, int step, const mm_pretok_step *st, const char *p, size_t n, int ascii) {
    int beh = st->behavior;
    if (!ascii && st->fast) ascii = all_ascii(p, n);
    if (beh == MM_SPLIT_ISOLATED) {   /* streaming: gap, match, gap, ... (empty pieces dropped) */
        size_t pos = 0, prev = 0, s, e, last_end = (size_t)-1;
        while (pos <= n && next_match(c, st, ascii, p, n, pos, &s, &e)) {
            if (s == e) {
                if (s == last_end) {   /* no empty match right after the previous match */
                    if (s >= n) break;
                    pos = s + utf8_len1(p + s, n - s);
                    continue;
                }
            }
            if (s > prev && run(c, step + 1, p + prev, s - prev, ascii)) return -1;
            if (e > s && run(c, step + 1, p + s, e - s, ascii)) return -1;
            prev = e;
            last_end = e;
            pos = e > s ? e : e + (e < n ? utf8_len1(p + e, n - e) : 1);
        }
        if (prev < n && run(c, step + 1, p + prev, n - prev, ascii)) return -1;
        return 0;
    }
    /* other behaviours: collect (offsets, is_match) like tokenizers' find_matches, then regroup */
    span *v = NULL;
    size_t nv = 0, cap = 0, pos = 0, prev = 0, s, e, last_end = (size_t)-1;
#define PUSH(a, b, m) do { if (nv == cap) { cap = cap ? cap * 2 : 16; v = mm_xrealloc(v, cap * sizeof *v); } \
                           v[nv++] = (span){a, b, m}; } while (0)
    if (n == 0) PUSH(0, 0, 0);
    while (n && pos <= n && next_match(c, st, ascii, p, n, pos, &s, &e)) {
        if (s == e && s == last_end) {
            if (s >= n) break;
            pos = s + utf8_len1(p + s, n - s);
            continue;
        }
        if (s > prev) PUSH(prev, s, 0);
        PUSH(s, e, 1);
        prev = last_end = e;
        pos = e > s ? e : e + (e < n ? utf8_len1(p + e, n - e) : 1);
    }
    if (n && prev < n) PUSH(prev, n, 0);
    if (st->invert)
        for (size_t i = 0; i < nv; i++) v[i].match = !v[i].match;
    /* out: (s, e, remove) */
    span *o = mm_xmalloc((nv + 1) * sizeof *o);
    size_t no = 0;
    if (beh == MM_SPLIT_REMOVED) {
        for (size_t i = 0; i < nv; i++) o[no++] = v[i];
    } else if (beh == MM_SPLIT_CONTIGUOUS) {
        int prev_m = -1;
        for (size_t i = 0; i < nv; i++) {
            if (no && v[i].match == prev_m) o[no - 1].e = v[i].e;
            else o[no++] = (span){v[i].s, v[i].e, 0};
            prev_m = v[i].match;
        }
    } else if (beh == MM_SPLIT_PREV) {
        int prev_m = 0;
        for (size_t i = 0; i < nv; i++) {
            if (v[i].match && !prev_m && no) o[no - 1].e = v[i].e;
            else o[no++] = (span){v[i].s, v[i].e, 0};
            prev_m = v[i].match;
        }
    } else { /* MM_SPLIT_NEXT: fold from the right */
        int prev_m = 0;
        for (size_t i = nv; i-- > 0;) {
            if (v[i].match && !prev_m && no) o[no - 1].s = v[i].s;
            else o[no++] = (span){v[i].s, v[i].e, 0};
            prev_m = v[i].match;
        }
        for (size_t i = 0; i < no / 2; i++) { span tmp = o[i]; o[i] = o[no - 1 - i]; o[no - 1 - i] = tmp; }
    }
#undef PUSH
    int rc = 0;
    for (size_t i = 0; i < no && !rc; i++) {
        int removed = beh == MM_SPLIT_REMOVED && o[i].match;
        if (!removed && o[i].e > o[i].s) rc = run(c, step + 1, p + o[i].s, o[i].e - o[i].s, ascii);
    }
    free(v);
    free(o);
    return rc ? -1 : 0;
}

static int run(pctx *c, int step, const char *p, size_t n, int ascii) {
    if (n == 0) return 0;
    if (step == c->t->n_steps) return c->cb(c->ud, p, n);
    const mm_pretok_step *st = &c->t->steps[step];
    if (st->kind == MM_PT_BYTELEVEL) {
        char *tmp = NULL;
        if (st->add_prefix_space && p[0] != ' ') {
            tmp = mm_xmalloc(n + 1);
            tmp[0] = ' ';
            memcpy(tmp + 1, p, n);
            p = tmp;
            n++;
        }
        int rc = st->re ? split_step(c, step, st, p, n, ascii) : run(c, step + 1, p, n, ascii);
        free(tmp);
        return rc;
    }
    return split_step(c, step, st, p, n, ascii);
}

int mm_tok_pretokenize(const mm_tokenizer *t, const char *text, size_t len, mm_piece_cb cb, void *ud) {
    pctx c = {t, NULL, cb, ud};
    int rc = run(&c, 0, text, len, 0);
    if (c.md) pcre2_match_data_free(c.md);
    return rc;
}

/* ------------------------------------------------------------------ added tokens */
static uint32_t last_cp(const char *s, size_t n) {   /* of valid UTF-8 s[0..n), n > 0 */
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp;
    int ok;
    mm_utf8_next((const unsigned char *)s + i, n - i, &cp, &ok);
    return cp;
}
/* single_word: HF tests the neighbours with Rust regex \w = Alphabetic, M, Nd, Pc, Join_Control */
static int is_word_cp(uint32_t cp) {
    static pcre2_code *re;
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z') || cp == '_';
    pcre2_code *r = __atomic_load_n(&re, __ATOMIC_ACQUIRE);
    if (!r) {
        static const char pat[] = "^[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]";
        pcre2_code *mine = mm_tok_regex(pat, sizeof pat - 1, 0, "single_word"), *expect = NULL;
        if (!mine) return 0;
        if (__atomic_compare_exchange_n(&re, &expect, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) r = mine;
        else pcre2_code_free(mine), r = expect;
    }
    char buf[4];
    int k = mm_utf8_put(buf, cp);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(r, (PCRE2_SPTR)buf, (size_t)k, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

typedef struct {
    const mm_tokenizer *t;
    int parse_special;
    mm_piece_cb gap;
    mm_id_cb tok;
    void *ud;
} actx;

/* one pass over text with the tokens whose normalized flag == norm; gaps go to next(pass) */
static int added_pass(actx *a, int norm, const char *s, size_t n) {
    const mm_tokenizer *t = a->t;
    size_t i = 0, start_off = 0;
    while (i < n) {
        /* leftmost-longest match at i */
        if (!t->added_first[norm][(unsigned char)s[i]]) { i++; continue; }
        const mm_added_token *best = NULL;
        for (int k = 0; k < t->n_added; k++) {
            const mm_added_token *at = &t->added[k];
            if (at->normalized != norm || !at->len || at->len > n - i || at->content[0] != s[i]) continue;
            if ((!best || at->len > best->len) && memcmp(s + i, at->content, at->len) == 0) best = at;
        }
        if (!best) { i++; continue; }
        size_t ms = i, me = i + best->len;
        i = me;
        if (!a->parse_special && best->special) continue;
        if (best->single_word) {
            int sw = (ms == 0 || !is_word_cp(last_cp(s, ms)));
            if (sw && me < n) {
                uint32_t cp;
                int ok;
                mm_utf8_next((const unsigned char *)s + me, n - me, &cp, &ok);
                sw = !is_word_cp(cp);
            }
            if (!sw) continue;
        }
        if (best->lstrip) {
            size_t ns = ms;
            while (ns > 0) {
                size_t j = ns - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                if (!mm_is_white_space(last_cp(s, ns))) break;
                ns = j;
            }
            ms = ns > start_off ? ns : start_off;
        }
        if (best->rstrip) {
            while (me < n) {
                uint32_t cp;
                int ok;
                size_t k = mm_utf8_next((const unsigned char *)s + me, n - me, &cp, &ok);
                if (!mm_is_white_space(cp)) break;
                me += k;
            }
            i = me;
        }
        if (ms > start_off) {
            int rc = norm ? a->gap(a->ud, s + start_off, ms - start_off) : added_pass(a, 1, s + start_off, ms - start_off);
            if (rc) return -1;
        }
        if (a->tok(a->ud, best->id)) return -1;
        start_off = me;
    }
    if (start_off < n)
        return norm ? a->gap(a->ud, s + start_off, n - start_off) : added_pass(a, 1, s + start_off, n - start_off);
    return 0;
}

int mm_tok_split_added(const mm_tokenizer *t, const char *text, size_t len, int parse_special,
                       mm_piece_cb gap, mm_id_cb tok, void *ud) {
    actx a = {t, parse_special, gap, tok, ud};
    if (!t->n_added) return len ? gap(ud, text, len) : 0;
    return added_pass(&a, 0, text, len);
}
