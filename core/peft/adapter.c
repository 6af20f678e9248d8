#include "peft/adapter.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/philox.h"

static void uniform_init(float *w, size_t n, float bound, uint64_t seed, uint32_t stream) {
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * mm_u32_to_unit(mm_rng_u32(seed, 0, stream, i)) - 1.0f) * bound;
}

int mm_adapters_build(mm_adapters *ad, const mm_model *m, mm_module_spec_fn fn, void *ctx, size_t n_extra,
                      uint64_t seed) {
    memset(ad, 0, sizeof *ad);
    ad->n_layers = m->cfg.n_layer;
    ad->n_targets = m->n_targets;
    ad->mods = mm_xcalloc((size_t)ad->n_layers * ad->n_targets, sizeof *ad->mods);
    size_t off = 0;
    for (int l = 0; l < ad->n_layers; l++)
        for (int t = 0; t < ad->n_targets; t++) {
            mm_module_spec sp;
            memset(&sp, 0, sizeof sp);
            fn(ctx, l, t, &sp);
            if (sp.n_experts <= 0) continue;
            if (sp.n_experts > MM_MAX_EXPERTS) {
                mm_adapters_free(ad);
                return mm_fail("layer %d %s: %d experts exceed the maximum of %d", l, m->targets[t].name,
                               sp.n_experts, MM_MAX_EXPERTS);
            }
            if (sp.token_router && (sp.routed_from < 0 || sp.routed_from >= sp.n_experts || sp.top_k < 1 ||
                                    sp.top_k > sp.n_experts - sp.routed_from)) {
                mm_adapters_free(ad);
                return mm_fail("layer %d %s: top-k %d must be in [1, %d]", l, m->targets[t].name, sp.top_k,
                               sp.n_experts - sp.routed_from);
            }
            mm_adapted *md = mm_adapted_at(ad, l, t);
            md->n_experts = sp.n_experts;
            md->in = m->targets[t].in;
            md->out = m->targets[t].out;
            md->experts = mm_xcalloc((size_t)sp.n_experts, sizeof *md->experts);
            for (int e = 0; e < sp.n_experts; e++) {
                const mm_expert_spec *es = &sp.experts[e];
                if (es->r <= 0 || es->dropout < 0.0f || es->dropout >= 1.0f) {
                    mm_adapters_free(ad);
                    return mm_fail("layer %d %s expert %d: rank %d must be positive and dropout %g in [0, 1)", l,
                                   m->targets[t].name, e, es->r, es->dropout);
                }
                mm_expert *ex = &md->experts[e];
                ex->r = es->r;
                ex->alpha = es->alpha;
                ex->scale = es->alpha / (float)es->r;
                ex->dropout = es->dropout;
                ex->u_col = md->r_total;
                md->r_total += es->r;
                ex->a_off = off;
                off += (size_t)es->r * md->in;
                ex->b_off = off;
                off += (size_t)md->out * es->r;
            }
            if (sp.token_router) {
                md->token_router = 1;
                md->top_k = sp.top_k;
                md->routed_from = sp.routed_from;
                md->r_off = off;
                off += (size_t)(sp.n_experts - sp.routed_from) * md->in;
            }
            if (md->r_total > ad->max_r_total) ad->max_r_total = md->r_total;
            if (md->n_experts > ad->max_experts) ad->max_experts = md->n_experts;
        }
    ad->extra_off = off;
    ad->n_extra = n_extra;
    off += n_extra;
    ad->n_params = off;
    ad->params = mm_xmalloc_aligned((off ? off : 1) * sizeof(float));
    ad->grads = mm_xmalloc_aligned((off ? off : 1) * sizeof(float));
    memset(ad->params, 0, off * sizeof(float));
    memset(ad->grads, 0, off * sizeof(float));
    for (int l = 0; l < ad->n_layers; l++)
        for (int t = 0; t < ad->n_targets; t++) {
            mm_adapted *md = mm_adapted_at(ad, l, t);
            float bound = 1.0f / sqrtf((float)md->in);
            for (int e = 0; e < md->n_experts; e++)
                uniform_init(ad->params + md->experts[e].a_off, (size_t)md->experts[e].r * md->in, bound, seed,
                             mm_rng_stream_lora(l, t, e) | 0x800u);
            if (md->token_router)
                uniform_init(ad->params + md->r_off, (size_t)(md->n_experts - md->routed_from) * md->in, bound, seed,
                             mm_rng_stream_lora(l, t, 255) | 0x800u);
        }
    snprintf(ad->method, sizeof ad->method, "custom");
    return 0;
}

typedef struct { int r; float alpha, dropout; unsigned mask; } lora_ctx;
static void lora_spec(void *p, int layer, int target, mm_module_spec *out) {
    const lora_ctx *c = p;
    (void)layer;
    if (!(c->mask & (1u << target))) return;
    out->n_experts = 1;
    out->experts[0] = (mm_expert_spec){c->r, c->alpha, c->dropout};
}

