/* Engine set-up, forward pass and the language-model head.  Backward: backward.c. */
#include "model/engine.h"
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/philox.h"

static size_t imax(size_t a, size_t b) { return a > b ? a : b; }

int mm_engine_init(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                   int T) {
    memset(e, 0, sizeof *e);
    const mm_model_config *c = &m->cfg;
    if (c->family != MM_FAMILY_GPT_BIGCODE)
        return mm_fail("the %s forward pass is not implemented in this build yet (only gpt_bigcode)",
                       c->family == MM_FAMILY_LLAMA ? "llama" : "model's");
    if (T > c->max_pos && c->family == MM_FAMILY_GPT_BIGCODE)
        return mm_fail("sequence length %d exceeds the model's n_positions %d", T, c->max_pos);
    e->k = k;
    e->model = m;
    e->ad = ad;
    e->B = B;
    e->T = T;
    e->logit_rows = 256;
    const size_t N = (size_t)B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, L = c->n_layer;
    const size_t H = c->n_head, V = c->vocab_size;
    const size_t R = ad ? (size_t)ad->max_r_total : 0, NT = m->n_targets;
    const size_t wide = imax(imax(C, F), Q);
    size_t sizes[] = {
        (L + 1) * N * C,           /* resid */
        L * N * C, L * N, L * N,   /* ln1 */
        L * N * Q,                 /* qkv */
        L * B * H * T * T,         /* probs */
        L * N * C, L * N * C,      /* att, mid */
        L * N * C, L * N, L * N,   /* ln2 */
        L * N * F, L * N * F,      /* fc, fc_act */
        N * C, N, N,               /* lnf */
        L * NT * N * R,            /* lora_u */
        N * C, N * C, N * wide, N * Q, N * C, N * wide, /* d_res d_lnf d_wide d_qkv d_small tmp */
        2 * N * imax(C, F) + N * R + 64, /* ad_scratch */
        (size_t)e->logit_rows * V, /* logits */
        N, N, N, N                 /* pos rows row_w row_t (4-byte each) */
    };
    float **ptrs[] = {&e->a.resid, &e->a.ln1, &e->a.ln1_mean, &e->a.ln1_rstd, &e->a.qkv, &e->a.probs, &e->a.att,
                      &e->a.mid, &e->a.ln2, &e->a.ln2_mean, &e->a.ln2_rstd, &e->a.fc, &e->a.fc_act, &e->a.lnf,
                      &e->a.lnf_mean, &e->a.lnf_rstd, &e->a.lora_u, &e->a.d_res, &e->a.d_lnf, &e->a.d_wide,
                      &e->a.d_qkv, &e->a.d_small, &e->a.tmp, &e->a.ad_scratch, &e->a.logits,
                      (float **)&e->a.pos, (float **)&e->a.rows, &e->a.row_w, (float **)&e->a.row_t};
    enum { NBUF = sizeof sizes / sizeof sizes[0] };
    _Static_assert(sizeof ptrs / sizeof ptrs[0] == NBUF, "arena table");
    size_t total = 0;
    for (int i = 0; i < NBUF; i++) total += (sizes[i] + 15) & ~(size_t)15;
    e->arena_bytes = total * sizeof(float);
    e->arena = mm_xmalloc_aligned(e->arena_bytes);
    memset(e->arena, 0, e->arena_bytes);
    float *p = e->arena;
    for (int i = 0; i < NBUF; i++) {
        *ptrs[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    if (base_trainable) {
        e->dparams = mm_xmalloc_aligned(m->n_params * sizeof(float));
        memset(e->dparams, 0, m->n_params * sizeof(float));
    }
    return 0;
}

void mm_engine_free(mm_engine *e) {
    free(e->arena);
    free(e->dparams);
    memset(e, 0, sizeof *e);
}

static mm_dropout drop_of(const mm_engine *e, float p, int layer, uint32_t purpose) {
    mm_dropout d = {e->seed, e->step, mm_rng_stream(layer, purpose), e->train ? p : 0.0f};
    return d;
}

/* y = base(x) + adapters(x) for target t of layer l */
static void adapted_linear_fwd(mm_engine *e, int l, int t, float *y, const float *x, int N) {
    const mm_model *m = e->model;
    const mm_target *tg = &m->targets[t];
    const float *W = mm_layer_ptr(m, m->params, l, tg->w_off);
    const float *b = tg->b_off == SIZE_MAX ? NULL : mm_layer_ptr(m, m->params, l, tg->b_off);
    e->k->linear_fwd(y, tg->out, x, tg->in, W, b, N, tg->in, tg->out, 0);
    if (e->ad) {
        const mm_adapted *md = mm_adapted_at(e->ad, l, t);
        if (md->n_experts) {
            float *u = e->a.lora_u + ((size_t)l * m->n_targets + t) * (size_t)N * e->ad->max_r_total;
            mm_adapted_fwd(e->k, e->ad, md, y, tg->out, x, N, u, e->a.ad_scratch, drop_of(e, 1.0f, l, 0), l, t,
                           e->row0);
        }
    }
}

void mm_engine_forward(mm_engine *e, const int32_t *tokens, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head;
    const size_t NC = (size_t)N * C;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) e->a.pos[b * T + t] = t;
    mm_activations *a = &e->a;
    k->embedding_fwd(a->resid, tokens, a->pos, m->params + m->wte, m->params + m->wpe, N, C);
    k->dropout_fwd(a->resid, a->resid, NC, drop_of(e, c->embd_pdrop, -1, MM_RNG_EMBD), e->row0 * C);
    for (int l = 0; l < c->n_layer; l++) {
        const float *x = a->resid + (size_t)l * NC;
        float *ln1 = a->ln1 + (size_t)l * NC, *qkv = a->qkv + (size_t)l * N * Q, *att = a->att + (size_t)l * NC;
        float *mid = a->mid + (size_t)l * NC, *ln2 = a->ln2 + (size_t)l * NC;
        float *fc = a->fc + (size_t)l * N * F, *fc_act = a->fc_act + (size_t)l * N * F;
        float *out = a->resid + (size_t)(l + 1) * NC;
        k->layernorm_fwd(ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, x,
                         mm_layer_ptr(m, m->params, l, m->norms.ln1_w), mm_layer_ptr(m, m->params, l, m->norms.ln1_b),
                         N, C, c->norm_eps);
        adapted_linear_fwd(e, l, MM_T_ATTN_QKV, qkv, ln1, N);
        k->attention_fwd(att, C, a->probs + (size_t)l * B * H * T * T, qkv, Q, B, T, H, c->n_kv_head, c->head_dim,
                         drop_of(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
        adapted_linear_fwd(e, l, MM_T_ATTN_PROJ, a->tmp, att, N);
        k->dropout_fwd(a->tmp, a->tmp, NC, drop_of(e, c->resid_pdrop, l, MM_RNG_RESID_ATTN), e->row0 * C);
        for (size_t i = 0; i < NC; i++) mid[i] = x[i] + a->tmp[i];
        k->layernorm_fwd(ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, mid,
                         mm_layer_ptr(m, m->params, l, m->norms.ln2_w), mm_layer_ptr(m, m->params, l, m->norms.ln2_b),
                         N, C, c->norm_eps);
        adapted_linear_fwd(e, l, MM_T_MLP_FC, fc, ln2, N);
        k->gelu_tanh_fwd(fc_act, fc, (size_t)N * F);
        adapted_linear_fwd(e, l, MM_T_MLP_PROJ, a->tmp, fc_act, N);
        k->dropout_fwd(a->tmp, a->tmp, NC, drop_of(e, c->resid_pdrop, l, MM_RNG_RESID_MLP), e->row0 * C);
        for (size_t i = 0; i < NC; i++) out[i] = mid[i] + a->tmp[i];
    }
    k->layernorm_fwd(a->lnf, a->lnf_mean, a->lnf_rstd, a->resid + (size_t)c->n_layer * NC, m->params + m->lnf_w,
                     m->params + m->lnf_b, N, C, c->norm_eps);
}

void mm_engine_logits(mm_engine *e, float *logits, int B, int T) {
    const mm_model *m = e->model;
    const int N = B * T, C = m->cfg.d_model, V = m->cfg.vocab_size;
    e->k->linear_fwd(logits, V, e->a.lnf, C, m->params + m->lm_head, NULL, N, C, V, 0);
}

double mm_batch_weight(const float *w, int B, int T) {
    double s = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 1; t < T; t++) s += w ? w[b * T + t] : 1.0;
    return s;
}

double mm_engine_head(mm_engine *e, const int32_t *tokens, const float *w, int B, int T, float scale, int backward,
                      double *wsum) {
    const mm_model *m = e->model;
    const int C = m->cfg.d_model, V = m->cfg.vocab_size;
    mm_activations *a = &e->a;
    int M = 0;
    double ws = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++) {
            float wt = w ? w[b * T + t + 1] : 1.0f;
            if (wt == 0.0f) continue;
            a->rows[M] = b * T + t;
            a->row_t[M] = tokens[b * T + t + 1];
            a->row_w[M] = wt;
            ws += wt;
            M++;
        }
    if (wsum) *wsum = ws;
    if (backward) memset(a->d_lnf, 0, (size_t)B * T * C * sizeof(float));
    const float *Wh = m->params + m->lm_head;
    float *dWh = e->dparams ? e->dparams + m->lm_head : NULL;
    double loss = 0.0;
    for (int r0 = 0; r0 < M; r0 += e->logit_rows) {
        int R = M - r0 < e->logit_rows ? M - r0 : e->logit_rows;
        float *xs = a->tmp; /* gathered ln_f rows [R, C] */
        for (int i = 0; i < R; i++) memcpy(xs + (size_t)i * C, a->lnf + (size_t)a->rows[r0 + i] * C, C * sizeof(float));
        e->k->linear_fwd(a->logits, V, xs, C, Wh, NULL, R, C, V, 0);
        loss += e->k->xent_fwd_bwd(a->logits, a->row_t + r0, a->row_w + r0, R, V, scale);
        if (!backward) continue;
        float *dxs = a->d_small; /* [R, C] */
        e->k->linear_bwd(dxs, C, dWh, NULL, a->logits, V, xs, C, Wh, R, C, V, 0);
        for (int i = 0; i < R; i++) memcpy(a->d_lnf + (size_t)a->rows[r0 + i] * C, dxs + (size_t)i * C, C * sizeof(float));
    }
    return loss;
}

double mm_engine_step(mm_engine *e, const int32_t *tokens, const float *w, int B, int T, float scale,
                      double *wsum) {
    mm_engine_forward(e, tokens, B, T);
    double loss = mm_engine_head(e, tokens, w, B, T, scale, 1, wsum);
    mm_engine_backward(e, tokens, B, T);
    return loss;
}
