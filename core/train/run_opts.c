#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "train/run.h"
#include "util/device.h"
#include "util/log.h"

void mm_run_defaults(mm_run_opts *o) {
    memset(o, 0, sizeof *o);
    snprintf(o->raw_dir, sizeof o->raw_dir, "data/raw");
    snprintf(o->cache_root, sizeof o->cache_root, "data/cache");
    snprintf(o->scale, sizeof o->scale, "full");
    snprintf(o->sep, sizeof o->sep, "\\n");
    o->lr = 1e-4f;
    o->weight_decay = 0.0f;
    o->clip = 1.0f;
    o->batch = 24;
    o->micro = 8;
    o->epochs = 1;
    o->warmup = 100;
    o->seed = 42;
    o->max_source = 256;
    o->max_target = 128;
    o->fraction = 1.0;
    o->max_new = 128;
    o->gen_batch = 16;
    o->ckpt_every = 50;
    snprintf(o->device, sizeof o->device, "auto");
}

static void apply_scale(mm_run_opts *o, const char *scale) {
    snprintf(o->scale, sizeof o->scale, "%s", scale);
    if (!strcmp(scale, "smoke")) {
        /* seconds: a few dozen examples and steps, short sequences; for tests and quick looks */
        o->train_per_lang = 24; o->eval_per_lang = 4; o->max_new = 12; o->batch = 8; o->micro = 4;
        o->warmup = 2; o->lr = 2e-3f; o->max_source = 48; o->max_target = 16; o->ckpt_every = 4;
        o->gen_batch = 8;
    } else if (!strcmp(scale, "default")) {
        /* the embedded default on 2 cores: minutes per method.  A proportional 12.5 % subset of the train
         * split (data/subset.c: every language keeps its share), not a per-language cap, so that the
         * natural imbalance of the data stays (local corpus: go/java ~1,270 each, javascript ~90). */
        o->train_per_lang = 0; o->fraction = 0.125; o->eval_per_lang = 60; o->max_new = 24; o->batch = 16; o->micro = 8;
        o->warmup = 10; o->lr = 1e-3f; o->max_source = 96; o->max_target = 24; o->ckpt_every = 20;
    }
}

