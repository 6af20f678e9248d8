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

/* the table whose memory holds the reserve buffers: the attached device table, else the host */
static const mm_kernels *mem_of(const mm_adapters *ad) { return ad->mem ? ad->mem : &mm_kernels_cpu; }
static void *mem_zalloc(const mm_kernels *k, size_t bytes) {
    void *p = k->alloc(bytes ? bytes : 1);
    k->zero(p, bytes);
    return p;
}

static void reserve(mm_adapters *ad, int N, int masks) {
    if (N <= ad->reserved_rows && (ad->reserved_masks || !masks)) return;
    const mm_kernels *k = mem_of(ad);
    for (int i = 0; i < ad->n_layers * ad->n_targets; i++) {
        mm_adapted *md = &ad->mods[i];
        if (md->n_experts) {
            if (!md->drop_bits) md->drop_bits = mm_xcalloc((size_t)md->n_experts, sizeof(uint64_t *));
            md->bits_rows = masks ? N : 0;
            for (int e = 0; e < md->n_experts; e++) {
                k->free(md->drop_bits[e]);
                md->drop_bits[e] = masks && md->experts[e].dropout > 0.0f
                                       ? mem_zalloc(k, ((size_t)N * md->in + 63) / 64 * sizeof(uint64_t))
                                       : NULL;
            }
        }
        if (!md->token_router) continue;
        k->free(md->tr_probs);
        k->free(md->tr_gates);
        md->tr_probs = mem_zalloc(k, (size_t)N * (md->n_experts - md->routed_from) * sizeof(float));
        md->tr_gates = mem_zalloc(k, (size_t)N * (md->n_experts - md->routed_from) * sizeof(float));
    }
    ad->reserved_rows = N;
    ad->reserved_masks = masks;
}

void mm_adapters_reserve(mm_adapters *ad, int N) { reserve(ad, N, 1); }
void mm_adapters_reserve_eval(mm_adapters *ad, int N) { reserve(ad, N, 0); }

/* frees the reserve buffers (through the table that allocated them) */
static void release_reserve(mm_adapters *ad) {
    const mm_kernels *k = mem_of(ad);
    if (ad->mods)
        for (int i = 0; i < ad->n_layers * ad->n_targets; i++) {
            mm_adapted *md = &ad->mods[i];
            k->free(md->tr_probs);
            k->free(md->tr_gates);
            md->tr_probs = md->tr_gates = NULL;
            if (md->drop_bits)
                for (int e = 0; e < md->n_experts; e++) k->free(md->drop_bits[e]);
            free(md->drop_bits);
            md->drop_bits = NULL;
            md->bits_rows = 0;
        }
    ad->reserved_rows = 0;
    ad->reserved_masks = 0;
}

int mm_adapters_attach(mm_adapters *ad, const mm_kernels *k, int max_rows) {
    if (!k->device_memory) return 0;
    const int groups = max_rows > 1 ? max_rows : 1;
    if (ad->mem == k && ad->dev_gate_groups >= groups) return 0;
    mm_adapters_detach(ad);
    release_reserve(ad); /* host reserve buffers: reserved again in device memory */
    const size_t bytes = (ad->n_params ? ad->n_params : 1) * sizeof(float);
    const size_t gbytes = (size_t)groups * (ad->max_experts ? ad->max_experts : 1) * sizeof(float);
    ad->mem = k;
    ad->dev_params = k->alloc(bytes);
    ad->dev_grads = k->alloc(bytes);
    ad->dev_gates = mem_zalloc(k, gbytes);
    ad->dev_dgates = mem_zalloc(k, gbytes);
    ad->dev_gate_groups = groups;
    mm_adapters_upload(ad);
    return 0;
}

