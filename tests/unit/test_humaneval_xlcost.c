/* mmlora humaneval sample on XLCoST: a synthetic raw tree in XLCoST's own layout (paired code / text files per
 * language and split, program and snippet level, skipped empty pairs so raw lines and example indices differ), a
 * token cache of dataset "xlcost" / "xlcost-snippet" whose lines point at those raw lines, and five rq1 runs ->
 * sample must put each example's own code line in the sheet (Python layout restored), refuse a record whose
 * summary differs from the reference ("[code unavailable]" + the warning), and write the raters' instructions. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "data/cache.h"
#include "report/hecsv.h"
#include "report/humaneval.h"
#include "util/fileio.h"
#include "util/log.h"
#include "humaneval_world.h"

static const char *XL_LANGS[7] = {"C++", "Java", "Python", "C#", "Javascript", "PHP", "C"}; /* data/dataset.c */

/* one raw line pair: code line (as in the .<ext> file), summary line (.txt), and the code the sheet must show
 * (NULL: the pair is skipped by the reader, so it is in no cache) */
typedef struct {
    int lang;   /* xlcost id */
    const char *code_line, *text_line, *want;
} pair;

/* program level.  Java line 2 is an empty code line and C++ line 1 an empty summary (both skipped by the reader):
 * the cache points at raw lines, not at positions among the examples. */
static const pair PROGRAM[] = {
    {1, "public class Main { static int add ( int a , int b ) { return a + b ; } }", "Add two numbers",
     "public class Main { static int add ( int a , int b ) { return a + b ; } }"},
    {1, "", "Nothing here", NULL},
    {1, "  class Q { String s = \"a,b\" ; }  ", "Quote, comma \"x\" and a string", "class Q { String s = \"a,b\" ; }"},
    {1, "class R { }", "Empty class R", "class R { }"},
    {2, "def f ( a ) : NEW_LINE INDENT if a : NEW_LINE INDENT return 1 NEW_LINE DEDENT return 2 NEW_LINE DEDENT "
        "print ( f ( 0 ) ) NEW_LINE",
     "Function f returns one or two", "def f ( a ) :\n    if a :\n        return 1\n    return 2\nprint ( f ( 0 ) )"},
    {2, "x = 1 NEW_LINE", "Set x", "x = 1"},
    {2, "def g ( ) : NEW_LINE INDENT return \" a , b \" NEW_LINE DEDENT", "Return a string with a comma",
     "def g ( ) :\n    return \" a , b \""},
    {0, "int main ( ) { return 1 ; }", "   ", NULL},
    {0, "int main ( ) { return 0 ; }", "Return zero", "int main ( ) { return 0 ; }"},
    {0, "#include <bits/stdc++.h> using namespace std ; int sq ( int x ) { return x * x ; }", "Square of x",
     "#include <bits/stdc++.h> using namespace std ; int sq ( int x ) { return x * x ; }"},
};
/* snippet level: other code and summaries for the same languages, so reading the wrong level cannot pass */
static const pair SNIPPET[] = {
    {1, "int s = 0 ;", "Initialize the sum", "int s = 0 ;"},
    {1, "for ( int i = 0 ; i < n ; i ++ ) s += a [ i ] ;", "Add up the array", "for ( int i = 0 ; i < n ; i ++ ) s += a [ i ] ;"},
    {2, "for i in range ( n ) : NEW_LINE INDENT s += a [ i ] NEW_LINE DEDENT", "Add up the list",
     "for i in range ( n ) :\n    s += a [ i ]"},
    {2, "", "", NULL},
    {2, "print ( s ) NEW_LINE", "Print the sum", "print ( s )"},
};
enum { NPROG = sizeof PROGRAM / sizeof PROGRAM[0], NSNIP = sizeof SNIPPET / sizeof SNIPPET[0], MAXP = 16 };

/* the test world: which pairs, and the cache index (test id) of each pair that is an example (-1 if none) */
typedef struct {
    const pair *p;
    int n, idx[MAXP], line[MAXP];
} world;

