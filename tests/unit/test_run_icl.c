/* One-shot / few-shot in-context baselines (train/run_icl.h): the prompt builder (layout, the even
 * truncation rule, dropped shots, an over-long test source), the shot draws (determinism, seeds,
 * distinctness, same language), the method and its keys, and end-to-end runs in the tiny world
 * (run_fixture.h) that the report reads. */
#include <sys/stat.h>
#include "peft/method.h"
#include "report/report.h"
#include "train/run.h"
#include "train/run_icl.h"
#include "test_util.h"
#include "run_fixture.h"

static char g_root[256];
static void world(void) { cr_assert_eq(rf_world_create(g_root, sizeof g_root, "mmlora-icl"), 0, "%s", mm_last_error()); }
static void teardown(void) { rf_world_remove(g_root); }
TestSuite(run_icl, .init = world, .fini = teardown, .timeout = 300);

/* ------------------------------------------------------------------ prompt builder */
enum { SEP = 2, EOS = 0 };

/* an example with `code` code tokens (100 + shot*10 + i ... ), separator (7, 8), `tgt` summary tokens
 * (500 + ...) and eos; ids point into buf */
static mm_cache_example mk(int32_t *buf, int tag, int code, int tgt) {
    int n = 0;
    for (int i = 0; i < code; i++) buf[n++] = 1000 * tag + i + 1;
    buf[n++] = 7;
    buf[n++] = 8;
    for (int i = 0; i < tgt; i++) buf[n++] = 1000 * tag + 500 + i;
    buf[n++] = EOS;
    return (mm_cache_example){.ids = buf, .n_tok = n, .n_src = code + SEP, .lang = 0, .line = tag};
}

/* checks that out[*at ..) is the shot: its first `keep` code tokens, separator, summary, eos */
static void expect_shot(const int32_t *out, int *at, const mm_cache_example *e, int keep) {
    for (int i = 0; i < keep; i++) cr_expect_eq(out[(*at)++], e->ids[i], "shot %d code token %d", e->line, i);
    for (int i = e->n_src - SEP; i < e->n_tok; i++)
        cr_expect_eq(out[(*at)++], e->ids[i], "shot %d: separator/summary/eos token %d", e->line, i);
}

Test(run_icl, prompt_layout_when_everything_fits) {
    int32_t b[4][64], out[256];
    mm_cache_example s[3] = {mk(b[0], 1, 5, 3), mk(b[1], 2, 4, 2), mk(b[2], 3, 6, 1)}, t = mk(b[3], 9, 8, 4);
    mm_icl_prompt info;
    cr_assert_eq(mm_icl_build_prompt(s, 3, &t, SEP, 256, out, &info), 0, "%s", mm_last_error());
    cr_expect_eq(info.shots, 3);
    cr_expect_eq(info.shot_code_cut, 0);
    cr_expect_eq(info.test_code_cut, 0);
    cr_expect_eq(info.len, s[0].n_tok + s[1].n_tok + s[2].n_tok + t.n_src);
    int at = 0;
    for (int k = 0; k < 3; k++) expect_shot(out, &at, &s[k], s[k].n_src - SEP); /* each shot whole */
    for (int i = 0; i < t.n_src; i++) cr_expect_eq(out[at++], t.ids[i], "test source token %d", i);
    cr_expect_eq(at, info.len);
    cr_expect_eq(out[at - 1], 8, "the prompt ends with the separator");
}

