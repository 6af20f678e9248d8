/* mmlora humaneval: a synthetic results tree (five rq1 runs of CodeSearchNet-format data, a token cache and
 * the raw jsonl files, code with commas, quotes and newlines) -> sample (blinding, per-language counts,
 * determinism, shuffle, code recovery) -> programmatically filled sheets -> aggregate (exact means and
 * standard deviations, errors naming FILE:LINE:COLUMN, key/sheet mismatches) -> `mmlora report`. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli/commands.h"
#include "data/cache.h"
#include "report/hecsv.h"
#include "report/humaneval.h"
#include "report/report.h"
#include "util/fileio.h"
#include "util/log.h"
#include "humaneval_world.h"

static const char *LANGS[3] = {"go", "python", "ruby"};   /* csn ids 0, 4, 5 */
static const int LANG_ID[3] = {0, 4, 5};
static const char *NOUNS[8] = {"buffer", "socket", "parser", "queue", "matrix", "token", "record", "stream"};
static const char *VERBS[5] = {"returns", "computes", "builds", "reads", "checks"}; /* one per method */
enum { NEX = 8 };

/* the raw code of example i of language l: commas, quotes, a backslash and newlines */
static void code_of(int l, int i, char *buf, size_t cap) {
    snprintf(buf, cap, "def get_%s_%d(a, b):\n    \"\"\"say \"hi\", %s\"\"\"\n    return a[b] + '\\\\n'", NOUNS[i % 8], l, LANGS[l]);
}

static void json_str(char *out, size_t cap, const char *s) { /* minimal JSON string escaping */
    size_t k = 0;
    out[k++] = '"';
    for (; *s && k + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') { out[k++] = '\\'; out[k++] = *s; }
        else if (*s == '\n') { out[k++] = '\\'; out[k++] = 'n'; }
        else out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = 0;
}

static void write_cache(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cache/csn-test", g_root);
    cr_assert_eq(mm_mkdirs(dir), 0);
    mm_cache_header h;
    memset(&h, 0, sizeof h);
    h.split = 2;
    h.n_langs = 6;
    const char *names[6] = {"go", "java", "javascript", "php", "python", "ruby"};
    for (int l = 0; l < 6; l++) snprintf(h.lang_names[l], sizeof h.lang_names[l], "%s", names[l]);
    snprintf(h.dataset, sizeof h.dataset, "csn");
    char path[600];
    snprintf(path, sizeof path, "%s/test.bin", dir);
    mm_cache_writer *w = mm_cache_writer_open(path, &h);
    cr_assert(w);
    int32_t ids[2] = {1, 2};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < NEX; i++) cr_assert_eq(mm_cache_writer_add(w, LANG_ID[l], i + 1, 1, ids, 2), 0);
    cr_assert_eq(mm_cache_writer_commit(w), 0, "%s", mm_last_error());
}

