/* Identities of the methods (issue: "Identities as tests"). */
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"

enum { B = 2, T = 8 };

typedef struct { mm_model m; mm_method_spec spec; mm_adapters ad; mm_mmlora mm; int32_t ids[B * T]; } rig;

static void rig_init(rig *r, const char **sets, int n_sets) {
    cr_assert_eq(mm_model_load(&r->m, "tests/fixtures/engine/tiny"), 0, "%s", mm_last_error());
    cr_assert_eq(mm_method_from_name("mmlora", &r->spec), 0);
    cr_assert_eq(mm_method_set(&r->spec, "dropout=0"), 0);
    cr_assert_eq(mm_method_set(&r->spec, "router_dropout=0"), 0);
    for (int i = 0; i < n_sets; i++) cr_assert_eq(mm_method_set(&r->spec, sets[i]), 0, "%s", mm_last_error());
    cr_assert_eq(mm_method_build(&r->spec, &r->m, 6, 3, &r->ad), 0, "%s", mm_last_error());
    cr_assert_eq(mm_mmlora_init(&r->mm, &r->spec, &r->ad, 6, B, 4), 0, "%s", mm_last_error());
    /* B starts at zero: give every expert a random B so that experts matter */
    for (int l = 0; l < r->ad.n_layers; l++)
        for (int t = 0; t < r->ad.n_targets; t++) {
            mm_adapted *md = mm_adapted_at(&r->ad, l, t);
            for (int e = 0; e < md->n_experts; e++) {
                float *Bw = r->ad.params + md->experts[e].b_off;
                for (int i = 0; i < md->out * md->experts[e].r; i++)
                    Bw[i] = 0.1f * (2.0f * mm_u32_to_unit(mm_rng_u32(9, (uint32_t)e, (uint32_t)(l * 8 + t), (uint64_t)i)) - 1.0f);
            }
        }
    for (int i = 0; i < B * T; i++) r->ids[i] = 1 + (int32_t)(mm_rng_u32(5, 0, 1, (uint64_t)i) % 500);
}
static void rig_free(rig *r) {
    mm_mmlora_free(&r->mm);
    mm_adapters_free(&r->ad);
    mm_model_free(&r->m);
}

static float *logits_of(mm_model *m, mm_adapters *ad, const int32_t *ids) {
    mm_engine e;
    cr_assert_eq(mm_engine_init(&e, &mm_kernels_cpu, m, ad, 0, B, T), 0);
    mm_engine_forward(&e, ids, B, T);
    float *out = malloc(sizeof(float) * B * T * m->cfg.vocab_size);
    mm_engine_logits(&e, out, B, T);
    mm_engine_free(&e);
    return out;
}

/* copy expert e of every module of `from` into the single expert of LoRA `to`, scaled by g */
static void copy_expert(mm_adapters *to, const mm_adapters *from, int e, float g) {
    for (int l = 0; l < to->n_layers; l++)
        for (int t = 0; t < to->n_targets; t++) {
            const mm_adapted *src = mm_adapted_at(from, l, t);
            const mm_adapted *dst = mm_adapted_at(to, l, t);
            const mm_expert *se = &src->experts[e], *de = &dst->experts[0];
            memcpy(to->params + de->a_off, from->params + se->a_off, sizeof(float) * se->r * src->in);
            for (int i = 0; i < src->out * se->r; i++) to->params[de->b_off + i] = g * from->params[se->b_off + i];
        }
}

Test(methods_identities, one_hot_routing_without_universal_is_a_lora_per_language) {
    rig r;
    const char *sets[] = {"universal=off", "top_k=1"};
    rig_init(&r, sets, 2);
    int32_t lang[B] = {3, 3};
    cr_assert_eq(mm_mmlora_begin(&r.mm, lang, B, T, 0, 0, 0), 0);
    int sel = -1;
    for (int m = 0; m < r.spec.experts; m++) {
        cr_assert(r.mm.gates[m] == 0.0f || r.mm.gates[m] == 1.0f, "top-1 gate %g is not one-hot", r.mm.gates[m]);
        if (r.mm.gates[m] == 1.0f) sel = m;
    }
    cr_assert(sel >= 0);
    float *got = logits_of(&r.m, &r.ad, r.ids);
    mm_adapters lora;
    cr_assert_eq(mm_adapters_init_lora(&lora, &r.m, r.spec.expert_rank, r.spec.expert_alpha, 0.0f, 0xF, 1), 0);
    copy_expert(&lora, &r.ad, sel, 1.0f);
    float *want = logits_of(&r.m, &lora, r.ids);
    EXPECT_CLOSE("mmlora one-hot vs LoRA", got, want, (size_t)B * T * r.m.cfg.vocab_size, 1e-6);
    free(got); free(want);
    mm_adapters_free(&lora);
    rig_free(&r);
}