/* the raw files of one level in XLCoST's layout (data/xlcost.h) */
static void write_raw(const pair *ps, int n, int snippet, world *w) {
    static const char *EXT[3] = {"cpp", "java", "py"};
    const char *dir = snippet ? "pair_data_tok_1_comment" : "pair_data_tok_full_desc", *suf = snippet ? "comment" : "desc";
    for (int l = 0; l < 3; l++) {
        char code[4096] = "", text[4096] = "", rel[512];
        int line = 0;
        for (int i = 0; i < n; i++) {
            if (ps[i].lang != l) continue;
            strcat(code, ps[i].code_line);
            strcat(code, "\n");
            strcat(text, ps[i].text_line);
            strcat(text, l == 0 ? "\r\n" : "\n");   /* CRLF in one file: stripped like the reader does */
            if (w) w->line[i] = ++line;
        }
        if (!line) continue;
        snprintf(rel, sizeof rel, "raw/xlcost/generation/%s/%s-%s/test-%s-%s-tok.%s", dir, XL_LANGS[l], suf, XL_LANGS[l],
                 suf, EXT[l]);
        put(rel, code);
        snprintf(rel, sizeof rel, "raw/xlcost/generation/%s/%s-%s/test-%s-%s-tok.txt", dir, XL_LANGS[l], suf, XL_LANGS[l],
                 suf);
        put(rel, text);
    }
}

/* the raw tree of both levels (the other level as a decoy), the cache of `level`, five rq1 runs whose gold is the
 * raw summaries except for bad_ref (a pair index whose reference the runs have changed; -1: none) */
static void build_world(int snippet, int bad_ref, world *w) {
    new_world("mmlora-hex");
    memset(w, 0, sizeof *w);
    w->p = snippet ? SNIPPET : PROGRAM;
    w->n = snippet ? NSNIP : NPROG;
    write_raw(PROGRAM, NPROG, 0, snippet ? NULL : w);
    write_raw(SNIPPET, NSNIP, 1, snippet ? w : NULL);
    /* the cache: the examples in language-id order (as prepare writes them), each with its raw line */
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/cache/xlcost-test", g_root);
    cr_assert_eq(mm_mkdirs(dir), 0);
    mm_cache_header h;
    memset(&h, 0, sizeof h);
    h.split = 2;
    h.n_langs = 7;
    for (int l = 0; l < 7; l++) snprintf(h.lang_names[l], sizeof h.lang_names[l], "%s", XL_LANGS[l]);
    snprintf(h.dataset, sizeof h.dataset, "%s", snippet ? "xlcost-snippet" : "xlcost");
    snprintf(path, sizeof path, "%s/test.bin", dir);
    mm_cache_writer *cw = mm_cache_writer_open(path, &h);
    cr_assert(cw, "%s", mm_last_error());
    int32_t ids[2] = {1, 2};
    int nidx = 0;
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < w->n; i++) {
            if (w->p[i].lang != l) continue;
            w->idx[i] = w->p[i].want ? nidx++ : -1;
            if (w->p[i].want) cr_assert_eq(mm_cache_writer_add(cw, l, w->line[i], 1, ids, 2), 0);
        }
    cr_assert_eq(mm_cache_writer_commit(cw), 0, "%s", mm_last_error());
    /* five runs: gold = the raw summaries (one changed), predictions = one per method */
    char buf[2048], rel[256], gold[3][2048], pred[3][2048];
    for (int k = 0; k < 5; k++) {
        char run[128];
        snprintf(run, sizeof run, "results/rq1/xlcost/tiny/%s-s42", METHODS[k]);
        snprintf(rel, sizeof rel, "%s/run.json", run);
        snprintf(buf, sizeof buf, "{\"rq\": \"rq1\", \"dataset\": \"xlcost\", \"model\": \"tiny\", \"method\": \"%s\", "
                 "\"seed\": 42, \"cache\": \"%s\"}", METHODS[k], dir);
        put(rel, buf);
        size_t o = (size_t)snprintf(buf, sizeof buf, "{\"languages\": {");
        for (int l = 0, nl = 0; l < 3; l++)
            for (int i = 0; i < w->n; i++)
                if (w->p[i].lang == l && w->p[i].want) {   /* the languages with a test example */
                    o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s\": {\"bleu\": 1, \"meteor\": 2, \"n\": 3}",
                                          nl++ ? ", " : "", XL_LANGS[l]);
                    break;
                }
        snprintf(buf + o, sizeof buf - o, "}, \"overall\": {\"bleu\": 1, \"meteor\": 2}}");
        snprintf(rel, sizeof rel, "%s/scores.json", run);
        put(rel, buf);
        for (int l = 0; l < 3; l++) gold[l][0] = pred[l][0] = 0;
        for (int i = 0; i < w->n; i++) {
            if (w->idx[i] < 0) continue;
            int l = w->p[i].lang;
            char line[512];
            snprintf(line, sizeof line, "%d\t%s%s\n", w->idx[i], w->p[i].text_line, i == bad_ref ? " (edited)" : "");
            strcat(gold[l], line);
            snprintf(line, sizeof line, "%d\tcandidate %d of method %d\n", w->idx[i], w->idx[i], k);
            strcat(pred[l], line);
        }
        for (int l = 0; l < 3; l++) {
            if (!gold[l][0]) continue;
            put_run_lang(run, XL_LANGS[l], gold[l], pred[l]);
        }
        snprintf(rel, sizeof rel, "%s/DONE", run);
        put(rel, "");
    }
}

