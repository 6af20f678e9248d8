#include "peft/lang_router.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "peft/adapter.h"
#include "util/log.h"
#include "util/philox.h"

size_t mm_lang_router_layout(mm_lang_router *r, int n_lang, int emb, int hidden, int M, int K, float dropout) {
    memset(r, 0, sizeof *r);
    r->n_lang = n_lang; r->emb = emb; r->hidden = hidden; r->M = M; r->K = K; r->dropout = dropout;
    size_t off = 0;
    r->emb_off = off; off += (size_t)n_lang * emb;
    r->w1_off = off; off += (size_t)hidden * emb;
    r->b1_off = off; off += (size_t)hidden;
    r->w2_off = off; off += (size_t)M * hidden;
    r->b2_off = off; off += (size_t)M;
    r->n_params = off;
    return off;
}

static float normal_at(uint64_t seed, uint32_t stream, uint64_t i) {
    uint32_t a = mm_rng_u32(seed, 0, stream, 2 * i), b = mm_rng_u32(seed, 0, stream, 2 * i + 1);
    double u1 = ((a >> 8) + 1.0) / 16777217.0, u2 = (b >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void mm_lang_router_init_params(const mm_lang_router *r, float *p, uint64_t seed) {
    const uint32_t st = mm_rng_stream(-1, MM_RNG_ROUTER) | 0x800u;
    for (size_t i = 0; i < (size_t)r->n_lang * r->emb; i++) p[r->emb_off + i] = normal_at(seed, st, i);
    float b1 = 1.0f / sqrtf((float)r->emb), b2 = 1.0f / sqrtf((float)r->hidden);
    for (size_t i = 0; i < (size_t)r->hidden * r->emb; i++)
        p[r->w1_off + i] = (2.0f * mm_u32_to_unit(mm_rng_u32(seed, 1, st, i)) - 1.0f) * b1;
    for (size_t i = 0; i < (size_t)r->hidden; i++)
        p[r->b1_off + i] = (2.0f * mm_u32_to_unit(mm_rng_u32(seed, 2, st, i)) - 1.0f) * b1;
    for (size_t i = 0; i < (size_t)r->M * r->hidden; i++)
        p[r->w2_off + i] = (2.0f * mm_u32_to_unit(mm_rng_u32(seed, 3, st, i)) - 1.0f) * b2;
    for (size_t i = 0; i < (size_t)r->M; i++)
        p[r->b2_off + i] = (2.0f * mm_u32_to_unit(mm_rng_u32(seed, 4, st, i)) - 1.0f) * b2;
}

void mm_lang_router_reserve(mm_lang_router *r, int rows) {
    if (rows <= r->cap) return;
    free(r->lang); free(r->h); free(r->a); free(r->S); free(r->w);
    r->lang = mm_xcalloc((size_t)rows, sizeof(int32_t));
    r->h = mm_xcalloc((size_t)rows * r->hidden, sizeof(float));
    r->a = mm_xcalloc((size_t)rows * r->hidden, sizeof(float));
    r->S = mm_xcalloc((size_t)rows * r->M, sizeof(float));
    r->w = mm_xcalloc((size_t)rows * r->M, sizeof(float));
    r->cap = rows;
}

void mm_lang_router_free(mm_lang_router *r) {
    free(r->lang); free(r->h); free(r->a); free(r->S); free(r->w);
    r->lang = NULL; r->h = r->a = r->S = r->w = NULL;
    r->cap = 0;
}

int mm_lang_router_fwd(mm_lang_router *r, const float *p, const int32_t *lang, int rows, int train, uint64_t seed,
                       uint32_t step, uint32_t stream, float *w_out) {
    mm_lang_router_reserve(r, rows);
    r->rows = rows; r->train = train; r->seed = seed; r->step = step; r->stream = stream;
    const int E = r->emb, Hd = r->hidden, M = r->M;
    const float keep_scale = 1.0f / (1.0f - r->dropout);
    uint8_t *keep = mm_xmalloc((size_t)Hd);
    for (int i = 0; i < rows; i++) {
        if (lang[i] < 0 || lang[i] >= r->n_lang) {
            free(keep);
            return mm_fail("language id %d is outside the router's table of %d languages", lang[i], r->n_lang);
        }
        r->lang[i] = lang[i];
        const float *e = p + r->emb_off + (size_t)lang[i] * E;
        float *h = r->h + (size_t)i * Hd, *a = r->a + (size_t)i * Hd;
        for (int j = 0; j < Hd; j++) {
            const float *w1 = p + r->w1_off + (size_t)j * E;
            float s = p[r->b1_off + j];
            for (int c = 0; c < E; c++) s += w1[c] * e[c];
            h[j] = s;
        }
        int drop = train && r->dropout > 0.0f;
        if (drop) mm_dropout_mask(keep, (uint64_t)Hd, r->dropout, seed, step, stream, (uint64_t)i * Hd);
        for (int j = 0; j < Hd; j++) {
            float v = h[j] > 0.0f ? h[j] : 0.0f;
            a[j] = drop ? (keep[j] ? v * keep_scale : 0.0f) : v;
        }
        float *S = r->S + (size_t)i * M;
        float mx = -INFINITY;
        for (int m = 0; m < M; m++) {
            const float *w2 = p + r->w2_off + (size_t)m * Hd;
            float s = p[r->b2_off + m];
            for (int j = 0; j < Hd; j++) s += w2[j] * a[j];
            S[m] = s;
            mx = s > mx ? s : mx;
        }
        float z = 0.0f;
        for (int m = 0; m < M; m++) { S[m] = expf(S[m] - mx); z += S[m]; }
        for (int m = 0; m < M; m++) S[m] /= z;
        mm_topk_renorm(S, M, r->K, r->w + (size_t)i * M);
        if (w_out) memcpy(w_out + (size_t)i * M, r->w + (size_t)i * M, (size_t)M * sizeof(float));
    }
    free(keep);
    return 0;
}

void mm_lang_router_bwd(const mm_lang_router *r, const float *p, float *g, const float *dw) {
    const int E = r->emb, Hd = r->hidden, M = r->M;
    const float keep_scale = 1.0f / (1.0f - r->dropout);
    uint8_t *keep = mm_xmalloc((size_t)Hd);
    float *da = mm_xmalloc((size_t)Hd * sizeof(float));
    for (int i = 0; i < r->rows; i++) {
        const float *S = r->S + (size_t)i * M, *w = r->w + (size_t)i * M, *a = r->a + (size_t)i * Hd;
        const float *h = r->h + (size_t)i * Hd;
        float dS[MM_MAX_EXPERTS], dl[MM_MAX_EXPERTS];
        mm_topk_renorm_bwd(S, w, dw + (size_t)i * M, M, dS);
        float dot = 0.0f;
        for (int m = 0; m < M; m++) dot += dS[m] * S[m];
        for (int m = 0; m < M; m++) dl[m] = S[m] * (dS[m] - dot);
        for (int j = 0; j < Hd; j++) da[j] = 0.0f;
        for (int m = 0; m < M; m++) {
            g[r->b2_off + m] += dl[m];
            float *gw2 = g + r->w2_off + (size_t)m * Hd;
            const float *w2 = p + r->w2_off + (size_t)m * Hd;
            for (int j = 0; j < Hd; j++) { gw2[j] += dl[m] * a[j]; da[j] += dl[m] * w2[j]; }
        }
        int drop = r->train && r->dropout > 0.0f;
        if (drop) mm_dropout_mask(keep, (uint64_t)Hd, r->dropout, r->seed, r->step, r->stream, (uint64_t)i * Hd);
        const float *e = p + r->emb_off + (size_t)r->lang[i] * E;
        float *ge = g + r->emb_off + (size_t)r->lang[i] * E;
        for (int j = 0; j < Hd; j++) {
            float dh = h[j] > 0.0f ? da[j] : 0.0f;
            if (drop) dh = keep[j] ? dh * keep_scale : 0.0f;
            if (dh == 0.0f) continue;
            g[r->b1_off + j] += dh;
            float *gw1 = g + r->w1_off + (size_t)j * E;
            const float *w1 = p + r->w1_off + (size_t)j * E;
            for (int c = 0; c < E; c++) { gw1[c] += dh * e[c]; ge[c] += dh * w1[c]; }
        }
    }
    free(keep);
    free(da);
}

double mm_expert_loss(const float *V, int N, int M, float c_d, float c_b, double *Ld, double *Lb, float *dV) {
    /* L_d = 2/(N(N-1)) Σ_{i<j} V_i·V_j */
    double ld = 0.0;
    double col[MM_MAX_EXPERTS] = {0};
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) col[m] += V[(size_t)n * M + m];
    if (N > 1) {
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++)
                for (int m = 0; m < M; m++) ld += (double)V[(size_t)i * M + m] * V[(size_t)j * M + m];
        ld *= 2.0 / ((double)N * (N - 1));
    }
    /* L_b = sqrt(mean_m (col_m − μ)²) */
    double mu = 0.0;
    for (int m = 0; m < M; m++) mu += col[m];
    mu /= M;
    double var = 0.0;
    for (int m = 0; m < M; m++) var += (col[m] - mu) * (col[m] - mu);
    double lb = sqrt(var / M);
    if (Ld) *Ld = ld;
    if (Lb) *Lb = lb;
    if (dV) {
        double kd = N > 1 ? 2.0 / ((double)N * (N - 1)) : 0.0;
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++) {
                double others = col[m] - V[(size_t)n * M + m];
                double g = c_d * kd * others;
                if (lb > 0.0) g += c_b * (col[m] - mu) / (M * lb);
                dV[(size_t)n * M + m] = (float)g;
            }
    }
    return c_d * ld + c_b * lb;
}
