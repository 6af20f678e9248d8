/* Porter stemmer, NLTK_EXTENSIONS mode, code point for code point with nltk.stem.porter. */
#include "metrics/porter.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/utext.h"
#include "util/log.h"

typedef struct { uint32_t *w; size_t n; } word;

static bool cons(const uint32_t *w, size_t i) {
    for (;;) {
        uint32_t c = w[i];
        if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') return false;
        if (c != 'y') return true;
        if (i == 0) return true;
        /* y is a consonant iff the previous letter is not a consonant */
        return !cons(w, i - 1);
    }
}

static int measure(const uint32_t *w, size_t n) {
    int m = 0;
    bool prev_v = false;
    for (size_t i = 0; i < n; i++) {
        bool c = cons(w, i);
        if (c && prev_v) m++;
        prev_v = !c;
    }
    return m;
}

static bool has_vowel(const uint32_t *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!cons(w, i)) return true;
    return false;
}

static bool dbl(const uint32_t *w, size_t n) { return n >= 2 && w[n - 1] == w[n - 2] && cons(w, n - 1); }

static bool cvc(const uint32_t *w, size_t n) {
    if (n >= 3 && cons(w, n - 3) && !cons(w, n - 2) && cons(w, n - 1) && w[n - 1] != 'w' && w[n - 1] != 'x' &&
        w[n - 1] != 'y')
        return true;
    return n == 2 && !cons(w, 0) && cons(w, 1);
}

static bool ends_n(const word *x, const char *suf, size_t l) {
    if (l > x->n) return false;
    for (size_t i = 0; i < l; i++)
        if (x->w[x->n - l + i] != (unsigned char)suf[i]) return false;
    return true;
}
#define ends(x, lit) ends_n((x), (lit), sizeof(lit) - 1)
static void set_tail(word *x, size_t keep, const char *rep) {
    x->n = keep;
    for (const char *p = rep; *p; p++) x->w[x->n++] = (unsigned char)*p;
}

enum cond { C_NONE, C_M0, C_M1, C_ION, C_1B_D, C_1B_E, C_1C, C_LOGI, C_LL };
typedef struct { const char *suf, *rep; enum cond c; unsigned char sl; } rule;
#define R(s, r, c) {s, r, c, sizeof(s) - 1}

/* _apply_rule_list: the first rule whose suffix matches decides. */
static void apply(word *x, const rule *rules, size_t nr, size_t orig_n) {
    for (size_t r = 0; r < nr; r++) {
        const rule *ru = &rules[r];
        if (ru->c == C_1B_D && dbl(x->w, x->n)) {
            uint32_t last = x->w[x->n - 1];
            if (last != 'l' && last != 's' && last != 'z') { x->n -= 2; x->w[x->n++] = last; }
            return;
        }
        if (!ends_n(x, ru->suf, ru->sl)) continue;
        size_t sn = x->n - ru->sl;
        const uint32_t *s = x->w;
        bool ok;
        switch (ru->c) {
        case C_NONE: ok = true; break;
        case C_M0: ok = measure(s, sn) > 0; break;
        case C_M1: ok = measure(s, sn) > 1; break;
        case C_ION: ok = measure(s, sn) > 1 && sn > 0 && (s[sn - 1] == 's' || s[sn - 1] == 't'); break;
        case C_1B_D: ok = true; break; /* literal "*d" suffix: stem[-1] not in l,s,z (handled below) */
        case C_1B_E: ok = measure(s, sn) == 1 && cvc(s, sn); break;
        case C_1C: ok = sn > 1 && cons(s, sn - 1); break;
        case C_LOGI: ok = measure(s, orig_n - 3) > 0; break;
        case C_LL: ok = measure(s, orig_n - 1) > 1; break;
        default: ok = false;
        }
        if (ru->c == C_1B_D) {
            /* word literally ends with "*d": replacement is the intermediate stem's last letter */
            uint32_t last = x->w[x->n - 1];
            ok = last != 'l' && last != 's' && last != 'z';
            if (ok) { x->n = sn; x->w[x->n++] = last; }
            return;
        }
        if (ok) set_tail(x, sn, ru->rep);
        return;
    }
    (void)orig_n;
}
#define NR(a) (sizeof(a) / sizeof(a[0]))

static void step1a(word *x) {
    if (ends(x, "ies") && x->n == 4) { set_tail(x, 1, "ie"); return; }
    static const rule r[] = {R("sses", "ss", C_NONE), R("ies", "i", C_NONE), R("ss", "ss", C_NONE), R("s", "", C_NONE)};
    apply(x, r, NR(r), x->n);
}

static void step1b(word *x) {
    if (ends(x, "ied")) { set_tail(x, x->n - 3, x->n == 4 ? "ie" : "i"); return; }
    if (ends(x, "eed")) {
        if (measure(x->w, x->n - 3) > 0) set_tail(x, x->n - 3, "ee");
        return;
    }
    bool ok = false;
    static const char *sufs[2] = {"ed", "ing"};
    static const size_t sl[2] = {2, 3};
    for (int k = 0; k < 2; k++)
        if (ends_n(x, sufs[k], sl[k]) && has_vowel(x->w, x->n - sl[k])) {
            x->n -= sl[k];
            ok = true;
            break;
        }
    if (!ok) return;
    static const rule r[] = {R("at", "ate", C_NONE), R("bl", "ble", C_NONE), R("iz", "ize", C_NONE),
                             R("*d", "", C_1B_D),    R("", "e", C_1B_E)};
    apply(x, r, NR(r), x->n);
}

