/* Training/evaluation engine: forward, loss and hand-written backward of a model with optional
 * adapters, over a right-padded batch [B, T] of token ids.  All activations live in one arena sized
 * at init from (B, T, config); nothing is allocated inside a step.  The engine touches activation and
 * parameter memory only through the op table (kernels.h), so the same code runs on the CPU table (host
 * memory, zero-copy) and on a device table (CUDA: weights, adapters and arena in device memory; tokens,
 * loss weights and MMLoRA's global gates are host inputs that the engine uploads). */
#ifndef MMLORA_ENGINE_H
#define MMLORA_ENGINE_H
#include "kernels.h"
#include "model/model.h"
#include "peft/adapter.h"

typedef struct {
    float *resid;      /* [(L+1), N, C]: input of each layer, last = input of ln_f */
    float *ln1, *ln1_mean, *ln1_rstd; /* [L, N, C], [L, N] */
    float *qkv;        /* [L, N, qkv_width] */
    float *probs;      /* [L, B, H, T, T] */
    float *att;        /* [L, N, C] */
    float *mid;        /* [L, N, C]: residual after the attention branch */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fc, *fc_act; /* [L, N, F]: GELU input/output, or (LLaMA) gate and silu(gate)·up */
    float *up;          /* [L, N, F] LLaMA only */
    uint16_t *stash;    /* act_dtype bf16: [L, stash_layer] (model/engine.h mm_engine.stash_off) */
    float *rope_cos, *rope_sin; /* [T, D/2] LLaMA only */
    float *lnf, *lnf_mean, *lnf_rstd;
    float *lora_u;     /* [L, targets, N, max_r_total] */
    /* scratch */
    float *d_res, *d_lnf, *d_wide, *d_qkv, *d_small, *tmp, *ad_scratch, *logits;
    int32_t *pos, *rows;
    float *row_w;
    int32_t *row_t;
} mm_activations;

/* rows of one LM-head chunk (the arena's logits buffer) */
enum { MM_ENGINE_LOGIT_ROWS = 256 };
/* Storage of the frozen base's linear weights (mm_engine_opts.dtype) and of the activations (act_dtype). */
enum { MM_DTYPE_FP32 = 0, MM_DTYPE_BF16 = 1 };
/* the parts of a layer's bf16 stash (act_dtype bf16) */
enum { MM_STASH_LN1, MM_STASH_QKV, MM_STASH_ATT, MM_STASH_LN2, MM_STASH_FC, MM_STASH_FC_ACT, MM_STASH_UP,
       MM_STASH_N };
/* activation options as flags (mm_engine_arena_bytes, the memory plan): recomputation, bf16 activations */
enum { MM_ACT_RECOMPUTE = 1, MM_ACT_BF16 = 2 };
/* "fp32" / "bf16" -> MM_DTYPE_*; -1 for anything else */
int mm_engine_dtype_parse(const char *name);
const char *mm_engine_dtype_name(int dtype);

/* A packed fp32 copy of the weights: the model's tensors in model order with some ranges left out (the engine's
 * and the decoder's device copy with dtype bf16 leave out the matrices they hold in bf16 only). */
typedef struct {
    int n;                   /* ranges left out */
    size_t *off, *len, *cum; /* sorted model offsets and lengths; cum[i] = floats left out before range i */
    size_t kept;             /* floats in the packed copy */
} mm_weight_gaps;
/* no gaps: kept = n_params, every index maps to itself */
void mm_weight_gaps_none(mm_weight_gaps *g, const mm_model *m);
/* the bf16 layout's gaps: every layer's target weights and an untied LM head (a tied one is the fp32 embedding) */
void mm_weight_gaps_bf16(mm_weight_gaps *g, const mm_model *m);
void mm_weight_gaps_free(mm_weight_gaps *g);
/* the packed index of model offset o (aborts when o lies in a gap: a weight stored in bf16 only) */
size_t mm_weight_gaps_index(const mm_weight_gaps *g, size_t o);
/* model's params <-> packed (table memory): to_table 1 uploads, 0 downloads (the gaps untouched) */
void mm_weight_gaps_copy(const mm_weight_gaps *g, const mm_kernels *k, const mm_model *m, float *packed,
                         int to_table);

