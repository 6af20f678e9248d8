#include "peft/peft_io.h"
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/safetensors.h"
#include "util/fileio.h"
#include "util/log.h"

static const char *prefix_of(const mm_model *m) {
    return m->cfg.family == MM_FAMILY_LLAMA ? "model.layers" : "transformer.h";
}

static int ends_with_module(const char *full, const char *target) {
    size_t lf = strlen(full), lt = strlen(target);
    if (lf == lt) return !strcmp(full, target);
    return lf > lt && full[lf - lt - 1] == '.' && !strcmp(full + lf - lt, target);
}

int mm_peft_target_mask(const mm_model *m, const char **targets, int n_targets, unsigned *mask) {
    *mask = 0;
    char full[160];
    for (int i = 0; i < n_targets; i++) {
        unsigned hit = 0;
        if (!strcmp(targets[i], "all-linear")) hit = (1u << m->n_targets) - 1;
        for (int t = 0; t < m->n_targets; t++) {
            snprintf(full, sizeof full, "%s.0.%s", prefix_of(m), m->targets[t].name);
            if (ends_with_module(full, targets[i])) hit |= 1u << t;
        }
        if (!hit) {
            char known[256] = "";
            for (int t = 0; t < m->n_targets; t++) {
                strcat(known, t ? ", " : "");
                strcat(known, m->targets[t].name);
            }
            return mm_fail("target module '%s' matches no linear layer of this model (layers: %s)", targets[i],
                           known);
        }
        *mask |= hit;
    }
    return 0;
}

static char *lora_key(const mm_model *m, int l, int t, char ab) {
    static _Thread_local char key[200];
    snprintf(key, sizeof key, "base_model.model.%s.%d.%s.lora_%c.weight", prefix_of(m), l, m->targets[t].name, ab);
    return key;
}

int mm_adapters_load_peft(mm_adapters *ad, const mm_model *m, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    size_t len;
    char *text = mm_read_file(path, &len);
    if (!text) return -1;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j) return mm_fail("%s: not valid JSON", path);
    int rc = -1;
    const char *tg[MM_MAX_TARGETS * 2];
    int ntg = 0;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "r");
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(j, "lora_dropout");
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(j, "target_modules");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "peft_type");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "use_rslora");
    const cJSON *dora = cJSON_GetObjectItemCaseSensitive(j, "use_dora");
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rank_pattern");
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(j, "alpha_pattern");
    const cJSON *ltt = cJSON_GetObjectItemCaseSensitive(j, "layers_to_transform");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "LORA")) { mm_fail("%s: key 'peft_type' must be \"LORA\"", path); goto done; }
    if (!cJSON_IsNumber(r)) { mm_fail("%s: key 'r' missing or not a number", path); goto done; }
    if (!cJSON_IsNumber(alpha)) { mm_fail("%s: key 'lora_alpha' missing or not a number", path); goto done; }
    if (cJSON_IsTrue(rs) || cJSON_IsTrue(dora)) { mm_fail("%s: key '%s' is true; only plain LoRA is supported", path, cJSON_IsTrue(rs) ? "use_rslora" : "use_dora"); goto done; }
    if ((rp && cJSON_GetArraySize(rp) > 0) || (ap && cJSON_GetArraySize(ap) > 0)) { mm_fail("%s: key '%s' is not empty; per-module ranks are not supported for PEFT import", path, rp && cJSON_GetArraySize(rp) ? "rank_pattern" : "alpha_pattern"); goto done; }
    if (ltt && !cJSON_IsNull(ltt)) { mm_fail("%s: key 'layers_to_transform' is set; only all layers are supported", path); goto done; }
    if (cJSON_IsString(targets)) tg[ntg++] = targets->valuestring;
    else if (cJSON_IsArray(targets)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, targets) {
            if (!cJSON_IsString(it) || ntg >= (int)(sizeof tg / sizeof tg[0])) { mm_fail("%s: key 'target_modules' must be a list of at most %d names", path, (int)(sizeof tg / sizeof tg[0])); goto done; }
            tg[ntg++] = it->valuestring;
        }
    } else { mm_fail("%s: key 'target_modules' missing", path); goto done; }
    unsigned mask;
    if (mm_peft_target_mask(m, tg, ntg, &mask)) { char msg[1024]; snprintf(msg, sizeof msg, "%s", mm_last_error()); mm_fail("%s: %s", path, msg); goto done; }
    if (mm_adapters_init_lora(ad, m, r->valueint, (float)alpha->valuedouble,
                              cJSON_IsNumber(drop) ? (float)drop->valuedouble : 0.0f, mask, 0))
        goto done;
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    mm_safetensors *st = mm_st_open(path);
    if (!st) { mm_adapters_free(ad); goto done; }
    rc = 0;
    for (int l = 0; l < ad->n_layers && !rc; l++)
        for (int t = 0; t < ad->n_targets && !rc; t++) {
            mm_adapted *md = mm_adapted_at(ad, l, t);
            if (!md->n_experts) continue;
            mm_expert *e = &md->experts[0];
            int64_t sa[2] = {e->r, md->in}, sb[2] = {md->out, e->r};
            rc = mm_st_read_f32(st, lora_key(m, l, t, 'A'), ad->params + e->a_off, 2, sa);
            if (!rc) rc = mm_st_read_f32(st, lora_key(m, l, t, 'B'), ad->params + e->b_off, 2, sb);
        }
    mm_st_close(st);
    if (rc) mm_adapters_free(ad);
