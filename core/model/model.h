/* A transformer's frozen/trainable base weights: one flat fp32 buffer with named views.
 * Family differences (GPTBigCode vs LLaMA) live in a small table of tensors and adapted-linear
 * targets (model.c); the forward/backward code (forward.c, backward.c) reads these views. */
#ifndef MMLORA_MODEL_H
#define MMLORA_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "model/config.h"

/* The linear layers inside a block that adapters can target, in forward order. */
enum { MM_T_ATTN_QKV = 0, MM_T_ATTN_PROJ = 1, MM_T_MLP_FC = 2, MM_T_MLP_PROJ = 3, MM_GPTBC_TARGETS = 4 };
#define MM_MAX_TARGETS 8

typedef struct {
    const char *name;   /* HF suffix inside the block, e.g. "attn.c_attn" */
    int in, out;
    size_t w_off, b_off; /* offsets into the parameter buffer; b_off = SIZE_MAX when bias-free */
} mm_target;

typedef struct {
    char name[96];      /* HF tensor name */
    int ndim;
    int64_t shape[2];
    size_t offset, numel;
} mm_tensor_view;

typedef struct {
    size_t ln1_w, ln1_b, ln2_w, ln2_b; /* offsets; biases SIZE_MAX for RMSNorm */
} mm_layer_norms;

typedef struct {
    mm_model_config cfg;
    float *params;       /* all base weights, fp32, 64-byte aligned */
    size_t n_params;
    int n_tensors;
    mm_tensor_view *tensors;
    size_t wte, wpe, lnf_w, lnf_b, lm_head; /* offsets; lm_head == wte when tied; SIZE_MAX = absent */
    int n_targets;
    mm_target targets[MM_MAX_TARGETS];       /* per-layer layout of layer 0 */
    size_t layer_stride;                     /* offset distance between layers */
    size_t layer0;                           /* offset of layer 0 */
    mm_layer_norms norms;                    /* offsets within layer 0 */
    int qkv_width;                           /* (H + 2 Hkv) * D */
} mm_model;

/* Build the tensor table for cfg without allocating weights (sizes, names, targets). */
int mm_model_layout(mm_model *m, const mm_model_config *cfg);
/* Build the tensor table for cfg and allocate zeroed weights. */
int mm_model_init(mm_model *m, const mm_model_config *cfg);
void mm_model_free(mm_model *m);
/* Load weights from a directory holding config.json + safetensors (single or sharded). */
int mm_model_load(mm_model *m, const char *dir);
/* Load weights from an already parsed config + safetensors path */
int mm_model_load_weights(mm_model *m, const char *st_path);
/* GPT-2 style random init: normal(0, 0.02) linears/embeddings, 0.02/sqrt(2L) residual projections,
 * ones/zeros norms.  Deterministic in seed. */
void mm_model_init_random(mm_model *m, uint64_t seed);
/* Save weights as safetensors with HF names (atomic). */
int mm_model_save(const mm_model *m, const char *path);

static inline float *mm_layer_ptr(const mm_model *m, float *buf, int layer, size_t off0) {
    return buf + off0 + (size_t)layer * m->layer_stride;
}
const mm_tensor_view *mm_model_find(const mm_model *m, const char *name);
#endif
