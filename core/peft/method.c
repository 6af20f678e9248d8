#include "peft/method.h"
#include <stdio.h>
#include <string.h>
#include "util/log.h"

int mm_method_from_name(const char *name, mm_method_spec *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (!strcmp(name, "fpft-mix")) { s->kind = MM_METHOD_FPFT_MIX; return 0; }
    if (!strcmp(name, "lora-mix") || !strcmp(name, "lora-each")) {
        s->kind = !strcmp(name, "lora-mix") ? MM_METHOD_LORA_MIX : MM_METHOD_LORA_EACH;
        s->rank = 32;
        s->alpha = 64.0f;
        s->dropout = 0.1f;
        return 0;
    }
    return mm_fail("unknown method '%s' (this build knows: fpft-mix, lora-mix, lora-each)", name);
}

long long mm_method_trainable(const mm_model *m, const mm_method_spec *s) {
    if (s->kind == MM_METHOD_FPFT_MIX) return mm_config_base_params(&m->cfg);
    unsigned mask = s->target_mask ? s->target_mask : (1u << m->n_targets) - 1;
    long long per_layer = 0;
    for (int t = 0; t < m->n_targets; t++)
        if (mask & (1u << t)) per_layer += (long long)s->rank * (m->targets[t].in + m->targets[t].out);
    return per_layer * m->cfg.n_layer;
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