/* summary of example (l, i): gold; method k's candidate: VERBS[k] ... */
static void build_world(void) {
    new_world("mmlora-he");
    char buf[8192], code[512], jcode[1024], rel[256];
    for (int l = 0; l < 3; l++) {
        size_t n = 0;
        for (int i = 0; i < NEX; i++) {
            code_of(l, i, code, sizeof code);
            json_str(jcode, sizeof jcode, code);
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                                  "{\"code\": %s, \"code_tokens\": [\"def\", \"get_%s\"], \"docstring_tokens\": "
                                  "[\"Get\", \"the\", \"%s\", \"%d\", \",\", \"quoted\", \"\\\"%s\\\"\"]}\n",
                                  jcode, NOUNS[i], NOUNS[i], l, LANGS[l]);
        }
        snprintf(rel, sizeof rel, "raw/codesearchnet/%s/test.jsonl", LANGS[l]);
        put(rel, buf);
    }
    write_cache();
    for (int k = 0; k < 5; k++) {
        char run[128];
        snprintf(run, sizeof run, "results/rq1/csn/tiny/%s-s42", METHODS[k]);
        snprintf(rel, sizeof rel, "%s/run.json", run);
        snprintf(buf, sizeof buf, "{\"rq\": \"rq1\", \"dataset\": \"csn\", \"model\": \"tiny\", \"method\": \"%s\", "
                 "\"seed\": 42, \"cache\": \"%s/cache/csn-test\"}", METHODS[k], g_root);
        put(rel, buf);
        snprintf(rel, sizeof rel, "%s/scores.json", run);
        put(rel, "{\"languages\": {\"go\": {\"bleu\": 1, \"meteor\": 2, \"n\": 8}, \"python\": {\"bleu\": 1, \"meteor\": 2, "
                 "\"n\": 8}, \"ruby\": {\"bleu\": 1, \"meteor\": 2, \"n\": 8}}, \"overall\": {\"bleu\": 1, \"meteor\": 2}}");
        for (int l = 0; l < 3; l++) {
            size_t g = 0, p = 0;
            char gold[4096], pred[4096];
            for (int i = 0; i < NEX; i++) {
                int idx = l * NEX + i;
                g += (size_t)snprintf(gold + g, sizeof gold - g, "%d\tGet the %s %d , quoted \"%s\"\n", idx, NOUNS[i], l,
                                      LANGS[l]);
                if (k == 3 && l == 2 && i == NEX - 1) continue; /* mola misses the last ruby example */
                p += (size_t)snprintf(pred + p, sizeof pred - p, "%d\t%s the %s, \"x\" %d\n", idx, VERBS[k], NOUNS[i], l);
            }
            put_run_lang(run, LANGS[l], gold, pred);
        }
        snprintf(rel, sizeof rel, "%s/DONE", run);
        put(rel, "");
    }
}

static mm_he_sample_opts sample_opts(const char *sheet, int per_lang, uint64_t seed) {
    mm_he_sample_opts o = {.results = at("results"), .dataset = "csn", .model = "tiny", .raw = at("raw"),
                           .per_lang = per_lang, .seed = seed, .out = at(sheet)};
    return o;
}

static void sample_ok(const char *sheet, int per_lang, uint64_t seed, mm_he_sample_result *r) {
    mm_he_sample_opts o = sample_opts(sheet, per_lang, seed);
    mm_clear_error();
    cr_assert_eq(mm_he_sample(&o, r), 0, "sample failed: %s", mm_last_error());
}

static int method_ix(const char *label) {
    for (int k = 0; k < 5; k++)
        if (!strcmp(METHODS[k], label)) return k;
    cr_assert_fail("unknown method %s in the key", label);
    return -1;
}