done:
    cJSON_Delete(j);
    return rc;
}

int mm_adapters_save_peft(const mm_adapters *ad, const mm_model *m, const char *dir, const char *base_model_name) {
    if (mkdir(dir, 0755) && errno != EEXIST) return mm_fail("%s: cannot create directory: %s", dir, strerror(errno));
    int r = -1;
    float alpha = 0, dropout = 0;
    unsigned mask = 0;
    mm_st_writer *w = mm_st_writer_new();
    for (int l = 0; l < ad->n_layers; l++)
        for (int t = 0; t < ad->n_targets; t++) {
            const mm_adapted *md = mm_adapted_at(ad, l, t);
            if (!md->n_experts) continue;
            if (md->n_experts != 1) { mm_st_writer_free(w); return mm_fail("PEFT export needs exactly one expert per module (layer %d has %d)", l, md->n_experts); }
            const mm_expert *e = &md->experts[0];
            if (r >= 0 && (e->r != r || e->alpha != alpha)) { mm_st_writer_free(w); return mm_fail("PEFT export needs one rank and alpha for all modules"); }
            r = e->r; alpha = e->alpha; dropout = e->dropout; mask |= 1u << t;
            int64_t sa[2] = {e->r, md->in}, sb[2] = {md->out, e->r};
            mm_st_writer_add(w, lora_key(m, l, t, 'A'), MM_DT_F32, 2, sa, ad->params + e->a_off);
            mm_st_writer_add(w, lora_key(m, l, t, 'B'), MM_DT_F32, 2, sb, ad->params + e->b_off);
        }
    mm_st_writer_metadata(w, "format", "pt");
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    int rc = mm_st_writer_save(w, path);
    mm_st_writer_free(w);
    if (rc) return rc;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "peft_type", "LORA");
    cJSON_AddStringToObject(j, "task_type", "CAUSAL_LM");
    if (base_model_name) cJSON_AddStringToObject(j, "base_model_name_or_path", base_model_name);
    else cJSON_AddNullToObject(j, "base_model_name_or_path");
    cJSON_AddNullToObject(j, "revision");
    cJSON_AddTrueToObject(j, "inference_mode");
    cJSON_AddNumberToObject(j, "r", r);
    cJSON_AddNumberToObject(j, "lora_alpha", alpha);
    cJSON_AddNumberToObject(j, "lora_dropout", dropout);
    cJSON *tl = cJSON_AddArrayToObject(j, "target_modules");
    for (int t = 0; t < m->n_targets; t++)
        if (mask & (1u << t)) cJSON_AddItemToArray(tl, cJSON_CreateString(m->targets[t].name));
    cJSON_AddStringToObject(j, "bias", "none");
    cJSON_AddFalseToObject(j, "fan_in_fan_out");
    cJSON_AddNullToObject(j, "modules_to_save");
    cJSON_AddTrueToObject(j, "init_lora_weights");
    cJSON_AddNullToObject(j, "layers_to_transform");
    cJSON_AddNullToObject(j, "layers_pattern");
    cJSON_AddObjectToObject(j, "rank_pattern");
    cJSON_AddObjectToObject(j, "alpha_pattern");
    cJSON_AddFalseToObject(j, "use_rslora");
    cJSON_AddFalseToObject(j, "use_dora");
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    rc = mm_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}