Test(run_icl, shots_are_cut_evenly_keeping_their_start) {
    int32_t b[4][64], out[256];
    /* code 10, 3, 20; fixed = test 6 + 3 × (sep 2) + summaries+eos (3 + 3 + 3) = 21 */
    mm_cache_example s[3] = {mk(b[0], 1, 10, 2), mk(b[1], 2, 3, 2), mk(b[2], 3, 20, 2)}, t = mk(b[3], 9, 4, 2);
    const int fixed = t.n_src + 3 * SEP + 9;
    mm_icl_prompt info;
    /* 15 code tokens: c = 6 gives 6 + 3 + 6 = 15 */
    cr_assert_eq(mm_icl_build_prompt(s, 3, &t, SEP, fixed + 15, out, &info), 0, "%s", mm_last_error());
    cr_expect_eq(info.len, fixed + 15);
    cr_expect_eq(info.shots, 3);
    cr_expect_eq(info.shot_code_cut, 33 - 15);
    int at = 0;
    expect_shot(out, &at, &s[0], 6);
    expect_shot(out, &at, &s[1], 3);
    expect_shot(out, &at, &s[2], 6);
    for (int i = 0; i < t.n_src; i++) cr_expect_eq(out[at++], t.ids[i], "the test source is never cut here");
    /* 16: c = 6 and the one token left goes to the first longer shot */
    cr_assert_eq(mm_icl_build_prompt(s, 3, &t, SEP, fixed + 16, out, &info), 0);
    at = 0;
    expect_shot(out, &at, &s[0], 7);
    expect_shot(out, &at, &s[1], 3);
    expect_shot(out, &at, &s[2], 6);
    cr_expect_eq(info.len, fixed + 16);
    /* 3 code tokens: one each */
    cr_assert_eq(mm_icl_build_prompt(s, 3, &t, SEP, fixed + 3, out, &info), 0);
    at = 0;
    for (int k = 0; k < 3; k++) expect_shot(out, &at, &s[k], 1);
    cr_expect_eq(info.shots, 3);
}

Test(run_icl, shots_are_dropped_from_the_end_when_one_code_token_each_does_not_fit) {
    int32_t b[4][64], out[256];
    mm_cache_example s[3] = {mk(b[0], 1, 10, 2), mk(b[1], 2, 3, 2), mk(b[2], 3, 20, 2)}, t = mk(b[3], 9, 4, 2);
    const int fixed2 = t.n_src + 2 * (SEP + 3);
    mm_icl_prompt info;
    /* room for two shots with 1 code token each, not three */
    cr_assert_eq(mm_icl_build_prompt(s, 3, &t, SEP, fixed2 + 2, out, &info), 0, "%s", mm_last_error());
    cr_expect_eq(info.shots, 2);
    int at = 0;
    expect_shot(out, &at, &s[0], 1);
    expect_shot(out, &at, &s[1], 1);
    for (int i = 0; i < t.n_src; i++) cr_expect_eq(out[at++], t.ids[i]);
    cr_expect_eq(info.len, at);
    /* the test source alone: no shot at all */
    cr_assert_eq(mm_icl_build_prompt(s, 3, &t, SEP, t.n_src, out, &info), 0);
    cr_expect_eq(info.shots, 0);
    cr_expect_eq(info.len, t.n_src);
    cr_expect_eq(info.test_code_cut, 0);
}

Test(run_icl, test_source_cut_only_when_it_alone_is_too_long) {
    int32_t b[2][64], out[256];
    mm_cache_example s = mk(b[0], 1, 3, 2), t = mk(b[1], 9, 10, 2);
    mm_icl_prompt info;
    cr_assert_eq(mm_icl_build_prompt(&s, 1, &t, SEP, 7, out, &info), 0, "%s", mm_last_error());
    cr_expect_eq(info.shots, 0);
    cr_expect_eq(info.len, 7);
    cr_expect_eq(info.test_code_cut, t.n_src - 7);
    for (int i = 0; i < 5; i++) cr_expect_eq(out[i], t.ids[i], "the test code keeps its start");
    cr_expect(out[5] == 7 && out[6] == 8, "and ends with the separator");
    /* a budget below separator + one code token is an error */
    cr_expect_eq(mm_icl_build_prompt(&s, 1, &t, SEP, 2, out, &info), -1);
    cr_expect(strstr(mm_last_error(), "budget"), "%s", mm_last_error());
}

