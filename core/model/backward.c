/* Hand-written backward of the engine's forward (engine.c), layer by layer in reverse. */
#include <string.h>
#include "model/engine.h"
#include "util/philox.h"

static mm_dropout drop_of(const mm_engine *e, float p, int layer, uint32_t purpose) {
    mm_dropout d = {e->seed, e->step, mm_rng_stream(layer, purpose), e->train ? p : 0.0f};
    return d;
}

/* dx = dy·W (overwrite) (+ adapter part); dW, db accumulate when the base is trainable */
static void adapted_linear_bwd(mm_engine *e, int l, int t, float *dx, const float *dy, const float *x, int N) {
    const mm_model *m = e->model;
    const mm_target *tg = &m->targets[t];
    const float *W = mm_layer_ptr(m, m->params, l, tg->w_off);
    float *dW = e->dparams ? mm_layer_ptr(m, e->dparams, l, tg->w_off) : NULL;
    float *db = e->dparams && tg->b_off != SIZE_MAX ? mm_layer_ptr(m, e->dparams, l, tg->b_off) : NULL;
    e->k->linear_bwd(dx, tg->in, dW, db, dy, tg->out, x, tg->in, W, N, tg->in, tg->out, 0);
    if (e->ad) {
        const mm_adapted *md = mm_adapted_at(e->ad, l, t);
        if (md->n_experts) {
            const float *u = e->a.lora_u + ((size_t)l * m->n_targets + t) * (size_t)N * e->ad->max_r_total;
            mm_adapted_bwd(e->k, e->ad, md, dx, dy, tg->out, x, N, u, e->a.ad_scratch, drop_of(e, 1.0f, l, 0), l,
                           t, e->row0);
        }
    }
}

void mm_engine_backward(mm_engine *e, const int32_t *tokens, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head, L = c->n_layer;
    const size_t NC = (size_t)N * C;
    mm_activations *a = &e->a;
    float *dp = e->dparams;
    memset(a->d_res, 0, NC * sizeof(float));
    k->layernorm_bwd(a->d_res, dp ? dp + m->lnf_w : NULL, dp ? dp + m->lnf_b : NULL, a->d_lnf,
                     a->resid + (size_t)L * NC, m->params + m->lnf_w, a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const float *x = a->resid + (size_t)l * NC, *ln1 = a->ln1 + (size_t)l * NC;
        const float *qkv = a->qkv + (size_t)l * N * Q, *att = a->att + (size_t)l * NC;
        const float *mid = a->mid + (size_t)l * NC, *ln2 = a->ln2 + (size_t)l * NC;
        const float *fc = a->fc + (size_t)l * N * F, *fc_act = a->fc_act + (size_t)l * N * F;
        /* MLP branch */
        k->dropout_fwd(a->d_small, a->d_res, NC, drop_of(e, c->resid_pdrop, l, MM_RNG_RESID_MLP), e->row0 * C);
        adapted_linear_bwd(e, l, MM_T_MLP_PROJ, a->d_wide, a->d_small, fc_act, N);
        k->gelu_tanh_bwd(a->d_wide, a->d_wide, fc, (size_t)N * F);
        adapted_linear_bwd(e, l, MM_T_MLP_FC, a->d_small, a->d_wide, ln2, N);
        k->layernorm_bwd(a->d_res, dp ? mm_layer_ptr(m, dp, l, m->norms.ln2_w) : NULL,
                         dp ? mm_layer_ptr(m, dp, l, m->norms.ln2_b) : NULL, a->d_small, mid,
                         mm_layer_ptr(m, m->params, l, m->norms.ln2_w), a->ln2_mean + (size_t)l * N,
                         a->ln2_rstd + (size_t)l * N, N, C);
        /* attention branch */
        k->dropout_fwd(a->d_small, a->d_res, NC, drop_of(e, c->resid_pdrop, l, MM_RNG_RESID_ATTN), e->row0 * C);
        adapted_linear_bwd(e, l, MM_T_ATTN_PROJ, a->tmp, a->d_small, att, N);
        k->attention_bwd(a->d_qkv, a->tmp, C, qkv, Q, a->probs + (size_t)l * B * H * T * T, B, T, H, c->n_kv_head,
                         c->head_dim, drop_of(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
        adapted_linear_bwd(e, l, MM_T_ATTN_QKV, a->d_small, a->d_qkv, ln1, N);
        k->layernorm_bwd(a->d_res, dp ? mm_layer_ptr(m, dp, l, m->norms.ln1_w) : NULL,
                         dp ? mm_layer_ptr(m, dp, l, m->norms.ln1_b) : NULL, a->d_small, x,
                         mm_layer_ptr(m, m->params, l, m->norms.ln1_w), a->ln1_mean + (size_t)l * N,
                         a->ln1_rstd + (size_t)l * N, N, C);
    }
    if (dp) {
        k->dropout_fwd(a->d_small, a->d_res, NC, drop_of(e, c->embd_pdrop, -1, MM_RNG_EMBD), e->row0 * C);
        k->embedding_bwd(dp + m->wte, dp + m->wpe, a->d_small, tokens, a->pos, N, C);
    }
}
