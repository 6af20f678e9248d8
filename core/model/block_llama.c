/* One LLaMA block (RMSNorm, q/k/v/o with grouped-query attention and RoPE, SwiGLU MLP, no biases):
 * forward and backward.  q, k and v are written side by side into one qkv row so the attention kernel
 * is the same as GPTBigCode's. */
#include "model/engine_internal.h"

enum { Q_PROJ = 0, K_PROJ, V_PROJ, O_PROJ, GATE_PROJ, UP_PROJ, DOWN_PROJ };

void mm_block_fwd_llama(mm_engine *e, int l, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head, Hkv = c->n_kv_head;
    const int D = c->head_dim;
    const size_t NC = (size_t)N * C, NF = (size_t)N * F;
    mm_activations *a = &e->a;
    const size_t sl = mm_engine_slot(e, l), sk = mm_engine_keep_slot(e, l); /* this layer's slots */
    const float *x = a->resid + (size_t)l * NC;
    float *ln1 = a->ln1 + sl * NC, *qkv = a->qkv + sl * N * Q, *att = a->att + sl * NC;
    float *mid = a->mid + sk * NC, *ln2 = a->ln2 + sl * NC;
    float *gate = a->fc + sl * NF, *act = a->fc_act + sl * NF, *up = a->up + sl * NF;
    float *out = a->resid + (size_t)(l + 1) * NC;
    k->rmsnorm_fwd(ln1, a->ln1_rstd + sk * N, x, mm_engine_param(e, l, m->norms.ln1_w), N, C,
                   c->norm_eps);
    mm_engine_act_round(e, l, MM_STASH_LN1, ln1, NC);
    mm_engine_linear_fwd(e, l, Q_PROJ, qkv, Q, ln1, N);
    mm_engine_linear_fwd(e, l, K_PROJ, qkv + (size_t)H * D, Q, ln1, N);
    mm_engine_linear_fwd(e, l, V_PROJ, qkv + (size_t)(H + Hkv) * D, Q, ln1, N);
    k->rope(qkv, Q, 0, H, D, a->pos, N, a->rope_cos, a->rope_sin, 0);
    k->rope(qkv, Q, H * D, Hkv, D, a->pos, N, a->rope_cos, a->rope_sin, 0);
    mm_engine_act_round(e, l, MM_STASH_QKV, qkv, (size_t)N * Q); /* after RoPE: what attention reads */
    k->attention_fwd(att, C, a->probs + sl * B * H * T * T, qkv, Q, B, T, H, Hkv, D,
                     mm_engine_drop(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
    mm_engine_act_round(e, l, MM_STASH_ATT, att, NC);
    mm_engine_linear_fwd(e, l, O_PROJ, a->tmp, C, att, N);
    k->add(mid, x, a->tmp, NC);
    k->rmsnorm_fwd(ln2, a->ln2_rstd + sk * N, mid, mm_engine_param(e, l, m->norms.ln2_w), N, C,
                   c->norm_eps);
    mm_engine_act_round(e, l, MM_STASH_LN2, ln2, NC);
    mm_engine_linear_fwd(e, l, GATE_PROJ, gate, F, ln2, N);
    mm_engine_act_round(e, l, MM_STASH_FC, gate, NF);
    mm_engine_linear_fwd(e, l, UP_PROJ, up, F, ln2, N);
    mm_engine_act_round(e, l, MM_STASH_UP, up, NF);
    k->swiglu_fwd(act, gate, up, NF);
    mm_engine_act_round(e, l, MM_STASH_FC_ACT, act, NF);
    mm_engine_linear_fwd(e, l, DOWN_PROJ, a->tmp, C, act, N);
    k->add(out, mid, a->tmp, NC);
}

/* in: a->d_res = dL/d resid[l+1]; out: a->d_res = dL/d resid[l] */
void mm_block_bwd_llama(mm_engine *e, int l, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head, Hkv = c->n_kv_head;
    const int D = c->head_dim;
    const size_t NC = (size_t)N * C, NF = (size_t)N * F;
    mm_activations *a = &e->a;
    const size_t sl = mm_engine_slot(e, l), sk = mm_engine_keep_slot(e, l); /* this layer's slots */
    float *dp = e->dparams;
    const float *x = a->resid + (size_t)l * NC, *ln1 = a->ln1 + sl * NC;
    const float *qkv = a->qkv + sl * N * Q, *att = a->att + sl * NC;
    const float *mid = a->mid + sk * NC, *ln2 = a->ln2 + sl * NC;
    const float *gate = a->fc + sl * NF, *act = a->fc_act + sl * NF, *up = a->up + sl * NF;
    /* MLP */
    mm_engine_linear_bwd(e, l, DOWN_PROJ, a->d_wide, a->d_res, C, act, N, 0);
    k->swiglu_bwd(a->d_wide, a->tmp, a->d_wide, gate, up, NF); /* d_wide: dgate, tmp: dup */
    mm_engine_linear_bwd(e, l, GATE_PROJ, a->d_small, a->d_wide, F, ln2, N, 0);
    mm_engine_linear_bwd(e, l, UP_PROJ, a->d_small, a->tmp, F, ln2, N, 1);
    k->rmsnorm_bwd(a->d_res, dp ? mm_layer_ptr(m, dp, l, m->norms.ln2_w) : NULL, a->d_small, mid,
                   mm_engine_param(e, l, m->norms.ln2_w), a->ln2_rstd + sk * N, N, C);
    /* attention */
    mm_engine_linear_bwd(e, l, O_PROJ, a->tmp, a->d_res, C, att, N, 0);
    k->attention_bwd(a->d_qkv, a->tmp, C, qkv, Q, a->probs + sl * B * H * T * T, B, T, H, Hkv, D,
                     mm_engine_drop(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
    k->rope(a->d_qkv, Q, 0, H, D, a->pos, N, a->rope_cos, a->rope_sin, 1);
    k->rope(a->d_qkv, Q, H * D, Hkv, D, a->pos, N, a->rope_cos, a->rope_sin, 1);
    mm_engine_linear_bwd(e, l, Q_PROJ, a->d_small, a->d_qkv, Q, ln1, N, 0);
    mm_engine_linear_bwd(e, l, K_PROJ, a->d_small, a->d_qkv + (size_t)H * D, Q, ln1, N, 1);
    mm_engine_linear_bwd(e, l, V_PROJ, a->d_small, a->d_qkv + (size_t)(H + Hkv) * D, Q, ln1, N, 1);
    k->rmsnorm_bwd(a->d_res, dp ? mm_layer_ptr(m, dp, l, m->norms.ln1_w) : NULL, a->d_small, x,
                   mm_engine_param(e, l, m->norms.ln1_w), a->ln1_rstd + sk * N, N, C);
}