Test(humaneval, sample_blinded_counts_and_code) {
    build_world();
    mm_he_sample_result r;
    sample_ok("sheets/s.csv", 3, 42, &r);
    cr_expect_eq(r.n_methods, 5);
    cr_expect_eq(r.n_examples, 9);
    cr_expect_eq(r.n_rows, 45);
    cr_expect_eq(r.n_no_code, 0);
    cr_expect_str_eq(r.key_path, at("sheets/s.key.csv"));
    char *text = get("sheets/s.csv");
    /* blinding: no method id or display name anywhere in the sheet */
    const char *names[] = {"fpft", "lora", "mola", "mmlora", "each", "mix", "tiny", "rq1", "s42", "results"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_expect(!strcasestr(text, names[i]), "the sheet mentions \"%s\"", names[i]);
    mm_hecsv s, k;
    cr_assert_eq(mm_hecsv_read(at("sheets/s.csv"), &s), 0, "%s", mm_last_error());
    cr_assert_eq(mm_hecsv_read(r.key_path, &k), 0, "%s", mm_last_error());
    const char *head[] = {"item", "example", "language", "code", "reference", "candidate", "Similarity", "Naturalness",
                          "Informativeness", "Relevance"};
    cr_assert_eq(s.ncol, 10);
    for (int c = 0; c < 10; c++) cr_expect_str_eq(s.head[c], head[c]);
    cr_assert_eq(s.nrow, 45);
    cr_assert_eq(k.nrow, 45);
    int per_lang[3] = {0};
    int cm = mm_hecsv_col(&k, "method"), cid = mm_hecsv_col(&k, "id");
    for (int i = 0; i < 45; i++) {
        cr_expect_str_eq(s.cell[i][0], k.cell[i][0]);           /* same items, same order */
        for (int c = 6; c < 10; c++) cr_expect_str_eq(s.cell[i][c], "");
        int l = !strcmp(s.cell[i][2], "Go") ? 0 : !strcmp(s.cell[i][2], "Python") ? 1 : !strcmp(s.cell[i][2], "Ruby") ? 2 : -1;
        cr_assert(l >= 0, "language %s", s.cell[i][2]);
        if (i % 5 == 0) per_lang[l]++;
        /* the code came back from the raw record, commas, quotes and newlines intact */
        int idx = atoi(k.cell[i][cid]), ex = idx - l * NEX;
        char code[512];
        code_of(l, ex, code, sizeof code);
        cr_expect_str_eq(s.cell[i][3], code);
        char want[256];
        snprintf(want, sizeof want, "%s the %s, \"x\" %d", VERBS[method_ix(k.cell[i][cm])], NOUNS[ex], l);
        cr_expect_str_eq(s.cell[i][5], want);
        /* the five candidates of an example are consecutive and come from five different methods */
        if (i % 5 == 4) {
            int seen = 0;
            for (int j = i - 4; j <= i; j++) {
                cr_expect_str_eq(s.cell[j][1], s.cell[i][1]);
                seen |= 1 << method_ix(k.cell[j][cm]);
            }
            cr_expect_eq(seen, 31);
        }
    }
    for (int l = 0; l < 3; l++) cr_expect_eq(per_lang[l], 3, "%s: %d examples", LANGS[l], per_lang[l]);
    mm_hecsv_free(&s);
    mm_hecsv_free(&k);
    free(text);
    remove_world();
}

Test(humaneval, sample_deterministic_for_a_seed) {
    build_world();
    mm_he_sample_result r;
    sample_ok("a.csv", 3, 7, &r);
    sample_ok("b.csv", 3, 7, &r);
    sample_ok("c.csv", 3, 8, &r);
    char *a = get("a.csv"), *b = get("b.csv"), *c = get("c.csv"), *ka = get("a.key.csv"), *kb = get("b.key.csv");
    cr_expect_str_eq(a, b, "same seed, same sheet");
    cr_expect_str_eq(ka, kb, "same seed, same key");
    cr_expect_str_neq(a, c, "another seed, another sheet");
    free(a); free(b); free(c); free(ka); free(kb);
    remove_world();
}

Test(humaneval, sample_shuffles_examples_and_candidates) {
    build_world();
    mm_he_sample_result r;
    sample_ok("s.csv", 8, 42, &r);
    cr_assert_eq(r.n_examples, 23, "ruby: 7 examples that every method predicted (mola lacks one)");
    mm_hecsv k;
    cr_assert_eq(mm_hecsv_read(r.key_path, &k), 0);
    int cm = mm_hecsv_col(&k, "method"), cl = mm_hecsv_col(&k, "language");
    int first_method[5] = {0}, orders_differ = 0, lang_changes = 0;
    for (int e = 0; e < 23; e++) {
        first_method[method_ix(k.cell[e * 5][cm])]++;
        for (int j = 0; j < 5; j++)
            if (e && strcmp(k.cell[e * 5 + j][cm], k.cell[j][cm])) orders_differ = 1;
        if (e && strcmp(k.cell[e * 5][cl], k.cell[(e - 1) * 5][cl])) lang_changes++;
    }
    cr_expect(orders_differ, "candidates in a fixed method order");
    int spread = 0;
    for (int m = 0; m < 5; m++) spread += first_method[m] > 0;
    cr_expect_geq(spread, 3, "the first candidate of an example comes from only %d methods", spread);
    cr_expect_gt(lang_changes, 2, "examples grouped by language (%d changes)", lang_changes);
    mm_hecsv_free(&k);
    remove_world();
}

Test(humaneval, sample_methods_and_errors) {
    build_world();
    mm_he_sample_opts o = sample_opts("m.csv", 2, 42);
    o.methods = "mmlora, lora-mix";
    o.key = at("keys/m-key.csv");
    mm_he_sample_result r;
    cr_assert_eq(mm_he_sample(&o, &r), 0, "%s", mm_last_error());
    cr_expect_eq(r.n_methods, 2);
    cr_expect_eq(r.n_rows, 12);
    cr_expect(mm_file_exists(at("keys/m-key.csv")));
    o.methods = "mmlora,adapter";
    mm_clear_error();
    cr_expect_eq(mm_he_sample(&o, &r), -1);
    cr_expect(strstr(mm_last_error(), "unknown method \"adapter\""), "%s", mm_last_error());
    o.methods = "mmlora,gpt-4:few-shot";
    cr_expect_eq(mm_he_sample(&o, &r), -1);
    cr_expect(strstr(mm_last_error(), "no complete rq1 run of gpt-4 (few-shot)"), "%s", mm_last_error());
    o.methods = NULL;
    o.model = "starcoderbase";
    cr_expect_eq(mm_he_sample(&o, &r), -1);
    cr_expect(strstr(mm_last_error(), "no complete rq1 run"), "%s", mm_last_error());
    remove_world();
}

Test(humaneval, sample_without_code_writes_the_reference_only) {
    build_world();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/cache'", g_root);
    cr_assert_eq(system(cmd), 0);
    mm_he_sample_result r;
    sample_ok("s.csv", 2, 42, &r);
    cr_expect_eq(r.n_no_code, 6);
    mm_hecsv s;
    cr_assert_eq(mm_hecsv_read(at("s.csv"), &s), 0);
    for (int i = 0; i < s.nrow; i++) {
        cr_expect_str_eq(s.cell[i][3], "[code unavailable]");
        cr_expect(strstr(s.cell[i][4], "Get the "), "the reference is there");
    }
    mm_hecsv_free(&s);
    remove_world();
}

Test(humaneval, csv_fields_round_trip) {
    build_world();
    const char *v[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "crlf\r\ninside", " lead", "trail ", "",
                       "\"", ",", "ünïcødé, \"q\"\n\n", "x"};
    enum { NV = sizeof v / sizeof v[0] };
    mm_sbuf b = {0};
    for (int i = 0; i < NV; i++) mm_sb_printf(&b, "%sc%d", i ? "," : "", i);
    mm_sb_puts(&b, "\n");
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < NV; i++) {
            if (i) mm_sb_puts(&b, ",");
            mm_hecsv_field(&b, v[(i + r) % NV]);
        }
        mm_sb_puts(&b, r ? "\n" : "\r\n");
    }
    cr_assert_eq(mm_sb_write(&b, at("rt.csv")), 0);
    mm_sb_free(&b);
    mm_hecsv t;
    cr_assert_eq(mm_hecsv_read(at("rt.csv"), &t), 0, "%s", mm_last_error());
    cr_assert_eq(t.nrow, 2);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < NV; i++) cr_expect_str_eq(t.cell[r][i], v[(i + r) % NV], "row %d field %d", r, i);
    cr_expect_eq(t.line[0][0], 2);
    cr_expect_eq(t.line[0][4], 3, "field 5 starts after field 4's newline");
    cr_expect_eq(t.line[1][0], 2 + 4 + 1, "row 2 starts after row 1's four embedded newlines and its end");
    mm_hecsv_free(&t);
    /* a header cell that starts with a byte-order mark survives being the first bytes of a file (fuzz_hecsv) */
    mm_sbuf h = {0};
    mm_sb_puts(&h, "");
    mm_hecsv_field(&h, "\xef\xbb\xbf" "x");
    mm_sb_puts(&h, "\n1\n");
    cr_assert_eq(mm_sb_write(&h, at("bom.csv")), 0);
    mm_sb_free(&h);
    cr_assert_eq(mm_hecsv_read(at("bom.csv"), &t), 0, "%s", mm_last_error());
    cr_expect_str_eq(t.head[0], "\xef\xbb\xbf" "x");
    mm_hecsv_free(&t);
    put("bad.csv", "a,b\n1,\"open\n");
    cr_expect_eq(mm_hecsv_read(at("bad.csv"), &t), -1);
    cr_expect(strstr(mm_last_error(), "bad.csv:2: unterminated quoted field"), "%s", mm_last_error());
    put("bad2.csv", "a,b\n1,2,3\n");
    cr_expect_eq(mm_hecsv_read(at("bad2.csv"), &t), -1);
    cr_expect(strstr(mm_last_error(), "bad2.csv:2: 3 fields but the header has 2"), "%s", mm_last_error());
    remove_world();
}

