/* mmlora report, tables: fixture result tree (tests/fixtures/report, written by make_fixtures.py) ->
 * exact Markdown / CSV / LaTeX content, bold and underline placement, missing and incomplete runs,
 * p-values, filters. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"
#include "report/rtable.h"
#include "util/fileio.h"
#include "util/log.h"

#define FIX "tests/fixtures/report/results"
#define PAPER "paper-tables/paper"

static char g_out[64];

static void run_report(const char *results, const char *model, const char *dataset) {
    snprintf(g_out, sizeof g_out, "/tmp/mmlora-report-XXXXXX");
    cr_assert(mkdtemp(g_out));
    mm_set_verbosity(0);
    mm_report_opts o = {.results = results, .out = g_out, .paper = PAPER, .model = model, .dataset = dataset,
                        .render = 0};
    mm_clear_error();
    cr_assert_eq(mm_report_run(&o), 0, "report failed: %s", mm_last_error());
}

static char *out_file(const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", g_out, name);
    char *s = mm_read_file(p, NULL);
    cr_assert(s, "%s not written", p);
    return s;
}

/* is `line` one whole line of text */
static int has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0)) return 1;
    return 0;
}

#define EXPECT_LINE(text, line) cr_expect(has_line(text, line), "missing line:\n%s", line)

static void cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_out);
    cr_expect_eq(system(cmd), 0);
}

Test(report, paper_only_when_no_results) {
    run_report("/nonexistent-results", NULL, NULL);
    char *md = out_file("table2_csn.md");
    EXPECT_LINE(md, "### Table II. Code summarization compared with other methods on CodeSearchNet");
    /* the paper's marks recomputed: MMLoRA bold except Java BLEU and Go BLEU / JavaScript BLEU (underlined) */
    EXPECT_LINE(md, "| DeepSeekCoder | MMLoRA | paper | 1.65% | <u>21.38</u> | **35.65** | **20.95** | **34.13** | "
                    "**26.83** | **38.08** | <u>21.75</u> | **38.25** | <u>13.80</u> | **20.96** | **16.55** | **25.65** | "
                    "**20.19** | **32.12** |");
    EXPECT_LINE(md, "| DeepSeekCoder | MMLoRA | ours | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |");
    EXPECT_LINE(md, "| DeepSeekCoder | LoRA-Each | paper | 2.17% × 6 | 21.20 | <u>35.45</u> | 20.16 | <u>33.36</u> | "
                    "25.61 | 35.75 | **21.77** | <u>37.78</u> | 13.67 | 20.24 | 15.06 | <u>24.28</u> | 19.58 | 31.14 |");
    /* prompted LLMs: never bold */
    EXPECT_LINE(md, "| GPT-4 | few-shot | paper | — | 10.93 | 31.20 | 12.08 | 33.48 | 12.20 | 33.81 | 12.21 | 35.85 | "
                    "9.35 | 20.71 | 10.01 | 24.41 | 11.13 | 29.91 |");
    EXPECT_LINE(md, "| StarCoderBase | p-value (MMLoRA vs MoLA) | paper |  | <0.001 | <0.001 | <0.001 | 0.105 | 0.098 | "
                    "0.102 | 0.024 | 0.117 | <0.001 | <0.001 | <0.001 | <0.001 | <0.001 | <0.001 |");
    EXPECT_LINE(md, "- — in an ours row: not run yet (no complete run, i.e. no DONE file)");
    cr_expect(!strstr(md, "| tiny |"), "no tiny block without tiny runs");
    char *x = out_file("table3_xlcost.md");
    EXPECT_LINE(x, "| StarCoderBase | MMLoRA | paper | 1.56% | **22.59** | **35.14** | **22.52** | **35.22** | **23.42** | "
                   "<u>35.03</u> | <u>21.65</u> | <u>33.10</u> | **27.20** | **36.44** | <u>19.44</u> | **31.23** | "
                   "**30.49** | **41.21** | **23.06** | **34.59** |");
    char *all = out_file("REPORT.md");
    cr_expect(strstr(all, "### Table I.") && strstr(all, "### Table VI."));
    free(md); free(x); free(all);
    cleanup();
}