int mm_adapters_init_lora(mm_adapters *ad, const mm_model *m, int r, float alpha, float dropout,
                          unsigned target_mask, uint64_t seed) {
    if (r <= 0) return mm_fail("LoRA rank must be positive (got %d)", r);
    if (dropout < 0.0f || dropout >= 1.0f) return mm_fail("LoRA dropout must be in [0, 1) (got %g)", dropout);
    lora_ctx c = {r, alpha, dropout, target_mask};
    if (mm_adapters_build(ad, m, lora_spec, &c, 0, seed)) return -1;
    snprintf(ad->method, sizeof ad->method, "lora");
    return 0;
}

void mm_adapters_reserve(mm_adapters *ad, int N) {
    if (N <= ad->reserved_rows) return;
    for (int i = 0; i < ad->n_layers * ad->n_targets; i++) {
        mm_adapted *md = &ad->mods[i];
        if (md->n_experts) {
            if (!md->drop_bits) md->drop_bits = mm_xcalloc((size_t)md->n_experts, sizeof(uint64_t *));
            md->bits_rows = N;
            for (int e = 0; e < md->n_experts; e++) {
                free(md->drop_bits[e]);
                md->drop_bits[e] = md->experts[e].dropout > 0.0f
                                       ? mm_xcalloc(((size_t)N * md->in + 63) / 64, sizeof(uint64_t))
                                       : NULL;
            }
        }
        if (!md->token_router) continue;
        free(md->tr_probs);
        free(md->tr_gates);
        md->tr_probs = mm_xcalloc((size_t)N * (md->n_experts - md->routed_from), sizeof(float));
        md->tr_gates = mm_xcalloc((size_t)N * (md->n_experts - md->routed_from), sizeof(float));
    }
    ad->reserved_rows = N;
}

size_t mm_adapters_reserve_bytes(const mm_adapters *ad, int N) {
    size_t bytes = 0;
    for (int i = 0; i < ad->n_layers * ad->n_targets; i++) {
        const mm_adapted *md = &ad->mods[i];
        for (int e = 0; e < md->n_experts; e++)
            if (md->experts[e].dropout > 0.0f) bytes += (((size_t)N * md->in + 63) / 64) * sizeof(uint64_t);
        if (md->token_router) bytes += 2 * (size_t)N * (md->n_experts - md->routed_from) * sizeof(float);
    }
    return bytes;
}

void mm_adapters_free(mm_adapters *ad) {
    if (ad->mods)
        for (int i = 0; i < ad->n_layers * ad->n_targets; i++) {
            free(ad->mods[i].experts);
            free(ad->mods[i].tr_probs);
            free(ad->mods[i].tr_gates);
            if (ad->mods[i].drop_bits)
                for (int e = 0; e < ad->mods[i].n_experts; e++) free(ad->mods[i].drop_bits[e]);
            free(ad->mods[i].drop_bits);
        }
    free(ad->mods);
    free(ad->params);
    free(ad->grads);
    memset(ad, 0, sizeof *ad);
}

void mm_topk_renorm(const float *p, int E, int k, float *w) {
    int sel[MM_MAX_EXPERTS];
    int used[MM_MAX_EXPERTS] = {0};
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!used[e] && (best < 0 || p[e] > p[best])) best = e;
        used[best] = 1;
        sel[j] = best;
    }
    float s = 0.0f;
    for (int j = 0; j < k; j++) s += p[sel[j]];
    for (int e = 0; e < E; e++) w[e] = 0.0f;
    for (int j = 0; j < k; j++) w[sel[j]] = p[sel[j]] / s;
}

void mm_topk_renorm_bwd(const float *p, const float *w, const float *dw, int E, float *dp) {
    float s = 0.0f, dot = 0.0f;
    for (int e = 0; e < E; e++)
        if (w[e] != 0.0f) { s += p[e]; dot += dw[e] * w[e]; }
    for (int e = 0; e < E; e++) dp[e] = (w[e] != 0.0f && s > 0.0f) ? (dw[e] - dot) / s : 0.0f;
}

size_t mm_adapted_scratch(int N, int in, int out, int r_total, int n_experts) {
    (void)out;
    return 2 * (size_t)N * in + 2 * (size_t)N * (r_total > 0 ? r_total : 1) + (size_t)N * n_experts + 64;
}

