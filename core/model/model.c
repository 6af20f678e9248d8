#include "model/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "util/log.h"
#include "util/philox.h"

static size_t add_tensor(mm_model *m, int cap, const char *name, int64_t d0, int64_t d1, size_t *cursor) {
    if (m->n_tensors >= cap) return SIZE_MAX;
    mm_tensor_view *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->offset = *cursor;
    *cursor += t->numel;
    return t->offset;
}

static int build_gpt_bigcode(mm_model *m, int cap) {
    const mm_model_config *c = &m->cfg;
    const int C = c->d_model, F = c->d_ff, D = c->head_dim, Hkv = c->n_kv_head;
    const int Cqkv = C + 2 * Hkv * D;
    size_t cur = 0;
    char nm[96];
    m->wte = add_tensor(m, cap, "transformer.wte.weight", c->vocab_size, C, &cur);
    m->wpe = add_tensor(m, cap, "transformer.wpe.weight", c->max_pos, C, &cur);
    m->n_targets = MM_GPTBC_TARGETS;
    m->qkv_width = Cqkv;
    static const char *tnames[4] = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
    const int tin[4] = {C, C, C, F}, tout[4] = {Cqkv, C, F, C};
    for (int l = 0; l < c->n_layer; l++) {
        size_t start = cur;
#define T1(suffix, n) (snprintf(nm, sizeof nm, "transformer.h.%d.%s", l, suffix), add_tensor(m, cap, nm, n, 0, &cur))
#define T2(suffix, a, b) (snprintf(nm, sizeof nm, "transformer.h.%d.%s", l, suffix), add_tensor(m, cap, nm, a, b, &cur))
        size_t ln1w = T1("ln_1.weight", C), ln1b = T1("ln_1.bias", C);
        size_t w0 = T2("attn.c_attn.weight", Cqkv, C), b0 = T1("attn.c_attn.bias", Cqkv);
        size_t w1 = T2("attn.c_proj.weight", C, C), b1 = T1("attn.c_proj.bias", C);
        size_t ln2w = T1("ln_2.weight", C), ln2b = T1("ln_2.bias", C);
        size_t w2 = T2("mlp.c_fc.weight", F, C), b2 = T1("mlp.c_fc.bias", F);
        size_t w3 = T2("mlp.c_proj.weight", C, F), b3 = T1("mlp.c_proj.bias", C);
#undef T1
#undef T2
        if (l == 0) {
            m->layer0 = start;
            m->norms = (mm_layer_norms){ln1w, ln1b, ln2w, ln2b};
            size_t wo[4] = {w0, w1, w2, w3}, bo[4] = {b0, b1, b2, b3};
            for (int t = 0; t < 4; t++)
                m->targets[t] = (mm_target){tnames[t], tin[t], tout[t], wo[t], bo[t]};
        } else if (l == 1) {
            m->layer_stride = start - m->layer0;
        }
    }
    if (c->n_layer == 1) m->layer_stride = cur - m->layer0;
    m->lnf_w = add_tensor(m, cap, "transformer.ln_f.weight", C, 0, &cur);
    m->lnf_b = add_tensor(m, cap, "transformer.ln_f.bias", C, 0, &cur);
    if (c->tie_embeddings) m->lm_head = m->wte;
    else m->lm_head = add_tensor(m, cap, "lm_head.weight", c->vocab_size, C, &cur);
    m->n_params = cur;
    return m->n_tensors <= cap ? 0 : -1;
}

static int build_llama(mm_model *m, int cap) {
    const mm_model_config *c = &m->cfg;
    const int C = c->d_model, F = c->d_ff, D = c->head_dim, H = c->n_head, Hkv = c->n_kv_head;
    size_t cur = 0;
    char nm[96];
    m->wte = add_tensor(m, cap, "model.embed_tokens.weight", c->vocab_size, C, &cur);
    m->wpe = SIZE_MAX;
    m->n_targets = 7;
    m->qkv_width = (H + 2 * Hkv) * D;
    static const char *tnames[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    const int tin[7] = {C, C, C, H * D, C, C, F}, tout[7] = {H * D, Hkv * D, Hkv * D, C, F, F, C};
    for (int l = 0; l < c->n_layer; l++) {
        size_t start = cur, w[7];
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        size_t ln1 = add_tensor(m, cap, nm, C, 0, &cur);
        size_t ln2 = 0;
        for (int t = 0; t < 7; t++) {
            if (t == 4) {
                snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
                ln2 = add_tensor(m, cap, nm, C, 0, &cur);
            }
            snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, tnames[t]);
            w[t] = add_tensor(m, cap, nm, tout[t], tin[t], &cur);
        }
        if (l == 0) {
            m->layer0 = start;
            m->norms = (mm_layer_norms){ln1, SIZE_MAX, ln2, SIZE_MAX};
            for (int t = 0; t < 7; t++) m->targets[t] = (mm_target){tnames[t], tin[t], tout[t], w[t], SIZE_MAX};
        } else if (l == 1) {
            m->layer_stride = start - m->layer0;
        }
    }
    if (c->n_layer == 1) m->layer_stride = cur - m->layer0;
    m->lnf_w = add_tensor(m, cap, "model.norm.weight", C, 0, &cur);
    m->lnf_b = SIZE_MAX;
    if (c->tie_embeddings) m->lm_head = m->wte;
    else m->lm_head = add_tensor(m, cap, "lm_head.weight", c->vocab_size, C, &cur);
    m->n_params = cur;
    return m->n_tensors <= cap ? 0 : -1;
}

