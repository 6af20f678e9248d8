#include "train/trainer.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "train/dist.h"
#include "util/log.h"

void mm_train_config_defaults(mm_train_config *c) {
    *c = (mm_train_config){.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f,
                           .clip_norm = 1.0f, .warmup_steps = 100, .total_steps = 0, .accum = 1, .seed = 42};
}

float mm_lr_at(const mm_train_config *c, int step) {
    double f;
    if (step < c->warmup_steps) f = (double)step / (c->warmup_steps > 1 ? c->warmup_steps : 1);
    else if (c->total_steps <= 0) f = 1.0;
    else {
        int span = c->total_steps - c->warmup_steps;
        f = (double)(c->total_steps - step) / (span > 1 ? span : 1);
        if (f < 0.0) f = 0.0;
    }
    return (float)(c->lr * f);
}

int mm_trainer_init(mm_trainer *tr, mm_engine *e, const mm_train_config *cfg) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    if (tr->cfg.accum < 1) tr->cfg.accum = 1;
    tr->engine = e;
    if (e->k->device_memory) /* the loop below (normalize, clip) and the checkpoints work on host memory */
        return mm_fail("trainer: op table '%s' keeps parameters in device memory; the trainer runs on the CPU "
                       "table only (a device table drives mm_engine_step)", e->k->name);
    if (e->dparams) {
        tr->p = e->model->params;
        tr->g = e->dparams;
        tr->n = e->model->n_params;
    } else if (e->ad) {
        tr->p = e->ad->params;
        tr->g = e->ad->grads;
        tr->n = e->ad->n_params;
    } else {
        return mm_fail("nothing to train: the base is frozen and there are no adapters");
    }
    tr->m = mm_xcalloc(tr->n ? tr->n : 1, sizeof(float));
    tr->v = mm_xcalloc(tr->n ? tr->n : 1, sizeof(float));
    tr->tokens = mm_xmalloc(sizeof(int32_t) * e->B * e->T);
    tr->weights = mm_xmalloc(sizeof(float) * e->B * e->T);
    tr->langs = mm_xcalloc((size_t)e->B, sizeof(int32_t));
    return 0;
}

void mm_trainer_free(mm_trainer *tr) {
    free(tr->m);
    free(tr->v);
    free(tr->tokens);
    free(tr->weights);
    free(tr->langs);
    memset(tr, 0, sizeof *tr);
}

int mm_trainer_step(mm_trainer *tr, mm_batch_fn next, void *ctx) {
    mm_engine *e = tr->engine;
    memset(tr->g, 0, tr->n * sizeof(float));
    double loss = 0.0, wsum = 0.0;
    const int W = mm_dist_size(), R = mm_dist_rank();
    const uint64_t base = tr->micro;
    int taken = 0;
    for (int a = 0; a < tr->cfg.accum; a++) {
        const uint64_t u = base + (uint64_t)a;
        if (W > 1 && (int)(u % (uint64_t)W) != R) continue; /* another rank's micro-batch */
        int T = e->T;
        int rows = next(ctx, u, tr->tokens, tr->weights, tr->langs, e->B, &T);
        if (rows < 0) return -1;
        if (rows == 0) break;
        if (T < 2 || T > e->T) return mm_fail("batch length %d outside [2, %d]", T, e->T);
        e->seed = tr->cfg.seed;
        e->step = (uint32_t)u;
        e->train = 1;
        if (tr->hooks.begin_micro &&
            tr->hooks.begin_micro(tr->hooks.ctx, tr->langs, rows, T, 1, tr->cfg.seed, (uint32_t)u))
            return -1;
        double ws = 0.0;
        loss += mm_engine_step(e, tr->tokens, tr->weights, rows, T, 1.0f, &ws);
        if (tr->hooks.end_micro) tr->hooks.end_micro(tr->hooks.ctx);
        wsum += ws;
        taken++;
    }
    if (W > 1) { /* the same update on every rank: sums over all ranks' micro-batches */
        double sums[3] = {loss, wsum, (double)taken};
        mm_dist_allreduce_f64(sums, 3);
        loss = sums[0];
        wsum = sums[1];
        taken = (int)sums[2];
        mm_dist_allreduce_f32(tr->g, tr->n);
    }
    tr->micro = base + (uint64_t)taken;
    if (!taken) return 0;
    if (!(wsum > 0.0)) { tr->last_loss = 0; tr->last_tokens = 0; return 1; }
    const float inv = (float)(1.0 / wsum);
    double sq = 0.0;
    for (size_t i = 0; i < tr->n; i++) {
        tr->g[i] *= inv;
        sq += (double)tr->g[i] * tr->g[i];
    }
    tr->last_aux_loss = 0.0;
    if (tr->hooks.post_normalize) {
        tr->last_aux_loss = tr->hooks.post_normalize(tr->hooks.ctx, 1, tr->cfg.seed, (uint32_t)tr->step);
        sq = 0.0;
        for (size_t i = 0; i < tr->n; i++) sq += (double)tr->g[i] * tr->g[i];
    }
    double norm = sqrt(sq);
    tr->last_loss = loss / wsum;
    tr->last_tokens = wsum;
    tr->last_grad_norm = norm;
    if (!isfinite(tr->last_loss) || !isfinite(norm))
        return mm_fail("non-finite loss (%g) or gradient norm (%g) at step %d; parameters left unchanged",
                       tr->last_loss, norm, tr->step);
    if (tr->cfg.clip_norm > 0.0f && norm > tr->cfg.clip_norm) {
        /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6) */
        float coef = (float)(tr->cfg.clip_norm / (norm + 1e-6));
        for (size_t i = 0; i < tr->n; i++) tr->g[i] *= coef;
    }
    tr->last_lr = mm_lr_at(&tr->cfg, tr->step);
    e->k->adamw(tr->p, tr->g, tr->m, tr->v, tr->n, tr->last_lr, tr->cfg.beta1, tr->cfg.beta2, tr->cfg.eps,
                tr->cfg.weight_decay, tr->step + 1);
    tr->step++;
    return 1;
}

