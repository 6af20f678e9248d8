/* The temporary results tree of the human-evaluation tests (test_humaneval*.c): files under g_root by
 * relative path, and absolute paths that stay valid until the test ends. */
#ifndef MMLORA_TEST_HUMANEVAL_WORLD_H
#define MMLORA_TEST_HUMANEVAL_WORLD_H
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"
#include "util/log.h"

static char g_root[64];
static const char *METHODS[5] = {"fpft-mix", "lora-each", "lora-mix", "mola", "mmlora"};

/* writes g_root/rel (parents created) */
static inline void put(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_root, rel);
    char *d = strdup(p);
    *strrchr(d, '/') = 0;
    cr_assert_eq(mm_mkdirs(d), 0);
    free(d);
    cr_assert_eq(mm_write_file_atomic(p, text, strlen(text)), 0, "%s", mm_last_error());
}

/* g_root/rel's text (malloc'd) */
static inline char *get(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_root, rel);
    char *s = mm_read_file(p, NULL);
    cr_assert(s, "%s not written: %s", p, mm_last_error());
    return s;
}

/* an absolute path under the world; valid until the test ends (a pool, reset by new_world) */
static char g_paths[512][256];
static int g_npaths;
static inline const char *at(const char *rel) {
    cr_assert_lt(g_npaths, 512);
    char *p = g_paths[g_npaths++];
    snprintf(p, sizeof g_paths[0], "%s/%s", g_root, rel);
    return p;
}

/* a fresh temporary root named after prefix ("/tmp/<prefix>-XXXXXX") */
static inline void new_world(const char *prefix) {
    g_npaths = 0;
    snprintf(g_root, sizeof g_root, "/tmp/%s-XXXXXX", prefix);
    cr_assert(mkdtemp(g_root));
    mm_set_verbosity(0);
}

/* one finished run's gold/<lang>.txt and predictions/<lang>.txt */
static inline void put_run_lang(const char *run, const char *lang, const char *gold, const char *pred) {
    char rel[512];
    snprintf(rel, sizeof rel, "%s/gold/%s.txt", run, lang);
    put(rel, gold);
    snprintf(rel, sizeof rel, "%s/predictions/%s.txt", run, lang);
    put(rel, pred);
}

static inline void remove_world(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    cr_expect_eq(system(cmd), 0);
}
#endif
