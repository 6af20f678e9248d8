/* Shared pieces of the engine's forward/backward (engine.c, block_*.c).  Not a public API. */
#ifndef MMLORA_ENGINE_INTERNAL_H
#define MMLORA_ENGINE_INTERNAL_H
#include "model/engine.h"
#include "util/philox.h"

static inline mm_dropout mm_engine_drop(const mm_engine *e, float p, int layer, uint32_t purpose) {
    mm_dropout d = {e->seed, e->step, mm_rng_stream(layer, purpose), e->train ? p : 0.0f};
    return d;
}
/* slot of layer l in the large per-layer activation buffers (0 for every layer with recomputation or act_dtype
 * bf16: a working copy) and in the kept ones (mid, the norms' statistics, the adapters' u, the bf16 stash: 0 with
 * recomputation only) */
static inline size_t mm_engine_slot(const mm_engine *e, int l) { return e->recompute || e->act16 ? 0 : (size_t)l; }
static inline size_t mm_engine_keep_slot(const mm_engine *e, int l) { return e->recompute ? 0 : (size_t)l; }
/* act_dtype bf16 (else nothing): buf[0..n) of layer l rounded to bf16 into stash part `which` (MM_STASH_*) and
 * widened back in place, so that forward and backward read the same values */
void mm_engine_act_round(mm_engine *e, int l, int which, float *buf, size_t n);
/* act_dtype bf16 without recomputation, before layer l's backward: the working slot from the layer's stash, the
 * attention probabilities recomputed */
void mm_engine_unstash(mm_engine *e, int l, int B, int T);
/* the engine's fp32 parameter at offset off0 of layer l (l < 0: a tensor outside the layers, off0 as is), where
 * mm_layer_ptr(m, e->params, l, off0) would be without the bf16 layout's gaps */
float *mm_engine_param(const mm_engine *e, int l, size_t off0);
/* engine_weights.c: the arguments' check (mm_fail), then params / w16 / dparams allocated and uploaded, freed */
int mm_engine_weights_check(const mm_model *m, int base_trainable, int dtype);
void mm_engine_weights_init(mm_engine *e, int base_trainable, int dtype);
void mm_engine_weights_free(mm_engine *e);
/* the bf16 copy of target t's weight in layer l (dtype bf16) */
static inline const uint16_t *mm_engine_w16(const mm_engine *e, int l, int t) {
    return e->w16 + (size_t)l * e->w16_layer + e->w16_toff[t];
}
/* y[N, ldy] = base(x) + adapters(x) for target t of layer l */
void mm_engine_linear_fwd(mm_engine *e, int l, int t, float *y, int ldy, const float *x, int N);
/* dx (=, or += when acc) dy·W + adapter part; dW, db accumulate when the base is trainable */
void mm_engine_linear_bwd(mm_engine *e, int l, int t, float *dx, const float *dy, int lddy, const float *x, int N,
                          int acc);

void mm_block_fwd_gpt_bigcode(mm_engine *e, int l, int B, int T);
void mm_block_bwd_gpt_bigcode(mm_engine *e, int l, int B, int T);
void mm_block_fwd_llama(mm_engine *e, int l, int B, int T);
void mm_block_bwd_llama(mm_engine *e, int l, int B, int T);
#endif
