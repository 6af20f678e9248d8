/* Helpers shared by the metric fixture tests (header-only, static). */
#ifndef MMLORA_TEST_METRICS_FIXTURE_UTIL_H
#define MMLORA_TEST_METRICS_FIXTURE_UTIL_H
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t fx_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }

/* Reads a whole file (NUL-terminated); NULL if absent. */
static inline char *fx_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t r = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[r] = 0;
    if (len) *len = r;
    return b;
}

/* Iterates over the lines of buf (modifies it): returns the next line or NULL. */
static inline char *fx_next_line(char **cur) {
    char *s = *cur;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) { *nl = 0; *cur = nl + 1; } else *cur = s + strlen(s);
    return s;
}

static inline double fx_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? strtod(v->valuestring, NULL) : cJSON_IsNumber(v) ? v->valuedouble : 0.0 / 0.0;
}
#endif