/* ------------------------------------------------------------------ draws */
Test(run_icl, draws_are_deterministic_distinct_and_seed_dependent) {
    size_t a[4], b[4];
    int differ_seed = 0, differ_index = 0;
    for (uint64_t t = 0; t < 40; t++) {
        cr_assert_eq(mm_icl_draw(42, t, 30, 4, a), 0);
        cr_assert_eq(mm_icl_draw(42, t, 30, 4, b), 0);
        cr_expect(!memcmp(a, b, sizeof a), "same seed and test index: same shots");
        for (int i = 0; i < 4; i++) {
            cr_expect_lt(a[i], 30);
            for (int j = 0; j < i; j++) cr_expect_neq(a[i], a[j], "shots are distinct");
        }
        cr_assert_eq(mm_icl_draw(43, t, 30, 4, b), 0);
        differ_seed += memcmp(a, b, sizeof a) != 0;
        cr_assert_eq(mm_icl_draw(42, t + 1, 30, 4, b), 0);
        differ_index += memcmp(a, b, sizeof a) != 0;
    }
    cr_expect_geq(differ_seed, 35, "another seed gives other shots (%d of 40 differ)", differ_seed);
    cr_expect_geq(differ_index, 35, "another test example gives other shots (%d of 40 differ)", differ_index);
    /* k = n: a permutation */
    size_t p[5];
    cr_assert_eq(mm_icl_draw(1, 3, 5, 5, p), 0);
    int seen[5] = {0};
    for (int i = 0; i < 5; i++) seen[p[i]]++;
    for (int i = 0; i < 5; i++) cr_expect_eq(seen[i], 1);
    cr_expect_eq(mm_icl_draw(1, 3, 5, 6, p), -1, "more shots than examples");
    cr_expect_eq(mm_icl_draw(1, 3, 5, 0, p), -1);
}

Test(run_icl, draws_cover_the_pool_evenly) {
    /* one-shot over 8 examples, 8000 test indices: each example about 1000 times */
    int count[8] = {0};
    size_t x;
    for (uint64_t t = 0; t < 8000; t++) {
        cr_assert_eq(mm_icl_draw(7, t, 8, 1, &x), 0);
        count[x]++;
    }
    for (int i = 0; i < 8; i++) cr_expect(count[i] > 880 && count[i] < 1120, "example %d drawn %d times", i, count[i]);
}

/* ------------------------------------------------------------------ method and keys */
Test(run_icl, methods_parse_with_their_shots_and_nothing_trainable) {
    mm_method_spec s;
    cr_assert_eq(mm_method_from_name("one-shot", &s), 0);
    cr_expect(mm_method_in_context(&s) && s.kind == MM_METHOD_ONE_SHOT && s.shots == 1);
    cr_assert_eq(mm_method_from_name("few-shot", &s), 0);
    cr_expect(mm_method_in_context(&s) && s.kind == MM_METHOD_FEW_SHOT && s.shots == 4);
    cr_assert_eq(mm_method_set(&s, "shots=2"), 0);
    cr_expect_eq(s.shots, 2);
    cr_expect_eq(mm_method_validate(&s), 0);
    char d[512];
    mm_method_describe(&s, d, sizeof d);
    cr_expect(strstr(d, "2 training examples") && strstr(d, "no training"), "%s", d);
    cr_assert_eq(mm_method_set(&s, "shots=0"), 0);
    cr_expect_eq(mm_method_validate(&s), -1);
    cr_expect(strstr(mm_last_error(), "shots"), "%s", mm_last_error());
    /* the trained methods: no shots, unchanged */
    cr_assert_eq(mm_method_from_name("lora-mix", &s), 0);
    cr_expect(!mm_method_in_context(&s) && s.shots == 0 && s.rank == 32);
    cr_expect_eq(mm_method_validate(&s), 0);
    cr_assert_eq(mm_method_set(&s, "shots=2"), 0);
    cr_expect_eq(mm_method_validate(&s), -1, "shots on a trained method");
    cr_expect(strstr(mm_last_error(), "shots"), "%s", mm_last_error());
    cr_expect_eq(mm_method_from_name("two-shot", &s), -1);
    cr_expect(strstr(mm_last_error(), "one-shot, few-shot"), "%s", mm_last_error());
}

