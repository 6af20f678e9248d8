/* prepare: sequence assembly + mask, cache round trip, reuse / rebuild, atomic writes, subsets.
 * Uses a byte encoder (id = byte value) so the tests need no tokenizer.json. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data/csn.h"
#include "data/prepare.h"
#include "util/log.h"

#define FIX "tests/fixtures/data/raw"
enum { EOS = 300, SEP = 301 };

static int byte_encode(void *ctx, const char *text, size_t len, mm_ids *out) {
    (void)ctx;
    if (out->cap < out->n + len) {
        out->cap = (out->n + len) * 2 + 8;
        out->ids = mm_xrealloc(out->ids, out->cap * sizeof *out->ids);
    }
    for (size_t i = 0; i < len; i++) out->ids[out->n++] = (unsigned char)text[i];
    return 0;
}

static mm_prepare_opts opts(const char *raw, const char *cache) {
    mm_prepare_opts o = {0};
    o.load = (mm_load_opts){.kind = MM_DS_CSN, .raw = raw};
    o.spec = (mm_seq_spec){.encode = byte_encode, .tokenizer_sha256 = "0123456789abcdef0123", .eos_id = EOS,
                           .sep_ids = {SEP}, .n_sep = 1, .sep_text = "<sep>", .max_source = 24, .max_target = 16};
    o.cache_root = cache;
    o.split_mask = 1 << MM_SPLIT_TEST;
    o.fraction = 1.0;
    return o;
}

static char *tmpdir(void) {
    char *d = mm_xstrdup("/tmp/mmlora-prep-XXXXXX");
    cr_assert(mkdtemp(d));
    return d;
}

static void copy_fixture_raw(const char *raw) {
    const char *langs[] = {"go", "java", "javascript", "php", "python", "ruby"};
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/codesearchnet && cp -r " FIX "/codesearchnet/* %s/codesearchnet/", raw, raw);
    cr_assert_eq(system(cmd), 0);
    (void)langs;
}

static void rmtree(const char *d) {
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd)) {}
}

Test(prepare, assemble_truncates_and_masks) {
    mm_prepare_opts o = opts(FIX, "/tmp");
    o.spec.max_source = 4;
    o.spec.max_target = 3;
    mm_ids scratch = {0}, out = {0};
    int n_src, sf, tf;
    cr_assert_eq(mm_assemble(&o.spec, "def f():", "Does it", &scratch, &out, &n_src, &sf, &tf), 0);
    int32_t want[] = {'d', 'e', 'f', ' ', SEP, 'D', 'o', 'e', EOS};
    cr_assert_eq(out.n, 9);
    cr_assert_eq(n_src, 5);
    cr_assert_eq(sf, 8);
    cr_assert_eq(tf, 7);
    for (int i = 0; i < 9; i++) cr_assert_eq(out.ids[i], want[i], "position %d", i);
    free(scratch.ids);
    free(out.ids);
}

Test(prepare, round_trip_one_record) {
    char *cache = tmpdir();
    mm_prepare_opts o = opts(FIX, cache);
    mm_prepare_result r;
    cr_assert_eq(mm_prepare_run(&o, &r), 0, "%s", mm_last_error());
    cr_assert_eq(r.reused[MM_SPLIT_TEST], 0);
    cr_assert_eq(r.examples, 9);
    char path[1200];
    snprintf(path, sizeof path, "%s/test.bin", r.dir);
    mm_cache *c = mm_cache_open(path);
    cr_assert(c, "%s", mm_last_error());
    const mm_cache_header *h = mm_cache_header_get(c);
    cr_assert_eq(mm_cache_count(c), 9);
    cr_assert_str_eq(h->dataset, "csn");
    cr_assert_str_eq(h->tokenizer_sha256, "0123456789abcdef0123");
    cr_assert_eq(h->max_source, 24);
    cr_assert_eq(h->eos_id, EOS);
    cr_assert_eq(h->n_sep, 1);
    cr_assert_eq(h->sep_ids[0], SEP);
    cr_assert_str_eq(h->lang_names[4], "python");
    cr_assert_eq(h->lang[4].n_examples, 3);
    /* example 6 = python's second record (go 1, java 2, javascript 1, php 1, python 3, ruby 1) */
    mm_cache_example e;
    cr_assert_eq(mm_cache_get(c, 6, &e), 0);
    cr_assert_eq(e.lang, 4);
    cr_assert_eq(e.line, 2);
    const char *src = "def cube ( x ) : return x ** 3", *tgt = "Return the cube of x .";
    cr_assert_eq(e.n_src, 25);
    for (int i = 0; i < 24; i++) cr_assert_eq(e.ids[i], (unsigned char)src[i]);
    cr_assert_eq(e.ids[24], SEP);
    cr_assert_eq(e.n_tok, 25 + 16 + 1);
    for (int i = 0; i < 16; i++) cr_assert_eq(e.ids[25 + i], (unsigned char)tgt[i]);
    cr_assert_eq(e.ids[e.n_tok - 1], EOS);
    cr_assert_eq(h->lang[4].n_src_truncated, 3);
    cr_assert_eq(mm_cache_get(c, 9, &e), -1);
    mm_cache_close(c);
    /* gold: idx = index in test.bin, CodeXGLUE format */
    snprintf(path, sizeof path, "%s/gold/test.python.txt", r.dir);
    size_t len;
    char *g = mm_read_file(path, &len);
    cr_assert(g);
    cr_assert_str_eq(g, "5\tReturn the square of x .\n6\tReturn the cube of x .\n7\tNegate a number .\n");
    free(g);
    FILE *rep = tmpfile();
    cr_assert_eq(mm_prepare_report(r.dir, 1 << MM_SPLIT_TEST, rep), 0);
    rewind(rep);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, rep)) {
        char sp[16], lang[16];
        unsigned long long n;
        if (sscanf(line, "%15s %15s %llu", sp, lang, &n) == 3 && !strcmp(sp, "test") && !strcmp(lang, "python"))
            found += n == 3;
    }
    cr_assert_eq(found, 1);
    fclose(rep);
    rmtree(cache);
    free(cache);
}

