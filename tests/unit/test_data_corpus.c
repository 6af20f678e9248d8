/* Local corpus: extractors on small inline sources, CodeSearchNet docstring handling, filters, the
 * builder on a tiny tree (split by file, determinism), and one language tool check. */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/corpus.h"
#include "data/dataset.h"
#include "util/log.h"

static void want_tokens(const mm_func *f, const char *const *want, size_t n) {
    cr_assert_eq(f->n_code_tokens, n, "%s: %zu tokens", f->name, f->n_code_tokens);
    for (size_t i = 0; i < n; i++) cr_assert_str_eq(f->code_tokens[i], want[i], "token %zu", i);
}

static void no_doc_in_code(const mm_funcs *f) {
    for (size_t i = 0; i < f->n; i++) {
        cr_assert(!strstr(f->v[i].code, f->v[i].doc), "%s: docstring inside the code", f->v[i].name);
        char *sum = mm_doc_summary(f->v[i].doc);
        cr_assert(!strstr(f->v[i].code, sum), "%s: summary inside the code", f->v[i].name);
        free(sum);
    }
}

static const char *PY =
    "import os\n\n"
    "def add(a, b):\n"
    "    \"\"\"Add two numbers.\n\n    Longer text.\n    \"\"\"\n"
    "    # a comment\n"
    "    return a + b  # sum\n\n"
    "class K:\n"
    "    async def run(self, x=')'):\n"
    "        r'''Run the thing quickly.'''\n"
    "        def inner():\n"
    "            \"\"\"Inner has nonlocal.\"\"\"\n"
    "            nonlocal x\n"
    "            x = 1\n"
    "        return [x,\n"
    "                2]\n\n"
    "def only_doc():\n"
    "    \"\"\"Nothing else here.\"\"\"\n\n"
    "def nodoc():\n"
    "    return 1\n";

Test(corpus, python_extract) {
    mm_funcs f = {0};
    mm_extract(MM_C_PY, PY, strlen(PY), &f);
    cr_assert_eq(f.n, 2, "got %zu", f.n);   /* add, run; not inner (nonlocal), only_doc, nodoc */
    cr_assert_str_eq(f.v[0].name, "add");
    cr_assert_str_eq(f.v[0].doc, "Add two numbers.\n\nLonger text.");
    cr_assert_str_eq(f.v[0].code, "def add(a, b):\n    # a comment\n    return a + b  # sum");
    const char *t0[] = {"def", "add", "(", "a", ",", "b", ")", ":", "return", "a", "+", "b"};
    want_tokens(&f.v[0], t0, 12);
    cr_assert_eq(f.v[0].line_start, 3);
    cr_assert_str_eq(f.v[1].name, "run");
    cr_assert(!strncmp(f.v[1].code, "async def run(self, x=')'):\n        def inner():", 48), "%s", f.v[1].code);
    cr_assert_str_eq(f.v[1].doc, "Run the thing quickly.");
    no_doc_in_code(&f);
    mm_funcs_free(&f);
}

static const char *GO =
    "package p\n\n"
    "// Add returns the sum of a and b.\n"
    "// It never fails.\n"
    "func Add(a, b int) int {\n\treturn a + b\n}\n\n"
    "// Raw is a method with a struct result and a raw string.\n"
    "func (r *T) Raw() (s struct{ x int }) {\n\t_ = `}`\n\treturn\n}\n\n"
    "// Decl has no body.\n"
    "func Decl(x int) int\n\n"
    "func undocumented() {}\n";

Test(corpus, go_extract) {
    mm_funcs f = {0};
    mm_extract(MM_C_GO, GO, strlen(GO), &f);
    cr_assert_eq(f.n, 2);
    cr_assert_str_eq(f.v[0].doc, "Add returns the sum of a and b.\nIt never fails.");
    const char *t0[] = {"func", "Add", "(", "a", ",", "b", "int", ")", "int", "{", "return", "a", "+", "b", "}"};
    want_tokens(&f.v[0], t0, 15);
    cr_assert_str_eq(f.v[1].name, "Raw");
    cr_assert(strstr(f.v[1].code, "return\n}") != NULL);
    no_doc_in_code(&f);
    mm_funcs_free(&f);
}

