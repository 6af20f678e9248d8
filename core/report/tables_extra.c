/* Table I (dataset statistics; our test-set sizes from scores.json beside the paper's); Table VI
 * (human evaluation) is written by humaneval_table.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "report/csvtab.h"
#include "report/report_internal.h"
#include "util/log.h"

/* test-set size of a language in any complete run on dataset ds, -1 if none */
static long our_test_n(const mm_report_ctx *c, const char *ds, const char *lang) {
    for (int i = 0; i < c->res.n; i++) {
        const mm_rep_run *r = &c->res.run[i];
        if (strcmp(r->dataset, ds)) continue;
        for (int j = 0; j < r->nlang; j++)
            if (!strcasecmp(r->lang[j].name, lang) && r->lang[j].n >= 0) return r->lang[j].n;
    }
    return -1;
}

static int table1(mm_report_ctx *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/table1_datasets.csv", c->o->paper);
    mm_csvtab p;
    if (mm_csvtab_read(path, &p)) return -1;
    static const char *const COLS[][3] = {
        {"language", "Language", ""},
        {"pretrain_deepseekcoder_pct", "Pretrain DeepSeekCoder %", ""},
        {"pretrain_starcoderbase_pct", "Pretrain StarCoderBase %", ""},
        {"csn_train", "CSN train", ""}, {"csn_train_pct", "CSN train %", ""},
        {"csn_valid", "CSN valid", ""}, {"csn_test", "CSN test", "csn"},
        {"xlcost_train", "XLCoST train", ""}, {"xlcost_train_pct", "XLCoST train %", ""},
        {"xlcost_valid", "XLCoST valid", ""}, {"xlcost_test", "XLCoST test", "xlcost"},
    };
    enum { NC = sizeof COLS / sizeof COLS[0] };
    int idx[NC];
    for (int k = 0; k < NC; k++)
        if ((idx[k] = mm_csvtab_col(&p, COLS[k][0])) < 0) {
            mm_csvtab_free(&p);
            return mm_fail("%s: missing column %s", path, COLS[k][0]);
        }
    mm_rtable t;
    mm_rt_init(&t, "table1_datasets", "Table I. Pretraining data proportion and code summarization datasets");
    for (int k = 0; k < NC; k++) {
        mm_rt_col(&t, COLS[k][1], COLS[k][0], false);
        if (k == 0) mm_rt_col(&t, "Source", "source", false);
    }
    t.nlabel = 2;
    for (int i = 0; i < p.nrow; i++) {
        mm_rt_add(&t, MM_RT_PAPER, i, 0);
        mm_rt_add(&t, MM_RT_OURS, i, 0); /* may move the rows: take the pointers after */
        mm_rt_row *r = &t.row[t.nrow - 2], *o = &t.row[t.nrow - 1];
        const char *lang = p.cell[i][idx[0]];
        mm_rt_set(r, 0, mm_report_display(lang));
        mm_rt_set(r, 1, "paper");
        mm_rt_set(o, 0, mm_report_display(lang));
        mm_rt_set(o, 1, "ours (test n)");
        for (int k = 1; k < NC; k++) {
            const char *v = p.cell[i][idx[k]];
            mm_rt_set(r, k + 1, !strcmp(v, "-") ? MM_RT_MISSING : v);
            char b[32] = MM_RT_MISSING;
            if (COLS[k][2][0] && mm_report_want_dataset(c, COLS[k][2])) {
                long n = our_test_n(c, COLS[k][2], lang);
                if (n >= 0) snprintf(b, sizeof b, "%ld", n);
            }
            mm_rt_set(o, k + 1, b);
        }
    }
    mm_rt_note(&t, "Pretraining proportions as reported by DeepSeekCoder and StarCoder (paper, Table I)");
    mm_rt_note(&t, "ours (test n): test-set size per language from scores.json of any complete run; "
                   MM_RT_MISSING " = none yet (or the language is not in that dataset)");
    int rc = mm_rt_write(&t, c->o->out, &c->all_md);
    if (!rc) c->n_tables++;
    mm_rt_free(&t);
    mm_csvtab_free(&p);
    return rc;
}

int mm_report_other_tables(mm_report_ctx *c) {
    if (table1(c)) return -1;
    return mm_report_table6(c);
}
