#include "infer/generate.h"
#include <stdlib.h>
#include <string.h>
#include "util/log.h"

/* Element counts of the arena's buffers, in the order of the pointer table in mm_generator_init. */
enum { GEN_NBUF = 21 };
static void gen_sizes(const mm_model *m, const mm_adapters *ad, int max_seqs, int max_len, int max_rows,
                      size_t sizes[GEN_NBUF]) {
    const mm_model_config *c = &m->cfg;
    const size_t kvw = (size_t)c->n_kv_head * c->head_dim, R = (size_t)max_rows, S = (size_t)max_seqs;
    const size_t cache = (size_t)c->n_layer * S * max_len * kvw;
    const size_t C = c->d_model, F = c->d_ff, Q = m->qkv_width, V = c->vocab_size;
    const size_t rmax = ad ? (size_t)ad->max_r_total : 0;
    const int llama = c->family == MM_FAMILY_LLAMA;
    const size_t rope = llama ? (size_t)max_len * c->head_dim / 2 : 0;
    size_t v[] = {cache, cache, rope, rope, llama ? R * F : 0, R * C, R * C, R * Q, R * C, R * C, R * F, R * rmax + 16,
                  ad ? mm_adapted_scratch(max_rows, C > F ? C : F, (int)(F > Q ? (F > C ? F : C) : (Q > C ? Q : C)), (int)rmax, ad->max_experts) : 16, S * C, S * V,
                  R, R, R, R, R, R /* seq pos tok slot rowsel next (4-byte each) */};
    _Static_assert(sizeof v / sizeof v[0] == GEN_NBUF, "generator sizes");
    memcpy(sizes, v, sizeof v);
}

size_t mm_generator_bytes(const mm_model *m, const mm_adapters *ad, int device_table, int max_seqs, int max_len,
                          int max_rows, int dtype) {
    size_t sizes[GEN_NBUF];
    gen_sizes(m, ad, max_seqs, max_len, max_rows, sizes);
    size_t b = mm_arena_floats(sizes, GEN_NBUF) * sizeof(float);
    if (dtype == MM_DTYPE_BF16) {
        size_t toff[MM_MAX_TARGETS], layer, head;
        b += mm_weights_w16_layout(m, toff, &layer, &head) * sizeof(uint16_t);
    }
    if (device_table) {
        size_t fp32;
        mm_engine_weight_bytes(m, 1, dtype, &fp32, NULL); /* with bf16 the matrices held in bf16 are left out */
        b += fp32;
        if (ad) /* mm_adapters_attach: params, grads, gates and gate gradients; then the reserve buffers */
            b += 2 * ad->n_params * sizeof(float) + 2 * (size_t)max_rows * (ad->max_experts ? ad->max_experts : 1) *
                 sizeof(float) + mm_adapters_reserve_eval_bytes(ad, max_rows);
    }
    return b;
}

int mm_generator_init(mm_generator *g, const mm_kernels *k, const mm_model *m, mm_adapters *ad, int max_seqs,
                      int max_len, int max_rows) {
    return mm_generator_init_dtype(g, k, m, ad, max_seqs, max_len, max_rows, MM_DTYPE_FP32);
}

