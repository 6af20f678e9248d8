/* The adapted linear layer (DESIGN.md §3): y = W x + b + Σ_e g_e · (α_e/r_e) · B_e A_e drop_e(x).
 * Every PEFT method is a configuration of it: LoRA = one expert with g = 1; full fine-tuning = no
 * experts and W trainable; MoLA = experts gated per token by the module's own router (softmax, top-k,
 * renormalized); MMLoRA = a universal expert (g = 1) plus specialized experts gated per sequence by
 * the one Global Language Router.  All adapter parameters (experts, token routers, and any extra
 * block such as the global router) live in one flat trainable buffer with offsets. */
#ifndef MMLORA_ADAPTER_H
#define MMLORA_ADAPTER_H
#include <stddef.h>
#include <stdint.h>
#include "kernels.h"
#include "model/model.h"

#define MM_MAX_EXPERTS 16

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
    /* token router (MoLA): logits = x·Rᵀ over the routed experts [routed_from, n_experts), R [n_routed, in]
     * at r_off; top_k kept and renormalized; experts before routed_from have gate 1 */
    int token_router, top_k, routed_from;
    size_t r_off;
    float *tr_probs, *tr_gates; /* [N, n_routed] saved by forward (per step, N <= reserved rows) */
    uint64_t **drop_bits;       /* per expert: its input-dropout mask of the current step, bit-packed */
    int bits_rows;              /* rows the mask buffers hold */
} mm_adapted;

typedef struct { int r; float alpha, dropout; } mm_expert_spec;
typedef struct {
    int n_experts;                           /* 0: leave the module unadapted */
    mm_expert_spec experts[MM_MAX_EXPERTS];
    int token_router, top_k, routed_from;
} mm_module_spec;
typedef void (*mm_module_spec_fn)(void *ctx, int layer, int target, mm_module_spec *out);

typedef struct {
    int n_layers, n_targets;
    mm_adapted *mods;       /* [layer * n_targets + target] */
    float *params, *grads;  /* flat, n_params each */
    size_t n_params;
    size_t extra_off, n_extra; /* extra trainable block (e.g. the global router) at the end of the buffer */
    int max_r_total, max_experts;
    /* Group gates shared by every module without a token router.  NULL = every gate 1.  Otherwise row n
     * uses gates[(gate_group ? n / gate_group : 0) * max_experts + e]; with dgates non-NULL, backward
     * accumulates dL/dgate there (same layout).  Set by the method before forward. */
    const float *gates;
    float *dgates;
    int gate_group;
    int reserved_rows;
    int reserved_masks;     /* the reserve holds dropout masks (mm_adapters_reserve), not only routers' (_eval) */
    char method[32];
    /* Memory of the op table that runs the adapters.  On the CPU path (nothing attached) `mem` is NULL and the
     * ops use params/grads/gates/dgates and host reserve buffers directly.  mm_adapters_attach() with a
     * device-memory table puts params, grads, the step's gates and gate gradients, and every reserve buffer
     * (dropout masks, token-router probabilities and gates) in that table's memory; the host buffers then
     * only change through mm_adapters_download / _upload and the gate exchange below. */
    const mm_kernels *mem;
    float *dev_params, *dev_grads, *dev_gates, *dev_dgates;
    int dev_gate_groups;    /* capacity of dev_gates / dev_dgates in gate groups (rows of max_experts) */
} mm_adapters;

/* Build adapters from a per-module spec.  A ~ kaiming-uniform(a=√5) = U(−1/√in, 1/√in), B = 0, token
 * routers U(−1/√in, 1/√in), all from seed; n_extra more trainable floats are appended (zeroed). */
int mm_adapters_build(mm_adapters *ad, const mm_model *m, mm_module_spec_fn fn, void *ctx, size_t n_extra,
                      uint64_t seed);