void mm_adapters_detach(mm_adapters *ad) {
    if (!ad->mem) return;
    const mm_kernels *k = ad->mem;
    release_reserve(ad);
    k->free(ad->dev_params);
    k->free(ad->dev_grads);
    k->free(ad->dev_gates);
    k->free(ad->dev_dgates);
    ad->dev_params = ad->dev_grads = ad->dev_gates = ad->dev_dgates = NULL;
    ad->dev_gate_groups = 0;
    ad->mem = NULL;
}

/* the extra block (MMLoRA's global router) is host-owned: read and written by host code only, never copied */
void mm_adapters_download(mm_adapters *ad) {
    if (!ad->mem || !ad->extra_off) return;
    ad->mem->download(ad->params, ad->dev_params, ad->extra_off * sizeof(float));
    ad->mem->download(ad->grads, ad->dev_grads, ad->extra_off * sizeof(float));
}

void mm_adapters_upload(mm_adapters *ad) {
    if (!ad->mem || !ad->extra_off) return;
    ad->mem->upload(ad->dev_params, ad->params, ad->extra_off * sizeof(float));
    ad->mem->upload(ad->dev_grads, ad->grads, ad->extra_off * sizeof(float));
}

/* gate groups that N rows touch (row n uses group n / gate_group) */
static int gate_groups(const mm_adapters *ad, int N) {
    int g = ad->gate_group ? (N + ad->gate_group - 1) / ad->gate_group : 1;
    if (g > ad->dev_gate_groups) {
        fprintf(stderr, "mmlora: fatal: %d gate groups exceed the %d attached to the device\n", g, ad->dev_gate_groups);
        abort();
    }
    return g;
}

void mm_adapters_gates_upload(mm_adapters *ad, int N) {
    if (!ad->mem || !ad->gates) return;
    ad->mem->upload(ad->dev_gates, ad->gates, (size_t)gate_groups(ad, N) * ad->max_experts * sizeof(float));
}

void mm_adapters_dgates_clear(mm_adapters *ad, int N) {
    if (!ad->mem || !ad->dgates) return;
    ad->mem->zero(ad->dev_dgates, (size_t)gate_groups(ad, N) * ad->max_experts * sizeof(float));
}

void mm_adapters_dgates_download(mm_adapters *ad, int N) {
    if (!ad->mem || !ad->dgates) return;
    const size_t n = (size_t)gate_groups(ad, N) * ad->max_experts;
    float *tmp = mm_xmalloc(n * sizeof(float));
    ad->mem->download(tmp, ad->dev_dgates, n * sizeof(float));
    for (size_t i = 0; i < n; i++) ad->dgates[i] += tmp[i];
    free(tmp);
}

static size_t reserve_bytes(const mm_adapters *ad, int N, int masks) {
    size_t bytes = 0;
    for (int i = 0; i < ad->n_layers * ad->n_targets; i++) {
        const mm_adapted *md = &ad->mods[i];
        for (int e = 0; e < md->n_experts && masks; e++)
            if (md->experts[e].dropout > 0.0f) bytes += (((size_t)N * md->in + 63) / 64) * sizeof(uint64_t);
        if (md->token_router) bytes += 2 * (size_t)N * (md->n_experts - md->routed_from) * sizeof(float);
    }
    return bytes;
}

size_t mm_adapters_reserve_bytes(const mm_adapters *ad, int N) { return reserve_bytes(ad, N, 1); }
size_t mm_adapters_reserve_eval_bytes(const mm_adapters *ad, int N) { return reserve_bytes(ad, N, 0); }

void mm_adapters_free(mm_adapters *ad) {
    mm_adapters_detach(ad);
    release_reserve(ad);
    if (ad->mods)
        for (int i = 0; i < ad->n_layers * ad->n_targets; i++) free(ad->mods[i].experts);
    free(ad->mods);
    free(ad->params);
    free(ad->grads);
    memset(ad, 0, sizeof *ad);
}

