/* MMLoRA's Global Language Router (paper eq. 2-3) and expert loss (eq. 6-8).
 *   R = ReLU(Dropout(Embedding(t)·W1ᵀ + b1))·W2ᵀ + b2,  S = softmax(R),  w = top-K(S) renormalized.
 * One router for the whole model; its weights live in the adapters' extra block. */
#ifndef MMLORA_LANG_ROUTER_H
#define MMLORA_LANG_ROUTER_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n_lang, emb, hidden, M, K;
    float dropout;
    size_t emb_off, w1_off, b1_off, w2_off, b2_off; /* offsets relative to the router block */
    size_t n_params;
    /* saved by the last forward, for up to cap rows */
    int cap, rows;
    int32_t *lang;
    float *h, *a, *S, *w; /* [rows, hidden] pre-activation, post-ReLU-dropout; [rows, M] scores, weights */
    uint64_t seed;
    uint32_t step, stream;
    int train;
} mm_lang_router;

/* sizes and offsets; returns the number of parameters */
size_t mm_lang_router_layout(mm_lang_router *r, int n_lang, int emb, int hidden, int M, int K, float dropout);
/* PyTorch default init: embedding N(0, 1), linear weights and biases U(−1/√in, 1/√in) */
void mm_lang_router_init_params(const mm_lang_router *r, float *p, uint64_t seed);
void mm_lang_router_reserve(mm_lang_router *r, int rows);
void mm_lang_router_free(mm_lang_router *r);
/* w[rows, M] for the language ids; dropout on the hidden layer when train (Philox stream `stream`) */
int mm_lang_router_fwd(mm_lang_router *r, const float *p, const int32_t *lang, int rows, int train, uint64_t seed,
                       uint32_t step, uint32_t stream, float *w_out);
/* accumulate parameter gradients into g from dL/dw [rows, M] of the last forward */
void mm_lang_router_bwd(const mm_lang_router *r, const float *p, float *g, const float *dw);

/* Expert loss on the weights V [N, M] of all N languages: L_d (eq. 6), L_b (eq. 7, population std of the
 * per-expert totals).  dV (may be NULL) receives c_d·dL_d/dV + c_b·dL_b/dV.  Returns c_d·L_d + c_b·L_b. */
double mm_expert_loss(const float *V, int N, int M, float c_d, float c_b, double *Ld, double *Lb, float *dV);
#endif
