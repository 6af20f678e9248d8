/* Engine set-up, forward and backward drivers, and the language-model head.  Every touch of activation or
 * parameter memory goes through the op table e->k (allocation and host<->table copies included), so the
 * same code drives the CPU table (host memory, zero-copy) and a device table. */
#include "model/engine_internal.h"
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/philox.h"

static size_t imax(size_t a, size_t b) { return a > b ? a : b; }

/* bf16 elements one layer stashes with act_dtype bf16: ln1, qkv, att, ln2, fc, fc_act, up (LLaMA), in that order */
static void stash_lens(const mm_model *m, size_t N, size_t len[MM_STASH_N]) {
    const mm_model_config *c = &m->cfg;
    const size_t C = c->d_model, F = c->d_ff, Q = m->qkv_width;
    const size_t v[MM_STASH_N] = {N * C, N * Q, N * C, N * C, N * F, N * F, c->family == MM_FAMILY_LLAMA ? N * F : 0};
    memcpy(len, v, sizeof v);
}
static size_t stash_layer(const mm_model *m, size_t N, size_t off[MM_STASH_N]) {
    size_t len[MM_STASH_N], o = 0;
    stash_lens(m, N, len);
    for (int i = 0; i < MM_STASH_N; i++) {
        if (off) off[i] = o;
        o += (len[i] + 31) & ~(size_t)31; /* 64-byte aligned */
    }
    return o;
}

/* Element counts of the arena's buffers, in the order of the pointer table in mm_engine_init.  With
 * recompute only the residual stream keeps one copy per layer; every other per-layer buffer has a single
 * slot that backward refills by running the block's forward again.  With act_dtype bf16 (MM_ACT_BF16) the large
 * per-layer buffers have a single fp32 slot too (the working copy) and each layer keeps their bf16 stash; the
 * small ones (mid, the norms' statistics, the adapters' u) stay fp32 per layer. */
enum { ARENA_NBUF = 33 };
static void arena_sizes(const mm_model *m, size_t R, size_t max_experts, int has_ad, int B, int T, int logit_rows,
                        int act, size_t sizes[ARENA_NBUF]) {
    const mm_model_config *c = &m->cfg;
    const size_t N = (size_t)B * T, C = c->d_model, F = c->d_ff, Q = m->qkv_width, L = c->n_layer;
    const size_t H = c->n_head, V = c->vocab_size, NT = m->n_targets;
    const int recompute = (act & MM_ACT_RECOMPUTE) != 0, bf16 = (act & MM_ACT_BF16) != 0;
    const size_t K = recompute ? 1 : L;          /* per-layer slots of the kept buffers */
    const size_t S = recompute || bf16 ? 1 : L;  /* per-layer slots of the large (stashed) buffers */
    const size_t wide = imax(imax(C, F), Q);
    const int llama = c->family == MM_FAMILY_LLAMA;
    size_t v[] = {
        (L + 1) * N * C,           /* resid */
        S * N * C, K * N, K * N,   /* ln1 */
        S * N * Q,                 /* qkv */
        S * B * H * T * T,         /* probs */
        S * N * C, K * N * C,      /* att, mid */
        S * N * C, K * N, K * N,   /* ln2 */
        S * N * F, S * N * F,      /* fc, fc_act */
        llama ? S * N * F : 0,     /* up */
        bf16 ? (K * stash_layer(m, N, NULL) + 1) / 2 : 0, /* stash (bf16, counted in floats) */
        llama ? (size_t)T * c->head_dim / 2 : 0, llama ? (size_t)T * c->head_dim / 2 : 0, /* rope tables */
        N * C, N, N,               /* lnf */
        K * NT * N * R,            /* lora_u */
        N * C, N * C, N * wide, N * Q, N * C, N * wide, /* d_res d_lnf d_wide d_qkv d_small tmp */
        has_ad ? mm_adapted_scratch((int)N, (int)imax(C, F), (int)wide, (int)R, (int)max_experts) : 64, /* ad_scratch */
        (size_t)logit_rows * V,    /* logits */
        N, N, N, N                 /* pos rows row_w row_t (4-byte each) */
    };
    _Static_assert(sizeof v / sizeof v[0] == ARENA_NBUF, "arena sizes");
    memcpy(sizes, v, sizeof v);
}

/* each buffer of an arena starts at a multiple of 16 floats (64 bytes) */
static size_t padded(size_t n) { return (n + 15) & ~(size_t)15; }

