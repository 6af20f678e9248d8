/* Readers: CodeSearchNet jsonl, XLCoST paired lines, language tables, bad input, missing data. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/csn.h"
#include "data/loader.h"
#include "data/xlcost.h"
#include "util/log.h"

#define FIX "tests/fixtures/data/raw"

static const char *shared_data(char *buf, size_t cap) {
    const char *s = getenv("SHARED_DIR");
    if (!s) return NULL;
    snprintf(buf, cap, "%s/data", s);
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/codesearchnet/ruby/test.jsonl", buf);
    return mm_file_exists(probe) ? buf : NULL;
}

Test(csn, language_table_fixed) {
    const mm_lang_table *t = mm_lang_table_get(MM_DS_CSN);
    const char *want[] = {"go", "java", "javascript", "php", "python", "ruby"};
    cr_assert_eq(t->n_langs, 6);
    for (int i = 0; i < 6; i++) cr_assert_str_eq(t->langs[i], want[i]);
    cr_assert_eq(mm_lang_id(t, "ruby"), 5);
    cr_assert_eq(mm_lang_id(t, "c"), -1);
    const mm_lang_table *l = mm_lang_table_get(MM_DS_LOCAL);
    for (int i = 0; i < 6; i++) cr_assert_str_eq(l->langs[i], want[i]);
    cr_assert_eq(mm_dataset_parse("xlcost"), MM_DS_XLCOST);
    cr_assert_eq(mm_dataset_parse("nope"), -1);
}

Test(xlcost, language_table_fixed) {
    const mm_lang_table *t = mm_lang_table_get(MM_DS_XLCOST);
    const char *want[] = {"C++", "Java", "Python", "C#", "Javascript", "PHP", "C"};
    cr_assert_eq(t->n_langs, 7);
    for (int i = 0; i < 7; i++) cr_assert_str_eq(t->langs[i], want[i]);
    cr_assert_eq(mm_lang_id(t, "c#"), 3);
}

Test(csn, fixture_bad_lines_counted) {
    mm_example_set s = {0};
    mm_bad_report bad = {0};
    long n = mm_csn_read(FIX "/codesearchnet/go/valid.jsonl", 0, 0, &s, &bad);
    cr_assert_eq(n, 3, "%s", mm_last_error());
    cr_assert_eq(bad.n_bad, 5);
    long want_lines[] = {2, 3, 4, 6, 7};
    for (int i = 0; i < 5; i++) cr_assert_eq(bad.lines[i], want_lines[i]);
    cr_assert_str_eq(bad.reasons[0], "malformed JSON");
    cr_assert_str_eq(bad.reasons[1], "missing field docstring_tokens");
    cr_assert_str_eq(bad.reasons[2], "code_tokens is not a list of strings");
    cr_assert_str_eq(bad.reasons[3], "invalid UTF-8");
    cr_assert_str_eq(s.ex[0].src, "func Add ( a , b int ) int { return a + b }");
    cr_assert_str_eq(s.ex[0].tgt, "Add returns the sum .");
    cr_assert_str_eq(s.ex[1].tgt, "Two spaced doc");
    cr_assert_str_eq(s.ex[2].tgt, "Three does \xc3\xa9t\xc3\xa9 things");
    cr_assert_eq(s.ex[2].line, 8);
    char msg[1024];
    mm_bad_format(&bad, msg, sizeof msg);
    cr_assert(strstr(msg, "5 input lines skipped") && strstr(msg, "valid.jsonl:2 (malformed JSON)"), "%s", msg);
    mm_examples_free(&s);
}

Test(csn, strict_is_an_error) {
    mm_example_set s = {0};
    mm_bad_report bad = {0};
    cr_assert_eq(mm_csn_read(FIX "/codesearchnet/go/valid.jsonl", 0, 1, &s, &bad), -1);
    cr_assert(strstr(mm_last_error(), "valid.jsonl:2: malformed JSON"), "%s", mm_last_error());
    mm_examples_free(&s);
}

Test(csn, trailing_garbage_and_ws) {
    char *a, *b;
    const char *why;
    const char *l1 = "{\"code_tokens\": [\"a\"], \"docstring_tokens\": [\"b\"]} x";
    cr_assert_eq(mm_csn_parse_line(l1, strlen(l1), &a, &b, &why), -1);
    const char *l2 = "{\"code_tokens\": [\" a\\u00a0\", \"\\n#c\\n\"], \"docstring_tokens\": [\"b\", \"\"]}";
    cr_assert_eq(mm_csn_parse_line(l2, strlen(l2), &a, &b, &why), 0);
    cr_assert_str_eq(a, "a #c");   /* NBSP is whitespace to Python's str.split() */
    cr_assert_str_eq(b, "b");
    free(a);
    free(b);
}

Test(csn, missing_data_names_files) {
    mm_load_opts o = {.kind = MM_DS_CSN, .raw = "/nonexistent/raw"};
    char msg[8192];
    cr_assert_eq(mm_dataset_check(&o, 1 << MM_SPLIT_TEST, msg, sizeof msg), -1);
    cr_assert(strstr(msg, "6 raw files missing"), "%s", msg);
    cr_assert(strstr(msg, "/nonexistent/raw/codesearchnet/ruby/test.jsonl"), "%s", msg);
    cr_assert(strstr(msg, "zenodo") && strstr(msg, "preprocess.py"), "%s", msg);
    o.kind = MM_DS_XLCOST;
    cr_assert_eq(mm_dataset_check(&o, 1 << MM_SPLIT_VALID, msg, sizeof msg), -1);
    cr_assert(strstr(msg, "/nonexistent/raw/xlcost/generation/pair_data_tok_full_desc/C#-desc/val-C#-desc-tok.cs"),
              "%s", msg);
    cr_assert(strstr(msg, "XLCoST_data.zip"), "%s", msg);
}

