/* mmlora report: figure data files and scripts, gnuplot rendering (skipped without gnuplot), and errors that
 * name the file (unknown method, malformed JSON, CSV with a wrong field count, bad experts.json). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/commands.h"
#include "report/csvtab.h"
#include "report/report.h"
#include "util/fileio.h"
#include "util/log.h"

#define FIX "tests/fixtures/report/results"

static char g_tmp[64];

static void mk_tmp(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mmlora-report-XXXXXX");
    cr_assert(mkdtemp(g_tmp));
    mm_set_verbosity(0);
}

static void rm_tmp(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    cr_expect_eq(system(cmd), 0);
}

static void put(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    char *d = strdup(p);
    *strrchr(d, '/') = 0;
    cr_assert_eq(mm_mkdirs(d), 0);
    free(d);
    cr_assert_eq(mm_write_file_atomic(p, text, strlen(text)), 0);
}

static char *get(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    char *s = mm_read_file(p, NULL);
    cr_assert(s, "%s not written", p);
    return s;
}

static int report(const char *results, int render) {
    char out[256];
    snprintf(out, sizeof out, "%s/out", g_tmp);
    mm_report_opts o = {.results = results, .out = out, .paper = "paper-tables/paper", .render = render};
    mm_clear_error();
    return mm_report_run(&o);
}

#define RUN_OK "{\"rq\":\"rq1\",\"dataset\":\"csn\",\"model\":\"tiny\",\"method\":\"mmlora\",\"seed\":1}"
#define SCORES_OK "{\"languages\":{\"ruby\":{\"bleu\":1,\"meteor\":2,\"n\":3}},\"overall\":{\"bleu\":1,\"meteor\":2}}"

Test(report, figure_data_files) {
    mk_tmp();
    cr_assert_eq(report(FIX, 0), 0, "%s", mm_last_error());
    char *f4 = get("out/figures/fig4_cb_csn_tiny.dat");
    cr_expect(strstr(f4, "# c_b bleu meteor runs\n0.3 11.5000 21.5000 1\n0.7 12.5000 22.5000 1\n"), "%s", f4);
    char *f5 = get("out/figures/fig5_sle_csn_tiny.dat");
    cr_expect(strstr(f5, "\nRuby 15.0000 13.5000 NaN NaN 25.0000 23.5000 NaN NaN\n"), "%s", f5);
    cr_expect(strstr(f5, "\nOverall 12.5000 11.0000 NaN NaN 22.5000 21.0000 NaN NaN\n"), "%s", f5);
    char *f6 = get("out/figures/fig6_scale_csn_tiny.dat");
    cr_expect(strstr(f6, "# panel Ruby\n# label fraction loramix_bleu loramix_meteor mmlora_bleu mmlora_meteor "
                         "delta_bleu delta_meteor\n0.1% 0.001 10.0000 20.0000 9.0000 19.0000 -1.0000 -1.0000\n"
                         "1% 0.01 11.0000 21.0000 12.0000 22.0000 1.0000 1.0000\n"), "%s", f6);
    char *f8 = get("out/figures/fig8_experts_csn_tiny.dat");
    cr_expect(strstr(f8, "language E1 E2 E3 E4\nGo 0.5000 0.5000 0.0000 0.0000\n"), "%s", f8);
    char *tot = get("out/figures/fig8_experts_csn_tiny_totals.dat");
    cr_expect(strstr(tot, "E1 1.3500\nE2 1.4500\nE3 1.2000\nE4 2.0000\n"), "%s", tot);
    char *loss = get("out/figures/loss_csn_tiny.dat");
    cr_expect(strstr(loss, "# mola (") && strstr(loss, "# mmlora ("));
    cr_expect(strstr(loss, "1 2.8000 0.0100\n"), "%s", loss);
    char *gp = get("out/figures/fig6_scale_csn_tiny.gp");
    cr_expect(strstr(gp, "set output 'fig6_scale_csn_tiny.png'") && strstr(gp, "set output 'fig6_scale_csn_tiny.svg'"));
    /* Fig. 6: one legend row below the panels, none inside a panel */
    cr_expect(strstr(gp, "set key at screen 0.40,0.008 center bottom") && !strstr(gp, "set key bottom right"), "%s", gp);
    free(f4); free(f5); free(f6); free(f8); free(tot); free(loss); free(gp);
    rm_tmp();
}

