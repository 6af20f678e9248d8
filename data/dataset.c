/* Language tables, example sets, bad-input reports, text helpers.  See dataset.h. */
#include "data/dataset.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "util/log.h"

static const mm_lang_table TABLES[3] = {
    {"csn", 6, {"go", "java", "javascript", "php", "python", "ruby"}, {0}},
    {"xlcost", 7, {"C++", "Java", "Python", "C#", "Javascript", "PHP", "C"},
     {"cpp", "java", "py", "cs", "js", "php", "c"}},
    {"local", 6, {"go", "java", "javascript", "php", "python", "ruby"}, {0}},
};

const mm_lang_table *mm_lang_table_get(mm_dataset_kind kind) {
    if ((int)kind < 0 || (int)kind > 2) return NULL;
    return &TABLES[kind];
}

int mm_dataset_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, TABLES[i].name)) return i;
    return -1;
}

int mm_lang_id(const mm_lang_table *t, const char *name) {
    for (int i = 0; i < t->n_langs; i++)
        if (!strcasecmp(t->langs[i], name)) return i;
    return -1;
}

const char *mm_split_name(int split) {
    static const char *N[] = {"train", "valid", "test"};
    return split >= 0 && split < MM_N_SPLITS ? N[split] : "?";
}

void mm_examples_push(mm_example_set *s, char *src, char *tgt, int lang, long line) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->ex = mm_xrealloc(s->ex, s->cap * sizeof *s->ex);
    }
    s->ex[s->n++] = (mm_example){src, tgt, lang, (int32_t)line};
}

void mm_examples_free(mm_example_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->ex[i].src);
        free(s->ex[i].tgt);
    }
    free(s->ex);
    memset(s, 0, sizeof *s);
}

void mm_examples_select(mm_example_set *s, const size_t *keep, size_t n_keep) {
    size_t k = 0, w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (k < n_keep && keep[k] == i) {
            s->ex[w++] = s->ex[i];
            k++;
        } else {
            free(s->ex[i].src);
            free(s->ex[i].tgt);
        }
    }
    s->n = w;
}

void mm_bad_add(mm_bad_report *r, const char *file, long line, const char *reason) {
    if (r->n_bad < MM_BAD_KEEP) {
        if (r->n_bad == 0) snprintf(r->file, sizeof r->file, "%s", file);
        r->lines[r->n_bad] = line;
        snprintf(r->reasons[r->n_bad], sizeof r->reasons[0], "%s", reason);
    }
    r->n_bad++;
}

void mm_bad_format(const mm_bad_report *r, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "%zu input line%s skipped", r->n_bad, r->n_bad == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_bad && i < MM_BAD_KEEP && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s %s:%ld (%s)", i ? ";" : " (first:", r->file, r->lines[i],
                              r->reasons[i]);
    if (r->n_bad && o < cap) snprintf(buf + o, cap - o, ")");
}

int mm_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int len;
        unsigned min;
        if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
        else return 0;
        if (i + (size_t)len > n) return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        i += (size_t)len;
    }
    return 1;
}

/* Length of a whitespace character at s (as Python's str.split() sees it), 0 if none. */
static size_t ws_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    if (c == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (c == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;                      /* U+1680 */
    if (c == 0xE2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 ||
                                      s[2] == 0xAF)) return 3;                   /* U+2000-200A 2028 2029 202F */
    if (c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;                      /* U+205F */
    if (c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;                      /* U+3000 */
    return 0;
}

size_t mm_collapse_ws(char *s) {
    size_t w = 0, r = 0;
    int pending = 0;
    while (s[r]) {
        size_t k = ws_len((const unsigned char *)s + r);
        if (k) {
            pending = w > 0;
            r += k;
            continue;
        }
        if (pending) s[w++] = ' ';
        pending = 0;
        s[w++] = s[r++];
    }
    s[w] = 0;
    return w;
}