Test(run_icl, eval_default_is_50_unless_set_or_below) {
    mm_run_opts o;
    mm_run_defaults(&o);
    cr_assert_eq(mm_method_from_name("few-shot", &o.method), 0);
    mm_icl_defaults(&o);
    cr_expect_eq(o.eval_per_lang, 50, "full scale (all test examples) -> 50");
    mm_run_defaults(&o);
    cr_assert_eq(mm_run_set(&o, "scale=default"), 0);
    mm_icl_defaults(&o);
    cr_expect_eq(o.eval_per_lang, 50, "default preset 60 -> 50");
    mm_run_defaults(&o);
    cr_assert_eq(mm_run_set(&o, "scale=smoke"), 0);
    mm_icl_defaults(&o);
    cr_expect_eq(o.eval_per_lang, 4, "a preset below 50 is kept");
    mm_run_defaults(&o);
    cr_assert_eq(mm_run_set(&o, "eval_per_lang=70"), 0);
    mm_icl_defaults(&o);
    cr_expect_eq(o.eval_per_lang, 70, "an explicit value is kept");
}

/* ------------------------------------------------------------------ end to end */
/* runs go to <root>/results/rq1/csn/model/<name>, the layout the report reads */
static void opts_for(mm_run_opts *o, const char *method, const char *name, const char **sets, int n) {
    char out[256];
    snprintf(out, sizeof out, "results/rq1/csn/model/%s", name);
    cr_assert_eq(rf_opts(o, g_root, method, out, sets, n), 0, "%s", mm_last_error());
    snprintf(o->rq, sizeof o->rq, "rq1");
}

static int count_lines(const char *path) {
    size_t n;
    char *s = mm_read_file(path, &n);
    cr_assert(s, "%s missing", path);
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    free(s);
    return k;
}

static cJSON *run_json(const char *out) {
    char p[1024];
    snprintf(p, sizeof p, "%s/run.json", out);
    char *s = mm_read_file(p, NULL);
    cr_assert(s, "%s missing", p);
    cJSON *j = cJSON_Parse(s);
    free(s);
    cr_assert(j);
    return j;
}

static void check_icl_dir(const char *out, const char *method, int shots) {
    const char *files[] = {"run.json", "scores.json", "DONE", "predictions/ruby.txt", "gold/ruby.txt", "gold/go.txt",
                           "scores/python.csv", "scores/ruby.csv"};
    char p[1100];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        cr_expect(mm_file_exists(p), "%s missing", p);
    }
    struct stat st;
    const char *absent[] = {"checkpoint", "adapter", "train.jsonl"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", out, absent[i]);
        cr_expect(stat(p, &st) != 0, "%s: nothing is trained", p);
    }
    /* smoke: 4 test examples per language, ids as the trained methods take them */
    snprintf(p, sizeof p, "%s/predictions/java.txt", out);
    cr_expect_eq(count_lines(p), 4);
    snprintf(p, sizeof p, "%s/scores/java.csv", out);
    cr_expect_eq(count_lines(p), 5, "header + 4 samples");
    cJSON *j = run_json(out);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "method")->valuestring, method);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "trainable_percent")->valuestring, "-");
    cr_expect_eq(cJSON_GetObjectItem(j, "trainable_params")->valuedouble, 0);
    const cJSON *ic = cJSON_GetObjectItem(j, "in_context");
    cr_assert(ic, "run.json has no in_context");
    cr_expect_eq(cJSON_GetObjectItem(ic, "shots")->valueint, shots);
    cr_expect_eq(cJSON_GetObjectItem(ic, "prompts")->valueint, 24, "6 languages x 4");
    cr_expect_eq(cJSON_GetObjectItem(ic, "prompt_budget")->valueint, 128 - 12, "n_positions - max_new");
    cr_expect_leq(cJSON_GetObjectItem(ic, "max_prompt_tokens")->valueint, 116);
    const cJSON *ev = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "config"), "evaluation");
    cr_expect_eq(cJSON_GetObjectItem(ev, "eval_per_lang")->valueint, 4);
    cJSON_Delete(j);
}