/* LoRA with rank r, alpha, dropout on the targets whose bit is set in target_mask (bit t = model target t). */
int mm_adapters_init_lora(mm_adapters *ad, const mm_model *m, int r, float alpha, float dropout,
                          unsigned target_mask, uint64_t seed);
/* Per-step buffers for up to N rows (token-router gates); call once before training/generation. */
void mm_adapters_reserve(mm_adapters *ad, int N);
/* bytes mm_adapters_reserve(ad, N) allocates (dropout masks, token-router probabilities and gates) */
size_t mm_adapters_reserve_bytes(const mm_adapters *ad, int N);
/* The same for inference (generation: no dropout): the token routers' buffers only, no mask buffers (a 1B
 * MMLoRA model's masks for a 64-prompt prefill would be gigabytes); a later mm_adapters_reserve adds them. */
void mm_adapters_reserve_eval(mm_adapters *ad, int N);
size_t mm_adapters_reserve_eval_bytes(const mm_adapters *ad, int N);
void mm_adapters_free(mm_adapters *ad);
/* Device memory for the adapters when k's memory is not the host's (k->device_memory): copies of params
 * and grads (uploaded now), gate buffers for up to max_rows rows, and the reserve buffers moved to the
 * device (reserve again afterwards).  Nothing happens for a host table.  Returns 0.  mm_engine_init
 * attaches and mm_engine_free downloads and detaches: on a device table one engine at a time per
 * adapters (a second engine on the same adapters shares the copies and loses them when the first is freed). */
int mm_adapters_attach(mm_adapters *ad, const mm_kernels *k, int max_rows);
/* frees the device copies (after mm_adapters_download when their contents are wanted); no-op when unattached */
void mm_adapters_detach(mm_adapters *ad);
/* device -> host params and grads / host -> device params and grads (no-ops when unattached).  Only the
 * modules' block [0, extra_off) travels: the extra block (MMLoRA's global router) is host-owned. */
void mm_adapters_download(mm_adapters *ad);
void mm_adapters_upload(mm_adapters *ad);
/* The global gates stay on the host (MMLoRA's router is host code).  Before a forward over N rows:
 * upload the host gates; before a backward: clear the device gate gradients; after it: add them into the
 * host dgates.  All three are no-ops when unattached (the ops then read and write the host arrays). */
void mm_adapters_gates_upload(mm_adapters *ad, int N);
void mm_adapters_dgates_clear(mm_adapters *ad, int N);
void mm_adapters_dgates_download(mm_adapters *ad, int N);
static inline mm_adapted *mm_adapted_at(const mm_adapters *ad, int layer, int target) {
    return &ad->mods[layer * ad->n_targets + target];
}

/* drop_base carries the step's seed and micro-step; drop_base.p != 0 means training (each expert's own
 * dropout is then active), 0 means evaluation.  row0: global index of row 0 (dropout stream offset).
 * Forward of one adapted module's adapter part: y += Σ_e g_e s_e drop_e(x) A_eᵀ B_eᵀ.
 * u [N, r_total] receives drop_e(x)·A_eᵀ (saved for backward).  scratch: mm_adapted_scratch() floats. */
void mm_adapted_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, float *y, int ldy,
                    const float *x, int N, float *u, float *scratch, mm_dropout drop_base, int layer, int target,
                    uint64_t row0);
/* Backward: expert and router gradients accumulate into ad->grads, group-gate gradients into ad->dgates;
 * dx += Σ drop_e(du_e·A_e) (+ the token router's input gradient). */
void mm_adapted_bwd(const mm_kernels *k, mm_adapters *ad, const mm_adapted *md, float *dx, const float *dy,
                    int lddy, const float *x, int N, const float *u, float *scratch, mm_dropout drop_base, int layer,
                    int target, uint64_t row0);
size_t mm_adapted_scratch(int N, int in, int out, int r_total, int n_experts);

/* mm_topk_renorm / mm_topk_renorm_bwd: kernels.h (the CPU token-router ops use them) */
#endif
