/* CodeXGLUE code-to-text smoothed sentence BLEU-4 (microsoft/CodeXGLUE Code-Text/code-to-text
 * evaluator/evaluator.py == code/bleu.py), bit-identical to the Python script on x86-64 glibc.
 * See docs in metrics/README.md and the spec (metrics-spec.md Part 1). */
#ifndef MMLORA_METRICS_BLEU_H
#define MMLORA_METRICS_BLEU_H
#include <stddef.h>

/* The counts bleu.py's cook_test() produces for one segment. */
typedef struct {
    long testlen, reflen;      /* hypothesis length; shortest reference length */
    long guess[4], correct[4]; /* n-gram totals and clipped matches, n = 1..4 */
} mm_bleu_counts;

/* Sentence BLEU in [0, 1] of one hypothesis against nref >= 1 references (raw text, as in the
 * files: bleu.py's strip/lower/splitPuncts/normalize tokenization is applied here).
 * Text must be UTF-8 (invalid bytes are read as U+FFFD); lengths are in bytes.
 * counts may be NULL. nref == 0 returns -1 (bleu.py: min() of an empty list). */
double mm_bleu_sentence(const char *hyp, size_t hyp_len, const char *const *refs,
                        const size_t *ref_lens, size_t nref, mm_bleu_counts *counts);
/* Reusable buffers for repeated scoring (one per thread): same results, fewer allocations. */
typedef struct mm_bleu_scratch mm_bleu_scratch;
mm_bleu_scratch *mm_bleu_scratch_new(void);
void mm_bleu_scratch_free(mm_bleu_scratch *s);
double mm_bleu_sentence_s(mm_bleu_scratch *s, const char *hyp, size_t hyp_len, const char *const *refs,
                          const size_t *ref_lens, size_t nref, mm_bleu_counts *counts);
/* Convenience for NUL-terminated strings, one reference. */
double mm_bleu(const char *hyp, const char *ref);
/* The exact token list bleu.py compares, joined by single spaces (malloc'd; caller frees). */
char *mm_bleu_tokens(const char *text, size_t len);
/* Score from counts (the formula of score_cooked with smooth=1, n=4). */
double mm_bleu_from_counts(const mm_bleu_counts *c);
#endif