Test(report, figures_rendered_with_gnuplot) {
    if (!mm_report_gnuplot()) { cr_skip_test("gnuplot not installed: rendering not checked"); }
    mk_tmp();
    cr_assert_eq(report(FIX, 1), 0, "%s", mm_last_error());
    static const char *const STEMS[] = {"fig4_cb_csn_tiny", "fig5_sle_csn_tiny", "fig6_scale_csn_tiny",
                                        "fig8_experts_csn_tiny", "loss_csn_tiny"};
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 2; k++) {
            char p[512];
            struct stat st;
            snprintf(p, sizeof p, "%s/out/figures/%s.%s", g_tmp, STEMS[i], k ? "svg" : "png");
            cr_expect(stat(p, &st) == 0 && st.st_size > 1000, "%s missing or empty", p);
        }
    rm_tmp();
}

Test(report, unknown_method_names_the_file) {
    mk_tmp();
    put("res/rq1/csn/tiny/a/run.json", "{\"rq\":\"rq1\",\"dataset\":\"csn\",\"model\":\"tiny\",\"method\":\"adapterx\"}");
    put("res/rq1/csn/tiny/a/scores.json", SCORES_OK);
    put("res/rq1/csn/tiny/a/DONE", "");
    char res[128];
    snprintf(res, sizeof res, "%s/res", g_tmp);
    cr_expect_eq(report(res, 0), -1);
    cr_expect(strstr(mm_last_error(), "/res/rq1/csn/tiny/a/run.json") && strstr(mm_last_error(), "unknown method"),
              "%s", mm_last_error());
    rm_tmp();
}

Test(report, malformed_files_name_the_file) {
    mk_tmp();
    char res[128];
    snprintf(res, sizeof res, "%s/res", g_tmp);
    put("res/rq1/csn/tiny/a/run.json", RUN_OK);
    put("res/rq1/csn/tiny/a/scores.json", "{\"languages\": {\"ruby\": ");
    put("res/rq1/csn/tiny/a/DONE", "");
    cr_expect_eq(report(res, 0), -1);
    cr_expect(strstr(mm_last_error(), "/res/rq1/csn/tiny/a/scores.json: malformed JSON"), "%s", mm_last_error());
    put("res/rq1/csn/tiny/a/scores.json", "{\"languages\":{\"ruby\":{\"bleu\":\"x\",\"meteor\":2}},\"overall\":{\"bleu\":1,\"meteor\":2}}");
    cr_expect_eq(report(res, 0), -1);
    cr_expect(strstr(mm_last_error(), "scores.json: languages.ruby: \"bleu\" must be a finite number"), "%s",
              mm_last_error());
    put("res/rq1/csn/tiny/a/scores.json", SCORES_OK);
    put("res/rq1/csn/tiny/a/run.json", "{\"rq\":\"rq1\",\"dataset\":\"csn\",\"method\":\"mmlora\"}");
    cr_expect_eq(report(res, 0), -1);
    cr_expect(strstr(mm_last_error(), "a/run.json: missing \"model\""), "%s", mm_last_error());
    put("res/rq1/csn/tiny/a/run.json", RUN_OK);
    put("res/rq1/csn/tiny/a/experts.json", "{\"languages\":[\"ruby\"],\"experts\":2,\"weights\":[[0.5]]}");
    cr_expect_eq(report(res, 0), -1);
    cr_expect(strstr(mm_last_error(), "a/experts.json: weights[0] must have 2 numbers"), "%s", mm_last_error());
    put("res/rq1/csn/tiny/a/experts.json", "{\"languages\":[\"ruby\"],\"experts\":2,\"weights\":[[0.5,0.5]]}");
    put("res/rq1/csn/tiny/a/train.jsonl", "{\"step\":1,\"loss\":2}\n{\"step\":2,\n");
    cr_expect_eq(report(res, 0), -1);
    cr_expect(strstr(mm_last_error(), "a/train.jsonl:2: expected a JSON object"), "%s", mm_last_error());
    put("res/rq1/csn/tiny/a/train.jsonl", "{\"step\":1,\"loss\":2}\n");
    cr_expect_eq(report(res, 0), 0, "%s", mm_last_error());
    /* a run without DONE is never parsed */
    put("res/rq1/csn/tiny/b/run.json", "not json");
    cr_expect_eq(report(res, 0), 0, "%s", mm_last_error());
    rm_tmp();
}

