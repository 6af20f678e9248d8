/* The engine's copy of the base weights (model/engine.h: params, w16): fp32 params, zero-copy on the CPU table and
 * a device copy otherwise, and with dtype bf16 a bf16 copy of the frozen linears' weights (every layer's targets
 * and the LM head) while a device copy of params leaves those matrices out (packed: mm_weight_gaps, which the
 * decoder's device copy uses too, infer/generate.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/halffloat.h"
#include "model/engine_internal.h"
#include "util/log.h"

int mm_engine_dtype_parse(const char *name) {
    if (!strcmp(name, "fp32")) return MM_DTYPE_FP32;
    if (!strcmp(name, "bf16")) return MM_DTYPE_BF16;
    return -1;
}

const char *mm_engine_dtype_name(int dtype) { return dtype == MM_DTYPE_BF16 ? "bf16" : "fp32"; }

/* a programming error (an engine that asks for a weight it does not hold): no way to go on */
static void fatal(const char *what, size_t off) {
    fprintf(stderr, "mmlora: engine: %s (model offset %zu)\n", what, off);
    abort();
}

/* w16's layout: layer-major, the targets in order, then the LM head; every matrix starts at a multiple of
 * 64 elements (128 bytes: cuBLAS's tensor-core paths want aligned operands).  Returns the element count. */
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }
size_t mm_weights_w16_layout(const mm_model *m, size_t toff[MM_MAX_TARGETS], size_t *layer, size_t *head) {
    size_t o = 0;
    for (int t = 0; t < m->n_targets; t++) {
        toff[t] = o;
        o += align64((size_t)m->targets[t].in * m->targets[t].out);
    }
    *layer = o;
    *head = o * (size_t)m->cfg.n_layer;
    return *head + align64((size_t)m->cfg.vocab_size * m->cfg.d_model);
}

/* an untied LM head is stored only in bf16; a tied one is the embedding table, which stays fp32 */
static int head_is_gap(const mm_model *m) { return m->lm_head != m->wte; }

/* floats of the matrices a packed params leaves out */
static size_t gap_floats(const mm_model *m) {
    size_t per_layer = 0;
    for (int t = 0; t < m->n_targets; t++) per_layer += (size_t)m->targets[t].in * m->targets[t].out;
    return per_layer * (size_t)m->cfg.n_layer +
           (head_is_gap(m) ? (size_t)m->cfg.vocab_size * m->cfg.d_model : 0);
}

void mm_engine_weight_bytes(const mm_model *m, int device_memory, int dtype, size_t *fp32, size_t *bf16) {
    const int b16 = dtype == MM_DTYPE_BF16;
    size_t toff[MM_MAX_TARGETS], layer, head;
    if (fp32) *fp32 = device_memory ? (m->n_params - (b16 ? gap_floats(m) : 0)) * sizeof(float) : 0;
    if (bf16) *bf16 = b16 ? mm_weights_w16_layout(m, toff, &layer, &head) * sizeof(uint16_t) : 0;
}