size_t mm_arena_floats(const size_t *sizes, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += padded(sizes[i]);
    return total;
}

void mm_arena_carve(float *base, const size_t *sizes, float **const *ptrs, int n) {
    for (int i = 0; i < n; i++) {
        *ptrs[i] = base;
        base += padded(sizes[i]);
    }
}

enum { LOGIT_ROWS = MM_ENGINE_LOGIT_ROWS };

size_t mm_engine_arena_bytes(const mm_model *m, const mm_adapters *ad, int B, int T, int act) {
    size_t sizes[ARENA_NBUF];
    arena_sizes(m, ad ? (size_t)ad->max_r_total : 0, ad ? (size_t)ad->max_experts : 0, ad != NULL, B, T, LOGIT_ROWS,
                act, sizes);
    return mm_arena_floats(sizes, ARENA_NBUF) * sizeof(float);
}

int mm_engine_init(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                   int T) {
    return mm_engine_init_opts(e, k, m, ad, base_trainable, B, T, 0);
}

int mm_engine_init_opts(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                        int T, int recompute) {
    const mm_engine_opts o = {.recompute = recompute};
    return mm_engine_init_with(e, k, m, ad, base_trainable, B, T, &o);
}

int mm_engine_init_with(mm_engine *e, const mm_kernels *k, mm_model *m, mm_adapters *ad, int base_trainable, int B,
                        int T, const mm_engine_opts *o) {
    memset(e, 0, sizeof *e);
    const mm_model_config *c = &m->cfg;
    if (T > c->max_pos && c->family == MM_FAMILY_GPT_BIGCODE)
        return mm_fail("sequence length %d exceeds the model's n_positions %d", T, c->max_pos);
    if (mm_engine_weights_check(m, base_trainable, o->dtype)) return -1;
    if (o->act_dtype != MM_DTYPE_FP32 && o->act_dtype != MM_DTYPE_BF16)
        return mm_fail("engine: unknown activation dtype %d", o->act_dtype);
    e->k = k;
    e->model = m;
    e->ad = ad;
    e->B = B;
    e->T = T;
    e->logit_rows = LOGIT_ROWS;
    e->recompute = o->recompute != 0;
    e->act16 = o->act_dtype == MM_DTYPE_BF16;
    const int llama = c->family == MM_FAMILY_LLAMA;
    size_t sizes[ARENA_NBUF];
    arena_sizes(m, ad ? (size_t)ad->max_r_total : 0, ad ? (size_t)ad->max_experts : 0, ad != NULL, B, T,
                e->logit_rows, (e->recompute ? MM_ACT_RECOMPUTE : 0) | (e->act16 ? MM_ACT_BF16 : 0), sizes);
    e->stash_layer = stash_layer(m, (size_t)B * T, e->stash_off);
    float **ptrs[] = {&e->a.resid, &e->a.ln1, &e->a.ln1_mean, &e->a.ln1_rstd, &e->a.qkv, &e->a.probs, &e->a.att,
                      &e->a.mid, &e->a.ln2, &e->a.ln2_mean, &e->a.ln2_rstd, &e->a.fc, &e->a.fc_act, &e->a.up,
                      (float **)&e->a.stash, &e->a.rope_cos, &e->a.rope_sin, &e->a.lnf,
                      &e->a.lnf_mean, &e->a.lnf_rstd, &e->a.lora_u, &e->a.d_res, &e->a.d_lnf, &e->a.d_wide,
                      &e->a.d_qkv, &e->a.d_small, &e->a.tmp, &e->a.ad_scratch, &e->a.logits,
                      (float **)&e->a.pos, (float **)&e->a.rows, &e->a.row_w, (float **)&e->a.row_t};
    _Static_assert(sizeof ptrs / sizeof ptrs[0] == ARENA_NBUF, "arena table");
    e->arena_bytes = mm_arena_floats(sizes, ARENA_NBUF) * sizeof(float);
    e->arena = k->alloc(e->arena_bytes);
    k->zero(e->arena, e->arena_bytes);
    mm_arena_carve(e->arena, sizes, ptrs, ARENA_NBUF);
    if (ad) {
        mm_adapters_attach(ad, k, B * T);
        mm_adapters_reserve(ad, B * T);
    }
    if (llama) {
        const size_t n = (size_t)T * c->head_dim / 2;
        float *cs = k->device_memory ? mm_xmalloc(2 * n * sizeof(float)) : NULL;
        float *cos_t = cs ? cs : e->a.rope_cos, *sin_t = cs ? cs + n : e->a.rope_sin;
        mm_rope_tables(cos_t, sin_t, T, c->head_dim, c->rope_theta, c->rope_scale);
        k->upload(e->a.rope_cos, cos_t, n * sizeof(float));
        k->upload(e->a.rope_sin, sin_t, n * sizeof(float));
        free(cs);
    }
    mm_engine_weights_init(e, base_trainable, o->dtype); /* params (zero-copy on the CPU), w16, dparams */
    if (k->device_memory) {
        const size_t N = (size_t)B * T;
        e->tok = k->alloc(N * sizeof(int32_t));
        e->h_rows = mm_xmalloc(N * sizeof(int32_t));
        e->h_row_t = mm_xmalloc(N * sizeof(int32_t));
        e->h_row_w = mm_xmalloc(N * sizeof(float));
    }
    return 0;
}