/* ---------------------------------------------------------------- aggregate */

/* rating of (method k, criterion c, rater, example position e) */
static int rating(int k, int c, int rater, int e) {
    if (k == 4 && c == 0) return rater == 1 ? 2 : 3;    /* MMLoRA Similarity: 2 and 3 -> mean 2.5 */
    if (k == 0) return 4;                              /* FPFT-Mix: all 4 -> sd 0 */
    return (k + c + rater + e) % 5;
}

/* fills sheet -> out with rating(); returns the text written */
static void fill(const char *sheet, const char *key, const char *out, int rater) {
    mm_hecsv s, k;
    cr_assert_eq(mm_hecsv_read(sheet, &s), 0, "%s", mm_last_error());
    cr_assert_eq(mm_hecsv_read(key, &k), 0, "%s", mm_last_error());
    int cm = mm_hecsv_col(&k, "method");
    mm_sbuf b = {0};
    for (int c = 0; c < s.ncol; c++) { if (c) mm_sb_puts(&b, ","); mm_hecsv_field(&b, s.head[c]); }
    mm_sb_puts(&b, "\n");
    for (int i = 0; i < s.nrow; i++) {
        int m = method_ix(k.cell[i][cm]), e = atoi(s.cell[i][1] + 1);
        for (int c = 0; c < 6; c++) { if (c) mm_sb_puts(&b, ","); mm_hecsv_field(&b, s.cell[i][c]); }
        for (int c = 0; c < 4; c++) mm_sb_printf(&b, ",%d", rating(m, c, rater, e));
        mm_sb_puts(&b, "\n");
    }
    cr_assert_eq(mm_sb_write(&b, out), 0);
    mm_sb_free(&b);
    mm_hecsv_free(&s);
    mm_hecsv_free(&k);
}

