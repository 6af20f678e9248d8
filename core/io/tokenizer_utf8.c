/* UTF-8 decoding with the lossy (maximal invalid subpart) rule, and GPT-2 bytes_to_unicode. */
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

/* bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF map to themselves; the other 68 bytes, in order, to U+0100.. */
static int printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }
uint32_t mm_bytelevel_cp(uint8_t b) {
    if (printable(b)) return b;
    uint32_t k = 0;
    for (unsigned i = 0; i < b; i++) k += !printable(i);
    return 0x100 + k;
}
int mm_bytelevel_byte(uint32_t cp) {
    if (cp < 0x100) return printable(cp) ? (int)cp : -1;
    if (cp > 0x143) return -1;
    uint32_t k = cp - 0x100;
    for (unsigned b = 0; b < 256; b++)
        if (!printable(b) && k-- == 0) return (int)b;
    return -1;
}

size_t mm_utf8_next(const unsigned char *s, size_t n, uint32_t *cp, int *valid) {
    unsigned c = s[0];
    *valid = 1;
    if (c < 0x80) { *cp = c; return 1; }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) need = 1, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else { *cp = 0xFFFD; *valid = 0; return 1; }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n) break;
        unsigned d = s[i];
        if (d < lo || d > hi) break;
        lo = 0x80, hi = 0xBF;
        v = v << 6 | (d & 0x3F);
    }
    if (i <= need) { *cp = 0xFFFD; *valid = 0; return i; }
    *cp = v;
    return need + 1;
}

int mm_utf8_put(char *o, uint32_t cp) {
    unsigned char *out = (unsigned char *)o;
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { out[0] = 0xC0 | cp >> 6; out[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        out[0] = 0xE0 | cp >> 12; out[1] = 0x80 | ((cp >> 6) & 0x3F); out[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    out[0] = 0xF0 | cp >> 18; out[1] = 0x80 | ((cp >> 12) & 0x3F);
    out[2] = 0x80 | ((cp >> 6) & 0x3F); out[3] = 0x80 | (cp & 0x3F);
    return 4;
}

char *mm_utf8_lossy(const char *s, size_t n, size_t *outn) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {                      /* fast scan: ASCII, then full check */
        if (u[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int ok;
        size_t k = mm_utf8_next(u + i, n - i, &cp, &ok);
        if (!ok) break;
        i += k;
    }
    if (i == n) return NULL;
    char *out = mm_xmalloc(n * 3 + 1), *o = out;   /* each invalid byte -> at most 3 bytes */
    memcpy(o, s, i);
    o += i;
    while (i < n) {
        uint32_t cp;
        int ok;
        size_t k = mm_utf8_next(u + i, n - i, &cp, &ok);
        if (ok) memcpy(o, s + i, k), o += k;
        else o += mm_utf8_put(o, 0xFFFD);
        i += k;
    }
    *o = 0;
    *outn = (size_t)(o - out);
    return out;
}

int mm_is_white_space(uint32_t c) {
    return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}