/* gate of row n for expert e: token router, group gates, or 1 */
static inline float gate_at(const mm_adapters *ad, const mm_adapted *md, int n, int e) {
    if (md->token_router)
        return e < md->routed_from ? 1.0f
                                   : md->tr_gates[(size_t)n * (md->n_experts - md->routed_from) + (e - md->routed_from)];
    if (!ad->gates) return 1.0f;
    int g = ad->gate_group ? n / ad->gate_group : 0;
    return ad->gates[(size_t)g * ad->max_experts + e];
}
/* 1 when every row of this module has the same gate for expert e (no per-row work needed) */
static inline int gate_uniform(const mm_adapters *ad, const mm_adapted *md) {
    return !md->token_router && (!ad->gates || ad->gate_group == 0);
}

/* drop_e(x) for expert e into out (or returns x when dropout is off).  make_mask: draw the step's mask
 * (forward) into the module's bit buffer when it has one; otherwise the mask drawn by forward is reused. */
static const float *dropped_input(const mm_kernels *k, const mm_adapted *md, const mm_expert *ex, const float *x,
                                  int N, float *out, mm_dropout base, int layer, int target, int e, uint64_t row0,
                                  int make_mask) {
    if (ex->dropout <= 0.0f || base.p == 0.0f) return x;
    const size_t n = (size_t)N * md->in;
    uint64_t *bits = md->drop_bits ? md->drop_bits[e] : NULL;
    mm_dropout d = base;
    d.p = ex->dropout;
    d.stream = mm_rng_stream_lora(layer, target, e);
    if (!bits || N > md->bits_rows) { /* no reserved buffer (or too few rows): draw the mask again */
        k->dropout_fwd(out, x, n, d, row0 * (uint64_t)md->in);
        return out;
    }
    if (make_mask) k->dropout_bits(bits, n, d, row0 * (uint64_t)md->in);
    k->dropout_apply_bits(out, x, n, bits, d.p);
    return out;
}

static void token_router_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, const float *x, int N) {
    const int E = md->n_experts - md->routed_from;
    /* logits = x·Rᵀ, softmax in fp32, top-k renormalized */
    k->gemm(0, 1, N, E, md->in, 1.0f, x, md->in, ad->params + md->r_off, md->in, 0.0f, md->tr_probs, E);
    for (int n = 0; n < N; n++) {
        float *p = md->tr_probs + (size_t)n * E;
        float mx = p[0], s = 0.0f;
        for (int e = 1; e < E; e++) mx = p[e] > mx ? p[e] : mx;
        for (int e = 0; e < E; e++) { p[e] = expf(p[e] - mx); s += p[e]; }
        for (int e = 0; e < E; e++) p[e] /= s;
        mm_topk_renorm(p, E, md->top_k, md->tr_gates + (size_t)n * E);
    }
}

void mm_adapted_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, float *y, int ldy,
                    const float *x, int N, float *u, float *scratch, mm_dropout drop_base, int layer, int target,
                    uint64_t row0) {
    if (md->token_router) token_router_fwd(k, ad, md, x, N);
    float *h_buf = scratch, *gu = scratch + (size_t)N * md->in;
    for (int e = 0; e < md->n_experts; e++) {
        const mm_expert *ex = &md->experts[e];
        const float *h = dropped_input(k, md, ex, x, N, h_buf, drop_base, layer, target, e, row0, 1);
        float *ue = u + ex->u_col;
        /* u_e[N, r] = h · Aᵀ */
        k->gemm(0, 1, N, ex->r, md->in, 1.0f, h, md->in, ad->params + ex->a_off, md->in, 0.0f, ue, md->r_total);
        if (gate_uniform(ad, md)) {
            float g = gate_at(ad, md, 0, e);
            if (g == 0.0f) continue;
            k->gemm(0, 1, N, md->out, ex->r, g * ex->scale, ue, md->r_total, ad->params + ex->b_off, ex->r, 1.0f, y,
                    ldy);
        } else {
            /* per-row gates: gu = g_row ⊙ u_e, then y += s·gu·Bᵀ */
            for (int n = 0; n < N; n++) {
                float g = gate_at(ad, md, n, e);
                for (int c = 0; c < ex->r; c++) gu[(size_t)n * ex->r + c] = g * ue[(size_t)n * md->r_total + c];
            }
            k->gemm(0, 1, N, md->out, ex->r, ex->scale, gu, ex->r, ad->params + ex->b_off, ex->r, 1.0f, y, ldy);
        }
    }
}