size_t mm_adapted_scratch(int N, int in, int out, int r_total, int n_experts) {
    const size_t r = r_total > 0 ? (size_t)r_total : 1;
    return 2 * (size_t)N * in + 2 * (size_t)N * r + (size_t)N * n_experts + 2 * (size_t)out * r + 64;
}

/* the adapters' memory as the ops see it: device copies when attached, else the host buffers */
static inline float *P(const mm_adapters *ad) { return ad->mem ? ad->dev_params : ad->params; }
static inline float *G(const mm_adapters *ad) { return ad->mem ? ad->dev_grads : ad->grads; }

/* 1 when every row of this module has the same gate for expert e (no per-row work needed) */
static inline int gate_uniform(const mm_adapters *ad, const mm_adapted *md) {
    return !md->token_router && (!ad->gates || ad->gate_group == 0);
}
/* the common gate of expert e when gate_uniform (read on the host: the global gates are host data) */
static inline float uniform_gate(const mm_adapters *ad, int e) { return ad->gates ? ad->gates[e] : 1.0f; }
/* per-row gates of expert e as row_scale takes them: row n's gate is g[(n / group)·stride] (NULL: 1) */
typedef struct { const float *g; int stride, group; } row_gates;
static row_gates gates_of(const mm_adapters *ad, const mm_adapted *md, int e) {
    if (md->token_router) {
        const int Er = md->n_experts - md->routed_from;
        if (e < md->routed_from) return (row_gates){NULL, 0, 1};
        return (row_gates){md->tr_gates + (e - md->routed_from), Er, 1};
    }
    return (row_gates){(ad->mem ? ad->dev_gates : ad->gates) + e, ad->max_experts, ad->gate_group};
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

/* Expert e's input-dropout mask as bits, for the fused ops (kernels.h: expert_down*): the module's bit buffer
 * when dropout is on and the buffer holds N rows (make_mask: draw the step's mask into it first, as forward
 * does), else NULL (dropout off, or no buffer: dropped_input's path). */
static const uint64_t *mask_bits(const mm_kernels *k, const mm_adapted *md, const mm_expert *ex, int N,
                                 mm_dropout base, int layer, int target, int e, uint64_t row0, int make_mask) {
    if (ex->dropout <= 0.0f || base.p == 0.0f || !md->drop_bits || !md->drop_bits[e] || N > md->bits_rows) return NULL;
    if (make_mask) {
        mm_dropout d = base;
        d.p = ex->dropout;
        d.stream = mm_rng_stream_lora(layer, target, e);
        k->dropout_bits(md->drop_bits[e], (size_t)N * md->in, d, row0 * (uint64_t)md->in);
    }
    return md->drop_bits[e];
}

static void token_router_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, const float *x, int N) {
    const int E = md->n_experts - md->routed_from;
    /* logits = x·Rᵀ, softmax in fp32, top-k renormalized */
    k->gemm(0, 1, N, E, md->in, 1.0f, x, md->in, P(ad) + md->r_off, md->in, 0.0f, md->tr_probs, E);
    k->softmax_topk_rows(md->tr_probs, md->tr_gates, N, E, md->top_k);
}

/* The experts' up-projections as one GEMM: B_all [out, r_total] holds every expert's B [out, r_e] in its u
 * columns (u_col), so Σ_e y += s_e·(g_e ⊙ u_e)·B_eᵀ is y += G·B_allᵀ with G [N, r_total] = the gated, scaled u
 * (a zero block for an expert whose gate is 0), and backward's dy·B_e and dyᵀ·(g ⊙ u_e) are one GEMM each
 * too: dy and y are read once instead of once per expert. */
