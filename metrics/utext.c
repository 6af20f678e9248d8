/* Python-compatible Unicode helpers (see utext.h). Tables come from unicode_tables.c (generated). */
#include "metrics/utext.h"
#include "metrics/unicode_tables.h"

static bool in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

bool mu_is_space(uint32_t cp) {
    if (cp < 0x80) return (cp >= 9 && cp <= 13) || (cp >= 28 && cp <= 32);
    return in_ranges(mu_space_ranges, mu_space_ranges_n, cp);
}

bool mu_is_alnum(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z');
    return in_ranges(mu_word_ranges, mu_word_ranges_n, cp);
}

static bool is_ign(uint32_t cp) {
    if (cp < 0x80) return cp == '\'' || cp == '.' || cp == ':' || cp == '^' || cp == '`';
    return in_ranges(mu_ign_ranges, mu_ign_ranges_n, cp);
}
static bool is_cased(uint32_t cp) {
    if (cp < 0x80) return (cp | 32) >= 'a' && (cp | 32) <= 'z';
    return in_ranges(mu_cased_ranges, mu_cased_ranges_n, cp);
}

/* Decodes one sequence at s[i]; returns its length, or 0 if invalid. */
static size_t dec1(const unsigned char *s, size_t n, size_t i, uint32_t *cp) {
    unsigned c = s[i];
    if (c < 0x80) { *cp = c; return 1; }
    size_t len; uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

bool mu_utf8_valid(const char *s, size_t n, size_t *bad_off) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        uint32_t cp;
        size_t l = dec1(u, n, i, &cp);
        if (!l) { if (bad_off) *bad_off = i; return false; }
        i += l;
    }
    return true;
}

size_t mu_utf8_decode(const char *s, size_t n, uint32_t *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < n) {
        if (u[i] < 0x80) { out[k++] = u[i++]; continue; }
        uint32_t cp;
        size_t l = dec1(u, n, i, &cp);
        if (!l) { out[k++] = 0xFFFD; i++; continue; }
        out[k++] = cp;
        i += l;
    }
    return k;
}

size_t mu_utf8_put(uint32_t cp, char *o) {
    unsigned char *out = (unsigned char *)o;
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { out[0] = (unsigned char)(0xC0 | (cp >> 6)); out[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12)); out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18)); out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t mu_utf8_encode(const uint32_t *cp, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += mu_utf8_put(cp[i], out + k);
    out[k] = 0;
    return k;
}

static const mu_lower_entry *find_lower(uint32_t cp) {
    size_t lo = 0, hi = mu_lower_table_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < mu_lower_table[mid].cp) hi = mid;
        else if (cp > mu_lower_table[mid].cp) lo = mid + 1;
        else return &mu_lower_table[mid];
    }
    return NULL;
}

/* CPython handle_capital_sigma: \p{cased}\p{case-ignorable}* SIGMA !(\p{case-ignorable}* \p{cased}) */
static uint32_t capital_sigma(const uint32_t *s, size_t n, size_t i) {
    size_t j = i;
    uint32_t c = 0;
    bool found = false;
    while (j > 0) {
        c = s[--j];
        if (!is_ign(c)) { found = true; break; }
    }
    bool fin = found && is_cased(c);
    if (fin && i + 1 < n) {
        size_t k;
        for (k = i + 1; k < n; k++) {
            c = s[k];
            if (!is_ign(c)) break;
        }
        fin = k == n || !is_cased(c);
    }
    return fin ? 0x3C2 : 0x3C3;
}

size_t mu_lower(const uint32_t *in, size_t n, uint32_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (c < 0x80) { out[k++] = (c >= 'A' && c <= 'Z') ? c + 32 : c; continue; }
        if (c == 0x3A3) { out[k++] = capital_sigma(in, n, i); continue; }
        const mu_lower_entry *e = find_lower(c);
        if (!e) { out[k++] = c; continue; }
        for (int t = 0; t < e->n; t++) out[k++] = e->lo[t];
    }
    return k;
}
