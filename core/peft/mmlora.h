/* MMLoRA's per-step work around the engine: the Global Language Router gates every adapted module with
 * the same per-sequence weights (eq. 4), their gradients flow back into the router, and once per
 * optimizer step the expert loss (eq. 6-8) on the router's weights for all languages is added. */
#ifndef MMLORA_MMLORA_H
#define MMLORA_MMLORA_H
#include "peft/adapter.h"
#include "peft/lang_router.h"
#include "peft/method.h"
#include "train/trainer.h"

typedef struct {
    mm_method_spec spec;
    mm_adapters *ad;
    mm_lang_router router;
    int E;            /* experts per module: universal (if any) + M */
    int first;        /* index of the first specialized expert (1 with a universal expert) */
    int max_seqs;
    float *gates, *dgates; /* [max_seqs, E] */
    float *w, *dw;         /* [max(max_seqs, n_lang), M] */
    double last_ld, last_lb, last_le;
} mm_mmlora;

int mm_mmlora_init(mm_mmlora *mm, const mm_method_spec *spec, mm_adapters *ad, int n_lang, int max_seqs,
                   uint64_t seed);
void mm_mmlora_free(mm_mmlora *mm);
/* before a forward over B sequences of T rows with languages lang[B]: set the gates */
int mm_mmlora_begin(mm_mmlora *mm, const int32_t *lang, int B, int T, int train, uint64_t seed, uint32_t step);
/* after the backward: gate gradients -> router gradients */
void mm_mmlora_end(mm_mmlora *mm);
/* once per optimizer step, after the LM gradients are normalized: adds the expert loss gradients and
 * returns c_d·L_d + c_b·L_b (0 when both are off) */
double mm_mmlora_expert_loss(mm_mmlora *mm, int train, uint64_t seed, uint32_t step);
/* trainer hooks driving this state (begin/end of each micro-batch, expert loss per step) */
void mm_mmlora_hooks(mm_mmlora *mm, mm_train_hooks *h);
/* router weights per language [n_lang, M] in eval mode (Fig. 8 expert allocation) */
int mm_mmlora_allocation(mm_mmlora *mm, float *out);
#endif