Test(run_icl, one_shot_and_few_shot_runs_complete_and_the_report_reads_them) {
    mm_run_opts o;
    opts_for(&o, "one-shot", "one-shot", NULL, 0);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    check_icl_dir(o.out_dir, "one-shot", 1);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "a finished run is skipped: %s", mm_last_error());
    /* few-shot prompts overflow the test model's 128 positions: the shots are cut to fit */
    opts_for(&o, "few-shot", "few-shot", NULL, 0);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    check_icl_dir(o.out_dir, "few-shot", 4);
    /* the test examples are those a trained method scores: the same gold lines */
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/results/rq1/csn/model/one-shot/gold/php.txt", g_root);
    snprintf(b, sizeof b, "%s/results/rq1/csn/model/few-shot/gold/php.txt", g_root);
    char *x = mm_read_file(a, NULL), *y = mm_read_file(b, NULL);
    cr_assert(x && y);
    cr_expect_str_eq(x, y);
    free(x);
    free(y);
    /* the report: rows in the model's block, beside the paper's GPT-4 / DeepSeek-V3 rows */
    char res[512], out[512], path[1024];
    snprintf(res, sizeof res, "%s/results", g_root);
    snprintf(out, sizeof out, "%s/tables", g_root);
    mm_report_opts ro = {.results = res, .out = out, .paper = "paper-tables/paper", .model = "model",
                         .dataset = "csn", .render = 0};
    cr_assert_eq(mm_report_run(&ro), 0, "%s", mm_last_error());
    snprintf(path, sizeof path, "%s/table2_csn.md", out);
    char *md = mm_read_file(path, NULL);
    cr_assert(md);
    cr_expect(strstr(md, "| model | one-shot | paper (GPT-4) | — | 9.22 | 29.25 |"), "%s", md);
    cr_expect(strstr(md, "| model | one-shot | paper (DeepSeek-V3) | — | 8.39 | 30.07 |"), "%s", md);
    cr_expect(strstr(md, "| model | few-shot | paper (GPT-4) | — | 10.93 |"), "%s", md);
    const char *ours = strstr(md, "| model | few-shot | ours | — | ");
    cr_assert(ours, "no few-shot ours row:\n%s", md);
    cr_expect(strncmp(ours + strlen("| model | few-shot | ours | — | "), "—", strlen("—")), "our values are there");
    cr_expect(strstr(md, "| model | one-shot | Δ (ours − GPT-4) |"), "%s", md);
    cr_expect(strstr(md, "one-shot / few-shot of model: model itself prompted with training examples"), "%s", md);
    cr_expect(!strstr(md, "| GPT-4 | one-shot | ours |"), "no ours row under GPT-4");
    free(md);
}