static int aggregate(const char *const *sheets, int n, const char *out, int allow_missing, mm_he_aggregate_result *r) {
    mm_he_aggregate_opts o = {.key = at("s.key.csv"), .sheets = sheets, .n_sheets = n, .out = out,
                              .paper = "paper-tables/paper", .allow_missing = allow_missing};
    mm_clear_error();
    return mm_he_aggregate(&o, r);
}

static char *csv_row(const char *csv, const char *prefix) {
    const char *p = strstr(csv, prefix);
    cr_assert(p, "no row %s in\n%s", prefix, csv);
    const char *e = strchr(p, '\n');
    return strndup(p, (size_t)(e - p));
}

Test(humaneval, aggregate_exact_statistics) {
    build_world();
    mm_he_sample_result sr;
    sample_ok("s.csv", 3, 42, &sr);
    fill(at("s.csv"), at("s.key.csv"), at("r1.csv"), 1);
    fill(at("s.csv"), at("s.key.csv"), at("r2.csv"), 2);
    const char *sheets[2] = {at("r1.csv"), at("r2.csv")};
    mm_he_aggregate_result r;
    cr_assert_eq(aggregate(sheets, 2, at("out"), 0, &r), 0, "%s", mm_last_error());
    cr_expect_eq(r.n_ratings, 2 * 45 * 4);
    cr_expect_eq(r.n_missing, 0);
    cr_expect_eq(r.n_methods, 5);
    cr_expect_eq(r.n_items, 45);
    /* expected statistics computed here from rating(): mean, sample sd over 2 raters x 9 examples */
    mm_hecsv k;
    cr_assert_eq(mm_hecsv_read(at("s.key.csv"), &k), 0);
    double sum[5][4] = {{0}}, sq[5][4] = {{0}};
    int n[5][4] = {{0}};
    for (int i = 0; i < k.nrow; i++)
        for (int rater = 1; rater <= 2; rater++)
            for (int c = 0; c < 4; c++) {
                int m = method_ix(k.cell[i][mm_hecsv_col(&k, "method")]), e = atoi(k.cell[i][1] + 1);
                int v = rating(m, c, rater, e);
                sum[m][c] += v; sq[m][c] += v * v; n[m][c]++;
            }
    mm_hecsv_free(&k);
    char *csv = get("out/table6.csv");
    const char *disp[5] = {"FPFT-Mix", "LoRA-Each", "LoRA-Mix", "MoLA", "MMLoRA"};
    for (int m = 0; m < 5; m++) {
        char want[512], pre[64];
        size_t w = (size_t)snprintf(want, sizeof want, "%s,ours", disp[m]);
        double avg = 0, sd[4];
        for (int c = 0; c < 4; c++) {
            double mu = sum[m][c] / n[m][c];
            avg += mu / 4;
            sd[c] = sqrt((sq[m][c] - n[m][c] * mu * mu) / (n[m][c] - 1));
            w += (size_t)snprintf(want + w, sizeof want - w, ",%.2f", mu);
        }
        w += (size_t)snprintf(want + w, sizeof want - w, ",%.2f", avg);
        for (int c = 0; c < 4; c++) w += (size_t)snprintf(want + w, sizeof want - w, ",%.2f", fabs(sd[c]) < 1e-12 ? 0.0 : sd[c]);
        snprintf(want + w, sizeof want - w, ",18");
        snprintf(pre, sizeof pre, "%s,ours,", disp[m]);
        char *got = csv_row(csv, pre);
        cr_expect_str_eq(got, want);
        free(got);
    }
    /* by hand: MMLoRA Similarity = nine 2s and nine 3s: mean 2.5, sd sqrt(18 * 0.25 / 17) = 0.5145 */
    char *mm = csv_row(csv, "MMLoRA,ours,");
    cr_expect(!strncmp(mm, "MMLoRA,ours,2.50,", 17), "%s", mm);
    cr_expect(strstr(mm, ",0.51,"), "%s", mm);
    free(mm);
    char *fp = csv_row(csv, "FPFT-Mix,ours,");
    cr_expect_str_eq(fp, "FPFT-Mix,ours,4.00,4.00,4.00,4.00,4.00,0.00,0.00,0.00,0.00,18");
    free(fp);
    char *d = csv_row(csv, "FPFT-Mix,delta,");
    cr_expect_str_eq(d, "FPFT-Mix,delta,+1.95,+1.67,+2.08,+1.86,+1.83,,,,,");
    free(d);
    char *md = get("out/table6.md");
    cr_expect(strstr(md, "| FPFT-Mix | paper | 2.05 | 2.33 | 1.92 | 2.14 | 2.17 | — | — | — | — | — |"), "%s", md);
    cr_expect(strstr(md, "| FPFT-Mix | ours | **4.00** | **4.00** | **4.00** | **4.00** | **4.00** | 0.00 | 0.00 | 0.00 | "
                         "0.00 | 18 |"), "%s", md);
    cr_expect(strstr(md, "| gpt-4 (one-shot) | ours | — |"), "GPT-4 not run: %s", md);
    cr_expect(strstr(md, "sample standard deviation (n − 1)"));
    char *tex = get("out/table6.tex");
    cr_expect(strstr(tex, "\\toprule") && strstr(tex, "FPFT-Mix & ours & \\textbf{4.00}"), "%s", tex);
    char *rl = get("out/ratings.csv");
    const char *rl_head = "rater,sheet,item,example,language,method,Similarity,Naturalness,Informativeness,Relevance\n";
    cr_expect(!strncmp(rl, rl_head, strlen(rl_head)), "%s", rl);
    /* the report reads it back */
    mm_he_stats st;
    cr_assert_eq(mm_he_stats_read(at("out/table6.csv"), &st), 0, "%s", mm_last_error());
    cr_expect_eq(st.n, 5);
    cr_expect_str_eq(st.m[4].label, "mmlora");
    cr_expect_float_eq(st.m[4].mean[0], 2.5, 1e-9);
    cr_expect_eq(st.m[4].n[2], 18);
    mm_he_stats_free(&st);
    free(csv); free(md); free(tex); free(rl);
    remove_world();
}