static const char *JAVA =
    "/** The class doc. */\n"
    "public class A {\n"
    "  /**\n   * Returns the size of the list.\n   *\n   * @return the size\n   */\n"
    "  @Override @SuppressWarnings(\"x\")\n"
    "  public int size() {\n    return n; // count\n  }\n"
    "  /** Abstract, no body. */\n  abstract void f();\n"
    "  /** A field. */\n  int g = h(1);\n"
    "  /** Creates a new instance with the given capacity. */\n"
    "  public A(int cap) throws Exception {\n    this.n = cap;\n  }\n"
    "}\n";

Test(corpus, java_extract) {
    mm_funcs f = {0};
    mm_extract(MM_C_JAVA, JAVA, strlen(JAVA), &f);
    cr_assert_eq(f.n, 2, "got %zu", f.n);
    cr_assert_str_eq(f.v[0].name, "size");
    cr_assert_str_eq(f.v[0].doc, "Returns the size of the list.\n\n@return the size");
    cr_assert(!strncmp(f.v[0].code, "@Override @SuppressWarnings(\"x\")\n  public int size() {", 50));
    cr_assert_str_eq(f.v[1].name, "A");
    no_doc_in_code(&f);
    mm_funcs_free(&f);
}

static const char *JS =
    "/**\n * Adds numbers.\n */\nfunction add(a, b) {\n  return a.replace(/[}{]/g, '') + b;\n}\n"
    "/** Gets the value of the key. */\nFoo.prototype.get = function(key) {\n  return this.d[key];\n};\n"
    "class C {\n  /** Runs the C instance now. */\n  static async run(x) {\n    return x / 2 / 1;\n  }\n}\n"
    "/** Arrow that doubles values. */\nconst dbl = (x) => {\n  return `${x}}` + x;\n};\n";

Test(corpus, javascript_extract) {
    mm_funcs f = {0};
    mm_extract(MM_C_JS, JS, strlen(JS), &f);
    cr_assert_eq(f.n, 4, "got %zu", f.n);
    cr_assert_str_eq(f.v[0].name, "add");
    cr_assert(strstr(f.v[0].code, "/[}{]/g") && f.v[0].code[strlen(f.v[0].code) - 1] == '}');
    cr_assert_str_eq(f.v[1].name, "get");
    cr_assert(!strncmp(f.v[1].code, "function(key)", 13));
    cr_assert_str_eq(f.v[2].name, "run");
    cr_assert(!strncmp(f.v[2].code, "static async run(x)", 19));
    cr_assert_str_eq(f.v[3].name, "dbl");
    cr_assert(!strncmp(f.v[3].code, "(x) => {", 8));
    no_doc_in_code(&f);
    mm_funcs_free(&f);
}

static const char *PHP =
    "<?php\nnamespace N;\n\nclass A {\n"
    "    /**\n     * Gets a value by its key.\n     */\n"
    "    public static function &get(?string $k): ?array\n    {\n        return $this->d[$k] ?? null; # x\n    }\n"
    "    /** Abstract one. */\n    abstract protected function f();\n}\n";

Test(corpus, php_extract) {
    mm_funcs f = {0};
    mm_extract(MM_C_PHP, PHP, strlen(PHP), &f);
    cr_assert_eq(f.n, 1);
    cr_assert_str_eq(f.v[0].name, "get");
    cr_assert(!strncmp(f.v[0].code, "public static function &get", 27));
    cr_assert_str_eq(f.v[0].code_tokens[8], "$");
    cr_assert_str_eq(f.v[0].code_tokens[9], "k");
    no_doc_in_code(&f);
    mm_funcs_free(&f);
}

static const char *RB =
    "module M\n"
    "  # Parses the path and returns parts.\n"
    "  # Second line.\n"
    "  def parse(path)\n"
    "    return if path.nil?\n"
    "    x = path[0] == ?/ ? 1 : 2\n"
    "    while x < 3 do x += 1 end\n"
    "    y = <<~EOS\n      end end\n    EOS\n"
    "    z = %w[end if] unless x.end\n"
    "    obj.class\n"
    "    if x\n      y\n    end\n"
    "    [1].each do |i| i end\n"
    "    { if: 1, class: 2 }\n"
    "  end\n\n"
    "  # :nodoc:\n  def hidden\n    1\n  end\n"
    "end\n";

