/* Hand-written matchers for the pre-tokenizer regexes of StarCoder / DeepSeek-Coder / GPT-2, used on
 * pieces that are pure ASCII (most source code); anything else goes through PCRE2.  Each returns the
 * leftmost match at or after pos exactly as the regex would (tested identical on the golden corpus and
 * by test_tokenizer_fast.c against PCRE2 on random ASCII). */
#include <string.h>
#include "io/tokenizer_internal.h"

/* ASCII character classes: 1 letter (\p{L}), 2 digit (\p{N}), 4 White_Space (\s), 8 punctuation (\p{P}:
 * !"#%&'()*,-./:;?@[\]_{} -- $+<=>^`|~ are symbols) */
static const unsigned char cls[256] = {   /* bytes >= 0x80 never reach the fast paths */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 8, 8, 8, 0, 8, 8, 8, 8, 8, 8, 0, 8, 8, 8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 8, 8, 0, 0, 0, 8,
    8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8, 8, 0, 8,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 0, 8, 0, 0,
};
#define IS(c, k) (cls[(unsigned char)(c)] & (k))

int mm_fast_kind(const char *pattern) {
    static const struct { const char *pat; int kind; } known[] = {
        {"[\r\n]", MM_FAST_CRLF},
        {"\\s?\\p{L}+", MM_FAST_WS_L},
        {"\\s?\\p{P}+", MM_FAST_WS_P},
        {"[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+", MM_FAST_NO_ASCII}, /* [一-龥ࠀ-一가-퟿]+ */
    };
    if (!strcmp(pattern, MM_GPT2_PATTERN)) return MM_FAST_GPT2;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(pattern, known[i].pat)) return known[i].kind;
    return MM_FAST_NONE;
}

static size_t run_of(const unsigned char *p, size_t n, size_t i, int k) {
    while (i < n && IS(p[i], k)) i++;
    return i;
}

/* one GPT-2 match starting exactly at pos (the pattern matches at every position) */
static size_t gpt2_at(const unsigned char *p, size_t n, size_t pos) {
    unsigned c = p[pos];
    if (c == '\'' && pos + 1 < n) {
        unsigned d = p[pos + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return pos + 2;
        if (pos + 2 < n) {
            unsigned e = p[pos + 2];
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return pos + 3;
        }
    }
    size_t i = pos;
    if (c == ' ' && pos + 1 < n && !IS(p[pos + 1], 4)) i = pos + 1;   /* " ?" before L / N / other */
    if (i < n && !IS(p[i], 4)) {
        if (IS(p[i], 1)) return run_of(p, n, i, 1);
        if (IS(p[i], 2)) return run_of(p, n, i, 2);
        size_t j = i;   /* [^\s\p{L}\p{N}]+ */
        while (j < n && !IS(p[j], 1 | 2 | 4)) j++;
        return j;
    }
    size_t end = run_of(p, n, pos, 4);   /* \s+(?!\S) | \s+ */
    if (end == n || end - pos == 1) return end;
    return end - 1;
}

int mm_fast_next(int kind, const char *ps, size_t n, size_t pos, size_t *s, size_t *e) {
    const unsigned char *p = (const unsigned char *)ps;
    switch (kind) {
    case MM_FAST_GPT2:
        if (pos >= n) return 0;
        *s = pos, *e = gpt2_at(p, n, pos);
        return 1;
    case MM_FAST_DIGIT1:
    case MM_FAST_DIGITS:
        for (size_t i = pos; i < n; i++)
            if (IS(p[i], 2)) {
                *s = i, *e = kind == MM_FAST_DIGIT1 ? i + 1 : run_of(p, n, i, 2);
                return 1;
            }
        return 0;
    case MM_FAST_CRLF:
        for (size_t i = pos; i < n; i++)
            if (p[i] == '\r' || p[i] == '\n') { *s = i, *e = i + 1; return 1; }
        return 0;
    case MM_FAST_WS_L:
    case MM_FAST_WS_P: {
        int k = kind == MM_FAST_WS_L ? 1 : 8;
        for (size_t i = pos; i < n; i++) {
            if (IS(p[i], 4) && i + 1 < n && IS(p[i + 1], k)) { *s = i, *e = run_of(p, n, i + 1, k); return 1; }
            if (IS(p[i], k)) { *s = i, *e = run_of(p, n, i, k); return 1; }
        }
        return 0;
    }
    case MM_FAST_NO_ASCII:
        return 0;
    }
    return -1;   /* not a fast kind */
}