/* the physical lines where the record of `item` starts and ends in the file text (quoted newlines counted) */
static void lines_of(const char *text, const char *item, int *first, int *last) {
    char pat[32];
    snprintf(pat, sizeof pat, "\n%s,", item);
    const char *p = strstr(text, pat);
    cr_assert(p, "item %s not found", item);
    *first = 2;
    for (const char *q = text; q < p; q++) *first += *q == '\n';
    const char *next = strstr(p + 1, "\nE");   /* the next record (item ids start with E) */
    if (!next) next = text + strlen(text) - 1;
    *last = *first;
    for (const char *q = p + 1; q < next; q++) *last += *q == '\n';
}

/* replaces column col (0-based) of item's row with v; *first / *last: the record's lines */
static void set_cell(const char *in, const char *out, const char *item, int col, const char *v, int *first, int *last) {
    mm_hecsv s;
    cr_assert_eq(mm_hecsv_read(in, &s), 0);
    mm_sbuf b = {0};
    for (int c = 0; c < s.ncol; c++) { if (c) mm_sb_puts(&b, ","); mm_hecsv_field(&b, s.head[c]); }
    mm_sb_puts(&b, "\n");
    for (int i = 0; i < s.nrow; i++) {
        for (int c = 0; c < s.ncol; c++) {
            if (c) mm_sb_puts(&b, ",");
            mm_hecsv_field(&b, !strcmp(s.cell[i][0], item) && c == col ? v : s.cell[i][c]);
        }
        mm_sb_puts(&b, "\n");
    }
    lines_of(b.s, col == 0 ? v : item, first, last);
    cr_assert_eq(mm_sb_write(&b, out), 0);
    mm_sb_free(&b);
    mm_hecsv_free(&s);
}