Test(corpus, ruby_extract) {
    mm_funcs f = {0};
    mm_extract(MM_C_RUBY, RB, strlen(RB), &f);
    cr_assert_eq(f.n, 1, "got %zu", f.n);
    cr_assert_str_eq(f.v[0].name, "parse");
    cr_assert_str_eq(f.v[0].doc, "Parses the path and returns parts.\nSecond line.");
    const char *tail = "{ if: 1, class: 2 }\n  end";
    size_t l = strlen(f.v[0].code);
    cr_assert(l > strlen(tail) && !strcmp(f.v[0].code + l - strlen(tail), tail), "%s", f.v[0].code);
    no_doc_in_code(&f);
    mm_funcs_free(&f);
}

Test(corpus, docstring_like_codesearchnet) {
    char *s = mm_doc_summary("Outputs the deferred summary information saved via @logger.summary.add_action and x");
    cr_assert_str_eq(s, "Outputs the deferred summary information saved via ");
    size_t n;
    char **t = mm_doc_tokenize("Returns the (x, y) pair; e.g. `a.b()`->c", &n);
    const char *want[] = {"Returns", "the", "(", "x", "y", ")", "pair", ";", "e", ".", "g", ".", "a", ".", "b", "()", "-", ">", "c"};
    cr_assert_eq(n, sizeof want / sizeof *want, "%zu", n);
    for (size_t i = 0; i < n; i++) cr_assert_str_eq(t[i], want[i], "token %zu", i);
    mm_strv_free(t, n);
    free(s);
    s = mm_doc_summary("First para.\n\nSecond @param x");
    cr_assert_str_eq(s, "First para.");
    free(s);
}

Test(corpus, docstring_tokens_match_shared_records) {
    const char *sd = getenv("SHARED_DIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/data/codesearchnet/ruby/test.jsonl", sd ? sd : "/nonexistent");
    FILE *f = fopen(p, "r");
    if (!f) cr_skip_test("SHARED_DIR/data/codesearchnet absent");
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0) {   /* summary + tokenizer reproduce docstring_tokens exactly */
        cJSON *j = cJSON_Parse(line);
        char *sum = mm_doc_summary(cJSON_GetStringValue(cJSON_GetObjectItem(j, "docstring")));
        size_t nt;
        char **t = mm_doc_tokenize(sum, &nt);
        cJSON *dt = cJSON_GetObjectItem(j, "docstring_tokens");
        cr_assert_eq((int)nt, cJSON_GetArraySize(dt), "line %zu", n + 1);
        for (size_t i = 0; i < nt; i++) cr_assert_str_eq(t[i], cJSON_GetArrayItem(dt, (int)i)->valuestring);
        mm_strv_free(t, nt);
        free(sum);
        cJSON_Delete(j);
        n++;
    }
    free(line);
    fclose(f);
    cr_assert_eq(n, 350);
}

static const char *filt(const char *s) {
    size_t n;
    char **t = mm_doc_tokenize(s, &n);
    const char *r = mm_doc_filter(s, t, n);
    mm_strv_free(t, n);
    return r;
}

Test(corpus, codexglue_filters) {
    cr_assert_null(filt("Returns the sum of two numbers."));
    cr_assert_str_eq(filt("Returns it"), "summary under 3 tokens");
    cr_assert_str_eq(filt("See https://example.com for more"), "URL in summary");
    cr_assert_str_eq(filt("Returns the <b>bold</b> value"), "HTML tag in summary");
    cr_assert_null(filt("Returns a < b and c > d"));
    cr_assert_str_eq(filt("Gibt die Summe zur\xc3\xbc" "ck"), "not English");
    cr_assert_null(filt("Returns the user\xe2\x80\x99s name"));
}

Test(corpus, tool_check_python) {
    mm_funcs f = {0};
    mm_extract(MM_C_PY, PY, strlen(PY), &f);
    const char *codes[3] = {f.v[0].code, f.v[1].code, "def broken(:\n    pass"};
    char err[512];
    long r = mm_corpus_check(MM_C_PY, codes, 3, err, sizeof err);
    if (r < 0) cr_skip_test("python3 not installed");
    cr_assert_eq(r, 1, "%s", err);
    cr_assert(strstr(err, "record 2"), "%s", err);
    mm_funcs_free(&f);
}

