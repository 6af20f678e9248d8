/* Dataset files, presence check with download instructions, loading.  See loader.h. */
#include "data/loader.h"
#include <stdio.h>
#include <string.h>
#include "data/csn.h"
#include "data/xlcost.h"
#include "util/log.h"

int mm_dataset_lang_on(const mm_load_opts *o, int l) { return !o->lang_mask || (o->lang_mask >> l & 1u); }

void mm_dataset_files(const mm_load_opts *o, int lang, int split, char *f1, char *f2, size_t cap) {
    const mm_lang_table *t = mm_lang_table_get(o->kind);
    if (o->kind == MM_DS_XLCOST) {
        mm_xlcost_paths(o->raw, o->xlcost_level, lang, split, f1, f2, cap);
        return;
    }
    snprintf(f1, cap, "%s/%s/%s/%s.jsonl", o->raw, o->kind == MM_DS_CSN ? "codesearchnet" : "local", t->langs[lang],
             mm_split_name(split));
    if (f2) f2[0] = 0;
}

static const char *HOWTO[3] = {
    "CodeSearchNet as packaged by CodeXGLUE (code-to-text): get dataset.zip from "
    "https://github.com/microsoft/CodeXGLUE/tree/main/Code-Text/code-to-text and the CodeSearchNet v2 "
    "language zips (the S3 links in that README are dead; use https://zenodo.org/record/7857872), then: "
    "unzip dataset.zip && cd dataset && unzip <lang>.zip (go java javascript php python ruby) && "
    "python preprocess.py && rm -r */final; finally copy dataset/<lang>/{train,valid,test}.jsonl to "
    "RAW/codesearchnet/<lang>/",
    "XLCoST: download XLCoST_data.zip (Google Drive link in the README of "
    "https://github.com/reddy-lab-code-research/XLCoST), then: unzip XLCoST_data.zip && mkdir -p RAW/xlcost && "
    "mv XLCoST_data/generation RAW/xlcost/ (only generation/pair_data_tok_full_desc and "
    "generation/pair_data_tok_1_comment are read)",
    "the local corpus: run `make deps` (installs the Debian source packages) then "
    "`build/mmlora corpus build --out RAW/local`",
};

int mm_dataset_check(const mm_load_opts *o, int split_mask, char *out, size_t out_cap) {
    const mm_lang_table *t = mm_lang_table_get(o->kind);
    char f1[1024], f2[1024], list[4096];
    size_t o_list = 0;
    int missing = 0;
    list[0] = 0;
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (!(split_mask & (1 << s))) continue;
        for (int l = 0; l < t->n_langs; l++) {
            if (!mm_dataset_lang_on(o, l)) continue;
            mm_dataset_files(o, l, s, f1, f2, sizeof f1);
            const char *fs[2] = {f1, f2};
            for (int k = 0; k < 2; k++) {
                if (!fs[k][0] || mm_file_exists(fs[k])) continue;
                if (missing++ < 24 && o_list < sizeof list - 1)
                    o_list += (size_t)snprintf(list + o_list, sizeof list - o_list, "\n  %s", fs[k]);
            }
        }
    }
    if (!missing) return 0;
    char howto[1024];
    snprintf(howto, sizeof howto, "%s", HOWTO[o->kind]);
    /* substitute RAW with the actual root */
    char msg[2048];
    size_t m = 0;
    for (const char *p = howto; *p && m < sizeof msg - 1;) {
        if (!strncmp(p, "RAW", 3)) {
            m += (size_t)snprintf(msg + m, sizeof msg - m, "%s", o->raw);
            p += 3;
        } else {
            msg[m++] = *p++;
        }
    }
    msg[m < sizeof msg ? m : sizeof msg - 1] = 0;
    char full[8192];
    snprintf(full, sizeof full, "dataset '%s': %d raw file%s missing under %s:%s%s\nTo get them: %s", t->name,
             missing, missing == 1 ? "" : "s", o->raw, list, missing > 24 ? "\n  ..." : "", msg);
    if (out) snprintf(out, out_cap, "%s", full);
    return mm_fail("%s", full);   /* mm_last_error() keeps the first 1 KiB; out has all of it */
}

long mm_dataset_load(const mm_load_opts *o, int lang, int split, mm_example_set *out, mm_bad_report *bad) {
    if (!mm_dataset_lang_on(o, lang)) return 0;
    if (o->kind == MM_DS_XLCOST)
        return mm_xlcost_read(o->raw, o->xlcost_level, lang, split, o->py_layout, o->strict, out, bad);
    char f1[1024];
    mm_dataset_files(o, lang, split, f1, NULL, sizeof f1);
    return mm_csn_read(f1, lang, o->strict, out, bad);
}