static int cmp_size(const void *a, const void *b) {
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

void mm_weight_gaps_none(mm_weight_gaps *g, const mm_model *m) {
    memset(g, 0, sizeof *g);
    g->kept = m->n_params;
}

void mm_weight_gaps_bf16(mm_weight_gaps *g, const mm_model *m) {
    const int L = m->cfg.n_layer, NT = m->n_targets;
    const int n = L * NT + head_is_gap(m);
    size_t *pairs = mm_xmalloc((size_t)n * 2 * sizeof(size_t));
    int i = 0;
    for (int l = 0; l < L; l++)
        for (int t = 0; t < NT; t++, i++) {
            pairs[2 * i] = m->targets[t].w_off + (size_t)l * m->layer_stride;
            pairs[2 * i + 1] = (size_t)m->targets[t].in * m->targets[t].out;
        }
    if (head_is_gap(m)) {
        pairs[2 * i] = m->lm_head;
        pairs[2 * i + 1] = (size_t)m->cfg.vocab_size * m->cfg.d_model;
    }
    qsort(pairs, (size_t)n, 2 * sizeof(size_t), cmp_size); /* by offset (the first of each pair) */
    g->n = n;
    g->off = mm_xmalloc((size_t)n * sizeof(size_t));
    g->len = mm_xmalloc((size_t)n * sizeof(size_t));
    g->cum = mm_xmalloc((size_t)n * sizeof(size_t));
    size_t cum = 0;
    for (i = 0; i < n; i++) {
        g->off[i] = pairs[2 * i];
        g->len[i] = pairs[2 * i + 1];
        g->cum[i] = cum;
        cum += g->len[i];
        if (i && g->off[i] < g->off[i - 1] + g->len[i - 1]) fatal("weight matrices overlap", g->off[i]);
    }
    free(pairs);
    g->kept = m->n_params - cum;
}

void mm_weight_gaps_free(mm_weight_gaps *g) {
    free(g->off);
    free(g->len);
    free(g->cum);
    memset(g, 0, sizeof *g);
}

size_t mm_weight_gaps_index(const mm_weight_gaps *g, size_t o) {
    if (g->n && o >= g->off[0]) {
        int lo = 0, hi = g->n - 1; /* the last gap starting at or before o */
        while (lo < hi) {
            const int mid = (lo + hi + 1) / 2;
            if (g->off[mid] <= o) lo = mid;
            else hi = mid - 1;
        }
        if (o < g->off[lo] + g->len[lo]) fatal("an fp32 weight was requested that is stored in bf16 only", o);
        o -= g->cum[lo] + g->len[lo];
    }
    return o;
}

float *mm_engine_param(const mm_engine *e, int l, size_t off0) {
    return e->params + mm_weight_gaps_index(&e->gaps, off0 + (l >= 0 ? (size_t)l * e->model->layer_stride : 0));
}

void mm_weight_gaps_copy(const mm_weight_gaps *g, const mm_kernels *k, const mm_model *m, float *packed,
                         int to_table) {
    size_t src = 0;
    for (int i = 0; i <= g->n; i++) {
        const size_t end = i < g->n ? g->off[i] : m->n_params;
        const size_t dst = src - (i ? g->cum[i - 1] + g->len[i - 1] : 0);
        if (end > src) {
            if (to_table) k->upload(packed + dst, m->params + src, (end - src) * sizeof(float));
            else k->download(m->params + src, packed + dst, (end - src) * sizeof(float));
        }
        if (i < g->n) src = g->off[i] + g->len[i];
    }
}

/* round n floats of the host model to bf16 into table memory, through a host staging chunk */
static void upload_bf16(const mm_kernels *k, uint16_t *dst, const float *src, size_t n, uint16_t *stage,
                        size_t chunk) {
    for (size_t o = 0; o < n; o += chunk) {
        const size_t c = n - o < chunk ? n - o : chunk;
        for (size_t i = 0; i < c; i++) stage[i] = mm_f32_to_bf16(src[o + i]);
        k->upload(dst + o, stage, c * sizeof(uint16_t));
    }
}

void mm_engine_upload_params(mm_engine *e) {
    const mm_model *m = e->model;
    const mm_kernels *k = e->k;
    if (e->gaps.n) mm_weight_gaps_copy(&e->gaps, k, m, e->params, 1);
    else k->upload(e->params, m->params, m->n_params * sizeof(float)); /* nothing on the CPU table */
    if (e->w16) mm_weights_w16_upload(k, m, e->w16, e->w16_toff, e->w16_layer, e->w16_head);
}

void mm_weights_w16_upload(const mm_kernels *k, const mm_model *m, uint16_t *w16, const size_t toff[MM_MAX_TARGETS],
                           size_t layer, size_t head) {
    const size_t chunk = (size_t)1 << 20;
    uint16_t *stage = mm_xmalloc(chunk * sizeof(uint16_t));
    for (int l = 0; l < m->cfg.n_layer; l++)
        for (int t = 0; t < m->n_targets; t++) {
            const mm_target *tg = &m->targets[t];
            upload_bf16(k, w16 + (size_t)l * layer + toff[t], m->params + tg->w_off + (size_t)l * m->layer_stride,
                        (size_t)tg->in * tg->out, stage, chunk);
        }
    upload_bf16(k, w16 + head, m->params + m->lm_head, (size_t)m->cfg.vocab_size * m->cfg.d_model, stage, chunk);
    free(stage);
}

void mm_engine_download(mm_engine *e, float *host_dparams) {
    const size_t bytes = e->model->n_params * sizeof(float);
    if (e->gaps.n) mm_weight_gaps_copy(&e->gaps, e->k, e->model, e->params, 0);
    else e->k->download(e->model->params, e->params, bytes);
    if (host_dparams && e->dparams) e->k->download(host_dparams, e->dparams, bytes);
}

int mm_engine_weights_check(const mm_model *m, int base_trainable, int dtype) {
    (void)m;
    if (dtype != MM_DTYPE_FP32 && dtype != MM_DTYPE_BF16) return mm_fail("engine: unknown dtype %d", dtype);
    if (dtype == MM_DTYPE_BF16 && base_trainable)
        return mm_fail("dtype bf16 stores the frozen base's linear weights in bf16, but full fine-tuning trains them "
                       "(that would need fp32 master weights, not implemented): use dtype fp32");
    return 0;
}

void mm_engine_weights_init(mm_engine *e, int base_trainable, int dtype) {
    const mm_model *m = e->model;
    const mm_kernels *k = e->k;
    e->dtype = dtype;
    mm_weight_gaps_none(&e->gaps, m);
    if (dtype == MM_DTYPE_BF16) {
        e->w16_n = mm_weights_w16_layout(m, e->w16_toff, &e->w16_layer, &e->w16_head);
        e->w16 = k->alloc(e->w16_n * sizeof(uint16_t));
        k->zero(e->w16, e->w16_n * sizeof(uint16_t)); /* the alignment padding */
        if (k->device_memory) mm_weight_gaps_bf16(&e->gaps, m);
    }
    e->params = k->device_memory ? k->alloc(e->gaps.kept * sizeof(float)) : m->params; /* zero-copy on the CPU */
    mm_engine_upload_params(e);
    if (base_trainable) {
        e->dparams = k->alloc(m->n_params * sizeof(float));
        k->zero(e->dparams, m->n_params * sizeof(float));
    }
}

void mm_engine_weights_free(mm_engine *e) {
    const mm_kernels *k = e->k;
    k->free(e->dparams);
    k->free(e->w16);
    if (k->device_memory) k->free(e->params);
    mm_weight_gaps_free(&e->gaps);
}