Test(run_icl, shots_come_from_the_training_pool_of_the_same_language) {
    mm_run_opts o;
    opts_for(&o, "few-shot", "fs", NULL, 0);
    cr_assert_eq(mm_run(&o, MM_PHASE_ALL), 0, "%s", mm_last_error());
    cJSON *j = run_json(o.out_dir);
    char p[1024];
    snprintf(p, sizeof p, "%s/train.bin", cJSON_GetObjectItem(j, "cache")->valuestring);
    mm_cache *train = mm_cache_open(p);
    snprintf(p, sizeof p, "%s/test.bin", cJSON_GetObjectItem(j, "cache")->valuestring);
    mm_cache *test = mm_cache_open(p);
    cJSON_Delete(j);
    cr_assert(train && test, "%s", mm_last_error());
    mm_icl_pool pool;
    mm_icl_pool_init(&pool, train, o.train_per_lang);
    const mm_cache_header *h = mm_cache_header_get(train);
    for (int l = 0; l < h->n_langs; l++) {
        size_t want = !strcmp(h->lang_names[l], "ruby") ? 12 : 24; /* smoke: train_per_lang 24; ruby has 12 */
        cr_expect_eq(pool.n[l], want, "%s pool", h->lang_names[l]);
    }
    for (size_t t = 0; t < mm_cache_count(test); t++) {
        mm_cache_example ex, sh;
        cr_assert_eq(mm_cache_get(test, t, &ex), 0);
        size_t idx[4];
        cr_assert_eq(mm_icl_shots(&pool, ex.lang, o.seed, t, 4, idx), 0, "%s", mm_last_error());
        for (int s = 0; s < 4; s++) {
            cr_assert_eq(mm_cache_get(train, idx[s], &sh), 0);
            cr_expect_eq(sh.lang, ex.lang, "test %zu: shot %zu is of another language", t, idx[s]);
            int in_pool = 0;
            for (size_t q = 0; q < pool.n[ex.lang]; q++) in_pool |= pool.idx[ex.lang][q] == idx[s];
            cr_expect(in_pool, "test %zu: shot %zu outside the pool", t, idx[s]);
        }
    }
    mm_icl_pool_free(&pool);
    mm_cache_close(train);
    mm_cache_close(test);
}

Test(run_icl, predictions_do_not_depend_on_the_generation_batch) {
    const char *s1[] = {"gen_batch=8"}, *s2[] = {"gen_batch=3"};
    mm_run_opts a, b;
    opts_for(&a, "few-shot", "gb8", s1, 1);
    opts_for(&b, "few-shot", "gb3", s2, 1);
    cr_assert_eq(mm_run(&a, MM_PHASE_ALL), 0, "%s", mm_last_error());
    cr_assert_eq(mm_run(&b, MM_PHASE_ALL), 0, "%s", mm_last_error());
    const char *langs[] = {"go", "ruby", "python"};
    for (int i = 0; i < 3; i++) {
        char pa[1100], pb[1100];
        snprintf(pa, sizeof pa, "%s/predictions/%s.txt", a.out_dir, langs[i]);
        snprintf(pb, sizeof pb, "%s/predictions/%s.txt", b.out_dir, langs[i]);
        char *x = mm_read_file(pa, NULL), *y = mm_read_file(pb, NULL);
        cr_assert(x && y);
        cr_expect_str_eq(x, y, "%s", langs[i]);
        free(x);
        free(y);
    }
}

Test(run_icl, bad_shots_fail_naming_the_key) {
    mm_run_opts o;
    const char *zero[] = {"shots=0"};
    opts_for(&o, "few-shot", "zero", zero, 1);
    cr_expect_eq(mm_run(&o, MM_PHASE_ALL), -1);
    cr_expect(strstr(mm_last_error(), "shots"), "%s", mm_last_error());
    struct stat st;
    cr_expect(stat(o.out_dir, &st) != 0, "no run directory for an invalid spec");
    /* ruby has 12 training examples in the tiny world */
    const char *many[] = {"shots=13"};
    opts_for(&o, "few-shot", "many", many, 1);
    cr_expect_eq(mm_run(&o, MM_PHASE_ALL), -1);
    cr_expect(strstr(mm_last_error(), "shots=13") && strstr(mm_last_error(), "ruby") && strstr(mm_last_error(), "12"),
              "%s", mm_last_error());
    char p[1100];
    snprintf(p, sizeof p, "%s/predictions", o.out_dir);
    cr_expect(stat(p, &st) != 0, "checked before any generation");
    snprintf(p, sizeof p, "%s/DONE", o.out_dir);
    cr_expect(!mm_file_exists(p));
}