Test(csn, shared_ruby_python_counts) {
    char root[1024];
    if (!shared_data(root, sizeof root)) cr_skip_test("SHARED_DIR/data/codesearchnet absent");
    mm_load_opts o = {.kind = MM_DS_CSN, .raw = root};
    struct { const char *lang; int split; long n; } want[] = {
        {"ruby", MM_SPLIT_TEST, 350}, {"ruby", MM_SPLIT_VALID, 350},
        {"python", MM_SPLIT_TEST, 80}, {"python", MM_SPLIT_VALID, 70}};
    for (int i = 0; i < 4; i++) {
        mm_example_set s = {0};
        mm_bad_report bad = {0};
        int lang = mm_lang_id(mm_lang_table_get(MM_DS_CSN), want[i].lang);
        cr_assert_eq(mm_dataset_load(&o, lang, want[i].split, &s, &bad), want[i].n, "%s", mm_last_error());
        cr_assert_eq(bad.n_bad, 0);
        for (size_t k = 0; k < s.n; k++) cr_assert_eq(s.ex[k].lang, lang);
        if (i == 0) {
            cr_assert_str_eq(s.ex[0].tgt, "Outputs the deferred summary information saved via");
            cr_assert(!strncmp(s.ex[0].src, "def print_summary ( status ) status_string = status . to_s", 58));
        }
        mm_examples_free(&s);
    }
}

Test(xlcost, fixture_pairing_and_mismatch) {
    mm_example_set s = {0};
    mm_bad_report bad = {0};
    int java = mm_lang_id(mm_lang_table_get(MM_DS_XLCOST), "Java");
    cr_assert_eq(mm_xlcost_read(FIX, MM_XLCOST_PROGRAM, java, MM_SPLIT_TEST, 0, 0, &s, &bad), 3);
    cr_assert_eq(bad.n_bad, 1);
    cr_assert_eq(bad.lines[0], 4);
    cr_assert(strstr(bad.reasons[0], "3 code vs 4 text"), "%s", bad.reasons[0]);
    cr_assert_str_eq(s.ex[1].src, "class B { }");
    cr_assert_str_eq(s.ex[1].tgt, "Empty class B");
    cr_assert_str_eq(s.ex[2].src, "class C { }");
    cr_assert_eq(s.ex[2].lang, 1);
    mm_examples_free(&s);
    cr_assert_eq(mm_xlcost_read(FIX, MM_XLCOST_PROGRAM, java, MM_SPLIT_TEST, 0, 1, &s, &bad), -1);
    cr_assert(strstr(mm_last_error(), "line counts differ"), "%s", mm_last_error());
    mm_examples_free(&s);
}

Test(xlcost, python_layout) {
    mm_example_set s = {0};
    mm_bad_report bad = {0};
    int py = mm_lang_id(mm_lang_table_get(MM_DS_XLCOST), "Python");
    cr_assert_eq(mm_xlcost_read(FIX, MM_XLCOST_PROGRAM, py, MM_SPLIT_TEST, MM_XLCOST_PY_TOKENS, 0, &s, &bad), 1);
    cr_assert_eq(bad.n_bad, 1);   /* line 2: empty code */
    cr_assert(!strncmp(s.ex[0].src, "def f ( a ) : NEW_LINE INDENT if", 32));
    mm_examples_free(&s);
    cr_assert_eq(mm_xlcost_read(FIX, MM_XLCOST_PROGRAM, py, MM_SPLIT_TEST, MM_XLCOST_PY_RESTORE, 0, &s, &bad), 1);
    cr_assert_str_eq(s.ex[0].src, "def f ( a ) :\n    if a :\n        return 1\n    return 2\nprint ( f ( 0 ) )");
    mm_examples_free(&s);
}

Test(xlcost, shared_python_program_and_snippet) {
    char root[1024];
    if (!shared_data(root, sizeof root)) cr_skip_test("SHARED_DIR/data/xlcost absent");
    int py = mm_lang_id(mm_lang_table_get(MM_DS_XLCOST), "Python");
    struct { int level, split; long n; const char *tgt0; } want[] = {
        {MM_XLCOST_PROGRAM, MM_SPLIT_TEST, 450, "Minimum sum possible by removing all occurrences of any array element"},
        {MM_XLCOST_PROGRAM, MM_SPLIT_VALID, 472, NULL},
        {MM_XLCOST_SNIPPET, MM_SPLIT_TEST, 3795, "Function to find minimum sum after deletion"},
        {MM_XLCOST_SNIPPET, MM_SPLIT_VALID, 3946, "Function to convert centimeters to pixels"}};
    for (int i = 0; i < 4; i++) {
        mm_example_set s = {0};
        mm_bad_report bad = {0};
        cr_assert_eq(mm_xlcost_read(root, want[i].level, py, want[i].split, 0, 1, &s, &bad), want[i].n, "%s",
                     mm_last_error());
        if (want[i].tgt0) cr_assert_str_eq(s.ex[0].tgt, want[i].tgt0);
        if (i == 2) {
            cr_assert_str_eq(s.ex[0].src, "def minSum ( A , N ) : NEW_LINE");
            cr_assert_str_eq(s.ex[1].tgt, "Stores frequency of array elements");
        }
        /* restored layout compiles for every program-level example */
        if (i == 0) {
            char *r = mm_xlcost_python_restore(s.ex[0].src);
            cr_assert(!strncmp(r, "def minSum ( A , N ) :\n    mp = { }\n    sum = 0\n", 48), "%s", r);
            free(r);
        }
        mm_examples_free(&s);
    }
}
