/* The adapted linear layer (DESIGN.md §3): y = W x + b + Σ_e g_e · (α_e/r_e) · B_e A_e drop_e(x).
 * Every PEFT method is a configuration of it: LoRA = one expert with g = 1; full fine-tuning = no
 * experts and W trainable; MoLA / MMLoRA = several experts with gates (per row, or global).
 * All adapter parameters live in one flat trainable buffer (params/grads) with offsets per expert. */
#ifndef MMLORA_ADAPTER_H
#define MMLORA_ADAPTER_H
#include <stddef.h>
#include <stdint.h>
#include "kernels.h"
#include "model/model.h"

typedef struct {
    int r;
    float alpha, scale, dropout; /* scale = alpha / r */
    size_t a_off, b_off;         /* A [r, in], B [out, r] in the adapter buffer */
    int u_col;                   /* column of this expert's u = drop(x)·Aᵀ in the module's u rows */
} mm_expert;

typedef struct {
    int n_experts;   /* 0 = module not adapted */
    int in, out;
    int r_total;     /* Σ r_e: width of the saved u rows */
    mm_expert *experts;
} mm_adapted;

typedef struct {
    int n_layers, n_targets;
    mm_adapted *mods;       /* [layer * n_targets + target] */
    float *params, *grads;  /* flat, n_params each */
    size_t n_params;
    int max_r_total;
    /* gates: NULL = every gate 1.  Otherwise gates[e] is used for every row (global gates, MMLoRA)
     * when gate_rows == 0, or gates[row * n_experts + e] per row (token routers) when gate_rows != 0.
     * Set by the method before the forward; read by forward and backward. */
    const float *gates;
    int gate_rows;
    char method[32];
    char targets_desc[128];
} mm_adapters;

/* LoRA with rank r, alpha, dropout on the targets whose bit is set in target_mask (bit t = model target t).
 * A ~ kaiming-uniform(a=√5) = U(−1/√in, 1/√in) from seed; B = 0. */
int mm_adapters_init_lora(mm_adapters *ad, const mm_model *m, int r, float alpha, float dropout,
                          unsigned target_mask, uint64_t seed);
void mm_adapters_free(mm_adapters *ad);
static inline mm_adapted *mm_adapted_at(const mm_adapters *ad, int layer, int target) {
    return &ad->mods[layer * ad->n_targets + target];
}

/* drop_base carries the step's seed and micro-step; drop_base.p != 0 means training (each expert's own
 * dropout is then active), 0 means evaluation.  row0: global index of row 0 (dropout stream offset).
 * Forward of one adapted module's adapter part: y += Σ_e g_e s_e drop_e(x) A_eᵀ B_eᵀ.
 * u [N, r_total] receives drop_e(x)·A_eᵀ (saved for backward).  scratch: N·in floats. */
void mm_adapted_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, float *y, int ldy,
                    const float *x, int N, float *u, float *scratch, mm_dropout drop_base, int layer, int target,
                    uint64_t row0);
/* Backward: dA, dB accumulate into ad->grads; dx += Σ drop_e(du_e·A_e).  scratch: 2·N·in + N·r floats. */
void mm_adapted_bwd(const mm_kernels *k, mm_adapters *ad, const mm_adapted *md, float *dx, const float *dy,
                    int lddy, const float *x, int N, const float *u, float *scratch, mm_dropout drop_base, int layer,
                    int target, uint64_t row0);
#endif