void mm_engine_free(mm_engine *e) {
    const mm_kernels *k = e->k;
    if (k) {
        k->free(e->arena);
        mm_engine_weights_free(e);
        if (k->device_memory) {
            k->free(e->tok);
            if (e->ad) { /* the adapters' device copies go back to the host, then are freed */
                mm_adapters_download(e->ad);
                mm_adapters_detach(e->ad);
            }
        }
    }
    free(e->h_rows);
    free(e->h_row_t);
    free(e->h_row_w);
    memset(e, 0, sizeof *e);
}

/* the batch's tokens in table memory: the caller's array itself on the CPU table, an upload otherwise */
static const int32_t *tokens_in(mm_engine *e, const int32_t *tokens, int N) {
    if (!e->k->device_memory) return tokens;
    e->k->upload(e->tok, tokens, (size_t)N * sizeof(int32_t));
    return e->tok;
}

void mm_engine_linear_fwd(mm_engine *e, int l, int t, float *y, int ldy, const float *x, int N) {
    const mm_model *m = e->model;
    const mm_target *tg = &m->targets[t];
    const float *b = tg->b_off == SIZE_MAX ? NULL : mm_engine_param(e, l, tg->b_off);
    if (e->w16) e->k->linear_fwd_w16(y, ldy, x, tg->in, mm_engine_w16(e, l, t), b, N, tg->in, tg->out, 0);
    else e->k->linear_fwd(y, ldy, x, tg->in, mm_engine_param(e, l, tg->w_off), b, N, tg->in, tg->out, 0);
    if (e->ad) {
        const mm_adapted *md = mm_adapted_at(e->ad, l, t);
        if (md->n_experts) {
            float *u = e->a.lora_u + (mm_engine_keep_slot(e, l) * m->n_targets + t) * (size_t)N * e->ad->max_r_total;
            mm_adapted_fwd(e->k, e->ad, md, y, ldy, x, N, u, e->a.ad_scratch, mm_engine_drop(e, 1.0f, l, 0), l, t,
                           e->row0);
        }
    }
}

void mm_engine_linear_bwd(mm_engine *e, int l, int t, float *dx, const float *dy, int lddy, const float *x, int N,
                          int acc) {
    const mm_model *m = e->model;
    const mm_target *tg = &m->targets[t];
    if (e->w16) { /* a frozen base (mm_engine_weights_check): the input gradient only */
        e->k->linear_bwd_dx_w16(dx, tg->in, dy, lddy, mm_engine_w16(e, l, t), N, tg->in, tg->out, acc);
    } else {
        float *dW = e->dparams ? mm_layer_ptr(m, e->dparams, l, tg->w_off) : NULL;
        float *db = e->dparams && tg->b_off != SIZE_MAX ? mm_layer_ptr(m, e->dparams, l, tg->b_off) : NULL;
        e->k->linear_bwd(dx, tg->in, dW, db, dy, lddy, x, tg->in, mm_engine_param(e, l, tg->w_off), N, tg->in,
                         tg->out, acc);
    }
    if (e->ad) {
        const mm_adapted *md = mm_adapted_at(e->ad, l, t);
        if (md->n_experts) {
            const float *u = e->a.lora_u + (mm_engine_keep_slot(e, l) * m->n_targets + t) * (size_t)N * e->ad->max_r_total;
            mm_adapted_bwd(e->k, e->ad, md, dx, dy, lddy, x, N, u, e->a.ad_scratch, mm_engine_drop(e, 1.0f, l, 0), l,
                           t, e->row0);
        }
    }
}

