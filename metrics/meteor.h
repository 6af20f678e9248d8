/* NLTK's nltk.translate.meteor_score (3.6.5 .. 3.10 algorithm; NLTK 3.8 WordNet morphy by default,
 * the NLTK >= 3.9 morphy as an option): exact, Porter-stem and WordNet-synonym stages with NLTK's
 * greedy from-the-end alignment, alpha 0.9, beta 3, gamma 0.5, max over references.
 * Tokens are Python str.split() of the text, lowercased with str.lower() per token, exactly as
 * meteor_score([r.split() for r in refs], hyp.split()). Bit-identical on x86-64 glibc. */
#ifndef MMLORA_METRICS_METEOR_H
#define MMLORA_METRICS_METEOR_H
#include <stdbool.h>
#include <stddef.h>
#include "metrics/wordnet.h"

typedef struct mm_meteor mm_meteor;

/* wordnet_dir NULL: $WORDNET_DIR or /usr/share/wordnet. NULL + mm_fail() message on error. */
mm_meteor *mm_meteor_new(const char *wordnet_dir, bool morphy39);
void mm_meteor_free(mm_meteor *m);
/* A scorer for another thread: shares the WordNet of `m` (read-only), has its own cache. */
mm_meteor *mm_meteor_clone(const mm_meteor *m);

/* meteor_score([ref.split() for ref in refs], hyp.split()); UTF-8 text, lengths in bytes.
 * nref == 0 returns -1 (NLTK: max() of an empty sequence). */
double mm_meteor_score(mm_meteor *m, const char *hyp, size_t hyp_len, const char *const *refs,
                       const size_t *ref_lens, size_t nref);
/* NUL-terminated convenience, one reference. */
double mm_meteor_str(mm_meteor *m, const char *hyp, const char *ref);

/* Alignment details of single_meteor_score (for tests and debugging). */
typedef struct { int exact, stem, syn, chunks, hyp_len, ref_len; } mm_meteor_detail;
double mm_meteor_single(mm_meteor *m, const char *hyp, size_t hyp_len, const char *ref, size_t ref_len,
                        mm_meteor_detail *detail);
#endif
