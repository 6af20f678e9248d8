/* Memory-mapped training cache: one file per split, written by `mmlora prepare`, read by the trainer.
 *
 * Location: <cache_root>/<dataset>-<sha256[0:12]>-s<max_source>-t<max_target>[-f<fraction>-seed<S>]/
 *             {train,valid,test}.bin          this format
 *             gold/<split>.<lang>.txt         CodeXGLUE gold: "<idx>\t<' '.join(docstring_tokens)>" per line,
 *                                             idx = the example's index in <split>.bin
 * File layout (little-endian, version MM_CACHE_VERSION):
 *   [0, 4096)                 mm_cache_header (zero-padded)
 *   [tokens_offset, +4*n_tokens)   int32 token ids of all examples, back to back
 *   [index_offset, +24*n_examples) mm_cache_entry per example (8-byte aligned)
 * Example i: ids = tokens[entry.tok_off .. +entry.n_tok):
 *   ids[0 .. n_src)      code tokens (truncated to max_source) followed by the separator ids
 *   ids[n_src .. n_tok)  summary tokens (truncated to max_target) followed by eos
 *   loss mask: position p is a target iff p >= n_src (the summary tokens and eos).
 * Files are written to a temporary name and renamed when complete, so a .bin that exists is whole;
 * mm_cache_open also checks the magic, version and sizes. */
#ifndef MMLORA_DATA_CACHE_H
#define MMLORA_DATA_CACHE_H
#include <stddef.h>
#include <stdint.h>

#define MM_CACHE_MAGIC "MMLCACHE"
#define MM_CACHE_VERSION 1u
enum { MM_CACHE_HEADER_BYTES = 4096, MM_CACHE_MAX_LANGS = 16, MM_CACHE_MAX_SEP = 16 };

/* Per-language statistics, measured before truncation (lengths in tokens). */
typedef struct {
    uint64_t n_examples, n_tokens;            /* tokens after truncation, sep and eos included */
    uint64_t n_src_truncated, n_tgt_truncated;
    uint64_t text_bytes;                      /* bytes of source + target text read */
    int32_t src_pct[5], tgt_pct[5];           /* p50 p90 p95 p99 max */
} mm_cache_lang_stats;

typedef struct {
    char magic[8];                 /* "MMLCACHE" */
    uint32_t version;              /* MM_CACHE_VERSION */
    uint32_t header_bytes;         /* MM_CACHE_HEADER_BYTES */
    uint64_t n_examples, n_tokens;
    uint64_t tokens_offset, index_offset, file_bytes;
    int32_t split;                 /* 0 train, 1 valid, 2 test */
    int32_t max_source, max_target;
    int32_t eos_id;
    int32_t n_sep;
    int32_t sep_ids[MM_CACHE_MAX_SEP];
    int32_t n_langs;
    char lang_names[MM_CACHE_MAX_LANGS][24];  /* index = language id (the router's input) */
    mm_cache_lang_stats lang[MM_CACHE_MAX_LANGS];
    char dataset[32];              /* "csn", "xlcost", "xlcost-snippet", "local" */
    char tokenizer_sha256[72];     /* hex, NUL-terminated */
    char sep_text[32];             /* the separator text, C-escaped (e.g. "\\n") */
    char fingerprint[72];          /* sha256 hex of everything the content depends on (raw files' sizes
                                      and mtimes, options, tokenizer, lengths, separator, eos) */
    double fraction;               /* 1 for the full data; the RQ4 subset fraction otherwise */
    uint64_t seed;
} mm_cache_header;

typedef struct {
    uint64_t tok_off;              /* in tokens, from tokens_offset */
    int32_t n_tok, n_src, lang, line;   /* line: 1-based line in the raw file */
} mm_cache_entry;

typedef struct {
    const int32_t *ids;
    int32_t n_tok, n_src, lang, line;
} mm_cache_example;

typedef struct mm_cache mm_cache;

/* Maps a cache file read-only and checks its structure.  NULL + mm_fail naming the file on error. */
mm_cache *mm_cache_open(const char *path);
void mm_cache_close(mm_cache *c);
const mm_cache_header *mm_cache_header_get(const mm_cache *c);
size_t mm_cache_count(const mm_cache *c);
/* Random access; the ids point into the mapping (valid until close).  -1 if i is out of range. */
int mm_cache_get(const mm_cache *c, size_t i, mm_cache_example *out);

/* Writer: streams tokens to <path>.tmp.<pid>; commit writes index + header, fsyncs and renames. */
typedef struct mm_cache_writer mm_cache_writer;
mm_cache_writer *mm_cache_writer_open(const char *path, const mm_cache_header *proto);
int mm_cache_writer_add(mm_cache_writer *w, int lang, int line, int n_src, const int32_t *ids, int n_tok);
/* header fields to finalize (per-language stats) before commit */
mm_cache_header *mm_cache_writer_header(mm_cache_writer *w);
int mm_cache_writer_commit(mm_cache_writer *w);   /* frees w */
void mm_cache_writer_abort(mm_cache_writer *w);   /* removes the temporary file, frees w */

/* mm_write_file_atomic (util/fileio.h) writes the gold files. */
#include "util/fileio.h"
#endif
