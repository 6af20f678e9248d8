/* Training batches from a prepared cache (data/cache.h): every epoch a fresh permutation (a pure
 * function of seed and epoch), micro-batches right-padded to their longest sequence, loss weights 1 on
 * the summary tokens and eos.  An optional language filter gives LoRA-Each its one-language data and a
 * cap per language gives the smoke scale. */
#ifndef MMLORA_BATCHES_H
#define MMLORA_BATCHES_H
#include <stddef.h>
#include <stdint.h>
#include "data/cache.h"

typedef struct {
    const mm_cache *cache;
    size_t *pool;         /* selected example indices */
    size_t n;
    size_t *perm;         /* permutation of the current epoch */
    long perm_epoch;
    int epochs, micro;
    uint64_t seed;
    int32_t pad_id;
} mm_batches;

/* lang < 0: all languages; max_per_lang <= 0: no cap (the first ones in cache order are kept). */
int mm_batches_init(mm_batches *b, const mm_cache *c, int lang, long max_per_lang, int epochs, int micro,
                    uint64_t seed, int32_t pad_id);
void mm_batches_free(mm_batches *b);
/* micro-batches in the whole run */
uint64_t mm_batches_total_micro(const mm_batches *b);
/* an mm_batch_fn (train/trainer.h); ctx = mm_batches* */
int mm_batches_next(void *ctx, uint64_t micro, int32_t *tokens, float *weights, int32_t *langs, int B, int *T);
#endif