Test(report, ours_delta_and_marks) {
    run_report(FIX, NULL, NULL);
    char *md = out_file("table2_csn.md");
    EXPECT_LINE(md, "| tiny | MMLoRA | ours | 1.23% | **11.00** | **21.00** | **14.00** | **24.00** | **13.00** | "
                    "**23.00** | **10.00** | **20.00** | **12.00** | **22.00** | <u>15.00</u> | **25.00** | **12.50** | "
                    "**22.50** |");
    EXPECT_LINE(md, "| tiny | MMLoRA | Δ (ours − paper) | -0.33 | -12.47 | -14.59 | -6.28 | -8.74 | -12.19 | -14.30 | "
                    "-11.78 | -17.14 | -2.46 | +0.02 | -1.35 | -0.88 | -7.76 | -9.41 |");
    EXPECT_LINE(md, "| tiny | LoRA-Mix | ours | 1.9% | 9.00 | 19.00 | 12.00 | 22.00 | 11.00 | 21.00 | 8.00 | 18.00 | "
                    "10.00 | 20.00 | **16.00** | 18.00 | 10.50 | 20.50 |");
    EXPECT_LINE(md, "| tiny | MoLA | ours | 2.5% | <u>10.00</u> | <u>20.00</u> | <u>13.00</u> | <u>23.00</u> | <u>12.00</u> | "
                    "<u>22.00</u> | <u>9.00</u> | <u>19.00</u> | <u>11.00</u> | <u>21.00</u> | 14.00 | <u>24.00</u> | "
                    "<u>11.50</u> | <u>21.50</u> |");
    /* the paper's rows of the reference block keep the paper's marks */
    EXPECT_LINE(md, "| tiny | MMLoRA | paper (StarCoderBase) | 1.56% | **23.47** | **35.59** | **20.28** | <u>32.74</u> | "
                    "25.19 | 37.30 | 21.78 | 37.14 | **14.46** | **21.98** | **16.35** | **25.88** | **20.26** | **31.91** |");
    EXPECT_LINE(md, "- tiny is compared with the paper's StarCoderBase rows (the same GPTBigCode family)");
    free(md);
    cleanup();
}

Test(report, missing_and_incomplete_runs) {
    run_report(FIX, NULL, NULL);
    char *md = out_file("table2_csn.md");
    /* LoRA-Each never run; FPFT-Mix only half-written (no DONE, truncated scores.json never read) */
    EXPECT_LINE(md, "| tiny | LoRA-Each | ours | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |");
    EXPECT_LINE(md, "| tiny | FPFT-Mix | ours | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |");
    EXPECT_LINE(md, "- incomplete (no DONE, not reported): " FIX "/rq1/csn/tiny/fpft-mix-s42");
    EXPECT_LINE(md, "- — in an ours row: not run yet (no complete run, i.e. no DONE file)");
    free(md);
    cleanup();
}

Test(report, pvalues_wilcoxon) {
    run_report(FIX, NULL, NULL);
    char *md = out_file("table2_csn.md");
    /* six positive differences: exact p = 2/64; Go METEOR has one negative (W = 2): 6/64; pooled: tiny */
    EXPECT_LINE(md, "| tiny | p-value (MMLoRA vs MoLA) | ours |  | 0.031 | 0.031 | 0.031 | 0.031 | 0.031 | 0.031 | "
                    "0.031 | 0.094 | 0.031 | 0.031 | 0.031 | 0.031 | <0.001 | <0.001 |");
    cr_expect(strstr(md, "Wilcoxon signed-rank"), "the caption names the test");
    free(md);
    cleanup();
}

Test(report, csv_and_latex) {
    run_report(FIX, NULL, NULL);
    char *csv = out_file("table2_csn.csv");
    EXPECT_LINE(csv, "model,method,source,param_percent,java_bleu,java_meteor,python_bleu,python_meteor,php_bleu,"
                     "php_meteor,go_bleu,go_meteor,javascript_bleu,javascript_meteor,ruby_bleu,ruby_meteor,overall_bleu,"
                     "overall_meteor");
    EXPECT_LINE(csv, "tiny,MMLoRA,ours,1.23%,11.00,21.00,14.00,24.00,13.00,23.00,10.00,20.00,12.00,22.00,15.00,25.00,"
                     "12.50,22.50");
    EXPECT_LINE(csv, "tiny,MMLoRA,delta,-0.33,-12.47,-14.59,-6.28,-8.74,-12.19,-14.30,-11.78,-17.14,-2.46,+0.02,-1.35,"
                     "-0.88,-7.76,-9.41");
    EXPECT_LINE(csv, "tiny,LoRA-Each,ours,,,,,,,,,,,,,,,");
    EXPECT_LINE(csv, "DeepSeekCoder,LoRA-Each,paper,2.17% × 6,21.20,35.45,20.16,33.36,25.61,35.75,21.77,37.78,13.67,"
                     "20.24,15.06,24.28,19.58,31.14");
    char *tex = out_file("table2_csn.tex");
    cr_expect(strstr(tex, "\\toprule") && strstr(tex, "\\midrule") && strstr(tex, "\\bottomrule"));
    EXPECT_LINE(tex, "tiny & MMLoRA & ours & 1.23\\% & \\textbf{11.00} & \\textbf{21.00} & \\textbf{14.00} & "
                     "\\textbf{24.00} & \\textbf{13.00} & \\textbf{23.00} & \\textbf{10.00} & \\textbf{20.00} & "
                     "\\textbf{12.00} & \\textbf{22.00} & \\underline{15.00} & \\textbf{25.00} & \\textbf{12.50} & "
                     "\\textbf{22.50} \\\\");
    cr_expect(strstr(tex, "$<$0.001"), "p-values escaped for LaTeX");
    cr_expect(strstr(tex, "2.17\\% $\\times$ 6"));
    free(csv); free(tex);
    cleanup();
}

