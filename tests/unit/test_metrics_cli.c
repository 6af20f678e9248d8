/* `mmlora score` and `mmlora stats` in-process: output format, per-sample CSV, errors naming file and line. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "metrics/samples_csv.h"

int cmd_score(int argc, char **argv);
int cmd_stats(int argc, char **argv);

static char dir[256];
static void mkdirtmp(void) {
    snprintf(dir, sizeof dir, "/tmp/mmlora-metrics-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static const char *pth(const char *name) {
    static char b[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(b[k], sizeof b[k], "%s/%s", dir, name);
    return b[k];
}
static void put(const char *name, const char *text) {
    FILE *f = fopen(pth(name), "wb");
    fputs(text, f);
    fclose(f);
}
static void setup(void) { mkdirtmp(); cr_redirect_stdout(); cr_redirect_stderr(); }
static void teardown(void) {
    static const char *names[] = {"g", "p", "g2", "s.csv", "o.json", "a.csv", "b.csv", "c.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(pth(names[i]));
    rmdir(dir);
}

#define RUN(fn, ...) ({ char *av[] = {__VA_ARGS__}; fn((int)(sizeof av / sizeof av[0]), av); })

Test(bleu, cli_score_outputs, .init = setup, .fini = teardown) {
    put("g", "0\tReturns the name of the user .\n1\tGets the value of x: 3.5\n2\tclose the stream\n");
    put("p", "0\tReturn the user name\n1\tget_Value(x) returns 3.5\n2\tCloses the stream .\n");
    int rc = RUN(cmd_score, "score", "--gold", (char *)pth("g"), "--pred", (char *)pth("p"), "--per-sample",
                 (char *)pth("s.csv"), "--json", (char *)pth("o.json"));
    cr_assert_eq(rc, 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("BLEU: 32.67577313097476\nMETEOR: 50.28740587761063\n");
    mm_samples s;
    cr_assert_eq(mm_samples_read(pth("s.csv"), "bleu", &s), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.ids[2], "2");
    cr_assert_eq(s.vals[2], 0.45180100180492239);
    mm_samples_free(&s);
    cr_assert_eq(access(pth("o.json"), R_OK), 0);
}

Test(bleu, cli_score_errors, .init = setup, .fini = teardown) {
    put("g", "0\ta b\n1 no tab here\n");
    put("p", "0\ta b\n");
    cr_assert_neq(RUN(cmd_score, "score", "--gold", (char *)pth("g"), "--pred", (char *)pth("p")), 0);
    put("g2", "0\ta b\n");
    cr_assert_neq(RUN(cmd_score, "score", "--gold", (char *)pth("g2"), "--pred", (char *)pth("p"), "--wordnet",
                      "/nonexistent/wn"), 0);
    cr_assert_neq(RUN(cmd_score, "score", "--gold", (char *)pth("missing"), "--pred", (char *)pth("p")), 0);
    cr_assert_neq(RUN(cmd_score, "score", "--gold", (char *)pth("g2")), 0);
    fflush(stderr);
    char buf[4096] = "";
    FILE *e = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof buf - 1, e);
    buf[n] = 0;
    cr_assert(strstr(buf, "mmlora: error: ") != NULL, "%s", buf);
    cr_assert(strstr(buf, ":2: expected 'id<TAB>text'") != NULL, "%s", buf);
    cr_assert(strstr(buf, "wordnet-base") != NULL, "%s", buf);
    cr_assert(strstr(buf, "cannot open") != NULL, "%s", buf);
}

Test(stats, cli_stats, .init = setup, .fini = teardown) {
    put("a.csv", "id,bleu,meteor\n0,0.9,0.1\n1,0.8,0.2\n2,0.7,0.3\n3,0.65,0.1\n4,0.55,0.2\n5,0.5,0.3\n6,0.45,0.1\n7,0.4,0.2\n");
    put("b.csv", "id,bleu,meteor\n0,0.85,0.1\n1,0.82,0.2\n2,0.6,0.3\n3,0.62,0.1\n4,0.5,0.2\n5,0.52,0.3\n6,0.3,0.1\n7,0.41,0.2\n");
    cr_assert_eq(RUN(cmd_stats, "stats", "--a", (char *)pth("a.csv"), "--b", (char *)pth("b.csv"), "--column", "bleu",
                     "--test", "wilcoxon"), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("statistic: 6.0\np: 0.109375\n");
}

Test(stats, cli_stats_errors, .init = setup, .fini = teardown) {
    put("a.csv", "id,bleu,meteor\n0,0.9,0.1\n1,x,0.2\n");
    put("b.csv", "id,bleu,meteor\n0,0.9,0.1\n9,0.8,0.2\n");
    put("c.csv", "id,bleu,meteor\n0,0.9,0.1\n1,0.8,0.2\n");
    cr_assert_neq(RUN(cmd_stats, "stats", "--a", (char *)pth("a.csv"), "--b", (char *)pth("b.csv"), "--column", "bleu",
                      "--test", "ttest"), 0);
    cr_assert_neq(RUN(cmd_stats, "stats", "--a", (char *)pth("c.csv"), "--b", (char *)pth("b.csv"), "--column", "bleu",
                      "--test", "ttest"), 0);
    cr_assert_neq(RUN(cmd_stats, "stats", "--a", (char *)pth("c.csv"), "--b", (char *)pth("c.csv"), "--column", "rouge",
                      "--test", "ttest"), 0);
    cr_assert_neq(RUN(cmd_stats, "stats", "--a", (char *)pth("c.csv"), "--b", (char *)pth("c.csv"), "--column", "bleu",
                      "--test", "magic"), 0);
    fflush(stderr);
    char buf[4096] = "";
    FILE *e = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof buf - 1, e);
    buf[n] = 0;
    cr_assert(strstr(buf, "a.csv:3: column 'bleu' is not a finite number") != NULL, "%s", buf);
    cr_assert(strstr(buf, "c.csv:3: id '1'") != NULL, "%s", buf);
}
