#include "infer/generate.h"
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

int mm_generator_init(mm_generator *g, const mm_kernels *k, const mm_model *m, const mm_adapters *ad, int max_seqs,
                      int max_len, int max_rows) {
    memset(g, 0, sizeof *g);
    const mm_model_config *c = &m->cfg;
    if (m->cfg.family == MM_FAMILY_GPT_BIGCODE && max_len > c->max_pos)
        return mm_fail("generation length %d exceeds the model's n_positions %d", max_len, c->max_pos);
    g->k = k; g->m = m; g->ad = ad;
    g->max_seqs = max_seqs; g->max_len = max_len; g->max_rows = max_rows;
    const size_t kvw = (size_t)c->n_kv_head * c->head_dim, R = (size_t)max_rows;
    const size_t cache = (size_t)c->n_layer * max_seqs * max_len * kvw;
    const size_t C = c->d_model, F = c->d_ff, Q = m->qkv_width, V = c->vocab_size;
    const size_t rmax = ad ? (size_t)ad->max_r_total : 0, wide = F > Q ? F : Q;
    const int llama = c->family == MM_FAMILY_LLAMA;
    const size_t rope = llama ? (size_t)max_len * c->head_dim / 2 : 0;
    size_t sizes[] = {cache, cache, rope, rope, llama ? R * F : 0, R * C, R * C, R * Q, R * C, R * C, R * F, R * rmax + 16,
                      ad ? mm_adapted_scratch(max_rows, C > F ? C : F, 0, (int)rmax, ad->max_experts) : 16, (size_t)max_seqs * V, (size_t)max_seqs * V, R, R, R};
    float **ptrs[] = {&g->kcache, &g->vcache, &g->rope_cos, &g->rope_sin, &g->up, &g->x, &g->ln, &g->qkv, &g->att, &g->tmp, &g->fc, &g->u, &g->scratch,
                      &g->logits, &g->rowlogits, (float **)&g->seq, (float **)&g->pos, (float **)&g->tok};
    (void)wide;
    size_t total = 0;
    enum { NB = sizeof sizes / sizeof sizes[0] };
    for (int i = 0; i < NB; i++) total += (sizes[i] + 15) & ~(size_t)15;
    g->arena = mm_xmalloc_aligned(total * sizeof(float));
    float *p = g->arena;
    for (int i = 0; i < NB; i++) { *ptrs[i] = p; p += (sizes[i] + 15) & ~(size_t)15; }
    if (ad) mm_adapters_reserve((mm_adapters *)ad, max_rows);
    if (llama) mm_rope_tables(g->rope_cos, g->rope_sin, max_len, c->head_dim, c->rope_theta, c->rope_scale);
    return 0;
}

void mm_generator_free(mm_generator *g) {
    free(g->arena);
    memset(g, 0, sizeof *g);
}

static void lin_ld(mm_generator *g, int l, int t, float *y, int ldy, const float *x, int R) {
    const mm_model *m = g->m;
    const mm_target *tg = &m->targets[t];
    const float *b = tg->b_off == SIZE_MAX ? NULL : mm_layer_ptr(m, m->params, l, tg->b_off);
    g->k->linear_fwd(y, ldy, x, tg->in, mm_layer_ptr(m, m->params, l, tg->w_off), b, R, tg->in, tg->out, 0);
    if (g->ad) {
        const mm_adapted *md = mm_adapted_at(g->ad, l, t);
        if (md->n_experts)
            mm_adapted_fwd(g->k, g->ad, md, y, ldy, x, R, g->u, g->scratch, (mm_dropout){0}, l, t, 0);
    }
}
static void lin(mm_generator *g, int l, int t, float *y, const float *x, int R) {
    lin_ld(g, l, t, y, g->m->targets[t].out, x, R);
}

static void norm(mm_generator *g, float *y, const float *x, size_t w_off, size_t b_off, int R) {
    const mm_model *m = g->m;
    const mm_model_config *c = &m->cfg;
    if (c->family == MM_FAMILY_LLAMA) g->k->rmsnorm_fwd(y, NULL, x, m->params + w_off, R, c->d_model, c->norm_eps);
    else g->k->layernorm_fwd(y, NULL, NULL, x, m->params + w_off, m->params + b_off, R, c->d_model, c->norm_eps);
}