void mm_engine_forward(mm_engine *e, const int32_t *tokens, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model;
    const int llama = c->family == MM_FAMILY_LLAMA;
    mm_activations *a = &e->a;
    const int32_t *tok = tokens_in(e, tokens, N);
    k->positions(a->pos, B, T);
    if (e->ad) mm_adapters_gates_upload(e->ad, N); /* MMLoRA's host gates (no-op on the CPU table) */
    k->embedding_fwd(a->resid, tok, a->pos, mm_engine_param(e, -1, m->wte),
                     llama ? NULL : mm_engine_param(e, -1, m->wpe), N, C);
    if (!llama)
        k->dropout_fwd(a->resid, a->resid, (size_t)N * C, mm_engine_drop(e, c->embd_pdrop, -1, MM_RNG_EMBD),
                       e->row0 * C);
    for (int l = 0; l < c->n_layer; l++) {
        if (llama) mm_block_fwd_llama(e, l, B, T);
        else mm_block_fwd_gpt_bigcode(e, l, B, T);
    }
    const float *x = a->resid + (size_t)c->n_layer * N * C;
    if (llama) k->rmsnorm_fwd(a->lnf, a->lnf_rstd, x, mm_engine_param(e, -1, m->lnf_w), N, C, c->norm_eps);
    else k->layernorm_fwd(a->lnf, a->lnf_mean, a->lnf_rstd, x, mm_engine_param(e, -1, m->lnf_w),
                          mm_engine_param(e, -1, m->lnf_b), N, C, c->norm_eps);
}

void mm_engine_backward(mm_engine *e, const int32_t *tokens, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = e->k;
    const int N = B * T, C = c->d_model, L = c->n_layer;
    const int llama = c->family == MM_FAMILY_LLAMA;
    const size_t NC = (size_t)N * C;
    mm_activations *a = &e->a;
    float *dp = e->dparams;
    k->zero(a->d_res, NC * sizeof(float));
    if (e->ad) mm_adapters_dgates_clear(e->ad, N);
    if (llama)
        k->rmsnorm_bwd(a->d_res, dp ? dp + m->lnf_w : NULL, a->d_lnf, a->resid + (size_t)L * NC,
                       mm_engine_param(e, -1, m->lnf_w), a->lnf_rstd, N, C);
    else
        k->layernorm_bwd(a->d_res, dp ? dp + m->lnf_w : NULL, dp ? dp + m->lnf_b : NULL, a->d_lnf,
                         a->resid + (size_t)L * NC, mm_engine_param(e, -1, m->lnf_w), a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        if (e->recompute) { /* refill the layer's slot: same kernels, same Philox masks, same values */
            if (llama) mm_block_fwd_llama(e, l, B, T);
            else mm_block_fwd_gpt_bigcode(e, l, B, T);
        } else if (e->act16) {
            mm_engine_unstash(e, l, B, T); /* the working slot from the layer's bf16 stash, probs recomputed */
        }
        if (llama) mm_block_bwd_llama(e, l, B, T);
        else mm_block_bwd_gpt_bigcode(e, l, B, T);
    }
    if (dp) {
        if (!llama)
            k->dropout_fwd(a->d_res, a->d_res, NC, mm_engine_drop(e, c->embd_pdrop, -1, MM_RNG_EMBD), e->row0 * C);
        k->embedding_bwd(dp + m->wte, llama ? NULL : dp + m->wpe, a->d_res, tokens_in(e, tokens, N), a->pos, N, C);
    }
    if (e->ad) mm_adapters_dgates_download(e->ad, N); /* into the host dgates (no-op on the CPU table) */
}

/* logits[R, V] = x[R, C]·W_headᵀ, from the bf16 copy with dtype bf16 */
static void head_fwd(mm_engine *e, float *logits, const float *x, int R) {
    const mm_model *m = e->model;
    const int C = m->cfg.d_model, V = m->cfg.vocab_size;
    if (e->w16) e->k->linear_fwd_w16(logits, V, x, C, e->w16 + e->w16_head, NULL, R, C, V, 0);
    else e->k->linear_fwd(logits, V, x, C, mm_engine_param(e, -1, m->lm_head), NULL, R, C, V, 0);
}