void mm_adapted_bwd(const mm_kernels *k, mm_adapters *ad, const mm_adapted *md, float *dx, const float *dy,
                    int lddy, const float *x, int N, const float *u, float *scratch, mm_dropout drop_base, int layer,
                    int target, uint64_t row0) {
    const int E = md->n_experts, uniform = gate_uniform(ad, md);
    float *h_buf = scratch;                             /* N * in */
    float *dh = h_buf + (size_t)N * md->in;             /* N * in */
    float *v = dh + (size_t)N * md->in;                 /* N * r: dy·B */
    float *gu = v + (size_t)N * md->r_total;            /* N * r: g ⊙ u (then reused for du) */
    float *dgate = gu + (size_t)N * md->r_total;        /* N * E: per-row dL/dgate */
    const int want_dgate = md->token_router || (!uniform && ad->dgates);
    if (want_dgate) memset(dgate, 0, (size_t)N * E * sizeof(float));
    for (int e = 0; e < E; e++) {
        const mm_expert *ex = &md->experts[e];
        const float *ue = u + ex->u_col;
        float gs = uniform ? gate_at(ad, md, 0, e) * ex->scale : ex->scale;
        if (gs == 0.0f) continue; /* unselected expert: exactly zero gradient */
        /* v[N, r] = dy · B */
        k->gemm(0, 0, N, ex->r, md->out, 1.0f, dy, lddy, ad->params + ex->b_off, ex->r, 0.0f, v, ex->r);
        const float *du;
        if (uniform) {
            /* dB += gs · dyᵀ·u ; du = gs · v */
            k->gemm(1, 0, md->out, ex->r, N, gs, dy, lddy, ue, md->r_total, 1.0f, ad->grads + ex->b_off, ex->r);
            for (size_t i = 0; i < (size_t)N * ex->r; i++) v[i] *= gs;
            du = v;
        } else {
            for (int n = 0; n < N; n++) {
                float g = gate_at(ad, md, n, e);
                const float *ur = ue + (size_t)n * md->r_total;
                float *vr = v + (size_t)n * ex->r, *gr = gu + (size_t)n * ex->r;
                if (want_dgate) {
                    float s = 0.0f;
                    for (int c = 0; c < ex->r; c++) s += vr[c] * ur[c];
                    dgate[(size_t)n * E + e] = ex->scale * s;
                }
                for (int c = 0; c < ex->r; c++) gr[c] = g * ur[c];
            }
            /* dB += s · dyᵀ·(g ⊙ u) */
            k->gemm(1, 0, md->out, ex->r, N, ex->scale, dy, lddy, gu, ex->r, 1.0f, ad->grads + ex->b_off, ex->r);
            /* du = s · g ⊙ v */
            for (int n = 0; n < N; n++) {
                float gsn = ex->scale * gate_at(ad, md, n, e);
                for (int c = 0; c < ex->r; c++) v[(size_t)n * ex->r + c] *= gsn;
            }
            du = v;
        }
        /* dA[r, in] += duᵀ · drop(x) */
        const float *h = dropped_input(k, md, ex, x, N, h_buf, drop_base, layer, target, e, row0, 0);
        k->gemm(1, 0, ex->r, md->in, N, 1.0f, du, ex->r, h, md->in, 1.0f, ad->grads + ex->a_off, md->in);
        if (!dx) continue;
        if (ex->dropout <= 0.0f || drop_base.p == 0.0f) {
            k->gemm(0, 0, N, md->in, ex->r, 1.0f, du, ex->r, ad->params + ex->a_off, md->in, 1.0f, dx, md->in);
        } else {
            k->gemm(0, 0, N, md->in, ex->r, 1.0f, du, ex->r, ad->params + ex->a_off, md->in, 0.0f, dh, md->in);
            dropped_input(k, md, ex, dh, N, dh, drop_base, layer, target, e, row0, 0);
            size_t n = (size_t)N * md->in;
            for (size_t i = 0; i < n; i++) dx[i] += dh[i];
        }
    }
    if (md->token_router) {
        /* through the renormalized top-k and the softmax to the router logits, then R and x */
        const int Er = E - md->routed_from;
        float *dlog = h_buf; /* N * Er <= N * in */
        for (int n = 0; n < N; n++) {
            const float *p = md->tr_probs + (size_t)n * Er, *w = md->tr_gates + (size_t)n * Er;
            float dp[MM_MAX_EXPERTS];
            mm_topk_renorm_bwd(p, w, dgate + (size_t)n * E + md->routed_from, Er, dp);
            float dot = 0.0f;
            for (int e = 0; e < Er; e++) dot += dp[e] * p[e];
            for (int e = 0; e < Er; e++) dlog[(size_t)n * Er + e] = p[e] * (dp[e] - dot);
        }
        k->gemm(1, 0, Er, md->in, N, 1.0f, dlog, Er, x, md->in, 1.0f, ad->grads + md->r_off, md->in);
        if (dx) k->gemm(0, 0, N, md->in, Er, 1.0f, dlog, Er, ad->params + md->r_off, md->in, 1.0f, dx, md->in);
    } else if (want_dgate) {
        /* group gates: Σ over the rows of each group */
        for (int n = 0; n < N; n++) {
            int g = ad->gate_group ? n / ad->gate_group : 0;
            for (int e = 0; e < E; e++) ad->dgates[(size_t)g * ad->max_experts + e] += dgate[(size_t)n * E + e];
        }
    }
}