int mm_run_set(mm_run_opts *o, const char *a) {
    const char *eq = strchr(a, '=');
    if (!eq) return mm_fail("--set '%s': expected key=value", a);
    char key[64];
    size_t kl = (size_t)(eq - a);
    if (kl == 0 || kl >= sizeof key) return mm_fail("--set '%s': expected key=value", a);
    memcpy(key, a, kl);
    key[kl] = 0;
    const char *v = eq + 1;
    /* how a run executes, not what it computes: kept out of run.json's "set", so a run may resume with
     * another device or recomputation setting (gradients are bit-identical either way) */
    const int execution_key = !strcmp(key, "recompute") || !strcmp(key, "device");
    if (!execution_key && o->n_sets < MM_RUN_MAX_SETS) snprintf(o->sets[o->n_sets++], sizeof o->sets[0], "%s", a);
    char *end = NULL;
#define NUM(field, conv)                                                                                      \
    do {                                                                                                      \
        o->field = conv;                                                                                      \
        if (!*v || *end) return mm_fail("--set %s=%s: not a number", key, v);                                 \
        return 0;                                                                                             \
    } while (0)
    if (!strcmp(key, "lr")) NUM(lr, strtof(v, &end));
    if (!strcmp(key, "weight_decay")) NUM(weight_decay, strtof(v, &end));
    if (!strcmp(key, "clip")) NUM(clip, strtof(v, &end));
    if (!strcmp(key, "batch")) NUM(batch, (int)strtol(v, &end, 10));
    if (!strcmp(key, "micro_batch")) NUM(micro, (int)strtol(v, &end, 10));
    if (!strcmp(key, "epochs")) NUM(epochs, (int)strtol(v, &end, 10));
    if (!strcmp(key, "warmup")) NUM(warmup, (int)strtol(v, &end, 10));
    if (!strcmp(key, "max_steps")) NUM(max_steps, strtol(v, &end, 10));
    if (!strcmp(key, "seed")) NUM(seed, strtoull(v, &end, 10));
    if (!strcmp(key, "max_source")) NUM(max_source, (int)strtol(v, &end, 10));
    if (!strcmp(key, "max_target")) NUM(max_target, (int)strtol(v, &end, 10));
    if (!strcmp(key, "train_per_lang")) NUM(train_per_lang, strtol(v, &end, 10));
    if (!strcmp(key, "eval_per_lang")) NUM(eval_per_lang, strtol(v, &end, 10));
    if (!strcmp(key, "max_new")) NUM(max_new, (int)strtol(v, &end, 10));
    if (!strcmp(key, "gen_batch")) NUM(gen_batch, (int)strtol(v, &end, 10));
    if (!strcmp(key, "ckpt_every")) NUM(ckpt_every, (int)strtol(v, &end, 10));
    if (!strcmp(key, "threads")) NUM(threads, (int)strtol(v, &end, 10));
    if (!strcmp(key, "fraction")) NUM(fraction, strtod(v, &end));
#undef NUM
    if (!strcmp(key, "scale")) {
        if (strcmp(v, "smoke") && strcmp(v, "default") && strcmp(v, "full"))
            return mm_fail("--set scale=%s: expected smoke, default or full", v);
        apply_scale(o, v);
        return 0;
    }
    if (!strcmp(key, "low_resource")) {
        o->epochs = (!strcmp(v, "on") || !strcmp(v, "1")) ? 2 : 1;
        return 0;
    }
    if (!strcmp(key, "sep")) { snprintf(o->sep, sizeof o->sep, "%s", v); return 0; }
    if (!strcmp(key, "recompute")) {
        if (!strcmp(v, "on") || !strcmp(v, "1")) o->recompute = 1;
        else if (!strcmp(v, "off") || !strcmp(v, "0")) o->recompute = 0;
        else return mm_fail("--set recompute=%s: expected on or off", v);
        return 0;
    }
    if (!strcmp(key, "dtype")) {
        const int d = mm_engine_dtype_parse(v);
        if (d < 0) return mm_fail("--set dtype=%s: expected fp32 or bf16", v);
        o->dtype = d;
        return 0;
    }
    if (!strcmp(key, "act_dtype")) {
        const int d = mm_engine_dtype_parse(v);
        if (d < 0) return mm_fail("--set act_dtype=%s: expected fp32 or bf16", v);
        o->act_dtype = d;
        return 0;
    }
    if (!strcmp(key, "device")) {
        if (!mm_device_name_ok(v))
            return mm_fail("--set device=%s: expected cpu, cuda or auto", v);
        snprintf(o->device, sizeof o->device, "%s", v);
        return 0;
    }
    if (mm_method_set(&o->method, a) == 0) return 0;
    if (strstr(mm_last_error(), "unknown --set key")) {
        char m[1024];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("%s; run keys: lr, batch, micro_batch, epochs, warmup, max_steps, weight_decay, clip, seed, "
                       "max_source, max_target, train_per_lang, eval_per_lang, max_new, gen_batch, ckpt_every, "
                       "threads, fraction, scale, low_resource, sep, recompute, device, dtype, act_dtype", m);
    }
    return -1;
}

int mm_run_validate(const mm_run_opts *o) {
    if (o->batch < 1 || o->micro < 1) return mm_fail("batch and micro_batch must be >= 1");
    if (o->batch % o->micro) return mm_fail("batch %d must be a multiple of micro_batch %d", o->batch, o->micro);
    if (o->lr <= 0 || o->epochs < 1 || o->warmup < 0) return mm_fail("lr > 0, epochs >= 1 and warmup >= 0 are required");
    if (o->max_source < 1 || o->max_target < 1 || o->max_new < 1) return mm_fail("lengths must be >= 1");
    if (o->fraction <= 0 || o->fraction > 1) return mm_fail("fraction %g must be in (0, 1]", o->fraction);
    if (!o->model_dir[0] || !o->out_dir[0] || !o->dataset[0]) return mm_fail("--model, --dataset and --out are required");
    if (o->dtype == MM_DTYPE_BF16 && o->method.kind == MM_METHOD_FPFT_MIX)
        return mm_fail("--set dtype=bf16 stores the frozen base's linear weights in bf16; full fine-tuning (%s) trains "
                       "them and needs fp32 master weights (not implemented): use dtype=fp32 (the default)",
                       o->method.name);
    return mm_method_validate(&o->method);
}