Test(methods_identities, equal_weights_are_universal_plus_mean_of_specialized) {
    rig r;
    const char *sets[] = {"top_k=4"};
    rig_init(&r, sets, 1);
    const int M = r.spec.experts, E = M + 1;
    float gates[B * 5];
    for (int b = 0; b < B; b++) {
        gates[b * E] = 1.0f;
        for (int m = 1; m < E; m++) gates[b * E + m] = 1.0f / M;
    }
    r.ad.gates = gates;
    r.ad.gate_group = T;
    float *got = logits_of(&r.m, &r.ad, r.ids);
    /* the same sum as separate LoRA adapters added to the model's output through the logits' linearity
     * is not available, so build one LoRA of rank r_u + M·r_s: A stacked, B side by side, scales folded */
    r.ad.gates = NULL;
    mm_adapters big;
    const int R = r.spec.universal_rank + M * r.spec.expert_rank;
    cr_assert_eq(mm_adapters_init_lora(&big, &r.m, R, (float)R, 0.0f, 0xF, 1), 0); /* scale 1 */
    for (int l = 0; l < big.n_layers; l++)
        for (int t = 0; t < big.n_targets; t++) {
            const mm_adapted *src = mm_adapted_at(&r.ad, l, t);
            const mm_adapted *dst = mm_adapted_at(&big, l, t);
            int row = 0;
            for (int e = 0; e < E; e++) {
                const mm_expert *se = &src->experts[e];
                float g = (e == 0 ? 1.0f : 1.0f / M) * se->scale;
                memcpy(big.params + dst->experts[0].a_off + (size_t)row * src->in, r.ad.params + se->a_off,
                       sizeof(float) * se->r * src->in);
                for (int o = 0; o < src->out; o++)
                    for (int c = 0; c < se->r; c++)
                        big.params[dst->experts[0].b_off + (size_t)o * R + row + c] = g * r.ad.params[se->b_off + (size_t)o * se->r + c];
                row += se->r;
            }
        }
    float *want = logits_of(&r.m, &big, r.ids);
    EXPECT_CLOSE("K = M, equal weights", got, want, (size_t)B * T * r.m.cfg.vocab_size, 1e-5);
    free(got); free(want);
    mm_adapters_free(&big);
    rig_free(&r);
}

Test(methods_identities, unselected_specialized_expert_gets_exactly_zero_gradient) {
    rig r;
    rig_init(&r, NULL, 0);
    int32_t lang[B] = {2, 2};
    mm_engine e;
    cr_assert_eq(mm_engine_init(&e, &mm_kernels_cpu, &r.m, &r.ad, 0, B, T), 0);
    e.train = 1;
    cr_assert_eq(mm_mmlora_begin(&r.mm, lang, B, T, 1, 0, 0), 0);
    float w[B * T];
    for (int i = 0; i < B * T; i++) w[i] = 1.0f;
    mm_engine_step(&e, r.ids, w, B, T, 1.0f / (B * (T - 1)), NULL);
    mm_mmlora_end(&r.mm);
    int zero_experts = 0;
    for (int m = 0; m < r.spec.experts; m++) {
        int selected = r.mm.gates[1 + m] != 0.0f;
        for (int l = 0; l < r.ad.n_layers; l++)
            for (int t = 0; t < r.ad.n_targets; t++) {
                const mm_adapted *md = mm_adapted_at(&r.ad, l, t);
                const mm_expert *ex = &md->experts[1 + m];
                double sa = 0, sb = 0;
                for (int i = 0; i < ex->r * md->in; i++) sa += fabs(r.ad.grads[ex->a_off + i]);
                for (int i = 0; i < ex->r * md->out; i++) sb += fabs(r.ad.grads[ex->b_off + i]);
                if (!selected) cr_expect(sa == 0.0 && sb == 0.0, "unselected expert %d has gradient %g/%g", m, sa, sb);
                else cr_expect(sa > 0.0 && sb > 0.0, "selected expert %d has no gradient", m);
            }
        zero_experts += !selected;
    }
    cr_expect_eq(zero_experts, r.spec.experts - r.spec.top_k);
    mm_engine_free(&e);
    rig_free(&r);
}

Test(methods_identities, contradictory_specs_are_rejected_before_work) {
    mm_method_spec s;
    cr_assert_eq(mm_method_from_name("mmlora", &s), 0);
    cr_assert_eq(mm_method_set(&s, "top_k=5"), 0);
    cr_expect_eq(mm_method_validate(&s), -1);
    cr_expect(strstr(mm_last_error(), "top_k") != NULL, "%s", mm_last_error());
    cr_assert_eq(mm_method_from_name("mmlora", &s), 0);
    cr_assert_eq(mm_method_set(&s, "c_b=1.5"), 0);
    cr_expect_eq(mm_method_validate(&s), -1);
    cr_expect_eq(mm_method_set(&s, "bogus=1"), -1);
    cr_expect(strstr(mm_last_error(), "known:") != NULL);
    cr_expect_eq(mm_method_from_name("mmlora-x", &s), -1);
}

Test(methods_identities, language_outside_the_router_table_is_an_error) {
    rig r;
    rig_init(&r, NULL, 0);
    int32_t lang[B] = {0, 6};
    cr_expect_eq(mm_mmlora_begin(&r.mm, lang, B, T, 0, 0, 0), -1);
    cr_expect(strstr(mm_last_error(), "language id 6") != NULL, "%s", mm_last_error());
    rig_free(&r);
}