static void gather_b(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, float *b_all) {
    for (int e = 0; e < md->n_experts; e++) {
        const mm_expert *ex = &md->experts[e];
        k->copy_rows(b_all + ex->u_col, md->r_total, NULL, P(ad) + ex->b_off, ex->r, NULL, md->out, ex->r);
    }
}
/* G's block of expert e: (gate of the row)·s_e·u_e (uniform gates: the common gate times s_e, 0 skips) */
static void gated_u(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, int e, float *g_all,
                    const float *u, int N) {
    const mm_expert *ex = &md->experts[e];
    if (gate_uniform(ad, md)) {
        k->row_scale(g_all + ex->u_col, md->r_total, u + ex->u_col, md->r_total, NULL, 0, 1,
                     uniform_gate(ad, e) * ex->scale, N, ex->r);
    } else {
        row_gates rg = gates_of(ad, md, e);
        k->row_scale(g_all + ex->u_col, md->r_total, u + ex->u_col, md->r_total, rg.g, rg.stride, rg.group, ex->scale,
                     N, ex->r);
    }
}

void mm_adapted_fwd(const mm_kernels *k, const mm_adapters *ad, const mm_adapted *md, float *y, int ldy,
                    const float *x, int N, float *u, float *scratch, mm_dropout drop_base, int layer, int target,
                    uint64_t row0) {
    if (md->token_router) token_router_fwd(k, ad, md, x, N);
    float *h_buf = scratch, *g_all = scratch + (size_t)N * md->in;
    float *b_all = g_all + (size_t)N * md->r_total;
    for (int e = 0; e < md->n_experts; e++) {
        const mm_expert *ex = &md->experts[e];
        float *ue = u + ex->u_col;
        /* u_e[N, r] = drop_e(x) · Aᵀ (fused with the mask when the module keeps its bits) */
        const uint64_t *bits = mask_bits(k, md, ex, N, drop_base, layer, target, e, row0, 1);
        if (bits) {
            k->expert_down(ue, md->r_total, x, bits, ex->dropout, P(ad) + ex->a_off, N, md->in, ex->r);
        } else {
            const float *h = dropped_input(k, md, ex, x, N, h_buf, drop_base, layer, target, e, row0, 1);
            k->gemm(0, 1, N, ex->r, md->in, 1.0f, h, md->in, P(ad) + ex->a_off, md->in, 0.0f, ue, md->r_total);
        }
        gated_u(k, ad, md, e, g_all, u, N);
    }
    /* y += G · B_allᵀ */
    gather_b(k, ad, md, b_all);
    k->gemm(0, 1, N, md->out, md->r_total, 1.0f, g_all, md->r_total, b_all, md->r_total, 1.0f, y, ldy);
}

