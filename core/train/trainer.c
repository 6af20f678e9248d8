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

static float *table_zalloc(const mm_kernels *k, size_t n) {
    const size_t bytes = (n ? n : 1) * sizeof(float);
    float *p = k->alloc(bytes);
    k->zero(p, bytes);
    return p;
}

int mm_trainer_init(mm_trainer *tr, mm_engine *e, const mm_train_config *cfg) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    if (tr->cfg.accum < 1) tr->cfg.accum = 1;
    tr->engine = e;
    const mm_kernels *k = tr->k = e->k;
    if (e->dparams) { /* full fine-tuning: the engine's weights (its device copy on a device table) */
        tr->p = e->params;
        tr->g = e->dparams;
        tr->n = e->model->n_params;
    } else if (e->ad && !k->device_memory) {
        tr->p = e->ad->params;
        tr->g = e->ad->grads;
        tr->n = e->ad->n_params;
    } else if (e->ad) { /* device table: the modules' block on the device, the extra block on the host */
        mm_adapters *ad = e->ad;
        if (ad->mem != k)
            return mm_fail("trainer: the adapters are not attached to op table '%s' (mm_engine_init attaches them)",
                           k->name);
        tr->p = ad->dev_params;
        tr->g = ad->dev_grads;
        tr->n = ad->extra_off;
        tr->hn = ad->n_params - ad->extra_off;
        if (tr->hn) {
            tr->hp = ad->params + ad->extra_off;
            tr->hg = ad->grads + ad->extra_off;
            tr->hm = mm_xcalloc(tr->hn, sizeof(float));
            tr->hv = mm_xcalloc(tr->hn, sizeof(float));
        }
    } else {
        return mm_fail("nothing to train: the base is frozen and there are no adapters");
    }
    tr->m = table_zalloc(k, tr->n);
    tr->v = table_zalloc(k, tr->n);
    tr->tokens = mm_xmalloc(sizeof(int32_t) * e->B * e->T);
    tr->weights = mm_xmalloc(sizeof(float) * e->B * e->T);
    tr->langs = mm_xcalloc((size_t)e->B, sizeof(int32_t));
    return 0;
}

void mm_trainer_free(mm_trainer *tr) {
    if (tr->k) {
        tr->k->free(tr->m);
        tr->k->free(tr->v);
    }
    free(tr->hm);
    free(tr->hv);
    free(tr->tokens);
    free(tr->weights);
    free(tr->langs);
    memset(tr, 0, sizeof *tr);
}

/* g *= s over the table's block and the host tail */
static void grad_scale(mm_trainer *tr, float s) {
    tr->k->scale(tr->g, s, tr->n);
    for (size_t i = 0; i < tr->hn; i++) tr->hg[i] *= s;
}

/* Σ g² in index order over the block then the tail (on the CPU table: one loop over the whole buffer) */
static double grad_sumsq(const mm_trainer *tr) {
    double sq = tr->k->sumsq(tr->g, tr->n);
    for (size_t i = 0; i < tr->hn; i++) sq += (double)tr->hg[i] * tr->hg[i];
    return sq;
}

/* every rank's gradients summed: the table's block on the device (NCCL) or through host staging (dist.h) */
static void grad_allreduce(mm_trainer *tr) {
    mm_dist_allreduce_table(tr->k, tr->g, tr->n);
    if (tr->hn) mm_dist_allreduce_f32(tr->hg, tr->hn);
}

int mm_trainer_step(mm_trainer *tr, mm_batch_fn next, void *ctx) {
    mm_engine *e = tr->engine;
    tr->k->zero(tr->g, tr->n * sizeof(float));
    if (tr->hn) memset(tr->hg, 0, tr->hn * sizeof(float));
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
        grad_allreduce(tr);
    }
    tr->micro = base + (uint64_t)taken;
    if (!taken) return 0;
    if (!(wsum > 0.0)) { tr->last_loss = 0; tr->last_tokens = 0; return 1; }
    grad_scale(tr, (float)(1.0 / wsum));
    double sq = grad_sumsq(tr);
    tr->last_aux_loss = 0.0;
    if (tr->hooks.post_normalize) {
        tr->last_aux_loss = tr->hooks.post_normalize(tr->hooks.ctx, 1, tr->cfg.seed, (uint32_t)tr->step);
        sq = grad_sumsq(tr);
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
        grad_scale(tr, (float)(tr->cfg.clip_norm / (norm + 1e-6)));
    }
    tr->last_lr = mm_lr_at(&tr->cfg, tr->step);
    tr->k->adamw(tr->p, tr->g, tr->m, tr->v, tr->n, tr->last_lr, tr->cfg.beta1, tr->cfg.beta2, tr->cfg.eps,
                 tr->cfg.weight_decay, tr->step + 1);
    if (tr->hn) /* the host tail: the same elementwise update as the CPU run's over those floats */
        mm_kernels_cpu.adamw(tr->hp, tr->hg, tr->hm, tr->hv, tr->hn, tr->last_lr, tr->cfg.beta1, tr->cfg.beta2,
                             tr->cfg.eps, tr->cfg.weight_decay, tr->step + 1);
    tr->step++;
    return 1;
}

