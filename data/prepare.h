/* prepare: raw dataset -> tokenized training sequences in memory-mapped caches (data/cache.h).
 *
 * Sequence of one example:  enc(src)[:max_source] + sep + enc(tgt)[:max_target] + [eos]
 * with the loss on the summary tokens and eos (positions >= n_src).  src and tgt are encoded
 * separately, without special-token parsing or post-processing (no BOS), so text that looks like
 * "<|endoftext|>" inside code stays ordinary text.  Default separator: the encoding of "\n" (one
 * token in StarCoder's and DeepSeek-Coder's vocabularies; the model input never contains a newline,
 * since code_tokens are joined by spaces).  eos: config.json eos_token_id, else <|endoftext|>.
 *
 * The tokenizer is passed as a callback so that everything here is testable with any encoder. */
#ifndef MMLORA_DATA_PREPARE_H
#define MMLORA_DATA_PREPARE_H
#include <stdint.h>
#include <stdio.h>
#include "io/tokenizer.h"
#include "data/cache.h"
#include "data/loader.h"

typedef int (*mm_encode_fn)(void *ctx, const char *text, size_t len, mm_ids *out);   /* appends; thread-safe */

typedef struct {
    mm_encode_fn encode;
    void *ctx;
    const char *tokenizer_sha256;
    int32_t eos_id;
    int32_t sep_ids[MM_CACHE_MAX_SEP];
    int n_sep;
    const char *sep_text;          /* for the header (escaped form) */
    int max_source, max_target;
} mm_seq_spec;

/* Assembles one sequence into out (cleared first).  *n_src as in the cache; *src_full / *tgt_full:
 * token counts before truncation.  scratch is a reusable buffer.  0 or -1. */
int mm_assemble(const mm_seq_spec *sp, const char *src, const char *tgt, mm_ids *scratch, mm_ids *out,
                int *n_src, int *src_full, int *tgt_full);

typedef struct {
    mm_load_opts load;
    mm_seq_spec spec;
    const char *cache_root;        /* "data/cache" */
    int split_mask;                /* bit s: prepare split s (default all three) */
    double fraction;               /* 1 = all; else RQ4 subset of the train split */
    uint64_t seed;
    int force;                     /* rebuild even when a valid cache exists */
    int progress;                  /* a progress line with ETA on stderr */
} mm_prepare_opts;

typedef struct {
    char dir[1024];                /* the cache directory */
    int reused[3];                 /* per split: 1 if a valid cache was found and kept */
    mm_bad_report bad[3];          /* per split: skipped input lines */
    double seconds;
    uint64_t bytes_in;             /* code + summary text bytes turned into sequences */
    uint64_t raw_bytes;            /* bytes of the raw files read (jsonl / XLCoST text) */
    uint64_t examples;
} mm_prepare_result;

/* The cache directory name for these options (into buf). */
void mm_prepare_cache_dir(const mm_prepare_opts *o, char *buf, size_t cap);
/* Builds (or reuses) the caches of the requested splits.  0 or -1 (mm_fail). */
int mm_prepare_run(const mm_prepare_opts *o, mm_prepare_result *res);
/* The per-language, per-split report of a cache directory (examples, tokens, percentiles,
 * truncation, share of the train split). */
int mm_prepare_report(const char *dir, int split_mask, FILE *out);
/* "name" of the dataset as recorded in caches: csn, xlcost, xlcost-snippet, local */
const char *mm_prepare_dataset_name(const mm_load_opts *o);
#endif
