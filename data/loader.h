/* One entry point over the three datasets: where the raw files are, whether they are all there
 * (with a message naming the missing files and how to get them), and loading one (lang, split). */
#ifndef MMLORA_DATA_LOADER_H
#define MMLORA_DATA_LOADER_H
#include <stddef.h>
#include "data/dataset.h"

typedef struct {
    mm_dataset_kind kind;
    const char *raw;      /* root of the raw files ("data/raw" by default) */
    int xlcost_level;     /* MM_XLCOST_PROGRAM (paper, Table I) or MM_XLCOST_SNIPPET */
    int py_layout;        /* MM_XLCOST_PY_TOKENS or MM_XLCOST_PY_RESTORE */
    int strict;           /* a bad input line is an error */
    unsigned lang_mask;   /* bit l: read language l; 0 = all.  Ids stay those of the fixed table. */
} mm_load_opts;

/* 1 if language l is selected by o->lang_mask */
int mm_dataset_lang_on(const mm_load_opts *o, int l);

/* The raw file(s) of (lang, split): a .jsonl (csn, local) or the code and text files (xlcost; f2 set). */
void mm_dataset_files(const mm_load_opts *o, int lang, int split, char *f1, char *f2, size_t cap);
/* 0 if every file of the splits in split_mask (bit s = split s) exists; otherwise -1 with a message
 * listing the missing files, where the official release is, and how to unpack it (whole in out when
 * out is not NULL, its first KiB in mm_last_error()). */
int mm_dataset_check(const mm_load_opts *o, int split_mask, char *out, size_t out_cap);
/* Appends the examples of (lang, split) to out; returns their count or -1. */
long mm_dataset_load(const mm_load_opts *o, int lang, int split, mm_example_set *out, mm_bad_report *bad);
#endif