void mm_adapted_bwd(const mm_kernels *k, mm_adapters *ad, const mm_adapted *md, float *dx, const float *dy,
                    int lddy, const float *x, int N, const float *u, float *scratch, mm_dropout drop_base, int layer,
                    int target, uint64_t row0) {
    const int E = md->n_experts, uniform = gate_uniform(ad, md), R = md->r_total;
    float *h_buf = scratch;                             /* N * in */
    float *dh = h_buf + (size_t)N * md->in;             /* N * in */
    float *v_all = dh + (size_t)N * md->in;             /* N * r_total: dy·B_all */
    float *g_all = v_all + (size_t)N * R;               /* N * r_total: G (then each expert's du) */
    float *dgate = g_all + (size_t)N * R;               /* N * E: per-row dL/dgate */
    float *b_all = dgate + (size_t)N * E;               /* out * r_total: B_all (then a dB block) */
    float *db_all = b_all + (size_t)md->out * R;        /* out * r_total: dyᵀ·G */
    const int want_dgate = md->token_router || (!uniform && ad->dgates);
    if (want_dgate) k->zero(dgate, (size_t)N * E * sizeof(float));
    /* V = dy · B_all, dB_all = dyᵀ · G */
    gather_b(k, ad, md, b_all);
    k->gemm(0, 0, N, R, md->out, 1.0f, dy, lddy, b_all, R, 0.0f, v_all, R);
    for (int e = 0; e < E; e++) gated_u(k, ad, md, e, g_all, u, N);
    k->gemm(1, 0, md->out, R, N, 1.0f, dy, lddy, g_all, R, 0.0f, db_all, R);
    for (int e = 0; e < E; e++) {
        const mm_expert *ex = &md->experts[e];
        const float *ue = u + ex->u_col, *ve = v_all + ex->u_col;
        float gs = uniform ? uniform_gate(ad, e) * ex->scale : ex->scale;
        if (gs == 0.0f) continue; /* unselected expert: exactly zero gradient */
        /* dB_e += its block of dB_all (through a dense copy: B_all's space is free now) */
        k->copy_rows(b_all, ex->r, NULL, db_all + ex->u_col, R, NULL, md->out, ex->r);
        k->add(G(ad) + ex->b_off, G(ad) + ex->b_off, b_all, (size_t)md->out * ex->r);
        float *du = g_all; /* [N, r] dense: G is no longer needed */
        if (uniform) {
            /* du = gs · v */
            k->row_scale(du, ex->r, ve, R, NULL, 0, 1, gs, N, ex->r);
        } else {
            row_gates rg = gates_of(ad, md, e);
            /* dL/dgate of each row = s · v·u; du = s · g ⊙ v */
            if (want_dgate) k->row_dot(dgate + e, E, ve, R, ue, R, ex->scale, N, ex->r);
            k->row_scale(du, ex->r, ve, R, rg.g, rg.stride, rg.group, ex->scale, N, ex->r);
        }
        /* dA[r, in] += duᵀ · drop(x) */
        const uint64_t *bits = mask_bits(k, md, ex, N, drop_base, layer, target, e, row0, 0);
        if (bits) {
            k->expert_down_bwd_a(G(ad) + ex->a_off, du, ex->r, x, bits, ex->dropout, N, md->in, ex->r);
        } else {
            const float *h = dropped_input(k, md, ex, x, N, h_buf, drop_base, layer, target, e, row0, 0);
            k->gemm(1, 0, ex->r, md->in, N, 1.0f, du, ex->r, h, md->in, 1.0f, G(ad) + ex->a_off, md->in);
        }
        if (!dx) continue;
        if (bits) { /* dx += drop(du · A) */
            k->expert_down_bwd_x(dx, du, ex->r, bits, ex->dropout, P(ad) + ex->a_off, N, md->in, ex->r);
        } else if (ex->dropout <= 0.0f || drop_base.p == 0.0f) {
            k->gemm(0, 0, N, md->in, ex->r, 1.0f, du, ex->r, P(ad) + ex->a_off, md->in, 1.0f, dx, md->in);
        } else {
            k->gemm(0, 0, N, md->in, ex->r, 1.0f, du, ex->r, P(ad) + ex->a_off, md->in, 0.0f, dh, md->in);
            dropped_input(k, md, ex, dh, N, dh, drop_base, layer, target, e, row0, 0);
            k->add(dx, dx, dh, (size_t)N * md->in);
        }
    }
    if (md->token_router) {
        /* through the renormalized top-k and the softmax to the router logits, then R and x */
        const int Er = E - md->routed_from;
        float *dlog = h_buf; /* N * Er <= N * in */
        k->softmax_topk_bwd_rows(dlog, md->tr_probs, md->tr_gates, dgate + md->routed_from, E, N, Er);
        k->gemm(1, 0, Er, md->in, N, 1.0f, dlog, Er, x, md->in, 1.0f, G(ad) + md->r_off, md->in);
        if (dx) k->gemm(0, 0, N, md->in, Er, 1.0f, dlog, Er, P(ad) + md->r_off, md->in, 1.0f, dx, md->in);
    } else if (want_dgate) {
        /* group gates: Σ over the rows of each group */
        k->group_sum_rows(ad->mem ? ad->dev_dgates : ad->dgates, ad->max_experts, dgate, E, N, E, ad->gate_group);
    }
}
