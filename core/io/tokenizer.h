/* Byte-level BPE tokenizer compatible with Hugging Face tokenizer.json (StarCoder, DeepSeek-Coder,
 * and the files `mmlora tokenizer train` writes).  Spec: ../shared/docs/models-spec.md §3.
 *
 * Bit-exact with HF `tokenizers` 0.23.3 (golden tests: tests/fixtures/tokenizer, written by
 * tests/reference/tokenizer_ref.py).  Decisions:
 *  - Input bytes that are not valid UTF-8 are replaced by U+FFFD per maximal invalid subpart before
 *    encoding: the same text Python's bytes.decode("utf-8", errors="replace") hands HF.
 *  - Regexes run on PCRE2 (Unicode 14) rewritten to match HF's Oniguruma / Rust: \s = White_Space
 *    (incl. U+0085), and \p{L} \p{N} \p{P} / Digits extended with the code points newer Unicode
 *    assigned (generated core/io/tokenizer_unicode.c).  Every code point is tested against HF.
 *  - Pure-ASCII pieces use hand-written matchers for the known regexes (tokenizer_fast.c).
 *  - Bytes whose one-byte token is missing from the vocab are dropped (HF without unk_token). */
#ifndef MMLORA_TOKENIZER_H
#define MMLORA_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

typedef struct mm_tokenizer mm_tokenizer;

typedef struct { int32_t *ids; size_t n, cap; } mm_ids;   /* growable id buffer; free(ids.ids) */

enum {
    MM_TOK_PARSE_SPECIAL = 1, /* match added tokens in the text (HF default: true) */
    MM_TOK_ADD_SPECIAL = 2,   /* apply the post-processor (e.g. DeepSeek's BOS) */
};

/* path: tokenizer.json or a directory holding it. NULL + mm_fail() naming the key on error. */
mm_tokenizer *mm_tokenizer_load(const char *path);
void mm_tokenizer_free(mm_tokenizer *t);
int mm_tokenizer_vocab_size(const mm_tokenizer *t);     /* max id + 1, added tokens included */
/* Appends ids for text[0..len) (any bytes) to out.  Returns 0, or -1 on internal failure. Thread-safe. */
int mm_tokenizer_encode(const mm_tokenizer *t, const char *text, size_t len, int flags, mm_ids *out);
/* Returns malloc'd NUL-terminated UTF-8 (invalid sequences -> U+FFFD, as HF). */
char *mm_tokenizer_decode(const mm_tokenizer *t, const int32_t *ids, size_t n, int skip_special);
/* Same, also giving the length (decoded text may contain NUL). */
char *mm_tokenizer_decode_len(const mm_tokenizer *t, const int32_t *ids, size_t n, int skip_special, size_t *len);
int32_t mm_tokenizer_token_to_id(const mm_tokenizer *t, const char *token); /* -1 if absent */
/* Encodes texts[i] (lens[i] bytes) into outs[i] (appended) on n_threads threads (<= 0: all cores). */
int mm_tokenizer_encode_batch(const mm_tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                              int flags, mm_ids *outs, int n_threads);
/* Trains a byte-level BPE tokenizer (pretokenizer "starcoder" or "deepseek") on the files and writes
 * a tokenizer.json that HF `tokenizers` loads.  vocab_size counts the 256 bytes, merges and specials. */
int mm_tokenizer_train(const char *const *files, int n_files, int vocab_size, const char *pretokenizer,
                       const char *out_path);
/* sha256 (hex) of the tokenizer.json bytes: part of every cache key. */
const char *mm_tokenizer_sha256(const mm_tokenizer *t);
#endif