Test(report, ablation_and_expert_rows) {
    run_report(FIX, NULL, NULL);
    char *md = out_file("table4_csn.md");
    /* variant matched case-insensitively ("w/o Universal Expert"); the MMLoRA row falls back to rq1 */
    EXPECT_LINE(md, "| tiny | w/o universal expert | ours | 0.8% | <u>10.50</u> | <u>20.50</u> | <u>13.50</u> | "
                    "<u>23.50</u> | <u>12.50</u> | <u>22.50</u> | <u>9.50</u> | <u>19.50</u> | <u>11.50</u> | <u>21.50</u> | "
                    "<u>14.50</u> | <u>24.50</u> | <u>12.00</u> | <u>22.00</u> |");
    EXPECT_LINE(md, "| tiny | MMLoRA | ours | 1.23% | **11.00** | **21.00** | **14.00** | **24.00** | **13.00** | "
                    "**23.00** | **10.00** | **20.00** | **12.00** | **22.00** | **15.00** | **25.00** | **12.50** | "
                    "**22.50** |");
    EXPECT_LINE(md, "- the MMLoRA row of this table is the rq1 MMLoRA run (same configuration)");
    EXPECT_LINE(md, "| tiny | w/o L_b | ours | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |");
    char *t5 = out_file("table5_csn.md");
    EXPECT_LINE(t5, "| tiny | 4 | 1 | Δ (ours − paper) | -0.42 | -10.04 | -13.94 | -6.82 | -9.09 | -13.59 | -14.57 | "
                    "-12.80 | -18.00 | -2.54 | +0.03 | -1.04 | +1.24 | -7.80 | -9.05 |");
    EXPECT_LINE(t5, "| tiny | 6 | 3 | ours | — | — | — | — | — | — | — | — | — | — | — | — | — | — | — |");
    free(md); free(t5);
    cleanup();
}

Test(report, table1_and_table6) {
    run_report(FIX, NULL, NULL);
    char *t1 = out_file("table1_datasets.md");
    EXPECT_LINE(t1, "| Ruby | paper | 1.88 | 0.89 | 24927 | 2.74 | 1400 | 1261 | — | — | — | — |");
    EXPECT_LINE(t1, "| Ruby | ours (test n) | — | — | — | — | — | 6 | — | — | — | — |");
    char *t6 = out_file("table6_human.md");
    /* the paper publishes means only: its sd and n columns are empty; ours not run without results/humaneval/ */
    EXPECT_LINE(t6, "| MMLoRA | paper | **2.30** | **2.50** | **2.44** | **2.66** | **2.48** | — | — | — | — | — |");
    EXPECT_LINE(t6, "| LoRA-Each | paper | <u>2.25</u> | <u>2.46</u> | 2.22 | 2.48 | 2.35 | — | — | — | — | — |");
    EXPECT_LINE(t6, "| gpt-4 (one-shot) | paper | 1.72 | 2.28 | 2.78 | 2.47 | 2.31 | — | — | — | — | — |");
    EXPECT_LINE(t6, "| MMLoRA | ours | — | — | — | — | — | — | — | — | — | — |");
    free(t1); free(t6);
    cleanup();
}

Test(report, filters_model_and_dataset) {
    run_report(FIX, "deepseekcoder", "csn");
    char *md = out_file("table2_csn.md");
    cr_expect(!strstr(md, "| tiny |") && !strstr(md, "| StarCoderBase |") && strstr(md, "| DeepSeekCoder |"));
    char p[256];
    snprintf(p, sizeof p, "%s/table3_xlcost.md", g_out);
    cr_expect(!mm_file_exists(p), "--dataset csn: no XLCoST table");
    free(md);
    cleanup();
    run_report(FIX, "tiny", NULL);
    md = out_file("table2_csn.md");
    cr_expect(strstr(md, "| tiny | MMLoRA | paper (StarCoderBase) |") && !strstr(md, "| DeepSeekCoder |"));
    free(md);
    cleanup();
}

Test(report, rank_ties_and_groups) {
    mm_rtable t;
    mm_rt_init(&t, "x", "X");
    mm_rt_col(&t, "Row", "row", false);
    mm_rt_col(&t, "V", "v", true);
    t.nlabel = 1;
    double v[] = {3, 5, 5, 4, 9};
    int group[] = {1, 1, 1, 1, 0};
    for (int i = 0; i < 5; i++) {
        mm_rt_row *r = mm_rt_add(&t, MM_RT_OURS, 0, group[i]);
        mm_rt_set(r, 0, "r");
        mm_rt_setv(r, 1, v[i], false);
    }
    mm_rt_rank(&t);
    int want[] = {0, 1, 1, 2, 0}; /* tie for best: both bold, next underlined; group 0 never marked */
    for (int i = 0; i < 5; i++) cr_expect_eq(t.row[i].mark[1], want[i], "row %d", i);
    mm_rt_free(&t);
}
