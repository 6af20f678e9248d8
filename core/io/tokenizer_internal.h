/* Internals shared by tokenizer*.c (not a public interface). */
#ifndef MMLORA_TOKENIZER_INTERNAL_H
#define MMLORA_TOKENIZER_INTERNAL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include "io/tokenizer.h"

/* ---- hash maps (tokenizer_map.c) ---- */
typedef struct { const char *s; uint32_t len; int32_t val; } mm_strmap_slot;
typedef struct { mm_strmap_slot *slots; size_t cap, n; } mm_strmap;      /* keys are borrowed */
void mm_strmap_init(mm_strmap *m, size_t expect);
void mm_strmap_free(mm_strmap *m);
/* inserts or (replace != 0) overwrites; returns the previous value or -1 */
int32_t mm_strmap_put(mm_strmap *m, const char *s, uint32_t len, int32_t val, int replace);
int32_t mm_strmap_get(const mm_strmap *m, const char *s, uint32_t len);  /* -1 if absent */

typedef struct { uint64_t key; int32_t rank, id; } mm_pairmap_slot;        /* key 0 = empty */
typedef struct { mm_pairmap_slot *slots; size_t cap, n; } mm_pairmap;
void mm_pairmap_init(mm_pairmap *m, size_t expect);
void mm_pairmap_free(mm_pairmap *m);
void mm_pairmap_put(mm_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id);
static inline uint64_t mm_pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }
const mm_pairmap_slot *mm_pairmap_get(const mm_pairmap *m, int32_t a, int32_t b);

/* ---- UTF-8 and byte-level helpers (tokenizer_utf8.c) ---- */
/* bytes_to_unicode: code point of byte b; inverse: byte of a code point or -1 */
uint32_t mm_bytelevel_cp(uint8_t b);
int mm_bytelevel_byte(uint32_t cp);
/* Decodes one UTF-8 sequence at s[0..n): returns its length (1..4) and *cp, or the length of the
 * maximal invalid subpart (>= 1) with *cp = 0xFFFD (the Unicode / Python / Rust lossy rule). */
size_t mm_utf8_next(const unsigned char *s, size_t n, uint32_t *cp, int *valid);
int mm_utf8_put(char *out, uint32_t cp);                        /* writes 1..4 bytes */
/* Returns NULL if s is valid UTF-8, else a malloc'd lossy copy (*outn = its length). */
char *mm_utf8_lossy(const char *s, size_t n, size_t *outn);
int mm_is_white_space(uint32_t cp);                              /* Unicode White_Space */

/* ---- pipeline ---- */
enum { MM_SPLIT_REMOVED, MM_SPLIT_ISOLATED, MM_SPLIT_PREV, MM_SPLIT_NEXT, MM_SPLIT_CONTIGUOUS };
enum { MM_PT_SPLIT, MM_PT_BYTELEVEL };
/* ASCII fast paths (tokenizer_fast.c) for known regexes */
enum { MM_FAST_NONE, MM_FAST_GPT2, MM_FAST_DIGIT1, MM_FAST_DIGITS, MM_FAST_CRLF, MM_FAST_WS_L, MM_FAST_WS_P,
       MM_FAST_NO_ASCII };
int mm_fast_kind(const char *pattern);
extern int mm_tok_no_fast;               /* tests: 1 = never use the fast paths */   /* of a Split regex source */
/* next match in the pure-ASCII p[0..n) at or after pos, as the regex: 1 and [*s,*e), or 0 */
int mm_fast_next(int kind, const char *p, size_t n, size_t pos, size_t *s, size_t *e);
typedef struct {
    int kind;
    pcre2_code *re;          /* split regex (Split / Digits / ByteLevel use_regex), or NULL */
    int behavior, invert;
    int add_prefix_space;
    int fast;                /* MM_FAST_*: matcher used on pure-ASCII pieces */
} mm_pretok_step;

typedef struct {
    char *content; uint32_t len;
    int32_t id;
    uint8_t special, lstrip, rstrip, single_word, normalized;
} mm_added_token;

struct mm_tokenizer {
    char sha256[65];
    uint64_t serial;         /* unique per load: keys the per-thread piece cache (tokenizer_bpe.c) */
    /* model */
    int32_t byte_id[256];    /* id of the one-byte token, -1 if the vocab lacks it */
    mm_pairmap merges;       /* (left id, right id) -> rank, merged id */
    mm_strmap model_bytes;   /* raw bytes of each byte-level model token -> id (ignore_merges) */
    int ignore_merges;
    /* all tokens */
    int32_t n_ids;           /* max id + 1 */
    char **id_str;           /* JSON string of each id (NULL: hole) */
    uint32_t *id_len;
    uint8_t *id_special;
    mm_strmap str2id;        /* added tokens win over the model vocab */
    mm_added_token *added; int n_added;
    uint8_t added_first[2][256];   /* [normalized][first byte]: some added token starts with it */
    /* pre-tokenizer */
    mm_pretok_step *steps; int n_steps;
    /* post-processor (TemplateProcessing single) */
    int32_t *pre_ids, *post_ids; int n_pre, n_post;
    int decoder_bytelevel;   /* 0: tokens joined with " " (no decoder) */
};

/* Calls cb on each pre-tokenized piece of text (already lossily valid UTF-8), in order. */
typedef int (*mm_piece_cb)(void *ud, const char *p, size_t n);
int mm_tok_pretokenize(const mm_tokenizer *t, const char *text, size_t len, mm_piece_cb cb, void *ud);
/* Splits on added tokens: cb_piece for gaps (not yet pre-tokenized), cb_id for matched tokens. */
typedef int (*mm_id_cb)(void *ud, int32_t id);
int mm_tok_split_added(const mm_tokenizer *t, const char *text, size_t len, int parse_special,
                       mm_piece_cb gap, mm_id_cb tok, void *ud);
uint64_t mm_tok_new_serial(void);
/* BPE of one piece (raw bytes), appending ids. */
int mm_tok_bpe(const mm_tokenizer *t, const unsigned char *p, size_t n, mm_ids *out);
void mm_ids_grow(mm_ids *v);
static inline int mm_ids_push(mm_ids *v, int32_t id) {
    if (v->n == v->cap) mm_ids_grow(v);
    v->ids[v->n++] = id;
    return 0;
}

/* loads from memory; name is used in error messages */
mm_tokenizer *mm_tokenizer_load_json(const char *json, size_t len, const char *name);
/* compiles a regex with Oniguruma-compatible \s / \S; NULL + mm_fail on error */
pcre2_code *mm_tok_regex(const char *pat, size_t len, int literal, const char *key);
/* tokenizer_unicode.c (generated): class ranges HF has in \p{L}/\p{N}/\p{P}/char::is_numeric beyond
 * PCRE2's Unicode 14 */
extern const char MM_UNI_EXTRA_L[], MM_UNI_EXTRA_N[], MM_UNI_EXTRA_P[], MM_UNI_EXTRA_NUM[];
/* GPT-2 pattern used by ByteLevel(use_regex) */
extern const char MM_GPT2_PATTERN[];
#endif