Test(humaneval, aggregate_bad_cells_name_file_line_column) {
    build_world();
    mm_he_sample_result sr;
    sample_ok("s.csv", 2, 42, &sr);
    fill(at("s.csv"), at("s.key.csv"), at("r1.csv"), 1);
    mm_he_aggregate_result r;
    const char *sheets[1] = {at("bad.csv")};
    const char *cases[][3] = {{"5", "7", "Similarity rating \"5\" of item E003-B is not an integer 0-4"},
                              {"x", "8", "Naturalness rating \"x\" of item E003-B is not an integer 0-4"},
                              {"2.5", "9", "Informativeness rating \"2.5\""},
                              {"", "10", "empty Relevance rating of item E003-B"}};
    for (int i = 0; i < 4; i++) {
        int col = atoi(cases[i][1]);
        int first, last;
        set_cell(at("r1.csv"), at("bad.csv"), "E003-B", col - 1, cases[i][0], &first, &last);
        cr_expect_gt(last, first, "the code snippet spans lines");
        cr_expect_eq(aggregate(sheets, 1, at("out"), 0, &r), -1);
        char want[256];   /* the rating cells are on the record's last line */
        snprintf(want, sizeof want, "%s:%d:%d: %s", at("bad.csv"), last, col, cases[i][2]);
        cr_expect(strstr(mm_last_error(), want), "want\n  %s\ngot\n  %s", want, mm_last_error());
    }
    cr_expect(strstr(mm_last_error(), "--allow-missing"));
    /* --allow-missing skips the empty cell and counts it */
    cr_expect_eq(aggregate(sheets, 1, at("out"), 1, &r), 0, "%s", mm_last_error());
    cr_expect_eq(r.n_missing, 1);
    cr_expect_eq(r.n_ratings, 30 * 4 - 1);
    char *csv = get("out/table6.csv");
    cr_expect(strstr(csv, ",6/6/6/5\n") || strstr(csv, ",6/6/6/5\r\n"), "per-criterion n when they differ:\n%s", csv);
    free(csv);
    remove_world();
}