int mm_generator_init_dtype(mm_generator *g, const mm_kernels *k, const mm_model *m, mm_adapters *ad, int max_seqs,
                            int max_len, int max_rows, int dtype) {
    memset(g, 0, sizeof *g);
    if (dtype != MM_DTYPE_FP32 && dtype != MM_DTYPE_BF16) return mm_fail("generate: unknown dtype %d", dtype);
    const mm_model_config *c = &m->cfg;
    if (m->cfg.family == MM_FAMILY_GPT_BIGCODE && max_len > c->max_pos)
        return mm_fail("generation length %d exceeds the model's n_positions %d", max_len, c->max_pos);
    if (max_seqs < 1 || max_rows < max_seqs)
        return mm_fail("generate: max_rows (%d) must be at least max_seqs (%d) >= 1", max_rows, max_seqs);
    g->k = k; g->m = m; g->ad = ad;
    g->max_seqs = max_seqs; g->max_len = max_len; g->max_rows = max_rows;
    size_t sizes[GEN_NBUF];
    gen_sizes(m, ad, max_seqs, max_len, max_rows, sizes);
    float **ptrs[] = {&g->kcache, &g->vcache, &g->rope_cos, &g->rope_sin, &g->up, &g->x, &g->ln, &g->qkv, &g->att,
                      &g->tmp, &g->fc, &g->u, &g->scratch, &g->sel, &g->rowlogits, (float **)&g->seq,
                      (float **)&g->pos, (float **)&g->tok, (float **)&g->slot, (float **)&g->rowsel,
                      (float **)&g->next};
    _Static_assert(sizeof ptrs / sizeof ptrs[0] == GEN_NBUF, "generator table");
    const size_t bytes = mm_arena_floats(sizes, GEN_NBUF) * sizeof(float);
    g->arena = k->alloc(bytes);
    k->zero(g->arena, bytes);
    mm_arena_carve(g->arena, sizes, ptrs, GEN_NBUF);
    g->h_rows = mm_xmalloc(6 * (size_t)max_rows * sizeof(int32_t));
    g->next_tok = mm_xmalloc((size_t)max_seqs * sizeof(int32_t));
    /* a device copy with dtype bf16 leaves out the matrices read in bf16 (as the engine's: half a 1B model's bytes) */
    if (k->device_memory && dtype == MM_DTYPE_BF16) mm_weight_gaps_bf16(&g->gaps, m);
    else mm_weight_gaps_none(&g->gaps, m);
    if (k->device_memory) {
        g->own_params = k->alloc(g->gaps.kept * sizeof(float));
        mm_weight_gaps_copy(&g->gaps, k, m, g->own_params, 1);
        g->params = g->own_params;
    } else {
        g->params = m->params;
    }
    if (dtype == MM_DTYPE_BF16) {
        g->w16_n = mm_weights_w16_layout(m, g->w16_toff, &g->w16_layer, &g->w16_head);
        g->w16 = k->alloc(g->w16_n * sizeof(uint16_t));
        k->zero(g->w16, g->w16_n * sizeof(uint16_t)); /* the alignment padding */
        mm_weights_w16_upload(k, m, g->w16, g->w16_toff, g->w16_layer, g->w16_head);
    }
    if (ad) {
        mm_adapters_attach(ad, k, max_rows);
        mm_adapters_reserve_eval(ad, max_rows);
    }
    if (c->family == MM_FAMILY_LLAMA) {
        const size_t n = (size_t)max_len * c->head_dim / 2;
        float *cs = mm_xmalloc(2 * n * sizeof(float));
        mm_rope_tables(cs, cs + n, max_len, c->head_dim, c->rope_theta, c->rope_scale);
        k->upload(g->rope_cos, cs, n * sizeof(float));
        k->upload(g->rope_sin, cs + n, n * sizeof(float));
        free(cs);
    }
    return 0;
}

void mm_generator_free(mm_generator *g) {
    if (g->k) {
        /* the adapters' device copies go (the host buffers hold the same parameters: generation trains nothing) */
        if (g->ad) mm_adapters_detach(g->ad);
        g->k->free(g->own_params);
        g->k->free(g->w16);
        g->k->free(g->arena);
    }
    free(g->h_rows);
    free(g->next_tok);
    mm_weight_gaps_free(&g->gaps);
    memset(g, 0, sizeof *g);
}

/* the fp32 weight at model offset off of layer l (l < 0: off as is), through the packed layout */
static const float *wptr(const mm_generator *g, int l, size_t off) {
    return g->params + mm_weight_gaps_index(&g->gaps, off + (l >= 0 ? (size_t)l * g->m->layer_stride : 0));
}

static void lin_ld(mm_generator *g, int l, int t, float *y, int ldy, const float *x, int R) {
    const mm_target *tg = &g->m->targets[t];
    const float *b = tg->b_off == SIZE_MAX ? NULL : wptr(g, l, tg->b_off);
    if (g->w16)
        g->k->linear_fwd_w16(y, ldy, x, tg->in, g->w16 + (size_t)l * g->w16_layer + g->w16_toff[t], b, R, tg->in,
                             tg->out, 0);
    else
        g->k->linear_fwd(y, ldy, x, tg->in, wptr(g, l, tg->w_off), b, R, tg->in, tg->out, 0);
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
    const mm_model_config *c = &g->m->cfg;
    if (c->family == MM_FAMILY_LLAMA) g->k->rmsnorm_fwd(y, NULL, x, wptr(g, -1, w_off), R, c->d_model, c->norm_eps);
    else g->k->layernorm_fwd(y, NULL, NULL, x, wptr(g, -1, w_off), wptr(g, -1, b_off), R, c->d_model, c->norm_eps);
}

/* the host rows h_rows[0..R) of field f (0 seq, 1 pos, 2 tok, 3 slot, 4 rowsel, 5 next) */
static int32_t *hrow(mm_generator *g, int f) { return g->h_rows + (size_t)f * g->max_rows; }

/* forward of R rows whose seq/pos/tok are in the host staging rows; afterwards g->ln holds the final norm of
 * every row, and every row's K/V is in the cache */