Test(report, bad_pvalue_inputs_are_noted) {
    mk_tmp();
    char res[128];
    snprintf(res, sizeof res, "%s/res", g_tmp);
    put("res/rq1/csn/tiny/a/run.json", RUN_OK);
    put("res/rq1/csn/tiny/a/scores.json", SCORES_OK);
    put("res/rq1/csn/tiny/a/scores/ruby.csv", "id,bleu,meteor\n0,0.5,0.5\n1,0.6,0.6\n");
    put("res/rq1/csn/tiny/a/DONE", "");
    put("res/rq1/csn/tiny/b/run.json", "{\"rq\":\"rq1\",\"dataset\":\"csn\",\"model\":\"tiny\",\"method\":\"mola\"}");
    put("res/rq1/csn/tiny/b/scores.json", SCORES_OK);
    put("res/rq1/csn/tiny/b/scores/ruby.csv", "id,bleu,meteor\n0,0.4,0.4\n");
    put("res/rq1/csn/tiny/b/DONE", "");
    cr_assert_eq(report(res, 0), 0, "%s", mm_last_error());
    char *md = get("out/table2_csn.md");
    cr_expect(strstr(md, "p-value not computed: ") && strstr(md, "a/scores/ruby.csv has 2 samples but ") &&
                  strstr(md, "b/scores/ruby.csv has 1"), "%s", md);
    free(md);
    rm_tmp();
}

Test(report, csvtab_field_count_error) {
    mk_tmp();
    put("t.csv", "a,b\n1,2\n3\n");
    char p[128];
    snprintf(p, sizeof p, "%s/t.csv", g_tmp);
    mm_csvtab t;
    cr_expect_eq(mm_csvtab_read(p, &t), -1);
    cr_expect(strstr(mm_last_error(), "t.csv:3: 1 fields but the header has 2"), "%s", mm_last_error());
    rm_tmp();
}

Test(report, cli_options) {
    char *bad[] = {"report", "--bogus"};
    cr_expect_eq(cmd_report(2, bad), 2);
    char *help[] = {"report", "--help"};
    cr_expect_eq(cmd_report(2, help), 0);
    mk_tmp();
    char out[128];
    snprintf(out, sizeof out, "%s/o", g_tmp);
    char *unk[] = {"report", "--results", FIX, "--out", out, "--dataset", "nope", "--no-render"};
    cr_expect_eq(cmd_report(8, unk), 1);
    char *ok[] = {"report", "--results", FIX, "--out", out, "--dataset", "xlcost", "--no-render"};
    cr_expect_eq(cmd_report(8, ok), 0);
    char p[256];
    snprintf(p, sizeof p, "%s/table3_xlcost.md", out);
    cr_expect(mm_file_exists(p));
    rm_tmp();
}

Test(report, local_corpus_uses_table2_layout) {
    mk_tmp();
    char res[128];
    snprintf(res, sizeof res, "%s/res", g_tmp);
    put("res/rq1/local/tiny/a/run.json", "{\"rq\":\"rq1\",\"dataset\":\"local\",\"model\":\"tiny\",\"method\":\"lora-mix\","
                                         "\"trainable_percent\":1.5}");
    put("res/rq1/local/tiny/a/scores.json", SCORES_OK);
    put("res/rq1/local/tiny/a/DONE", "");
    cr_assert_eq(report(res, 0), 0, "%s", mm_last_error());
    char *md = get("out/table2_local.md");
    cr_expect(strstr(md, "on the local corpus (paper: CodeSearchNet; not comparable in absolute terms)"), "%s", md);
    cr_expect(strstr(md, "| tiny | LoRA-Mix | ours | 1.5% | — | — | — | — | — | — | — | — | — | — | **1.00** | **2.00** | "
                         "**1.00** | **2.00** |\n"), "%s", md);
    char p[256];
    snprintf(p, sizeof p, "%s/out/table4_local.md", g_tmp);
    cr_expect(!mm_file_exists(p), "no local rq2 runs: no local Table IV");
    free(md);
    rm_tmp();
}