Test(humaneval, aggregate_key_sheet_mismatch) {
    build_world();
    mm_he_sample_result sr;
    sample_ok("s.csv", 2, 42, &sr);
    sample_ok("other.csv", 2, 43, &sr);
    fill(at("s.csv"), at("s.key.csv"), at("r1.csv"), 1);
    fill(at("other.csv"), at("other.key.csv"), at("r_other.csv"), 1);
    mm_he_aggregate_result r;
    const char *one[1] = {at("r_other.csv")};
    cr_expect_eq(aggregate(one, 1, at("out"), 0, &r), -1, "a sheet of another sample");
    cr_expect(strstr(mm_last_error(), "differs from the key's") || strstr(mm_last_error(), "is not in the key"), "%s",
              mm_last_error());
    cr_expect(strstr(mm_last_error(), at("r_other.csv")), "%s", mm_last_error());
    /* an item the key does not know */
    int line, last;
    set_cell(at("r1.csv"), at("bad.csv"), "E002-A", 0, "E999-Z", &line, &last);
    const char *bad[1] = {at("bad.csv")};
    cr_expect_eq(aggregate(bad, 1, at("out"), 0, &r), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:%d:1: item \"E999-Z\" is not in the key", at("bad.csv"), line);
    cr_expect(strstr(mm_last_error(), want), "%s", mm_last_error());
    /* a row missing from the sheet */
    char *t = get("r1.csv"), *p = strstr(t, "\nE001-A,"), *q = strstr(p + 1, "\nE001-B,");
    memmove(p, q, strlen(q) + 1);
    put("cut.csv", t);
    free(t);
    const char *cut[1] = {at("cut.csv")};
    cr_expect_eq(aggregate(cut, 1, at("out"), 0, &r), -1);
    cr_expect(strstr(mm_last_error(), "1 item(s) of the key") && strstr(mm_last_error(), "first: E001-A"), "%s",
              mm_last_error());
    /* a missing criterion column */
    put("nocol.csv", "item,candidate,Similarity,Naturalness,Informativeness\nE001-A,x,1,1,1\n");
    const char *nc[1] = {at("nocol.csv")};
    cr_expect_eq(aggregate(nc, 1, at("out"), 0, &r), -1);
    cr_expect(strstr(mm_last_error(), "no column \"Relevance\""), "%s", mm_last_error());
    remove_world();
}

Test(humaneval, report_shows_the_aggregate) {
    build_world();
    mm_he_sample_result sr;
    sample_ok("s.csv", 2, 42, &sr);
    fill(at("s.csv"), at("s.key.csv"), at("r1.csv"), 1);
    const char *sheets[1] = {at("r1.csv")};
    mm_he_aggregate_result r;
    cr_assert_eq(aggregate(sheets, 1, at("results/humaneval/csn-tiny"), 0, &r), 0, "%s", mm_last_error());
    mm_report_opts o = {.results = at("results"), .out = at("tables"), .paper = "paper-tables/paper", .render = 0};
    cr_assert_eq(mm_report_run(&o), 0, "%s", mm_last_error());
    char *main_t = get("tables/table6_human.md"), *ours = get("tables/table6_human_csn_tiny.md");
    cr_expect(strstr(main_t, "| MMLoRA | ours | — | — |"), "%s", main_t);
    cr_expect(strstr(main_t, "ours: not run"), "%s", main_t);
    cr_expect(strstr(ours, "| FPFT-Mix | ours | **4.00** |"), "%s", ours);
    cr_expect(strstr(ours, "| FPFT-Mix | Δ (ours − paper) | +1.95 |"), "%s", ours);
    cr_expect(strstr(ours, "not comparable in absolute terms"), "%s", ours);
    char *all = get("tables/REPORT.md");
    cr_expect(strstr(all, "Human evaluation: ours (tiny, CodeSearchNet)"), "REPORT.md lists it");
    free(main_t); free(ours); free(all);
    remove_world();
}

Test(humaneval, cli_sample_and_aggregate) {
    build_world();
    char *sa[] = {"humaneval", "sample", "--results", (char *)at("results"), "--dataset", "csn", "--model", "tiny",
                  "--per-lang", "1", "--seed", "5", "--raw", (char *)at("raw"), "--out", (char *)at("c.csv")};
    cr_assert_eq(cmd_humaneval(sizeof sa / sizeof sa[0], sa), 0, "%s", mm_last_error());
    cr_expect(mm_file_exists(at("c.key.csv")));
    char *bad[] = {"humaneval", "sample", "--dataset", "csn", "--per-lang", "many"};
    cr_expect_eq(cmd_humaneval(6, bad), 2);
    fill(at("c.csv"), at("c.key.csv"), at("c1.csv"), 1);
    char *ag[] = {"humaneval", "aggregate", "--key", (char *)at("c.key.csv"), (char *)at("c1.csv"), "--out",
                  (char *)at("agg")};
    cr_assert_eq(cmd_humaneval(7, ag), 0, "%s", mm_last_error());
    cr_expect(mm_file_exists(at("agg/table6.md")));
    char *nokey[] = {"humaneval", "aggregate", (char *)at("c1.csv"), "--out", (char *)at("agg")};
    cr_expect_eq(cmd_humaneval(5, nokey), 2);
    char *unk[] = {"humaneval", "rate"};
    cr_expect_eq(cmd_humaneval(2, unk), 2);
    remove_world();
}