Test(prepare, reuse_then_rebuild_when_inputs_change) {
    char *cache = tmpdir(), *raw = tmpdir();
    copy_fixture_raw(raw);
    mm_prepare_opts o = opts(raw, cache);
    mm_prepare_result r;
    cr_assert_eq(mm_prepare_run(&o, &r), 0, "%s", mm_last_error());
    cr_assert_eq(r.reused[MM_SPLIT_TEST], 0);
    cr_assert_eq(mm_prepare_run(&o, &r), 0);
    cr_assert_eq(r.reused[MM_SPLIT_TEST], 1);
    /* different max lengths: another key */
    o.spec.max_target = 8;
    cr_assert_eq(mm_prepare_run(&o, &r), 0);
    cr_assert_eq(r.reused[MM_SPLIT_TEST], 0);
    o.spec.max_target = 16;
    /* raw file changes: rebuilt */
    char p[1200];
    snprintf(p, sizeof p, "%s/codesearchnet/ruby/test.jsonl", raw);
    FILE *f = fopen(p, "a");
    fputs("{\"code_tokens\": [\"def\", \"x\", \"end\"], \"docstring_tokens\": [\"An\", \"x\", \"method\"]}\n", f);
    fclose(f);
    cr_assert_eq(mm_prepare_run(&o, &r), 0);
    cr_assert_eq(r.reused[MM_SPLIT_TEST], 0);
    cr_assert_eq(r.examples, 10);
    /* a corrupt cache is rebuilt, not trusted */
    snprintf(p, sizeof p, "%s/test.bin", r.dir);
    cr_assert_eq(truncate(p, 5000), 0);
    cr_assert_eq(mm_prepare_run(&o, &r), 0);
    cr_assert_eq(r.reused[MM_SPLIT_TEST], 0);
    rmtree(cache);
    rmtree(raw);
    free(cache);
    free(raw);
}

Test(prepare, strict_bad_input_leaves_nothing) {
    char *cache = tmpdir(), *raw = tmpdir();
    copy_fixture_raw(raw);
    char p[1200];
    snprintf(p, sizeof p, "%s/codesearchnet/php/test.jsonl", raw);
    FILE *f = fopen(p, "a");
    fputs("{\"code_tokens\": 3}\n", f);
    fclose(f);
    mm_prepare_opts o = opts(raw, cache);
    o.load.strict = 1;
    mm_prepare_result r;
    cr_assert_eq(mm_prepare_run(&o, &r), -1);
    cr_assert(strstr(mm_last_error(), "php/test.jsonl:2"), "%s", mm_last_error());
    /* no .bin, no temporary file */
    DIR *d = opendir(r.dir);
    cr_assert(d);
    struct dirent *de;
    while ((de = readdir(d))) cr_assert(de->d_name[0] == '.' || !strcmp(de->d_name, "gold"), "left: %s", de->d_name);
    closedir(d);
    o.load.strict = 0;
    cr_assert_eq(mm_prepare_run(&o, &r), 0);
    cr_assert_eq(r.bad[MM_SPLIT_TEST].n_bad, 1);
    cr_assert_eq(r.bad[MM_SPLIT_TEST].lines[0], 2);
    rmtree(cache);
    rmtree(raw);
    free(cache);
    free(raw);
}

Test(prepare, missing_raw_is_a_message) {
    char *cache = tmpdir();
    mm_prepare_opts o = opts("/nonexistent", cache);
    o.split_mask = 7;
    mm_prepare_result r;
    cr_assert_eq(mm_prepare_run(&o, &r), -1);
    cr_assert(strstr(mm_last_error(), "18 raw files missing"), "%s", mm_last_error());
    rmtree(cache);
    free(cache);
}