/* Host copies of (params, adam_m, adam_v) in the checkpoint layout: the table's block then the host tail.
 * On the CPU table the trainer's own buffers (nothing allocated, *owned = 0). */
static void host_state(const mm_trainer *tr, float *out[3], int download, int *owned) {
    const float *blk[3] = {tr->p, tr->m, tr->v}, *tail[3] = {tr->hp, tr->hm, tr->hv};
    *owned = tr->k->device_memory != 0;
    for (int i = 0; i < 3; i++) {
        if (!*owned) { out[i] = (float *)blk[i]; continue; }
        out[i] = mm_xmalloc((tr->n + tr->hn ? tr->n + tr->hn : 1) * sizeof(float));
        if (download) {
            tr->k->download(out[i], blk[i], tr->n * sizeof(float));
            if (tr->hn) memcpy(out[i] + tr->n, tail[i], tr->hn * sizeof(float));
        }
    }
}

static void host_state_free(float *s[3], int owned) {
    if (owned)
        for (int i = 0; i < 3; i++) free(s[i]);
}

int mm_trainer_save(const mm_trainer *tr, const char *path, const char *extra_json) {
    if (mm_dist_rank() != 0) return 0; /* every rank holds the same state: rank 0 writes it */
    float *hs[3];
    int owned;
    host_state(tr, hs, 1, &owned);
    mm_st_writer *w = mm_st_writer_new();
    int64_t shape[1] = {(int64_t)(tr->n + tr->hn)};
    mm_st_writer_add(w, "params", MM_DT_F32, 1, shape, hs[0]);
    mm_st_writer_add(w, "adam_m", MM_DT_F32, 1, shape, hs[1]);
    mm_st_writer_add(w, "adam_v", MM_DT_F32, 1, shape, hs[2]);
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
    host_state_free(hs, owned);
    return rc;
}

int mm_trainer_load(mm_trainer *tr, const char *path) {
    mm_safetensors *st = mm_st_open(path);
    if (!st) return -1;
    int rc = -1, owned = 0, have_hs = 0;
    float *hs[3] = {NULL, NULL, NULL};
    const char *fmt = mm_st_metadata(st, "format");
    const char *step = mm_st_metadata(st, "step"), *micro = mm_st_metadata(st, "micro"), *seed = mm_st_metadata(st, "seed");
    if (!fmt || strcmp(fmt, "mmlora-checkpoint-1")) { mm_fail("%s: not an mmlora checkpoint (metadata 'format')", path); goto done; }
    if (!step || !micro || !seed) { mm_fail("%s: checkpoint metadata lacks 'step', 'micro' or 'seed'", path); goto done; }
    if (strtoull(seed, NULL, 10) != tr->cfg.seed) {
        mm_fail("%s: checkpoint was written with seed %s, this run uses %" PRIu64, path, seed, tr->cfg.seed);
        goto done;
    }
    int64_t shape[1] = {(int64_t)(tr->n + tr->hn)};
    host_state(tr, hs, 0, &owned);
    have_hs = 1;
    if (mm_st_read_f32(st, "params", hs[0], 1, shape) || mm_st_read_f32(st, "adam_m", hs[1], 1, shape) ||
        mm_st_read_f32(st, "adam_v", hs[2], 1, shape))
        goto done;
    if (owned) { /* to the table's block and the host tail */
        float *blk[3] = {tr->p, tr->m, tr->v}, *tail[3] = {tr->hp, tr->hm, tr->hv};
        for (int i = 0; i < 3; i++) {
            tr->k->upload(blk[i], hs[i], tr->n * sizeof(float));
            if (tr->hn) memcpy(tail[i], hs[i] + tr->n, tr->hn * sizeof(float));
        }
    }
    tr->step = atoi(step);
    tr->micro = strtoull(micro, NULL, 10);
    rc = 0;
done:
    if (have_hs) host_state_free(hs, owned);
    mm_st_close(st);
    return rc;
}