void mm_engine_logits(mm_engine *e, float *logits, int B, int T) {
    const mm_model *m = e->model;
    const int N = B * T, C = m->cfg.d_model, V = m->cfg.vocab_size;
    const mm_kernels *k = e->k;
    if (!k->device_memory) {
        head_fwd(e, logits, e->a.lnf, N);
        return;
    }
    for (int r0 = 0; r0 < N; r0 += e->logit_rows) { /* through the arena's logits chunk, then to the host */
        const int R = N - r0 < e->logit_rows ? N - r0 : e->logit_rows;
        head_fwd(e, e->a.logits, e->a.lnf + (size_t)r0 * C, R);
        k->download(logits + (size_t)r0 * V, e->a.logits, (size_t)R * V * sizeof(float));
    }
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
    const mm_kernels *k = e->k;
    mm_activations *a = &e->a;
    /* the rows that carry loss, built on the host from the host inputs (in the arena itself on the CPU
     * table, in host staging uploaded below on a device table) */
    const int dev = k->device_memory;
    int32_t *rows = dev ? e->h_rows : a->rows, *row_t = dev ? e->h_row_t : a->row_t;
    float *row_w = dev ? e->h_row_w : a->row_w;
    int M = 0;
    double ws = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++) {
            float wt = w ? w[b * T + t + 1] : 1.0f;
            if (wt == 0.0f) continue;
            rows[M] = b * T + t;
            row_t[M] = tokens[b * T + t + 1];
            row_w[M] = wt;
            ws += wt;
            M++;
        }
    k->upload(a->rows, rows, (size_t)M * sizeof(int32_t));
    k->upload(a->row_t, row_t, (size_t)M * sizeof(int32_t));
    k->upload(a->row_w, row_w, (size_t)M * sizeof(float));
    if (wsum) *wsum = ws;
    if (backward) k->zero(a->d_lnf, (size_t)B * T * C * sizeof(float));
    float *dWh = e->dparams ? e->dparams + m->lm_head : NULL;
    double loss = 0.0;
    for (int r0 = 0; r0 < M; r0 += e->logit_rows) {
        int R = M - r0 < e->logit_rows ? M - r0 : e->logit_rows;
        float *xs = a->tmp; /* gathered ln_f rows [R, C] */
        k->gather_rows(xs, a->lnf, a->rows + r0, R, C);
        head_fwd(e, a->logits, xs, R);
        loss += k->xent_fwd_bwd(a->logits, a->row_t + r0, a->row_w + r0, R, V, scale);
        if (!backward) continue;
        float *dxs = a->d_small; /* [R, C] */
        if (e->w16) k->linear_bwd_dx_w16(dxs, C, a->logits, V, e->w16 + e->w16_head, R, C, V, 0);
        else k->linear_bwd(dxs, C, dWh, NULL, a->logits, V, xs, C, mm_engine_param(e, -1, m->lm_head), R, C, V, 0);
        k->scatter_rows(a->d_lnf, dxs, a->rows + r0, R, C);
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

/* ---- act_dtype bf16 */
void mm_engine_act_round(mm_engine *e, int l, int which, float *buf, size_t n) {
    if (!e->act16) return;
    uint16_t *s = e->a.stash + mm_engine_keep_slot(e, l) * e->stash_layer + e->stash_off[which];
    e->k->to_bf16(s, buf, n);
    e->k->from_bf16(buf, s, n); /* what every consumer reads, in forward and (from the stash) in backward */
}

void mm_engine_unstash(mm_engine *e, int l, int B, int T) {
    const mm_model *m = e->model;
    const mm_model_config *c = &m->cfg;
    const size_t C = c->d_model, Q = m->qkv_width;
    mm_activations *a = &e->a;
    float *const dst[MM_STASH_N] = {a->ln1, a->qkv, a->att, a->ln2, a->fc, a->fc_act, a->up};
    size_t len[MM_STASH_N];
    stash_lens(m, (size_t)B * T, len);
    const uint16_t *s = a->stash + (size_t)l * e->stash_layer;
    for (int i = 0; i < MM_STASH_N; i++)
        if (len[i]) e->k->from_bf16(dst[i], s + e->stash_off[i], len[i]);
    /* the attention probabilities are not stashed: recomputed from the stashed (rounded) q, k, v, the same masks */
    e->k->attention_fwd(a->tmp, (int)C, a->probs, a->qkv, (int)Q, B, T, c->n_head, c->n_kv_head, c->head_dim,
                        mm_engine_drop(e, c->attn_pdrop, l, MM_RNG_ATTN_PROBS));
}
