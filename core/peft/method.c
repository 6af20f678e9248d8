#include "peft/method.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "peft/lang_router.h"
#include "util/log.h"

int mm_method_from_name(const char *name, mm_method_spec *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rank = 32; s->alpha = 64.0f; s->dropout = 0.1f;
    s->mola_rank = 8; s->mola_alpha = 16.0f; s->mola_top_k = 2;
    s->n_layer_experts = 4;
    s->layer_experts[0] = 2; s->layer_experts[1] = 4; s->layer_experts[2] = 6; s->layer_experts[3] = 8;
    s->experts = 4; s->top_k = 2; s->universal = 1;
    s->universal_rank = 8; s->universal_alpha = 16.0f; s->expert_rank = 4; s->expert_alpha = 8.0f;
    s->router_emb = 128; s->router_hidden = 512; s->router_dropout = 0.1f;
    s->c_d = 0.3f; s->c_b = 0.7f; s->diversity_loss = 1; s->balance_loss = 1;
    if (!strcmp(name, "fpft-mix")) s->kind = MM_METHOD_FPFT_MIX;
    else if (!strcmp(name, "lora-mix")) s->kind = MM_METHOD_LORA_MIX;
    else if (!strcmp(name, "lora-each")) s->kind = MM_METHOD_LORA_EACH;
    else if (!strcmp(name, "mola")) s->kind = MM_METHOD_MOLA;
    else if (!strcmp(name, "mmlora")) s->kind = MM_METHOD_MMLORA;
    else if (!strcmp(name, "one-shot")) { s->kind = MM_METHOD_ONE_SHOT; s->shots = 1; }
    else if (!strcmp(name, "few-shot")) { s->kind = MM_METHOD_FEW_SHOT; s->shots = 4; }
    else return mm_fail("unknown method '%s' (known: fpft-mix, lora-each, lora-mix, mola, mmlora, one-shot, few-shot)", name);
    return 0;
}

int mm_method_in_context(const mm_method_spec *s) {
    return s->kind == MM_METHOD_ONE_SHOT || s->kind == MM_METHOD_FEW_SHOT;
}

static int parse_int(const char *key, const char *v, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end) return mm_fail("--set %s=%s: not an integer", key, v);
    *out = (int)x;
    return 0;
}
static int parse_float(const char *key, const char *v, float *out) {
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end) return mm_fail("--set %s=%s: not a number", key, v);
    *out = (float)x;
    return 0;
}
static int parse_bool(const char *key, const char *v, int *out) {
    if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "true")) { *out = 1; return 0; }
    if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "false")) { *out = 0; return 0; }
    return mm_fail("--set %s=%s: expected on/off", key, v);
}

static const char *KNOWN_KEYS =
    "rank, alpha, dropout, mola_rank, mola_alpha, mola_top_k, mola_experts (e.g. 2,4,6,8), experts, top_k, "
    "universal (on/off), universal_rank, universal_alpha, expert_rank, expert_alpha, router (global|token), "
    "router_emb, router_hidden, router_dropout, c_b (sets c_d = 1 - c_b), c_d, diversity_loss (on/off), "
    "balance_loss (on/off), sle (N: N specialized experts, no universal expert), shots (one-shot/few-shot: examples "
    "per prompt)";

int mm_method_set(mm_method_spec *s, const char *assignment) {
    char key[64];
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof key)
        return mm_fail("--set '%s': expected key=value", assignment);
    memcpy(key, assignment, (size_t)(eq - assignment));
    key[eq - assignment] = 0;
    const char *v = eq + 1;
    if (!strcmp(key, "rank")) return parse_int(key, v, &s->rank);
    if (!strcmp(key, "alpha")) return parse_float(key, v, &s->alpha);
    if (!strcmp(key, "dropout")) return parse_float(key, v, &s->dropout);
    if (!strcmp(key, "mola_rank")) return parse_int(key, v, &s->mola_rank);
    if (!strcmp(key, "mola_alpha")) return parse_float(key, v, &s->mola_alpha);
    if (!strcmp(key, "mola_top_k")) return parse_int(key, v, &s->mola_top_k);
    if (!strcmp(key, "mola_experts")) {
        int n = 0;
        const char *p = v;
        while (*p) {
            char *end;
            long x = strtol(p, &end, 10);
            if (end == p || x <= 0 || n >= MM_MAX_LAYER_LIST) return mm_fail("--set mola_experts=%s: expected positive integers separated by commas", v);
            s->layer_experts[n++] = (int)x;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') return mm_fail("--set mola_experts=%s: expected positive integers separated by commas", v);
        }
        s->n_layer_experts = n;
        return 0;
    }
    if (!strcmp(key, "experts")) return parse_int(key, v, &s->experts);
    if (!strcmp(key, "top_k")) return parse_int(key, v, &s->top_k);
    if (!strcmp(key, "universal")) return parse_bool(key, v, &s->universal);
    if (!strcmp(key, "universal_rank")) return parse_int(key, v, &s->universal_rank);
    if (!strcmp(key, "universal_alpha")) return parse_float(key, v, &s->universal_alpha);
    if (!strcmp(key, "expert_rank")) return parse_int(key, v, &s->expert_rank);
    if (!strcmp(key, "expert_alpha")) return parse_float(key, v, &s->expert_alpha);
    if (!strcmp(key, "router")) {
        if (!strcmp(v, "global")) s->router_token = 0;
        else if (!strcmp(v, "token")) s->router_token = 1;
        else return mm_fail("--set router=%s: expected global or token", v);
        return 0;
    }
    if (!strcmp(key, "router_emb")) return parse_int(key, v, &s->router_emb);
    if (!strcmp(key, "router_hidden")) return parse_int(key, v, &s->router_hidden);
    if (!strcmp(key, "router_dropout")) return parse_float(key, v, &s->router_dropout);
    if (!strcmp(key, "c_b")) {
        if (parse_float(key, v, &s->c_b)) return -1;
        s->c_d = 1.0f - s->c_b;
        return 0;
    }
    if (!strcmp(key, "c_d")) return parse_float(key, v, &s->c_d);
    if (!strcmp(key, "diversity_loss")) return parse_bool(key, v, &s->diversity_loss);
    if (!strcmp(key, "balance_loss")) return parse_bool(key, v, &s->balance_loss);
    if (!strcmp(key, "shots")) return parse_int(key, v, &s->shots);
    if (!strcmp(key, "sle")) {
        if (parse_int(key, v, &s->experts)) return -1;
        s->universal = 0;
        return 0;
    }
    return mm_fail("unknown --set key '%s' (known: %s)", key, KNOWN_KEYS);
}