/* sample with every example of every language; stderr goes to *err (malloc'd) */
static void sample_all(const char *sheet, mm_he_sample_result *r, char **err) {
    mm_he_sample_opts o = {.results = at("results"), .dataset = "xlcost", .model = "tiny", .raw = at("raw"),
                           .per_lang = 5, .seed = 42, .out = at(sheet)};
    const char *log = at("stderr.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    mm_clear_error();
    int rc = mm_he_sample(&o, r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq(rc, 0, "sample failed: %s", mm_last_error());
    *err = mm_read_file(log, NULL);
    cr_assert(*err);
}

/* every row of the sheet: the code of its test id (from the key) is want, or "[code unavailable]" for bad_ref */
static void check_sheet(const world *w, const char *sheet, const char *key, int bad_ref, int n_examples) {
    mm_hecsv s, k;
    cr_assert_eq(mm_hecsv_read(sheet, &s), 0, "%s", mm_last_error());
    cr_assert_eq(mm_hecsv_read(key, &k), 0, "%s", mm_last_error());
    cr_assert_eq(s.nrow, 5 * n_examples);
    cr_assert_eq(k.nrow, s.nrow);
    int cid = mm_hecsv_col(&k, "id"), seen[MAXP] = {0};
    for (int r = 0; r < s.nrow; r++) {
        cr_assert_str_eq(s.cell[r][0], k.cell[r][0]);
        int id = atoi(k.cell[r][cid]), i = -1;
        for (int j = 0; j < w->n; j++)
            if (w->idx[j] == id) i = j;
        cr_assert(i >= 0, "test id %d is no example", id);
        seen[i]++;
        cr_expect_str_eq(s.cell[r][2], XL_LANGS[w->p[i].lang]);   /* C++, Java, Python: displayed as named */
        if (i == bad_ref) {
            cr_expect_str_eq(s.cell[r][3], "[code unavailable]");
            char want[256];
            snprintf(want, sizeof want, "%s (edited)", w->p[i].text_line);
            cr_expect_str_eq(s.cell[r][4], want, "the reference is the runs' gold");
        } else {
            cr_expect_str_eq(s.cell[r][3], w->p[i].want, "%s id %d (raw line %d)", XL_LANGS[w->p[i].lang], id, w->line[i]);
            cr_expect_str_eq(s.cell[r][4], w->p[i].text_line);
        }
    }
    for (int i = 0; i < w->n; i++) cr_expect_eq(seen[i], w->idx[i] >= 0 ? 5 : 0, "pair %d: %d rows", i, seen[i]);
    mm_hecsv_free(&s);
    mm_hecsv_free(&k);
}

Test(humaneval_xlcost, program_level_code_from_raw_lines) {
    world w;
    build_world(0, -1, &w);
    mm_he_sample_result r;
    char *err;
    sample_all("s.csv", &r, &err);
    cr_expect_eq(r.n_methods, 5);
    cr_expect_eq(r.n_langs, 3);
    cr_expect_eq(r.n_examples, 8);
    cr_expect_eq(r.n_no_code, 0, "stderr:\n%s", err);
    cr_expect(!strstr(err, "unavailable"), "%s", err);
    check_sheet(&w, at("s.csv"), r.key_path, -1, 8);
    free(err);
    remove_world();
}

Test(humaneval_xlcost, snippet_level_reads_the_comment_files) {
    world w;
    build_world(1, -1, &w);
    mm_he_sample_result r;
    char *err;
    sample_all("snip.csv", &r, &err);
    cr_expect_eq(r.n_langs, 2);
    cr_expect_eq(r.n_examples, 4);
    cr_expect_eq(r.n_no_code, 0, "stderr:\n%s", err);
    check_sheet(&w, at("snip.csv"), r.key_path, -1, 4);
    free(err);
    remove_world();
}

Test(humaneval_xlcost, summary_mismatch_gives_code_unavailable) {
    world w;
    const int bad = 4;   /* the Python function f, raw line 1 */
    build_world(0, bad, &w);
    mm_he_sample_result r;
    char *err;
    sample_all("s.csv", &r, &err);
    cr_expect_eq(r.n_examples, 8);
    cr_expect_eq(r.n_no_code, 1);
    check_sheet(&w, at("s.csv"), r.key_path, bad, 8);
    cr_expect(strstr(err, "warning: humaneval: the code of 1 of 8 examples is unavailable"), "%s", err);
    cr_expect(strstr(err, "the raw record at line 1 of the Python test split has another summary than the reference"),
              "%s", err);
    free(err);
    remove_world();
}

Test(humaneval_xlcost, rater_instructions_beside_the_sheet) {
    world w;
    build_world(0, -1, &w);
    mm_he_sample_result r;
    char *err;
    sample_all("sheets/round1.csv", &r, &err);
    cr_expect_str_eq(r.instructions_path, at("sheets/round1.instructions.md"));
    char *ins = mm_read_file(r.instructions_path, NULL);
    cr_assert(ins, "%s not written", r.instructions_path);
    static const char *const WANT[] = {"**Similarity**: similarity with the reference summary",
                                       "**Naturalness**: grammatical correctness and fluency",
                                       "**Informativeness**: the amount of relevant information transferred from the "
                                       "input code",
                                       "**Relevance**: alignment with the input code snippet",
                                       "**0** (lowest) to\n**4** (highest)", "`round1.csv`",
                                       "names of the methods that wrote the candidates are hidden"};
    for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++) cr_expect(strstr(ins, WANT[i]), "no \"%s\" in\n%s", WANT[i], ins);
    const char *blind[] = {"fpft", "lora", "mola", "tiny", "rq1", "s42", "results"};
    for (size_t i = 0; i < sizeof blind / sizeof blind[0]; i++)
        cr_expect(!strcasestr(ins, blind[i]), "the instructions mention \"%s\"", blind[i]);
    /* no temporary file left behind (written atomically), and the same inputs give the same text */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s/sheets' | grep -q tmp", g_root);
    cr_expect_neq(system(cmd), 0, "a temporary file is left in sheets/");
    char *err2;
    sample_all("sheets/round1.csv", &r, &err2);
    char *again = mm_read_file(r.instructions_path, NULL);
    cr_expect_str_eq(again, ins);
    free(again);
    free(ins);
    free(err);
    free(err2);
    remove_world();
}