static void forward_rows(mm_generator *g, int R) {
    const mm_model *m = g->m;
    const mm_model_config *c = &m->cfg;
    const mm_kernels *k = g->k;
    const int llama = c->family == MM_FAMILY_LLAMA;
    const int C = c->d_model, F = c->d_ff, Q = m->qkv_width, H = c->n_head, Hkv = c->n_kv_head, D = c->head_dim;
    const int kvw = Hkv * D;
    const size_t NC = (size_t)R * C;
    int32_t *hs = hrow(g, 0), *hp = hrow(g, 1), *slot = hrow(g, 3);
    for (int r = 0; r < R; r++) slot[r] = hs[r] * g->max_len + hp[r];
    const size_t rb = (size_t)R * sizeof(int32_t);
    k->upload(g->seq, hs, rb);
    k->upload(g->pos, hp, rb);
    k->upload(g->tok, hrow(g, 2), rb);
    k->upload(g->slot, slot, rb);
    if (g->ad) mm_adapters_gates_upload(g->ad, R);
    k->embedding_fwd(g->x, g->tok, g->pos, wptr(g, -1, m->wte), llama ? NULL : wptr(g, -1, m->wpe), R, C);
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
        k->copy_rows(kc, kvw, g->slot, g->qkv + (size_t)H * D, Q, NULL, R, kvw);
        k->copy_rows(vc, kvw, g->slot, g->qkv + (size_t)(H + Hkv) * D, Q, NULL, R, kvw);
        k->attention_rows(g->att, C, g->qkv, Q, kc, vc, g->seq, g->pos, R, g->max_len, H, Hkv, D);
        lin(g, l, llama ? 3 : MM_T_ATTN_PROJ, g->tmp, g->att, R);
        k->add(g->x, g->x, g->tmp, NC);
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
        k->add(g->x, g->x, g->tmp, NC);
    }
    norm(g, g->ln, g->x, m->lnf_w, m->lnf_b, R);
}

/* next tokens of n selected rows of g->ln (rows: their indices in the last forward, NULL = rows 0..n-1):
 * one LM-head GEMM, argmax on the table, n ids back to the host; next_tok[seqs[i]] = the id of row i */
static void next_tokens(mm_generator *g, const int32_t *rows, const int32_t *seqs, int n) {
    const mm_model *m = g->m;
    const int C = m->cfg.d_model, V = m->cfg.vocab_size;
    const mm_kernels *k = g->k;
    const float *x = g->ln;
    if (rows) {
        k->upload(g->rowsel, rows, (size_t)n * sizeof(int32_t));
        k->copy_rows(g->sel, C, NULL, g->ln, C, g->rowsel, n, C);
        x = g->sel;
    }
    if (g->w16) k->linear_fwd_w16(g->rowlogits, V, x, C, g->w16 + g->w16_head, NULL, n, C, V, 0);
    else k->linear_fwd(g->rowlogits, V, x, C, wptr(g, -1, m->lm_head), NULL, n, C, V, 0);
    k->argmax_rows(g->next, g->rowlogits, V, n, V);
    int32_t *h = hrow(g, 5);
    k->download(h, g->next, (size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) g->next_tok[seqs[i]] = h[i];
}

int mm_generate_greedy(mm_generator *g, const int32_t *const *prompts, const int *prompt_len, int n, int max_new,
                       int eos, int32_t **out, int *out_len) {
    if (n > g->max_seqs) return mm_fail("generate: %d prompts exceed the generator's %d sequences", n, g->max_seqs);
    for (int i = 0; i < n; i++) {
        if (prompt_len[i] < 1) return mm_fail("generate: prompt %d is empty", i);
        if (prompt_len[i] + max_new > g->max_len)
            return mm_fail("generate: prompt %d (%d tokens) + %d new tokens exceed max_len %d", i, prompt_len[i],
                           max_new, g->max_len);
        out_len[i] = 0;
    }
    int *alive = mm_xmalloc(sizeof(int) * n), *cur = mm_xmalloc(sizeof(int) * n);
    int32_t *hs = hrow(g, 0), *hp = hrow(g, 1), *ht = hrow(g, 2), *sel = hrow(g, 4);
    int32_t *sel_seq = mm_xmalloc(sizeof(int32_t) * (size_t)g->max_rows);
    /* prefill, in chunks of max_rows rows; a sequence whose last prompt token is in a chunk gets its first
     * token from that chunk */
    int r = 0;
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < prompt_len[i]; t++) {
            hs[r] = i; hp[r] = t; ht[r] = prompts[i][t];
            if (++r == g->max_rows || (i == n - 1 && t == prompt_len[i] - 1)) {
                forward_rows(g, r);
                int ns = 0;
                for (int q = 0; q < r; q++)
                    if (hp[q] == prompt_len[hs[q]] - 1) { sel[ns] = q; sel_seq[ns] = hs[q]; ns++; }
                if (ns) next_tokens(g, sel, sel_seq, ns);
                r = 0;
            }
        }
    }
    for (int i = 0; i < n; i++) { alive[i] = max_new > 0; cur[i] = prompt_len[i]; }
    for (int step = 0; step < max_new; step++) {
        int R = 0;
        for (int i = 0; i < n; i++) {
            if (!alive[i]) continue;
            int32_t tok = g->next_tok[i];
            if (tok == eos) { alive[i] = 0; continue; }
            out[i][out_len[i]++] = tok;
            if (out_len[i] == max_new) { alive[i] = 0; continue; }
            hs[R] = i; hp[R] = cur[i]++; ht[R] = tok;
            sel_seq[R] = i;
            R++;
        }
        if (!R) break;
        forward_rows(g, R);
        next_tokens(g, NULL, sel_seq, R);
    }
    free(alive); free(cur); free(sel_seq);
    return 0;
}