Test(prepare, shared_xlcost_python) {
    const char *sd = getenv("SHARED_DIR");
    char raw[1024], probe[1200];
    snprintf(raw, sizeof raw, "%s/data", sd ? sd : "/nonexistent");
    snprintf(probe, sizeof probe, "%s/xlcost/generation/pair_data_tok_full_desc/Python-desc/val-Python-desc-tok.py", raw);
    if (!sd || !mm_file_exists(probe)) cr_skip_test("SHARED_DIR/data/xlcost absent");
    char *cache = tmpdir();
    mm_prepare_opts o = opts(raw, cache);
    o.load.kind = MM_DS_XLCOST;
    o.load.lang_mask = 1u << 2;   /* only Python is shared */
    o.split_mask = (1 << MM_SPLIT_VALID) | (1 << MM_SPLIT_TEST);
    o.spec.max_source = 400;
    o.spec.max_target = 100;
    mm_prepare_result r;
    cr_assert_eq(mm_prepare_run(&o, &r), 0, "%s", mm_last_error());
    cr_assert_eq(r.examples, 472 + 450);
    char path[1200];
    snprintf(path, sizeof path, "%s/valid.bin", r.dir);
    mm_cache *c = mm_cache_open(path);
    cr_assert(c);
    cr_assert_eq(mm_cache_count(c), 472);
    cr_assert_str_eq(mm_cache_header_get(c)->lang_names[6], "C");
    mm_cache_example e;
    cr_assert_eq(mm_cache_get(c, 471, &e), 0);
    cr_assert_eq(e.lang, 2);
    cr_assert_eq(e.line, 472);
    cr_assert_eq(e.ids[e.n_src - 1], SEP);
    cr_assert_eq(e.ids[e.n_tok - 1], EOS);
    mm_cache_close(c);
    snprintf(path, sizeof path, "%s/gold/test.Python.txt", r.dir);
    char *g = mm_read_file(path, NULL);
    const char *want = "0\tMinimum sum possible by removing all occurrences of any array element\n";
    cr_assert(g && !strncmp(g, want, strlen(want)), "%.80s", g);
    free(g);
    rmtree(cache);
    free(cache);
}

int cmd_prepare(int argc, char **argv);

Test(prepare, cli_with_real_tokenizer) {
    char *cache = tmpdir();
    char *argv[] = {"prepare", "--dataset", "csn", "--model", "tests/fixtures/tokenizer/st.json", "--raw", FIX,
                    "--splits", "test", "--cache", cache, "--max-source", "8", NULL};
    cr_redirect_stdout();
    cr_redirect_stderr();
    cr_assert_eq(cmd_prepare(13, argv), 0, "%s", mm_last_error());
    /* the cache directory is keyed by the tokenizer's sha256 and the lengths */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -f %s/csn-*-s8-t128/test.bin", cache);
    cr_assert_eq(system(cmd), 0);
    char *bad[] = {"prepare", "--dataset", "csn", "--model", "tests/fixtures/tokenizer/st.json", "--raw", "/nonexistent",
                   "--cache", cache, NULL};
    cr_assert_neq(cmd_prepare(9, bad), 0);
    rmtree(cache);
    free(cache);
}

Test(prepare, subset_of_train_keeps_shares) {
    char *cache = tmpdir(), *raw = tmpdir();
    copy_fixture_raw(raw);
    const char *langs[] = {"go", "java", "javascript", "php", "python", "ruby"};
    const int per[] = {300, 500, 120, 80, 1000, 30};
    for (int l = 0; l < 6; l++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/codesearchnet/%s/train.jsonl", raw, langs[l]);
        FILE *f = fopen(p, "w");
        for (int i = 0; i < per[l]; i++)
            fprintf(f, "{\"code_tokens\": [\"f%d\", \"(\", \")\"], \"docstring_tokens\": [\"Does\", \"thing\", \"%d\"]}\n", i, i);
        fclose(f);
    }
    mm_prepare_opts o = opts(raw, cache);
    o.split_mask = 1 << MM_SPLIT_TRAIN;
    o.fraction = 0.01;
    o.seed = 5;
    mm_prepare_result r;
    cr_assert_eq(mm_prepare_run(&o, &r), 0, "%s", mm_last_error());
    cr_assert(strstr(r.dir, "-f0.01-seed5"), "%s", r.dir);
    char path[1200];
    snprintf(path, sizeof path, "%s/train.bin", r.dir);
    mm_cache *c = mm_cache_open(path);
    cr_assert(c);
    const mm_cache_header *h = mm_cache_header_get(c);
    const uint64_t want[] = {3, 5, 1, 1, 10, 1};   /* round(0.01 n), at least one */
    for (int l = 0; l < 6; l++) cr_assert_eq(h->lang[l].n_examples, want[l], "%s", langs[l]);
    cr_assert_eq(h->fraction, 0.01);
    cr_assert_eq(h->seed, 5);
    mm_cache_close(c);
    rmtree(cache);
    rmtree(raw);
    free(cache);
    free(raw);
}
