#include "peft/adapter.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/philox.h"

int mm_adapters_init_lora(mm_adapters *ad, const mm_model *m, int r, float alpha, float dropout,
                          unsigned target_mask, uint64_t seed) {
    memset(ad, 0, sizeof *ad);
    if (r <= 0) return mm_fail("LoRA rank must be positive (got %d)", r);
    if (dropout < 0.0f || dropout >= 1.0f) return mm_fail("LoRA dropout must be in [0, 1) (got %g)", dropout);
    ad->n_layers = m->cfg.n_layer;
    ad->n_targets = m->n_targets;
    ad->mods = mm_xcalloc((size_t)ad->n_layers * ad->n_targets, sizeof *ad->mods);
    size_t off = 0;
    for (int l = 0; l < ad->n_layers; l++)
        for (int t = 0; t < ad->n_targets; t++) {
            if (!(target_mask & (1u << t))) continue;
            mm_adapted *md = mm_adapted_at(ad, l, t);
            md->n_experts = 1;
            md->in = m->targets[t].in;
            md->out = m->targets[t].out;
            md->r_total = r;
            md->experts = mm_xcalloc(1, sizeof *md->experts);
            mm_expert *e = &md->experts[0];
            e->r = r;
            e->alpha = alpha;
            e->scale = alpha / (float)r;
            e->dropout = dropout;
            e->u_col = 0;
            e->a_off = off;
            off += (size_t)r * md->in;
            e->b_off = off;
            off += (size_t)md->out * r;
            if (r > ad->max_r_total) ad->max_r_total = r;
        }
    ad->n_params = off;
    ad->params = mm_xmalloc_aligned((off ? off : 1) * sizeof(float));
    ad->grads = mm_xmalloc_aligned((off ? off : 1) * sizeof(float));
    memset(ad->params, 0, off * sizeof(float));
    memset(ad->grads, 0, off * sizeof(float));
    /* A: kaiming_uniform_(a=sqrt(5)) on [r, in] -> bound = 1/sqrt(in) */
    for (int l = 0; l < ad->n_layers; l++)
        for (int t = 0; t < ad->n_targets; t++) {
            mm_adapted *md = mm_adapted_at(ad, l, t);
            for (int e = 0; e < md->n_experts; e++) {
                float bound = 1.0f / sqrtf((float)md->in);
                float *A = ad->params + md->experts[e].a_off;
                size_t n = (size_t)md->experts[e].r * md->in;
                for (size_t i = 0; i < n; i++) {
                    uint32_t u = mm_rng_u32(seed, 0, mm_rng_stream_lora(l, t, e) | 0x800u, i);
                    A[i] = (2.0f * mm_u32_to_unit(u) - 1.0f) * bound;
                }
            }
        }
    snprintf(ad->method, sizeof ad->method, "lora");
    return 0;
}

void mm_adapters_free(mm_adapters *ad) {
    if (ad->mods)
        for (int i = 0; i < ad->n_layers * ad->n_targets; i++) free(ad->mods[i].experts);
    free(ad->mods);
    free(ad->params);
    free(ad->grads);
    memset(ad, 0, sizeof *ad);
}

static inline float gate_of(const mm_adapters *ad, int e) { return ad->gates ? ad->gates[e] : 1.0f; }

/* drop_e(x) for expert e into out (or returns x when dropout is 0) */
static const float *dropped_input(const mm_kernels *k, const mm_expert *ex, const float *x, int N, int in,
                                  float *out, mm_dropout base, int layer, int target, int e, uint64_t row0) {
    if (ex->dropout <= 0.0f || base.p == 0.0f) return x;
    mm_dropout d = base;
    d.p = ex->dropout;
    d.stream = mm_rng_stream_lora(layer, target, e);
    k->dropout_fwd(out, x, (size_t)N * in, d, row0 * (uint64_t)in);
    return out;
}

void mm_adapted_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, float *y, int ldy,
                    const float *x, int N, float *u, float *scratch, mm_dropout drop_base, int layer, int target,
                    uint64_t row0) {
    if (ad->gate_rows) { mm_warn("per-row gates are not implemented in this build"); return; }
    for (int e = 0; e < md->n_experts; e++) {
        const mm_expert *ex = &md->experts[e];
        float g = gate_of(ad, e);
        const float *h = dropped_input(k, ex, x, N, md->in, scratch, drop_base, layer, target, e, row0);
        float *ue = u + ex->u_col;
        /* u_e[N, r] = h · Aᵀ */
        k->gemm(0, 1, N, ex->r, md->in, 1.0f, h, md->in, ad->params + ex->a_off, md->in, 0.0f, ue, md->r_total);
        if (g == 0.0f) continue;
        /* y[N, out] += g s u_e · Bᵀ */
        k->gemm(0, 1, N, md->out, ex->r, g * ex->scale, ue, md->r_total, ad->params + ex->b_off, ex->r, 1.0f, y,
                ldy);
    }
}

void mm_adapted_bwd(const mm_kernels *k, mm_adapters *ad, const mm_adapted *md, float *dx, const float *dy,
                    int lddy, const float *x, int N, const float *u, float *scratch, mm_dropout drop_base, int layer,
                    int target, uint64_t row0) {
    float *h_buf = scratch;                          /* N * in */
    float *dh = scratch + (size_t)N * md->in;        /* N * in */
    float *du = dh + (size_t)N * md->in;             /* N * r */
    for (int e = 0; e < md->n_experts; e++) {
        const mm_expert *ex = &md->experts[e];
        float gs = gate_of(ad, e) * ex->scale;
        if (gs == 0.0f) continue; /* unselected expert: exactly zero gradient */
        const float *ue = u + ex->u_col;
        /* dB[out, r] += gs · dyᵀ · u_e */
        k->gemm(1, 0, md->out, ex->r, N, gs, dy, lddy, ue, md->r_total, 1.0f, ad->grads + ex->b_off, ex->r);
        /* du[N, r] = gs · dy · B */
        k->gemm(0, 0, N, ex->r, md->out, gs, dy, lddy, ad->params + ex->b_off, ex->r, 0.0f, du, ex->r);
        /* dA[r, in] += duᵀ · drop(x) */
        const float *h = dropped_input(k, ex, x, N, md->in, h_buf, drop_base, layer, target, e, row0);
        k->gemm(1, 0, ex->r, md->in, N, 1.0f, du, ex->r, h, md->in, 1.0f, ad->grads + ex->a_off, md->in);
        if (!dx) continue;
        if (ex->dropout <= 0.0f || drop_base.p == 0.0f) {
            k->gemm(0, 0, N, md->in, ex->r, 1.0f, du, ex->r, ad->params + ex->a_off, md->in, 1.0f, dx, md->in);
        } else {
            k->gemm(0, 0, N, md->in, ex->r, 1.0f, du, ex->r, ad->params + ex->a_off, md->in, 0.0f, dh, md->in);
            mm_dropout d = drop_base;
            d.p = ex->dropout;
            d.stream = mm_rng_stream_lora(layer, target, e);
            k->dropout_fwd(dh, dh, (size_t)N * md->in, d, row0 * (uint64_t)md->in);
            size_t n = (size_t)N * md->in;
            for (size_t i = 0; i < n; i++) dx[i] += dh[i];
        }
    }
}