static void write_file(const char *dir, const char *rel, const char *text) {
    char p[2048], cmd[2100];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

Test(corpus, build_tiny_tree) {
    char root[] = "/tmp/mmlora-corpus-XXXXXX";
    cr_assert(mkdtemp(root));
    char src[1100], out1[1100], out2[1100];
    snprintf(src, sizeof src, "%s/src", root);
    snprintf(out1, sizeof out1, "%s/out1", root);
    snprintf(out2, sizeof out2, "%s/out2", root);
    for (int i = 0; i < 30; i++) {   /* 30 files, distinct functions, plus one exact copy (a duplicate) */
        char rel[64], text[1024];
        snprintf(rel, sizeof rel, "pkg%d/mod%d.py", i % 3, i);
        snprintf(text, sizeof text,
                 "def f%d(a):\n    \"\"\"Compute value number %d from a.\"\"\"\n    b%d = a * %d\n    c = b%d - %d\n"
                 "    return c + u%d(b%d)\n",
                 i, i, i, i, i, i, i, i);
        write_file(src, rel, text);
    }
    write_file(src, "zz/copy.py", "def f0(a):\n    \"\"\"Compute value number 0 from a.\"\"\"\n    b0 = a * 0\n"
                                  "    c = b0 - 0\n    return c + u0(b0)\n");
    write_file(src, "test/skipped.py", "def g(a):\n    \"\"\"Skipped test directory.\"\"\"\n    x = 1\n    return a\n");
    mm_corpus_opts o = {.out = out1, .seed = 3, .lang_mask = 1u << MM_C_PY};
    o.roots[MM_C_PY] = src;
    mm_corpus_stats st;
    cr_assert_eq(mm_corpus_build(&o, &st), 0, "%s", mm_last_error());
    cr_assert_eq(st.files[MM_C_PY], 31);
    cr_assert_eq(st.funcs[MM_C_PY], 31);
    cr_assert_eq(st.dups[MM_C_PY], 1);
    cr_assert_eq(st.split[MM_C_PY][0] + st.split[MM_C_PY][1] + st.split[MM_C_PY][2], 30);
    o.out = out2;
    cr_assert_eq(mm_corpus_build(&o, &st), 0);
    /* deterministic, a file in one split only, the 12 CodeSearchNet fields in order */
    static const char *KEYS[12] = {"repo", "path", "func_name", "original_string", "language", "code",
                                   "code_tokens", "docstring", "docstring_tokens", "sha", "url", "partition"};
    char seen_paths[64][128];
    int seen_split[64], n_seen = 0;
    for (int s = 0; s < 3; s++) {
        char a[1300], b[1300];
        snprintf(a, sizeof a, "%s/python/%s.jsonl", out1, mm_split_name(s));
        snprintf(b, sizeof b, "%s/python/%s.jsonl", out2, mm_split_name(s));
        size_t la, lb;
        char *ta = mm_read_file(a, &la), *tb = mm_read_file(b, &lb);
        cr_assert(ta && tb);
        cr_assert(la == lb && !memcmp(ta, tb, la), "split %d differs between two builds", s);
        for (char *line = ta; *line;) {
            char *nl = strchr(line, '\n');
            *nl = 0;
            cJSON *j = cJSON_Parse(line);
            cr_assert(j);
            int k = 0;
            for (cJSON *it = j->child; it; it = it->next, k++) cr_assert_str_eq(it->string, KEYS[k]);
            cr_assert_eq(k, 12);
            cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "partition")), mm_split_name(s));
            const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(j, "path"));
            for (int q = 0; q < n_seen; q++)
                if (!strcmp(seen_paths[q], path)) cr_assert_eq(seen_split[q], s, "%s in two splits", path);
            snprintf(seen_paths[n_seen], sizeof seen_paths[0], "%s", path);
            seen_split[n_seen++] = s;
            cJSON_Delete(j);
            line = nl + 1;
        }
        free(ta);
        free(tb);
    }
    cr_assert_eq(n_seen, 30);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}