int mm_method_validate(const mm_method_spec *s) {
    if (mm_method_in_context(s) && s->shots < 1)
        return mm_fail("method %s: shots %d must be >= 1 (--set shots=N: training examples per prompt)", s->name, s->shots);
    if (!mm_method_in_context(s) && s->shots)
        return mm_fail("method %s: key 'shots' applies to one-shot and few-shot only", s->name);
    if (s->rank <= 0 || s->mola_rank <= 0 || s->universal_rank <= 0 || s->expert_rank <= 0)
        return mm_fail("method %s: every rank must be positive", s->name);
    if (s->dropout < 0 || s->dropout >= 1 || s->router_dropout < 0 || s->router_dropout >= 1)
        return mm_fail("method %s: dropout must be in [0, 1)", s->name);
    if (s->kind == MM_METHOD_MMLORA) {
        int M = s->experts;
        if (M < 1 || M + 1 > MM_MAX_EXPERTS) return mm_fail("mmlora: experts %d must be in [1, %d]", M, MM_MAX_EXPERTS - 1);
        if (s->top_k < 1 || s->top_k > M) return mm_fail("mmlora: top_k %d must be in [1, experts = %d]", s->top_k, M);
        if (s->c_b < 0 || s->c_b > 1) return mm_fail("mmlora: c_b %g must be in [0, 1]", s->c_b);
        if (s->c_d < 0 || s->c_d > 1) return mm_fail("mmlora: c_d %g must be in [0, 1]", s->c_d);
        if (s->router_emb < 1 || s->router_hidden < 1) return mm_fail("mmlora: router sizes must be positive");
    }
    if (s->kind == MM_METHOD_MOLA) {
        for (int i = 0; i < s->n_layer_experts; i++)
            if (s->layer_experts[i] < s->mola_top_k || s->layer_experts[i] > MM_MAX_EXPERTS)
                return mm_fail("mola: %d experts in a layer group is outside [top_k = %d, %d]", s->layer_experts[i],
                               s->mola_top_k, MM_MAX_EXPERTS);
    }
    return 0;
}

int mm_mola_experts_at(const mm_method_spec *s, int layer, int n_layer) {
    if (s->n_layer_experts == n_layer) return s->layer_experts[layer];
    /* groups: split the layers into n_layer_experts equal parts, bottom to top */
    int g = (int)((long long)layer * s->n_layer_experts / n_layer);
    return s->layer_experts[g];
}

typedef struct { const mm_method_spec *s; const mm_model *m; } spec_ctx;

static void module_spec(void *p, int layer, int target, mm_module_spec *out) {
    const spec_ctx *c = p;
    const mm_method_spec *s = c->s;
    unsigned mask = s->target_mask ? s->target_mask : (1u << c->m->n_targets) - 1;
    if (!(mask & (1u << target))) return;
    switch (s->kind) {
    case MM_METHOD_LORA_MIX:
    case MM_METHOD_LORA_EACH:
        out->n_experts = 1;
        out->experts[0] = (mm_expert_spec){s->rank, s->alpha, s->dropout};
        break;
    case MM_METHOD_MOLA: {
        int E = mm_mola_experts_at(s, layer, c->m->cfg.n_layer);
        out->n_experts = E;
        for (int e = 0; e < E; e++) out->experts[e] = (mm_expert_spec){s->mola_rank, s->mola_alpha, s->dropout};
        out->token_router = 1;
        out->top_k = s->mola_top_k;
        out->routed_from = 0;
        break;
    }
    case MM_METHOD_MMLORA: {
        int n = 0;
        if (s->universal) out->experts[n++] = (mm_expert_spec){s->universal_rank, s->universal_alpha, s->dropout};
        for (int e = 0; e < s->experts; e++) out->experts[n++] = (mm_expert_spec){s->expert_rank, s->expert_alpha, s->dropout};
        out->n_experts = n;
        if (s->router_token) {
            out->token_router = 1;
            out->top_k = s->top_k;
            out->routed_from = s->universal ? 1 : 0;
        }
        break;
    }
    default: break;
    }
}