int mm_trainer_save(const mm_trainer *tr, const char *path, const char *extra_json) {
    if (mm_dist_rank() != 0) return 0; /* every rank holds the same state: rank 0 writes it */
    mm_st_writer *w = mm_st_writer_new();
    int64_t shape[1] = {(int64_t)tr->n};
    mm_st_writer_add(w, "params", MM_DT_F32, 1, shape, tr->p);
    mm_st_writer_add(w, "adam_m", MM_DT_F32, 1, shape, tr->m);
    mm_st_writer_add(w, "adam_v", MM_DT_F32, 1, shape, tr->v);
    char buf[64];
    snprintf(buf, sizeof buf, "%d", tr->step);
    mm_st_writer_metadata(w, "step", buf);
    snprintf(buf, sizeof buf, "%" PRIu64, tr->micro);
    mm_st_writer_metadata(w, "micro", buf);
    snprintf(buf, sizeof buf, "%" PRIu64, tr->cfg.seed);
    mm_st_writer_metadata(w, "seed", buf);
    mm_st_writer_metadata(w, "format", "mmlora-checkpoint-1");
    if (extra_json) mm_st_writer_metadata(w, "run", extra_json);
    int rc = mm_st_writer_save(w, path);
    mm_st_writer_free(w);
    return rc;
}

int mm_trainer_load(mm_trainer *tr, const char *path) {
    mm_safetensors *st = mm_st_open(path);
    if (!st) return -1;
    int rc = -1;
    const char *fmt = mm_st_metadata(st, "format");
    const char *step = mm_st_metadata(st, "step"), *micro = mm_st_metadata(st, "micro"), *seed = mm_st_metadata(st, "seed");
    if (!fmt || strcmp(fmt, "mmlora-checkpoint-1")) { mm_fail("%s: not an mmlora checkpoint (metadata 'format')", path); goto done; }
    if (!step || !micro || !seed) { mm_fail("%s: checkpoint metadata lacks 'step', 'micro' or 'seed'", path); goto done; }
    if (strtoull(seed, NULL, 10) != tr->cfg.seed) {
        mm_fail("%s: checkpoint was written with seed %s, this run uses %" PRIu64, path, seed, tr->cfg.seed);
        goto done;
    }
    int64_t shape[1] = {(int64_t)tr->n};
    if (mm_st_read_f32(st, "params", tr->p, 1, shape) || mm_st_read_f32(st, "adam_m", tr->m, 1, shape) ||
        mm_st_read_f32(st, "adam_v", tr->v, 1, shape))
        goto done;
    tr->step = atoi(step);
    tr->micro = strtoull(micro, NULL, 10);
    rc = 0;
done:
    mm_st_close(st);
    return rc;
}