typedef struct {
    const mm_kernels *k;
    mm_model *model;
    mm_adapters *ad;      /* NULL: no adapters */
    /* Every buffer below (arena, params, dparams) is memory of the table k, reached only through its ops.
     * On the CPU table params IS model->params (zero-copy); on a device table it is a copy uploaded at init
     * (mm_engine_upload_params / mm_engine_download refresh either side). */
    float *params;        /* base weights the ops read (fp32; reach them with mm_engine_param) */
    float *dparams;       /* base-weight gradients (NULL when the base is frozen) */
    /* dtype bf16 (a frozen base only): w16 holds a bf16 copy (RNE) of every layer's target weights W and of the
     * LM head, which the linears read through linear_fwd_w16 / linear_bwd_dx_w16; embeddings, norms and biases
     * stay fp32 in params.  On a device table params then leaves those matrices out: it holds the other
     * tensors packed in model order (gaps, mm_weight_gaps_bf16), and mm_engine_param maps a model offset past the
     * left-out ranges.  On the CPU table params stays the model's own buffer (zero-copy, no gaps) and w16 comes in
     * addition. */
    int dtype;            /* MM_DTYPE_* */
    uint16_t *w16;
    size_t w16_layer, w16_toff[MM_MAX_TARGETS], w16_head, w16_n; /* layer stride, target offsets, head, total */
    mm_weight_gaps gaps;  /* params' layout; gaps.kept = floats in params */
    int B, T;             /* capacity */
    int logit_rows;       /* rows per lm-head chunk */
    mm_activations a;
    void *arena;
    size_t arena_bytes;
    /* dropout state of the current step */
    uint64_t seed;
    uint32_t step;        /* micro-step counter used by every dropout stream */
    int train;            /* 1: dropouts active */
    uint64_t row0;        /* global row offset of this batch (data parallel ranks) */
    int recompute;        /* 1: activations of one layer at a time, recomputed in backward */
    int act16;            /* act_dtype bf16: the large saved activations kept per layer as bf16 (stash) */
    size_t stash_layer, stash_off[MM_STASH_N]; /* a layer's stash elements, each part's offset */
    /* device tables only (NULL on the CPU table, where host inputs are used in place): the step's tokens
     * in table memory, and host staging of the LM head's row lists before their upload */
    int32_t *tok;
    int32_t *h_rows, *h_row_t;
    float *h_row_w;
} mm_engine;

int mm_engine_init(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                   int T);
/* recompute = 1: activation recomputation (one forward of each block again during backward, about a
 * third more compute); only the residual stream is kept per layer.  Gradients are bit-identical. */
int mm_engine_init_opts(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                        int T, int recompute);
/* Every option of the engine; mm_engine_init and mm_engine_init_opts are this with the other fields 0. */
typedef struct {
    int recompute; /* as in mm_engine_init_opts */
    /* MM_DTYPE_BF16: bf16 storage of the frozen base's linear weights (the targets' W of every layer and the LM
     * head; see mm_engine.w16), fp32 accumulation; adapters, embeddings, norms, biases and activations stay fp32.
     * Refused (mm_fail) with a trainable base: full fine-tuning would need fp32 master weights. */
    int dtype;
    /* MM_DTYPE_BF16: the activations that backward reads are bf16.  Each of the large ones (the norms' outputs,
     * q/k/v, the attention output, the MLP's pre-activation(s) and activation) is rounded to bf16 (nearest even)
     * where it is produced, and both its consumers in forward and backward read the rounded values (as under
     * autocast: gradients are exact for that rounded forward); between forward and backward each layer keeps
     * them as bf16 (half the bytes), the fp32 working copy is one layer's; the attention probabilities are
     * recomputed in backward from the stashed q, k, v.  The residual stream, mid, the norms' statistics and the
     * adapters' buffers stay fp32.  Any dtype, any method; with recomputation the stash has one layer. */
    int act_dtype;
} mm_engine_opts;
int mm_engine_init_with(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                        int T, const mm_engine_opts *o);
/* Bytes of table memory mm_engine_init_with allocates for the base weights on a table with (device_memory)
 * or without (0: the model's own buffer is used, nothing counted) device memory: *fp32 for params, *bf16 for
 * w16 (0 with dtype fp32).  Either pointer may be NULL. */