static size_t router_params(const mm_method_spec *s, int n_lang) {
    if (s->kind != MM_METHOD_MMLORA || s->router_token) return 0;
    mm_lang_router r;
    return mm_lang_router_layout(&r, n_lang, s->router_emb, s->router_hidden, s->experts, s->top_k, s->router_dropout);
}

long long mm_method_trainable(const mm_model *m, const mm_method_spec *s, int n_lang) {
    if (s->kind == MM_METHOD_FPFT_MIX) return mm_config_base_params(&m->cfg);
    if (mm_method_in_context(s)) return 0;
    spec_ctx c = {s, m};
    long long total = 0;
    for (int l = 0; l < m->cfg.n_layer; l++)
        for (int t = 0; t < m->n_targets; t++) {
            mm_module_spec sp;
            memset(&sp, 0, sizeof sp);
            module_spec(&c, l, t, &sp);
            for (int e = 0; e < sp.n_experts; e++)
                total += (long long)sp.experts[e].r * (m->targets[t].in + m->targets[t].out);
            if (sp.token_router) total += (long long)(sp.n_experts - sp.routed_from) * m->targets[t].in;
        }
    return total + (long long)router_params(s, n_lang);
}

int mm_method_build(const mm_method_spec *s, const mm_model *m, int n_lang, uint64_t seed, mm_adapters *ad) {
    memset(ad, 0, sizeof *ad);
    if (mm_method_validate(s)) return -1;
    if (s->kind == MM_METHOD_FPFT_MIX || mm_method_in_context(s)) return 0;
    spec_ctx c = {s, m};
    if (mm_adapters_build(ad, m, module_spec, &c, router_params(s, n_lang), seed)) return -1;
    snprintf(ad->method, sizeof ad->method, "%s", s->name);
    return 0;
}

void mm_method_describe(const mm_method_spec *s, char *buf, size_t n) {
    switch (s->kind) {
    case MM_METHOD_FPFT_MIX: snprintf(buf, n, "%s (every weight trainable)", s->name); break;
    case MM_METHOD_LORA_MIX:
    case MM_METHOD_LORA_EACH:
        snprintf(buf, n, "%s (r %d, alpha %g, dropout %g)", s->name, s->rank, s->alpha, s->dropout);
        break;
    case MM_METHOD_MOLA: {
        int o = snprintf(buf, n, "%s (experts r %d, alpha %g, dropout %g, token router top-%d, experts per layer group",
                         s->name, s->mola_rank, s->mola_alpha, s->dropout, s->mola_top_k);
        for (int i = 0; i < s->n_layer_experts && o > 0 && (size_t)o < n; i++)
            o += snprintf(buf + o, n - (size_t)o, "%s%d", i ? "/" : " ", s->layer_experts[i]);
        if (o > 0 && (size_t)o < n) snprintf(buf + o, n - (size_t)o, ")");
        break;
    }
    case MM_METHOD_MMLORA:
        snprintf(buf, n,
                 "%s (%suniversal r %d alpha %g, %d specialized r %d alpha %g, %s router top-%d, dropout %g, "
                 "c_d %g%s, c_b %g%s)",
                 s->name, s->universal ? "" : "no ", s->universal_rank, s->universal_alpha, s->experts,
                 s->expert_rank, s->expert_alpha, s->router_token ? "token" : "global language", s->top_k, s->dropout,
                 s->c_d, s->diversity_loss ? "" : " (off)", s->c_b, s->balance_loss ? "" : " (off)");
        break;
    case MM_METHOD_ONE_SHOT:
    case MM_METHOD_FEW_SHOT:
        snprintf(buf, n, "%s (in context: %d training example%s of the test example's language per prompt, greedy; "
                         "no training, no adapter)", s->name, s->shots, s->shots == 1 ? "" : "s");
        break;
    }
}

void mm_format_percent_trunc2(char *buf, size_t n, long long trainable, long long all) {
    /* exact integer truncation of 100·t/a to 2 decimals (no floating-point rounding surprises) */
    long long hundredths = all > 0 ? (trainable * 10000) / all : 0;
    snprintf(buf, n, "%lld.%02lld", hundredths / 100, hundredths % 100);
}

void mm_format_thousands(char *buf, size_t n, long long v) {
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < n) buf[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        buf[o++] = digits[i];
        if ((len - 1 - i) % 3 == 0 && i + 1 < len && o + 1 < n) buf[o++] = ',';
    }
    buf[o] = 0;
}
