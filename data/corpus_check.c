/* Spot-check that extracted functions parse, with each language's own tool.  See corpus.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/corpus.h"
#include "util/log.h"

/* javac: parse only (hidden -XDshould-stop options), since a method alone lacks its imports and types */
static const char *TOOL[MM_C_NLANGS] = {"gofmt -e %s >/dev/null",
                                        "javac -XDshould-stop.ifNoError=PARSE -XDshould-stop.ifError=PARSE -d /tmp %s",
                                        "node --check %s", "php -l %s >/dev/null",
                                        "python3 -m py_compile %s", "ruby -wc %s >/dev/null"};
static const char *PROBE[MM_C_NLANGS] = {"gofmt", "javac", "node", "php", "python3", "ruby"};
static const char *SUFFIX[MM_C_NLANGS] = {".go", ".java", ".js", ".php", ".py", ".rb"};

int mm_corpus_tool_available(int lang) {
    if (!PROBE[lang]) return 0;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", PROBE[lang]);
    return system(cmd) == 0;
}

/* java: the wrapping class is named after the method (so a constructor is one), annotations skipped */
static void java_name(const char *code, char *name, size_t cap) {
    const char *p = code, *paren = NULL;
    while (*p) {
        if (*p == '@') {   /* @Name(...) */
            p++;
            while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '.')) p++;
            while (*p == ' ') p++;
            if (*p == '(') {
                int d = 0;
                for (; *p; p++) {
                    if (*p == '(') d++;
                    else if (*p == ')' && --d == 0) { p++; break; }
                }
            }
            continue;
        }
        if (*p == '(') { paren = p; break; }
        p++;
    }
    const char *e = paren ? paren : code;
    while (e > code && isspace((unsigned char)e[-1])) e--;
    const char *b = e;
    while (b > code && (isalnum((unsigned char)b[-1]) || b[-1] == '_' || b[-1] == '$')) b--;
    snprintf(name, cap, "%.*s", (int)(e - b), b);
    static const char *RESTRICTED[] = {"permits", "record", "sealed", "var", "yield", NULL};
    for (int k = 0; RESTRICTED[k]; k++)
        if (!strcmp(name, RESTRICTED[k])) name[0] = 0;
    if (!name[0]) snprintf(name, cap, "_C");
}

/* writes code wrapped so that it is a whole compilation unit of its language */
static void put(FILE *f, int lang, const char *code, size_t idx) {
    if (lang == MM_C_JAVA) {
        char name[256];
        java_name(code, name, sizeof name);
        fprintf(f, "abstract class %s {\n%s\n}\n", name, code);
    } else if (lang == MM_C_PHP) {
        fprintf(f, "class _C%zu extends _P {\n%s\n}\n", idx, code);   /* a parent, for parent:: */
    } else if (lang == MM_C_JS) {
        const char *p = code;
        if (!strncmp(p, "async ", 6)) p += 6;
        if (!strncmp(p, "function", 8) || p[0] == '(' || strstr(code, "=>") == strchr(code, ')') + 2)
            fprintf(f, "(%s);\n", code);
        else
            fprintf(f, "class _C%zu extends Object {\n%s\n}\n", idx, code);   /* a parent, for super() */
    } else {
        fprintf(f, "%s\n", code);
    }
}

static int run_batch(int lang, const char *const *codes, size_t from, size_t to, char *err, size_t cap) {
    char path[] = "/tmp/mmlora-check-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    char file[64];
    snprintf(file, sizeof file, "%s%s", path, SUFFIX[lang]);
    FILE *f = fopen(file, "w");
    if (!f) { unlink(path); return -1; }
    if (lang == MM_C_PHP) fputs("<?php\nclass _P {}\n", f);
    if (lang == MM_C_GO) fputs("package p\n", f);
    for (size_t i = from; i < to; i++) put(f, lang, codes[i], i);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, TOOL[lang], file);
    char full[700];
    snprintf(full, sizeof full, "%s 2>%s.err", cmd, path);
    int rc = system(full);
    if (rc != 0 && err && cap) {
        char ef[64];
        snprintf(ef, sizeof ef, "%s.err", path);
        FILE *e = fopen(ef, "r");
        size_t n = e ? fread(err, 1, cap - 1, e) : 0;
        err[n] = 0;
        if (e) fclose(e);
    }
    char ef[64];
    snprintf(ef, sizeof ef, "%s.err", path);
    unlink(ef);
    unlink(file);
    unlink(path);
    if (lang == MM_C_PY) {   /* py_compile leaves __pycache__ next to the file */
        char pc[128];
        snprintf(pc, sizeof pc, "rm -f /tmp/__pycache__/%s.*.pyc", path + 5);
        if (system(pc)) {}
    }
    return rc == 0 ? 0 : 1;
}

/* Checks codes[0..n): returns the number that fail to parse (first error text in err), or -1 if
 * the language's tool is not installed.  Batches of 50, a failing batch re-checked one by one. */
long mm_corpus_check(int lang, const char *const *codes, size_t n, char *err, size_t cap) {
    if (!mm_corpus_tool_available(lang)) return -1;
    long fails = 0;
    if (err && cap) err[0] = 0;
    for (size_t b = 0; b < n; b += 50) {
        size_t e = b + 50 < n ? b + 50 : n;
        if (run_batch(lang, codes, b, e, NULL, 0) == 0) continue;
        for (size_t i = b; i < e; i++) {
            char tmp[1024];
            if (run_batch(lang, codes, i, i + 1, tmp, sizeof tmp) != 0) {
                if (!fails && err && cap) snprintf(err, cap, "record %zu: %s", i, tmp);
                fails++;
            }
        }
    }
    return fails;
}
