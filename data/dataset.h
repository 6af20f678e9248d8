/* Datasets for code summarization: language-id tables, the in-memory example set, and the
 * bad-input report shared by the readers (data/csn.c, data/xlcost.c).
 *
 * Language ids are the router's input and are FIXED per dataset (never reorder, only append):
 *   csn, local : 0 go, 1 java, 2 javascript, 3 php, 4 python, 5 ruby   (alphabetical, CodeXGLUE dirs)
 *   xlcost     : 0 C++, 1 Java, 2 Python, 3 C#, 4 Javascript, 5 PHP, 6 C  (XLCoST README order)
 * Splits are always named train / valid / test (XLCoST's "val" files are the valid split). */
#ifndef MMLORA_DATA_DATASET_H
#define MMLORA_DATA_DATASET_H
#include <stddef.h>
#include <stdint.h>

typedef enum { MM_DS_CSN = 0, MM_DS_XLCOST = 1, MM_DS_LOCAL = 2 } mm_dataset_kind;
enum { MM_SPLIT_TRAIN = 0, MM_SPLIT_VALID = 1, MM_SPLIT_TEST = 2, MM_N_SPLITS = 3 };
enum { MM_MAX_LANGS = 16 };

typedef struct {
    const char *name;        /* "csn", "xlcost", "local" */
    int n_langs;
    const char *langs[MM_MAX_LANGS];     /* display / directory names, index = language id */
    const char *exts[MM_MAX_LANGS];      /* XLCoST code-file extensions (NULL for jsonl datasets) */
} mm_lang_table;

const mm_lang_table *mm_lang_table_get(mm_dataset_kind kind);
/* kind from "csn" | "xlcost" | "local"; -1 if unknown */
int mm_dataset_parse(const char *name);
/* id of a language name (case-insensitive), -1 if absent */
int mm_lang_id(const mm_lang_table *t, const char *name);
const char *mm_split_name(int split);   /* "train" "valid" "test" */

/* One example: model input text and gold summary text (both whitespace-collapsed). */
typedef struct {
    char *src;
    char *tgt;
    int32_t lang;
    int32_t line;            /* 1-based line in the raw file (traceability) */
} mm_example;

typedef struct {
    mm_example *ex;
    size_t n, cap;
} mm_example_set;

void mm_examples_push(mm_example_set *s, char *src, char *tgt, int lang, long line); /* takes ownership */
void mm_examples_free(mm_example_set *s);
/* keeps ex[keep[i]] for i < n_keep (keep strictly increasing), frees the rest */
void mm_examples_select(mm_example_set *s, const size_t *keep, size_t n_keep);

/* Skipped-input report: a count and the first few line numbers with their reason. */
enum { MM_BAD_KEEP = 5 };
typedef struct {
    size_t n_bad;
    long lines[MM_BAD_KEEP];
    char reasons[MM_BAD_KEEP][96];
    char file[512];          /* the file of the first bad lines */
} mm_bad_report;

void mm_bad_add(mm_bad_report *r, const char *file, long line, const char *reason);
/* "N lines skipped (first: FILE:L1 reason, ...)" into buf */
void mm_bad_format(const mm_bad_report *r, char *buf, size_t cap);

/* Text helpers used by readers and the corpus builder. */
int mm_utf8_valid(const char *s, size_t n);
/* Collapses every whitespace run to one space and trims; in place; returns the new length. */
size_t mm_collapse_ws(char *s);

/* Reading whole files / lines. */
#include "util/fileio.h" /* mm_read_file, mm_file_exists */
#endif