static void step1c(word *x) {
    static const rule r[] = {R("y", "i", C_1C)};
    apply(x, r, NR(r), x->n);
}

static void step2(word *x) {
    while (ends(x, "alli") && measure(x->w, x->n - 4) > 0) set_tail(x, x->n - 4, "al");
    static const rule r[] = {
        R("ational", "ate", C_M0), R("tional", "tion", C_M0), R("enci", "ence", C_M0), R("anci", "ance", C_M0),
        R("izer", "ize", C_M0),    R("bli", "ble", C_M0),     R("alli", "al", C_M0),   R("entli", "ent", C_M0),
        R("eli", "e", C_M0),       R("ousli", "ous", C_M0),   R("ization", "ize", C_M0), R("ation", "ate", C_M0),
        R("ator", "ate", C_M0),    R("alism", "al", C_M0),    R("iveness", "ive", C_M0), R("fulness", "ful", C_M0),
        R("ousness", "ous", C_M0), R("aliti", "al", C_M0),    R("iviti", "ive", C_M0), R("biliti", "ble", C_M0),
        R("fulli", "ful", C_M0),   R("logi", "log", C_LOGI)};
    apply(x, r, NR(r), x->n);
}

static void step3(word *x) {
    static const rule r[] = {R("icate", "ic", C_M0), R("ative", "", C_M0), R("alize", "al", C_M0), R("iciti", "ic", C_M0),
                             R("ical", "ic", C_M0),  R("ful", "", C_M0),   R("ness", "", C_M0)};
    apply(x, r, NR(r), x->n);
}

static void step4(word *x) {
    static const rule r[] = {R("al", "", C_M1),  R("ance", "", C_M1), R("ence", "", C_M1),  R("er", "", C_M1),
                             R("ic", "", C_M1),  R("able", "", C_M1), R("ible", "", C_M1),  R("ant", "", C_M1),
                             R("ement", "", C_M1), R("ment", "", C_M1), R("ent", "", C_M1), R("ion", "", C_ION),
                             R("ou", "", C_M1),  R("ism", "", C_M1),  R("ate", "", C_M1),   R("iti", "", C_M1),
                             R("ous", "", C_M1), R("ive", "", C_M1),  R("ize", "", C_M1)};
    apply(x, r, NR(r), x->n);
}

static void step5a(word *x) {
    if (!ends(x, "e")) return;
    size_t sn = x->n - 1;
    int m = measure(x->w, sn);
    if (m > 1 || (m == 1 && !cvc(x->w, sn))) x->n = sn;
}

static void step5b(word *x) {
    static const rule r[] = {R("ll", "l", C_LL)};
    apply(x, r, NR(r), x->n);
}

static const struct { const char *form, *stem; } POOL[] = {
    {"skies", "sky"},         {"sky", "sky"},         {"dying", "die"},       {"lying", "lie"},
    {"tying", "tie"},         {"news", "news"},       {"innings", "inning"},  {"inning", "inning"},
    {"outings", "outing"},    {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
    {"howe", "howe"},         {"proceed", "proceed"}, {"exceed", "exceed"},   {"succeed", "succeed"},
};

static bool eq_ascii(const uint32_t *w, size_t n, const char *s) {
    size_t l = strlen(s);
    if (l != n) return false;
    for (size_t i = 0; i < n; i++)
        if (w[i] != (unsigned char)s[i]) return false;
    return true;
}

size_t mm_porter_stem_cp(uint32_t *w, size_t n) {
    size_t orig_n = n;
    /* pool lookup uses the original word (case-sensitive): done before lowering */
    for (size_t p = 0; p < NR(POOL); p++)
        if (eq_ascii(w, n, POOL[p].form)) {
            size_t l = strlen(POOL[p].stem);
            for (size_t i = 0; i < l; i++) w[i] = (unsigned char)POOL[p].stem[i];
            return l;
        }
    uint32_t *tmp = mm_xmalloc((3 * n + 1) * sizeof *tmp);
    size_t ln = mu_lower(w, n, tmp);
    memcpy(w, tmp, ln * sizeof *w);
    free(tmp);
    if (orig_n <= 2) return ln;
    word x = {w, ln};
    step1a(&x); step1b(&x); step1c(&x); step2(&x); step3(&x); step4(&x); step5a(&x); step5b(&x);
    return x.n;
}

char *mm_porter_stem(const char *s) {
    size_t bl = strlen(s);
    uint32_t *w = mm_xmalloc((3 * bl + 8) * sizeof *w);
    size_t n = mu_utf8_decode(s, bl, w);
    n = mm_porter_stem_cp(w, n);
    char *out = mm_xmalloc(4 * n + 1);
    mu_utf8_encode(w, n, out);
    free(w);
    return out;
}
