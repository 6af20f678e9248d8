#include "peft/mmlora.h"
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "util/philox.h"

int mm_mmlora_init(mm_mmlora *mm, const mm_method_spec *spec, mm_adapters *ad, int n_lang, int max_seqs,
                   uint64_t seed) {
    memset(mm, 0, sizeof *mm);
    mm->spec = *spec;
    mm->ad = ad;
    if (spec->kind != MM_METHOD_MMLORA || spec->router_token) return 0; /* token routers need no global state */
    const int M = spec->experts;
    size_t n = mm_lang_router_layout(&mm->router, n_lang, spec->router_emb, spec->router_hidden, M, spec->top_k,
                                     spec->router_dropout);
    if (n != ad->n_extra) return mm_fail("mmlora: adapters hold %zu router parameters, expected %zu", ad->n_extra, n);
    mm_lang_router_init_params(&mm->router, ad->params + ad->extra_off, seed);
    mm->first = spec->universal ? 1 : 0;
    mm->E = mm->first + M;
    if (mm->E != ad->max_experts) return mm_fail("mmlora: modules hold %d experts, expected %d", ad->max_experts, mm->E);
    mm->max_seqs = max_seqs;
    int rows = max_seqs > n_lang ? max_seqs : n_lang;
    mm->gates = mm_xcalloc((size_t)max_seqs * mm->E, sizeof(float));
    mm->dgates = mm_xcalloc((size_t)max_seqs * mm->E, sizeof(float));
    mm->w = mm_xcalloc((size_t)rows * M, sizeof(float));
    mm->dw = mm_xcalloc((size_t)rows * M, sizeof(float));
    return 0;
}

void mm_mmlora_free(mm_mmlora *mm) {
    mm_lang_router_free(&mm->router);
    free(mm->gates); free(mm->dgates); free(mm->w); free(mm->dw);
    memset(mm, 0, sizeof *mm);
}

int mm_mmlora_begin(mm_mmlora *mm, const int32_t *lang, int B, int T, int train, uint64_t seed, uint32_t step) {
    if (!mm->gates) return 0;
    if (B > mm->max_seqs) return mm_fail("mmlora: batch of %d sequences exceeds %d", B, mm->max_seqs);
    const int M = mm->spec.experts;
    mm_adapters *ad = mm->ad;
    if (mm_lang_router_fwd(&mm->router, ad->params + ad->extra_off, lang, B, train, seed, step,
                           mm_rng_stream(-1, MM_RNG_ROUTER), mm->w))
        return -1;
    for (int b = 0; b < B; b++) {
        float *g = mm->gates + (size_t)b * mm->E;
        if (mm->first) g[0] = 1.0f;
        memcpy(g + mm->first, mm->w + (size_t)b * M, (size_t)M * sizeof(float));
    }
    memset(mm->dgates, 0, (size_t)B * mm->E * sizeof(float));
    ad->gates = mm->gates;
    ad->dgates = train ? mm->dgates : NULL;
    ad->gate_group = T;
    return 0;
}

void mm_mmlora_end(mm_mmlora *mm) {
    if (!mm->gates) return;
    const int M = mm->spec.experts, B = mm->router.rows;
    for (int b = 0; b < B; b++)
        memcpy(mm->dw + (size_t)b * M, mm->dgates + (size_t)b * mm->E + mm->first, (size_t)M * sizeof(float));
    mm_lang_router_bwd(&mm->router, mm->ad->params + mm->ad->extra_off, mm->ad->grads + mm->ad->extra_off, mm->dw);
}

double mm_mmlora_expert_loss(mm_mmlora *mm, int train, uint64_t seed, uint32_t step) {
    mm->last_ld = mm->last_lb = mm->last_le = 0.0;
    if (!mm->gates) return 0.0;
    const float c_d = mm->spec.diversity_loss ? mm->spec.c_d : 0.0f;
    const float c_b = mm->spec.balance_loss ? mm->spec.c_b : 0.0f;
    const int N = mm->router.n_lang, M = mm->spec.experts;
    int32_t *all = mm_xmalloc(sizeof(int32_t) * (size_t)N);
    for (int i = 0; i < N; i++) all[i] = i;
    mm_lang_router_fwd(&mm->router, mm->ad->params + mm->ad->extra_off, all, N, train, seed, step,
                       mm_rng_stream(-1, MM_RNG_ROUTER) | 0x400u, mm->w);
    free(all);
    double le = mm_expert_loss(mm->w, N, M, c_d, c_b, &mm->last_ld, &mm->last_lb, mm->dw);
    mm->last_le = le;
    if (c_d != 0.0f || c_b != 0.0f)
        mm_lang_router_bwd(&mm->router, mm->ad->params + mm->ad->extra_off, mm->ad->grads + mm->ad->extra_off, mm->dw);
    return le;
}

int mm_mmlora_allocation(mm_mmlora *mm, float *out) {
    if (!mm->gates) return mm_fail("expert allocation needs the global language router");
    const int N = mm->router.n_lang;
    int32_t *all = mm_xmalloc(sizeof(int32_t) * (size_t)N);
    for (int i = 0; i < N; i++) all[i] = i;
    int rc = mm_lang_router_fwd(&mm->router, mm->ad->params + mm->ad->extra_off, all, N, 0, 0, 0, 0, out);
    free(all);
    return rc;
}

static int hook_begin(void *c, const int32_t *langs, int B, int T, int train, uint64_t seed, uint32_t step) {
    return mm_mmlora_begin(c, langs, B, T, train, seed, step);
}
static void hook_end(void *c) { mm_mmlora_end(c); }
static double hook_post(void *c, int train, uint64_t seed, uint32_t step) {
    return mm_mmlora_expert_loss(c, train, seed, step);
}

void mm_mmlora_hooks(mm_mmlora *mm, mm_train_hooks *h) {
    memset(h, 0, sizeof *h);
    if (!mm->gates) return;
    h->ctx = mm;
    h->begin_micro = hook_begin;
    h->end_micro = hook_end;
    h->post_normalize = hook_post;
}