/* forward of R rows; afterwards g->ln holds the final norm of every row */
static void forward_rows(mm_generator *g, int R) {
    const mm_model *m = g->m;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = g->k;
    const int llama = c->family == MM_FAMILY_LLAMA;
    const int C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head, Hkv = c->n_kv_head, D = c->head_dim;
    const size_t kvw = (size_t)Hkv * D, NC = (size_t)R * C;
    k->embedding_fwd(g->x, g->tok, g->pos, m->params + m->wte, llama ? NULL : m->params + m->wpe, R, C);
    for (int l = 0; l < c->n_layer; l++) {
        const size_t lo = (size_t)l * m->layer_stride;
        float *kc = g->kcache + (size_t)l * g->max_seqs * g->max_len * kvw;
        float *vc = g->vcache + (size_t)l * g->max_seqs * g->max_len * kvw;
        norm(g, g->ln, g->x, lo + m->norms.ln1_w, lo + m->norms.ln1_b, R);
        if (llama) {
            lin_ld(g, l, 0, g->qkv, Q, g->ln, R);
            lin_ld(g, l, 1, g->qkv + (size_t)H * D, Q, g->ln, R);
            lin_ld(g, l, 2, g->qkv + (size_t)(H + Hkv) * D, Q, g->ln, R);
            k->rope(g->qkv, Q, 0, H, D, g->pos, R, g->rope_cos, g->rope_sin, 0);
            k->rope(g->qkv, Q, H * D, Hkv, D, g->pos, R, g->rope_cos, g->rope_sin, 0);
        } else {
            lin(g, l, MM_T_ATTN_QKV, g->qkv, g->ln, R);
        }
        for (int r = 0; r < R; r++) {
            size_t slot = ((size_t)g->seq[r] * g->max_len + g->pos[r]) * kvw;
            memcpy(kc + slot, g->qkv + (size_t)r * Q + (size_t)H * D, kvw * sizeof(float));
            memcpy(vc + slot, g->qkv + (size_t)r * Q + (size_t)(H + Hkv) * D, kvw * sizeof(float));
        }
        k->attention_rows(g->att, C, g->qkv, Q, kc, vc, g->seq, g->pos, R, g->max_len, H, Hkv, D);
        lin(g, l, llama ? 3 : MM_T_ATTN_PROJ, g->tmp, g->att, R);
        for (size_t i = 0; i < NC; i++) g->x[i] += g->tmp[i];
        norm(g, g->ln, g->x, lo + m->norms.ln2_w, lo + m->norms.ln2_b, R);
        if (llama) {
            lin(g, l, 4, g->fc, g->ln, R);
            lin(g, l, 5, g->up, g->ln, R);
            k->swiglu_fwd(g->fc, g->fc, g->up, (size_t)R * F);
            lin(g, l, 6, g->tmp, g->fc, R);
        } else {
            lin(g, l, MM_T_MLP_FC, g->fc, g->ln, R);
            k->gelu_tanh_fwd(g->fc, g->fc, (size_t)R * F);
            lin(g, l, MM_T_MLP_PROJ, g->tmp, g->fc, R);
        }
        for (size_t i = 0; i < NC; i++) g->x[i] += g->tmp[i];
    }
    norm(g, g->ln, g->x, m->lnf_w, m->lnf_b, R);
}

static int32_t argmax(const float *v, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

int mm_generate_greedy(mm_generator *g, const int32_t *const *prompts, const int *prompt_len, int n, int max_new,
                       int eos, int32_t **out, int *out_len) {
    const mm_model *m = g->m;
    const int C = m->cfg.d_model, V = m->cfg.vocab_size;
    if (g->max_rows < g->max_seqs) return mm_fail("generate: max_rows must be at least max_seqs");
    if (n > g->max_seqs) return mm_fail("generate: %d prompts exceed the generator's %d sequences", n, g->max_seqs);
    for (int i = 0; i < n; i++) {
        if (prompt_len[i] < 1) return mm_fail("generate: prompt %d is empty", i);
        if (prompt_len[i] + max_new > g->max_len)
            return mm_fail("generate: prompt %d (%d tokens) + %d new tokens exceed max_len %d", i, prompt_len[i],
                           max_new, g->max_len);
        out_len[i] = 0;
    }
    int *alive = mm_xmalloc(sizeof(int) * n), *cur = mm_xmalloc(sizeof(int) * n);
    int rc = 0;
    /* prefill, in chunks of max_rows rows */
    int r = 0;
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < prompt_len[i]; t++) {
            g->seq[r] = i; g->pos[r] = t; g->tok[r] = prompts[i][t];
            if (++r == g->max_rows || (i == n - 1 && t == prompt_len[i] - 1)) {
                forward_rows(g, r);
                /* a sequence whose last prompt token is in this chunk: take its logits now */
                for (int q = 0; q < r; q++) {
                    int s = g->seq[q];
                    if (g->pos[q] == prompt_len[s] - 1) {
                        g->k->linear_fwd(g->logits + (size_t)s * V, V, g->ln + (size_t)q * C, C, m->params + m->lm_head,
                                         NULL, 1, C, V, 0);
                    }
                }
                r = 0;
            }
        }
    }
    for (int i = 0; i < n; i++) { alive[i] = max_new > 0; cur[i] = prompt_len[i]; }
    for (int step = 0; step < max_new; step++) {
        int R = 0;
        for (int i = 0; i < n; i++) {
            if (!alive[i]) continue;
            int32_t tok = argmax(g->logits + (size_t)i * V, V);
            if (tok == eos) { alive[i] = 0; continue; }
            out[i][out_len[i]++] = tok;
            if (out_len[i] == max_new) { alive[i] = 0; continue; }
            g->seq[R] = i; g->pos[R] = cur[i]++; g->tok[R] = tok;
            R++;
        }
        if (!R) break;
        forward_rows(g, R);
        /* one GEMM for the R rows' logits, then scattered to their sequences */
        g->k->linear_fwd(g->rowlogits, V, g->ln, C, m->params + m->lm_head, NULL, R, C, V, 0);
        for (int q = 0; q < R; q++)
            memcpy(g->logits + (size_t)g->seq[q] * V, g->rowlogits + (size_t)q * V, (size_t)V * sizeof(float));
    }
    free(alive); free(cur);
    return rc;
}