void mm_engine_weight_bytes(const mm_model *m, int device_memory, int dtype, size_t *fp32, size_t *bf16);
/* The bf16 copies' layout (engine and decoder): layer-major, each layer's targets in order, then the LM head, every
 * matrix at a multiple of 64 elements; toff[t] within a layer, *layer the layer stride, *head the head's offset.
 * Returns the element count.  _upload rounds (RNE) the model's fp32 matrices into w16 (table memory). */
size_t mm_weights_w16_layout(const mm_model *m, size_t toff[MM_MAX_TARGETS], size_t *layer, size_t *head);
void mm_weights_w16_upload(const mm_kernels *k, const mm_model *m, uint16_t *w16, const size_t toff[MM_MAX_TARGETS],
                           size_t layer, size_t head);
/* An arena of n buffers, each starting at a multiple of 16 floats (64 bytes): its size in floats, and ptrs[i]
 * pointed at buffer i of sizes[i] floats from base (the engine's and the decoder's arenas) */
size_t mm_arena_floats(const size_t *sizes, int n);
void mm_arena_carve(float *base, const size_t *sizes, float **const *ptrs, int n);
/* Bytes of the activation arena mm_engine_init_with allocates for these arguments; act = MM_ACT_* flags (1 =
 * recomputation, as mm_engine_init_opts's argument; | MM_ACT_BF16 for act_dtype bf16). */
size_t mm_engine_arena_bytes(const mm_model *m, const mm_adapters *ad, int B, int T, int act);
void mm_engine_free(mm_engine *e);

/* Forward through ln_f for tokens [B, T] (B <= capacity, T <= capacity). */
void mm_engine_forward(mm_engine *e, const int32_t *tokens, int B, int T);
/* All logits [B*T, V] after mm_engine_forward (evaluation, golden tests). */
void mm_engine_logits(mm_engine *e, float *logits, int B, int T);
/* Shifted next-token cross-entropy with weights: row (b,t) predicts tokens[b,t+1] with weight
 * w[b,t+1] (w NULL = 1 everywhere).  Computes the loss sum, and with backward: gradients of
 * scale·Σ w·CE into the head (and d_lnf).  Returns Σ w·CE; *wsum gets Σ w. */
double mm_engine_head(mm_engine *e, const int32_t *tokens, const float *w, int B, int T, float scale, int backward,
                      double *wsum);
/* Backward from d_lnf through every layer into the adapter / base gradients. */
void mm_engine_backward(mm_engine *e, const int32_t *tokens, int B, int T);

/* Convenience: forward + head + backward; returns Σ w·CE (gradients accumulate). */
double mm_engine_step(mm_engine *e, const int32_t *tokens, const float *w, int B, int T, float scale,
                      double *wsum);
/* Device tables: host model->params -> engine params; engine params and dparams -> host model->params and
 * host_dparams (n_params floats; NULL: skip).  On the CPU table params are the model's own (no copy) and
 * download copies dparams only.  With dtype bf16 upload also rounds the matrices into w16 (on every table),
 * and download brings back the fp32 tensors params holds (the bf16 copies are never read back: the base is
 * frozen, the host keeps its fp32 originals). */
void mm_engine_upload_params(mm_engine *e);
void mm_engine_download(mm_engine *e, float *host_dparams);
/* Σ w over the shifted targets of a batch (for normalizing over accumulated micro-batches). */
double mm_batch_weight(const float *w, int B, int T);
#endif
