/* One GPTBigCode block (pre-LN, multi-query attention, tanh-GELU MLP, dropouts): forward and backward. */
#include "model/engine_internal.h"

void mm_block_fwd_gpt_bigcode(mm_engine *e, int l, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head;
    const size_t NC = (size_t)N * C;
    mm_activations *a = &e->a;
    const size_t sl = mm_engine_slot(e, l), sk = mm_engine_keep_slot(e, l); /* this layer's slots */
    const float *x = a->resid + (size_t)l * NC;
    float *ln1 = a->ln1 + sl * NC, *qkv = a->qkv + sl * N * Q, *att = a->att + sl * NC;
    float *mid = a->mid + sk * NC, *ln2 = a->ln2 + sl * NC;
    float *fc = a->fc + sl * N * F, *fc_act = a->fc_act + sl * N * F;
    float *out = a->resid + (size_t)(l + 1) * NC;
    k->layernorm_fwd(ln1, a->ln1_mean + sk * N, a->ln1_rstd + sk * N, x,
                     mm_engine_param(e, l, m->norms.ln1_w), mm_engine_param(e, l, m->norms.ln1_b), N,
                     C, c->norm_eps);
    mm_engine_act_round(e, l, MM_STASH_LN1, ln1, NC);
    mm_engine_linear_fwd(e, l, MM_T_ATTN_QKV, qkv, Q, ln1, N);
    mm_engine_act_round(e, l, MM_STASH_QKV, qkv, (size_t)N * Q);
    k->attention_fwd(att, C, a->probs + sl * B * H * T * T, qkv, Q, B, T, H, c->n_kv_head, c->head_dim,
                     mm_engine_drop(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
    mm_engine_act_round(e, l, MM_STASH_ATT, att, NC);
    mm_engine_linear_fwd(e, l, MM_T_ATTN_PROJ, a->tmp, C, att, N);
    k->dropout_fwd(a->tmp, a->tmp, NC, mm_engine_drop(e, c->resid_pdrop, l, MM_RNG_RESID_ATTN), e->row0 * C);
    k->add(mid, x, a->tmp, NC);
    k->layernorm_fwd(ln2, a->ln2_mean + sk * N, a->ln2_rstd + sk * N, mid,
                     mm_engine_param(e, l, m->norms.ln2_w), mm_engine_param(e, l, m->norms.ln2_b), N,
                     C, c->norm_eps);
    mm_engine_act_round(e, l, MM_STASH_LN2, ln2, NC);
    mm_engine_linear_fwd(e, l, MM_T_MLP_FC, fc, F, ln2, N);
    mm_engine_act_round(e, l, MM_STASH_FC, fc, (size_t)N * F);
    k->gelu_tanh_fwd(fc_act, fc, (size_t)N * F);
    mm_engine_act_round(e, l, MM_STASH_FC_ACT, fc_act, (size_t)N * F);
    mm_engine_linear_fwd(e, l, MM_T_MLP_PROJ, a->tmp, C, fc_act, N);
    k->dropout_fwd(a->tmp, a->tmp, NC, mm_engine_drop(e, c->resid_pdrop, l, MM_RNG_RESID_MLP), e->row0 * C);
    k->add(out, mid, a->tmp, NC);
}

/* in: a->d_res = dL/d resid[l+1]; out: a->d_res = dL/d resid[l] */
void mm_block_bwd_gpt_bigcode(mm_engine *e, int l, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head;
    const size_t NC = (size_t)N * C;
    mm_activations *a = &e->a;
    const size_t sl = mm_engine_slot(e, l), sk = mm_engine_keep_slot(e, l); /* this layer's slots */
    float *dp = e->dparams;
    const float *x = a->resid + (size_t)l * NC, *ln1 = a->ln1 + sl * NC;
    const float *qkv = a->qkv + sl * N * Q, *att = a->att + sl * NC;
    const float *mid = a->mid + sk * NC, *ln2 = a->ln2 + sl * NC;
    const float *fc = a->fc + sl * N * F, *fc_act = a->fc_act + sl * N * F;
    /* MLP branch */
    k->dropout_fwd(a->d_small, a->d_res, NC, mm_engine_drop(e, c->resid_pdrop, l, MM_RNG_RESID_MLP), e->row0 * C);
    mm_engine_linear_bwd(e, l, MM_T_MLP_PROJ, a->d_wide, a->d_small, C, fc_act, N, 0);
    k->gelu_tanh_bwd(a->d_wide, a->d_wide, fc, (size_t)N * F);
    mm_engine_linear_bwd(e, l, MM_T_MLP_FC, a->d_small, a->d_wide, F, ln2, N, 0);
    k->layernorm_bwd(a->d_res, dp ? mm_layer_ptr(m, dp, l, m->norms.ln2_w) : NULL,
                     dp ? mm_layer_ptr(m, dp, l, m->norms.ln2_b) : NULL, a->d_small, mid,
                     mm_engine_param(e, l, m->norms.ln2_w), a->ln2_mean + sk * N,
                     a->ln2_rstd + sk * N, N, C);
    /* attention branch */
    k->dropout_fwd(a->d_small, a->d_res, NC, mm_engine_drop(e, c->resid_pdrop, l, MM_RNG_RESID_ATTN), e->row0 * C);
    mm_engine_linear_bwd(e, l, MM_T_ATTN_PROJ, a->tmp, a->d_small, C, att, N, 0);
    k->attention_bwd(a->d_qkv, a->tmp, C, qkv, Q, a->probs + sl * B * H * T * T, B, T, H, c->n_kv_head,
                     c->head_dim, mm_engine_drop(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
    mm_engine_linear_bwd(e, l, MM_T_ATTN_QKV, a->d_small, a->d_qkv, Q, ln1, N, 0);
    k->layernorm_bwd(a->d_res, dp ? mm_layer_ptr(m, dp, l, m->norms.ln1_w) : NULL,
                     dp ? mm_layer_ptr(m, dp, l, m->norms.ln1_b) : NULL, a->d_small, x,
                     mm_engine_param(e, l, m->norms.ln1_w), a->ln1_mean + sk * N,
                     a->ln1_rstd + sk * N, N, C);
}