int mm_model_layout(mm_model *m, const mm_model_config *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->n_kv_head <= 0 || cfg->n_head % cfg->n_kv_head != 0 || cfg->head_dim * cfg->n_head != cfg->d_model)
        return mm_fail("model config: n_head %d, n_kv_head %d, head_dim %d, d_model %d are inconsistent",
                       cfg->n_head, cfg->n_kv_head, cfg->head_dim, cfg->d_model);
    int cap = 8 + 16 * cfg->n_layer;
    m->tensors = mm_xcalloc((size_t)cap, sizeof *m->tensors);
    int rc;
    switch (cfg->family) {
    case MM_FAMILY_GPT_BIGCODE:
        if (cfg->n_kv_head != 1) {
            rc = mm_fail("gpt_bigcode with multi_query=false (per-head interleaved c_attn) is not supported; "
                         "StarCoder models are multi-query");
            break;
        }
        rc = build_gpt_bigcode(m, cap);
        break;
    case MM_FAMILY_LLAMA: rc = build_llama(m, cap); break;
    default: rc = mm_fail("model family %d is not supported by this build", (int)cfg->family);
    }
    if (rc) { free(m->tensors); m->tensors = NULL; return rc; }
    return 0;
}

int mm_model_init(mm_model *m, const mm_model_config *cfg) {
    if (mm_model_layout(m, cfg)) return -1;
    m->params = mm_xmalloc_aligned(m->n_params * sizeof(float));
    memset(m->params, 0, m->n_params * sizeof(float));
    return 0;
}

void mm_model_free(mm_model *m) {
    free(m->params);
    free(m->tensors);
    memset(m, 0, sizeof *m);
}

const mm_tensor_view *mm_model_find(const mm_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

int mm_model_load_weights(mm_model *m, const char *st_path) {
    mm_safetensors *st = mm_st_open(st_path);
    if (!st) return -1;
    int rc = 0;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const mm_tensor_view *t = &m->tensors[i];
        rc = mm_st_read_f32(st, t->name, m->params + t->offset, t->ndim, t->shape);
    }
    /* a checkpoint that stores lm_head.weight although config says tied: it must equal wte */
    if (!rc && m->cfg.tie_embeddings) {
        const mm_st_tensor *h = mm_st_find(st, "lm_head.weight");
        if (h && h->dtype == MM_DT_F32 && (size_t)h->numel == (size_t)m->cfg.vocab_size * m->cfg.d_model &&
            memcmp(h->data, m->params + m->wte, h->nbytes) != 0)
            mm_warn("%s: lm_head.weight differs from transformer.wte.weight although the embeddings are tied; "
                    "using wte as HF does", h->file);
    }
    mm_st_close(st);
    return rc;
}

int mm_model_load(mm_model *m, const char *dir) {
    mm_model_config cfg;
    if (mm_config_load(dir, &cfg)) return -1;
    if (mm_model_init(m, &cfg)) return -1;
    if (mm_model_load_weights(m, dir)) { mm_model_free(m); return -1; }
    return 0;
}

/* Box-Muller normal from two counter-based uniforms */
static float normal_at(uint64_t seed, uint64_t i) {
    uint32_t a = mm_rng_u32(seed, 0, mm_rng_stream(-1, MM_RNG_INIT), 2 * i);
    uint32_t b = mm_rng_u32(seed, 0, mm_rng_stream(-1, MM_RNG_INIT), 2 * i + 1);
    double u1 = ((a >> 8) + 1.0) / 16777217.0, u2 = (b >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void mm_model_init_random(mm_model *m, uint64_t seed) {
    const double proj_std = 0.02 / sqrt(2.0 * m->cfg.n_layer);
    for (int i = 0; i < m->n_tensors; i++) {
        const mm_tensor_view *t = &m->tensors[i];
        float *p = m->params + t->offset;
        const char *n = t->name;
        size_t len = strlen(n);
        int is_bias = len > 5 && !strcmp(n + len - 5, ".bias");
        int is_norm = strstr(n, "ln_") || strstr(n, "norm");
        if (is_norm && !is_bias) { for (size_t k = 0; k < t->numel; k++) p[k] = 1.0f; continue; }
        if (is_bias) { memset(p, 0, t->numel * sizeof(float)); continue; }
        double std = (strstr(n, "c_proj") || strstr(n, "o_proj") || strstr(n, "down_proj")) ? proj_std : 0.02;
        /* counter-based draws: the same values on any number of threads (1.1B values: ~60 s on one core) */
        const size_t numel = t->numel, off = t->offset;
#ifdef MMLORA_OPENMP
#pragma omp parallel for schedule(static) if (numel > (1u << 16))
#endif
        for (size_t k = 0; k < numel; k++) p[k] = (float)(std * normal_at(seed, off + k));
    }
}

int mm_model_save(const mm_model *m, const char *path) {
    mm_st_writer *w = mm_st_writer_new();
    for (int i = 0; i < m->n_tensors; i++) {
        const mm_tensor_view *t = &m->tensors[i];
        mm_st_writer_add(w, t->name, MM_DT_F32, t->ndim, t->shape, m->params + t->offset);
    }
    mm_st_writer_metadata(w, "format", "pt");
    int rc = mm_st_writer_save(w, path);
    mm_st_writer_free(w);
    return rc;
}
